"""Build a decompounding word list (``catalog/data/decompound_de.txt``) from a hunspell dictionary.

Run once when the source dictionary changes, never at ingest or query time::

    apt-get download hunspell-de-de && dpkg-deb -x hunspell-de-de_*.deb /tmp/hde
    python -m catalog.decompound_words /tmp/hde/usr/share/hunspell/de_DE.dic \\
        > catalog/data/decompound_de.txt

The source is igerman98 (Björn Jacke, GPL-2+), the dictionary Debian ships as
``hunspell-de-de`` and LibreOffice uses. Kept: its nouns, i.e. the entries written with one
capital letter (German capitalises nouns, so verbs such as ``lecken`` and adjectives do not
split a word), of ``MIN_SUBWORD_SIZE`` to ``MAX_SUBWORD_SIZE`` letters, not marked forbidden
(misspellings the dictionary lists to reject). Each is casefolded, as the analysis does, and
also written without accents (``horer`` beside ``hörer``), since a query typed without umlauts
must split as the title does. Nothing is taken from Shelf's catalogs or judged queries.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from catalog.decompound import MAX_SUBWORD_SIZE, MIN_SUBWORD_SIZE

FORBIDDEN_FLAG = "d"  # the dictionary's FORBIDDENWORD flag (de_DE.aff)
_NOUN = re.compile(r"[A-ZÄÖÜ][a-zäöüß]+")
_FOLD = str.maketrans({"ä": "a", "ö": "o", "ü": "u"})


def nouns(dic_lines: Iterable[str]) -> Iterator[str]:
    """The nouns of a hunspell ``.dic`` file's lines (``Wort/FLAGS``; the first line is the
    entry count), casefolded, with their umlaut-free spelling after each."""
    for line in dic_lines:
        word, _, flags = line.strip().partition("/")
        if not _NOUN.fullmatch(word) or FORBIDDEN_FLAG in flags:
            continue
        folded = word.casefold()
        if MIN_SUBWORD_SIZE <= len(folded) <= MAX_SUBWORD_SIZE:
            yield folded
            if (plain := folded.translate(_FOLD)) != folded:
                yield plain


HEADER = (
    "# German compound parts for Shelf's decompounder (catalog/decompound.py): the nouns of\n"
    "# igerman98 (https://www.j3e.de/ispell/igerman98/), Copyright 1999-2016 Bjoern Jacke,\n"
    "# GPL-2+, as Debian's hunspell-de-de ships it. Built by catalog/decompound_words.py.\n"
)


def word_list_text(dic_lines: Iterable[str]) -> str:
    """The word list file's text: the ``HEADER``, then distinct words, sorted, one a line."""
    return HEADER + "".join(f"{word}\n" for word in sorted(set(nouns(dic_lines))))


def main(argv: list[str] | None = None) -> int:
    """``python -m catalog.decompound_words DIC``: print the word list built from ``DIC``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m catalog.decompound_words PATH/de_DE.dic\n")
        return 2
    lines = Path(args[0]).read_text(encoding="utf-8").splitlines()[1:]
    sys.stdout.write(word_list_text(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
