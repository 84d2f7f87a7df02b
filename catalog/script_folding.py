"""Script variants folded to one form, so a query meets a title however either was typed.

- **Han characters** (Chinese, and the kanji of Japanese): Traditional folded to Simplified with
  OpenCC's ``t2s`` conversion (``opencc`` on PyPI), so ``耳機`` and ``耳机``, ``咖啡機`` and
  ``咖啡机`` are one term. Taiwan and Hong Kong catalogs write Traditional, mainland shoppers
  type Simplified. Elasticsearch does the same with ICU's ``Traditional-Simplified`` transform
  (``search.recall.elastic.analysis``), character by character, where OpenCC also converts by
  phrase: the two can differ where a phrase keeps a character (OpenCC leaves ``乾坤`` and folds
  ``乾燥`` to ``干燥``).
- **Kana** (after NFKC, which already makes half-width katakana and full-width Latin letters
  alike): a dash, tilde or wave dash between kana (or ending a kana word) is the prolonged sound
  mark ``ー``
  (``ラ-メン``, ``ラ～メン`` -> ``ラーメン``); and a katakana word of four or more characters
  loses a final ``ー`` (``コンピューター`` -> ``コンピュータ``), the JIS spelling variant, as
  kuromoji's ``kuromoji_stemmer`` (minimum length 4) does.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# The patterns are written for both Python's ``re`` and Java's regex (Elasticsearch's
# ``pattern_replace`` char filters in ``search.recall.elastic.analysis`` use them as they are).
# After kana (hiragana, katakana, half-width katakana): the characters shoppers type for ``ー``
# (NFKC has already made "－" "-", "～" "~" and "ｰ" "ー"; the rest are dashes and wave dashes),
# when kana or the word's end follows: "ケーブル-2m" keeps its dash as a separator.
LONG_VOWEL_PATTERN = (
    r"(?<=[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f])"
    r"[\-~\u2010-\u2015\u2212\u301c\u30fc\uff0d\uff5e\uff70]"
    r"(?=[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f]|\s|$)"
)
# ``ー`` ending a run of katakana (``ー`` included) of four or more characters.
FINAL_LONG_VOWEL_PATTERN = r"(?<=[\u30a0-\u30ff]{3})\u30fc(?![\u30a0-\u30ff])"
_HAS_KANA = re.compile(r"[\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f]")
_LONG_VOWEL = re.compile(LONG_VOWEL_PATTERN)
_FINAL_LONG_VOWEL = re.compile(FINAL_LONG_VOWEL_PATTERN)


@cache
def _converter() -> Any:
    import opencc

    return opencc.OpenCC("t2s.json")


def fold_han(text: str) -> str:
    """``text`` with Traditional Chinese characters written in Simplified (OpenCC ``t2s``)."""
    return str(_converter().convert(text))


def fold_kana(text: str) -> str:
    """``text`` (NFKC-normalised) with prolonged sound mark variants after kana as ``ー``, and a
    final ``ー`` dropped from katakana words of four or more characters."""
    if not _HAS_KANA.search(text):
        return text
    return _FINAL_LONG_VOWEL.sub("", _LONG_VOWEL.sub("\u30fc", text))
