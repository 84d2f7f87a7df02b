"""The analysis settings of the Elasticsearch index template, as pure data the tests pin exactly.

Each analyzer rebuilds, with Elasticsearch's own filters, what ``catalog.analysis`` does for the
embedded backend, so a term means the same on both:

- Latin, Cyrillic and Arabic languages: Elasticsearch's built-in language analyzer (its stop
  words and light stemmer) on the whitespace tokenizer, with ICU normalisation (NFKC, case
  folding) as a char filter before it, the ``word_delimiter_graph`` filter with
  ``catalog.word_delimiter``'s options (``T-Shirt`` -> ``t``, ``shirt``, ``tshirt``, ``t-shirt``)
  and ICU folding (accents) after. Their query analyzer also joins adjacent words (a ``shingle``
  filter with no separator), as ``catalog.analysis.analyze_query`` does. Without analysis-icu:
  lowercase and asciifolding.
- German also splits compounds (``dictionary_decompounder``, before the stemmer) with the options
  and the very word list of ``catalog.decompound``, inline (``word_list``): no file to install on
  every node or to keep in step, at the cost of about 0.35 MB of index settings.
- Japanese: kuromoji (base forms, part-of-speech and stemming filters); Chinese: smartcn;
  Korean: nori. Without those plugins: the standard tokenizer with CJK bigrams (``cjk_bigram``),
  the same rule as the embedded backend. All three fold Traditional Han characters to Simplified
  (ICU's ``Traditional-Simplified`` transform, ``catalog.script_folding.fold_han``) and, before
  tokenising, the prolonged sound mark's variants after kana, and a katakana word's final ``ー``
  (``pattern_replace`` char filters with ``catalog.script_folding``'s patterns).
"""

from __future__ import annotations

from typing import Any

from catalog import decompound
from catalog.script_folding import FINAL_LONG_VOWEL_PATTERN, LONG_VOWEL_PATTERN

ANALYSIS_PLUGINS = ("analysis-icu", "analysis-kuromoji", "analysis-smartcn", "analysis-nori")

# Built-in language analyzers: (stop word list, light stemmer) as Elasticsearch's docs rebuild them.
LANGUAGE_RULES: dict[str, tuple[str, str]] = {
    "ar": ("_arabic_", "arabic"),
    "ru": ("_russian_", "light_russian"),
    "en": ("_english_", "light_english"),
    "de": ("_german_", "light_german"),
    "es": ("_spanish_", "light_spanish"),
    "fr": ("_french_", "light_french"),
    "it": ("_italian_", "light_italian"),
    "pt": ("_portuguese_", "light_portuguese"),
    "nl": ("_dutch_", "dutch"),
}
_CJK_TOKENIZERS = {"ja": "analysis-kuromoji", "zh": "analysis-smartcn", "ko": "analysis-nori"}


def analyzer_name(language: str) -> str:
    """The analyzer of one language's subfields: ``shelf_de``."""
    return f"shelf_{language}"


def search_analyzer_name(language: str) -> str:
    """The query analyzer of a non-CJK language's subfields: ``shelf_de_query``."""
    return f"shelf_{language}_query"


def decompounder_name(language: str) -> str:
    """The compound-splitting filter of a language with a word list: ``shelf_de_decompound``."""
    return f"shelf_{language}_decompound"


# catalog.word_delimiter's rules, as Lucene's own filter: parts, joined forms and the original.
# Case is folded before it, so case changes do not split; "'s" is a part like any other.
WORD_DELIMITER: dict[str, Any] = {
    "type": "word_delimiter_graph",
    "generate_word_parts": True,
    "generate_number_parts": True,
    "catenate_words": True,
    "catenate_numbers": True,
    "catenate_all": True,
    "preserve_original": True,
    "split_on_case_change": False,
    "split_on_numerics": True,
    "stem_english_possessive": False,
}
# The whitespace tokenizer leaves punctuation on a word's edges ("cotton,"): trimmed before the
# word delimiter, so the preserved original is "cotton", as catalog.word_delimiter keeps it.
EDGE_TRIM: dict[str, Any] = {
    "type": "pattern_replace",
    "pattern": r"^[^\p{L}\p{M}\p{N}]+|[^\p{L}\p{M}\p{N}]+$",
    "replacement": "",
}
# Queries only: adjacent words joined ("t shirt" -> "tshirt"), catalog.analysis.analyze_query.
JOIN_PAIRS: dict[str, Any] = {
    "type": "shingle",
    "min_shingle_size": 2,
    "max_shingle_size": 2,
    "output_unigrams": True,
    "token_separator": "",
    "filler_token": "",
}
# Traditional Han characters to Simplified (analysis-icu), catalog.script_folding.fold_han.
HAN_FOLD: dict[str, Any] = {"type": "icu_transform", "id": "Traditional-Simplified"}
# catalog.script_folding.fold_kana, as two char filters (before any tokenizer splits at "-").
KANA_CHAR_FILTERS: dict[str, Any] = {
    "shelf_long_vowel": {
        "type": "pattern_replace",
        "pattern": LONG_VOWEL_PATTERN,
        "replacement": "\u30fc",
    },
    "shelf_final_long_vowel": {
        "type": "pattern_replace",
        "pattern": FINAL_LONG_VOWEL_PATTERN,
        "replacement": "",
    },
}
_SHARED_FILTERS: dict[str, Any] = {
    "shelf_edge_trim": EDGE_TRIM,
    "shelf_word_delimiter": WORD_DELIMITER,
    "shelf_same_position_unique": {"type": "unique", "only_on_same_position": True},
    "shelf_non_empty": {"type": "length", "min": 1},
    "shelf_join_pairs": JOIN_PAIRS,
}


