"""The key completions and prefixes are matched on: one spelling per thing a shopper may type.

Script variants fold as search's analysis folds them (``catalog.script_folding``): Traditional
Han characters to Simplified (OpenCC ``t2s``) and the kana's prolonged sound mark variants to
``ー`` (a final ``ー`` of a katakana word of 4+ characters dropped), so ``降噪耳機`` completes to
``降噪耳机`` and back; the completion keeps its own spelling for display.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from catalog.script_folding import fold_han, fold_kana

_SPACE = re.compile(r"\s+")
# Han and kana: what ``fold_script`` may change (checked first: most keys hold neither).
_HAN_OR_KANA = re.compile(r"[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")


@lru_cache(maxsize=65_536)
def fold_script(text: str) -> str:
    """``text`` (NFKC) with Han folded to Simplified and kana variants folded (see the module
    docstring); text without Han or kana is returned as is."""
    if not _HAN_OR_KANA.search(text):
        return text
    return fold_kana(fold_han(text))


def completion_key(text: str) -> str:
    """NFKC (full-width Latin and half-width katakana fold to one form), casefolded, Han and kana
    variants folded (``fold_script``), whitespace collapsed and stripped:
    ``"Ｓｏｎｙ  WH"`` -> ``"sony wh"``, ``"降噪耳機"`` -> ``"降噪耳机"``."""
    folded = fold_script(unicodedata.normalize("NFKC", text).casefold())
    return _SPACE.sub(" ", folded).strip()


def prefix_key(prefix: str) -> str:
    """A prefix as a key: as ``completion_key``, but one trailing space is kept, since it says a
    word is finished (``"red "`` completes to ``"red shoes"``, not ``"reddit"``)."""
    folded = unicodedata.normalize("NFKC", prefix).casefold()
    folded = _SPACE.sub(" ", fold_script(folded)).lstrip()
    return folded if folded else ""


def is_latin(text: str) -> bool:
    """True when every letter of ``text`` is a Latin letter (digits, spaces, marks ignored)."""
    return all(not ch.isalpha() or unicodedata.name(ch, "").startswith("LATIN") for ch in text)
