"""Script variants folded to one form, so a query meets a title however either was typed.

- **Han characters** (Chinese, and the kanji of Japanese): Traditional folded to Simplified with
  OpenCC's ``t2s`` conversion (``opencc`` on PyPI), so ``耳機`` and ``耳机``, ``咖啡機`` and
  ``咖啡机`` are one term. Taiwan and Hong Kong catalogs write Traditional, mainland shoppers
  type Simplified. Elasticsearch does the same with ICU's ``Traditional-Simplified`` transform
  (``search.recall.elastic_bodies``); both map characters one to one for everything a shop
  writes, and OpenCC's phrase table only decides the few one-to-many cases (``乾``/``幹`` ->
  ``干``), where the two may differ.
- **Kana** (after NFKC, which already makes half-width katakana and full-width Latin letters
  alike): a dash, tilde or wave dash written after kana is the prolonged sound mark ``ー``
  (``ラ-メン``, ``ラ～メン`` -> ``ラーメン``); and a katakana word of four or more characters
  loses a final ``ー`` (``コンピューター`` -> ``コンピュータ``), the JIS spelling variant, as
  kuromoji's ``kuromoji_stemmer`` (minimum length 4) does.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

# Characters shoppers type for ``ー``; NFKC has already made "－" "-", "～" "~" and "ｰ" "ー".
LONG_VOWEL_VARIANTS = "-~\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u301c\u30fc\uff0d\uff5e\uff70"
_KANA = "\u3041-\u309f\u30a0-\u30ff\uff66-\uff9f"
_HAS_KANA = re.compile(f"[{_KANA}]")
_LONG_VOWEL = re.compile(f"(?<=[{_KANA}])[{re.escape(LONG_VOWEL_VARIANTS)}]")
# ``ー`` at the end of a run of katakana (``ー`` included) of at least four characters.
_FINAL_LONG_VOWEL = re.compile("(?<=[\u30a0-\u30ff]{3})\u30fc(?![\u30a0-\u30ff])")


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