def decompounder(language: str) -> dict[str, Any]:
    """The ``dictionary_decompounder`` of ``language`` (one with a ``catalog.decompound`` word
    list): its options and its whole word list, sorted, inline."""
    return {
        "type": "dictionary_decompounder",
        "word_list": sorted(decompound.word_list(language)),
        "min_word_size": decompound.MIN_WORD_SIZE,
        "min_subword_size": decompound.MIN_SUBWORD_SIZE,
        "max_subword_size": decompound.MAX_SUBWORD_SIZE,
        "only_longest_match": decompound.ONLY_LONGEST_MATCH,
    }


def _custom(char_filter: list[str], filters: list[str]) -> dict[str, Any]:
    return {
        "type": "custom",
        "char_filter": char_filter,
        "tokenizer": "whitespace",
        "filter": filters,
    }


def _cjk_analyzers(plugins: frozenset[str], icu: bool) -> dict[str, Any]:
    normalize = ["icu_normalizer"] if icu else []
    fold = ["icu_folding"] if icu else ["asciifolding"]
    han = ["shelf_han_fold"] if icu else []  # the transform is analysis-icu's
    char_filter = [*normalize, *KANA_CHAR_FILTERS]
    cjk_fallback = {
        "type": "custom",
        "char_filter": char_filter,
        "tokenizer": "standard",
        "filter": ["cjk_width", "lowercase", *han, "cjk_bigram", *fold],
    }
    native = {
        "ja": {
            "type": "custom",
            "char_filter": char_filter,
            "tokenizer": "kuromoji_tokenizer",
            "filter": ["kuromoji_baseform", "kuromoji_part_of_speech", "cjk_width",
                       "kuromoji_stemmer", *normalize, *han],
        },
        "zh": {"type": "custom", "char_filter": char_filter, "tokenizer": "smartcn_tokenizer",
               "filter": [*normalize, *han]},
        "ko": {
            "type": "custom",
            "char_filter": char_filter,
            "tokenizer": "nori_tokenizer",
            "filter": ["nori_part_of_speech", "nori_readingform", *normalize, *han],
        },
    }  # fmt: skip
    return {
        analyzer_name(language): native[language] if plugin in plugins else cjk_fallback
        for language, plugin in _CJK_TOKENIZERS.items()
    }


def analysis_settings(plugins: frozenset[str]) -> dict[str, Any]:
    """``settings.analysis`` of the index template for the installed ``plugins``: filters, char
    filters and one analyzer (and, for non-CJK languages, one query analyzer) per language."""
    icu = "analysis-icu" in plugins
    fold = ["icu_folding"] if icu else ["asciifolding"]
    # NFKC and case folding before tokenisation when ICU is there (a char filter), so no letter
    # is cut from its combining mark; the whitespace tokenizer leaves "T-Shirt" whole for the
    # word delimiter (ICU's and the standard tokenizer would split it first).
    char_filter = ["icu_normalizer"] if icu else []
    lowercase = [] if icu else ["lowercase"]
    filters: dict[str, Any] = dict(_SHARED_FILTERS)
    if icu:
        filters["shelf_han_fold"] = HAN_FOLD
    analyzers: dict[str, Any] = {}
    for language, (stopwords, stemmer) in LANGUAGE_RULES.items():
        filters[f"shelf_{language}_stop"] = {"type": "stop", "stopwords": stopwords}
        filters[f"shelf_{language}_stemmer"] = {"type": "stemmer", "language": stemmer}
        split = []
        if language in decompound.WORD_LISTS:
            filters[decompounder_name(language)] = decompounder(language)
            split = [decompounder_name(language)]
        # Stop words go before the word delimiter (elastic/elasticsearch#61848); compounds are
        # split after it and after the query's joined pairs, as catalog.analysis splits every
        # variant of a word, and before the stemmer, which would cut the word list's forms.
        head = [*lowercase, "shelf_edge_trim", f"shelf_{language}_stop", "shelf_word_delimiter",
                "shelf_same_position_unique", "shelf_non_empty"]  # fmt: skip
        tail = [*split, f"shelf_{language}_stemmer", *fold]
        analyzers[analyzer_name(language)] = _custom(char_filter, [*head, *tail])
        analyzers[search_analyzer_name(language)] = _custom(
            char_filter, [*head, "shelf_join_pairs", *tail]
        )
    analyzers.update(_cjk_analyzers(plugins, icu))
    return {"char_filter": dict(KANA_CHAR_FILTERS), "filter": filters, "analyzer": analyzers}
