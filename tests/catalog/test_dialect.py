"""How a file is written: the sniffed CSV delimiter and the encoding, given or detected."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog.dialect import (
    CANDIDATE_DELIMITERS,
    check_encoding,
    delimiter_argument,
    detect_encoding,
    sniff_delimiter,
)
from search.errors import CatalogError

# Data rows whose cells hold the other candidates, quoted or not, and decimal commas.
ROWS = [
    ["sku-1", "Mug, large; blue | white", "24,99", "EUR"],
    ["sku-2", "Teekanne", "19,50", "EUR"],
    ["sku-3", 'Lamp "Aurora"', "5", "EUR"],
]


def _csv(delimiter: str) -> str:
    def cell(text: str) -> str:
        quoted = any(c in text for c in (delimiter, '"'))
        return '"' + text.replace('"', '""') + '"' if quoted else text

    lines = [["id", "title", "price", "currency"], *ROWS]
    return "".join(delimiter.join(cell(c) for c in line) + "\n" for line in lines)


@pytest.mark.parametrize("delimiter", CANDIDATE_DELIMITERS)
def test_every_candidate_delimiter_is_sniffed_despite_the_others_in_cells(delimiter: str) -> None:
    assert sniff_delimiter(_csv(delimiter)) == delimiter


def test_a_single_column_file_falls_back_to_the_default_delimiter() -> None:
    assert sniff_delimiter("title\nMug\nLamp\n", default="\t") == "\t"


@pytest.mark.parametrize(
    ("given", "delimiter"), [(";", ";"), ("tab", "\t"), ("\\t", "\t"), ("|", "|"), ("comma", ",")]
)
def test_delimiter_names_and_characters_are_accepted(given: str, delimiter: str) -> None:
    assert delimiter_argument(given) == delimiter


@pytest.mark.parametrize("given", [";;", '"', ""])
def test_a_delimiter_that_is_not_one_usable_character_is_refused(given: str) -> None:
    with pytest.raises(CatalogError, match="is not one character"):
        delimiter_argument(given)


def test_an_unknown_encoding_is_refused_with_examples() -> None:
    with pytest.raises(CatalogError, match=r"unknown encoding 'win-1252'.*cp1252.*'auto'"):
        check_encoding("win-1252")


@pytest.mark.parametrize(
    ("text", "encoding", "detected"),
    [
        ("id,title\n1,Crème brûlée torch\n2,Kaffeemühle für Bäcker\n", "cp1252", "cp1252"),
        ("id,title\n1,Plain ASCII only\n", "ascii", "utf-8-sig"),
        ("id,title\n1,Crème brûlée\n2,电热水壶\n", "utf-8", "utf-8-sig"),
        ("id,title\n1,Электрический чайник из нержавеющей стали\n", "cp1251", "cp1251"),
    ],
)
def test_auto_detection_names_the_files_encoding(
    tmp_path: Path, text: str, encoding: str, detected: str
) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(text.encode(encoding))
    assert detect_encoding(path) == detected
