"""The languages Shelf analyses, and locales as BCP-47 tags of those languages.

A locale is any well-formed BCP-47 tag (RFC 5646) whose language Shelf can analyse: a language,
an optional script and an optional region (``de``, ``de-CH``, ``fr-CA``, ``zh-Hant-TW``,
``es-419``). Tags are parsed and canonicalised by ``langcodes``: case, ``_`` for ``-``,
deprecated codes (``iw`` -> ``he``, ``cmn`` -> ``zh``), a language's default script dropped
(``en-Latn-US`` -> ``en-US``); ``zh-Hant-TW`` stays ``zh-Hant-TW``, since Traditional Chinese is
not the default script of Chinese. Text is analysed by the language alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import langcodes


@dataclass(frozen=True)
class Language:
    """How one language is analysed: its script family and its snowball stemmer, if any.

    ``scripts`` are the ISO 15924 codes a locale of the language may name (``zh-Hant``).
    """

    code: str
    script: str  # "cjk", "latin", "cyrillic" or "arabic"
    stemmer: str | None
    scripts: tuple[str, ...] = ()


_LATIN = ("Latn",)
LANGUAGES: dict[str, Language] = {
    "zh": Language("zh", "cjk", None, ("Hans", "Hant", "Hani")),
    "ja": Language("ja", "cjk", None, ("Jpan", "Hrkt", "Hira", "Kana", "Hani")),
    "ko": Language("ko", "cjk", None, ("Kore", "Hang", "Hani")),
    "ar": Language("ar", "arabic", "arabic", ("Arab",)),
    "ru": Language("ru", "cyrillic", "russian", ("Cyrl",)),
    "en": Language("en", "latin", "english", _LATIN),
    "de": Language("de", "latin", "german", _LATIN),
    "es": Language("es", "latin", "spanish", _LATIN),
    "fr": Language("fr", "latin", "french", _LATIN),
    "it": Language("it", "latin", "italian", _LATIN),
    "pt": Language("pt", "latin", "portuguese", _LATIN),
    "nl": Language("nl", "latin", "dutch", _LATIN),
}

# The locale a record gets when its language is detected from its text rather than given: the
# market with the most shoppers for that language. A shop selling elsewhere states the locale (a
# column, or "defaults" in its mapping file) instead of relying on detection.
DEFAULT_LOCALES: dict[str, str] = {
    "zh": "zh-CN", "ja": "ja-JP", "ko": "ko-KR", "ar": "ar-SA", "ru": "ru-RU", "en": "en-US",
    "de": "de-DE", "es": "es-ES", "fr": "fr-FR", "it": "it-IT", "pt": "pt-BR", "nl": "nl-NL",
}  # fmt: skip


def supported_languages() -> str:
    """The languages Shelf analyses, for error messages: ``zh (Chinese), ja (Japanese), ...``."""
    names = {code: langcodes.Language.get(code).display_name() for code in LANGUAGES}
    return ", ".join(f"{code} ({name})" for code, name in names.items())


@lru_cache(maxsize=4096)
def canonical_locale(value: str) -> str:
    """The canonical BCP-47 spelling of a locale of a supported language.

    ``de_ch`` -> ``de-CH``, ``zh-hant-tw`` -> ``zh-Hant-TW``, ``en-Latn-US`` -> ``en-US``, ``de``
    -> ``de``. Raises ValueError, naming the supported languages, when ``value`` is not a
    well-formed tag, or its language is not one Shelf analyses, or its script is not one that
    language is written in (``ja-Latn``).
    """
    tag = value.strip().replace("_", "-")
    try:
        # macro: a macrolanguage's member reads as the macrolanguage (cmn -> zh, arb -> ar).
        canonical = langcodes.standardize_tag(tag, macro=True) if tag else ""
    except langcodes.LanguageTagError:
        canonical = ""
    if not canonical or not langcodes.tag_is_valid(tag):
        raise ValueError(
            f"unknown locale {value!r}: not a valid BCP-47 tag. Give a language, optionally "
            f"a script and a region (en-US, de-CH, zh-Hant-TW) of a supported language: "
            f"{supported_languages()}"
        )
    parsed = langcodes.Language.get(canonical)
    language = LANGUAGES.get(parsed.language or "")
    if language is None:
        name = parsed.language_name()
        name = "an unnamed language" if name.startswith("Unknown language") else name
        raise ValueError(
            f"unsupported locale {value!r}: Shelf cannot analyse {name} "
            f"({parsed.language or 'und'}). Supported languages: {supported_languages()}"
        )
    if parsed.script and parsed.script not in language.scripts:
        raise ValueError(
            f"unsupported locale {value!r}: Shelf analyses {language.code} text written in "
            f"{', '.join(language.scripts)}, not {parsed.script}"
        )
    return canonical


@lru_cache(maxsize=1024)
def language_of(locale: str) -> Language:
    """The language (analysis rules) of a canonical locale or bare language code.

    ``KeyError`` for a language Shelf does not analyse. Cached: it runs for every analysed
    field of every product."""
    return LANGUAGES[locale.split("-", 1)[0].lower()]
