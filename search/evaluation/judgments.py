"""Readers of relevance judgments and judged queries, in the formats the field uses.

Judgments: TREC qrels (``qid 0 docid grade``, whitespace-separated) or JSON Lines
(``{"query_id", "product_id", "grade"}``). Queries: TSV (``qid<TAB>text[<TAB>locale]``) or JSON
Lines (``{"query_id", "text", "locale"?}``). The format is told by the first non-blank line: a
``{`` means JSON Lines. Every malformed line is collected and reported with its line number in one
error, so a file can be fixed in one pass; nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from catalog.locales import LANGUAGES, canonical_locale, language_of
from catalog.product import describe_validation_error
from search.errors import EvaluationInputError

#: query id -> product id -> graded relevance (0 = not relevant, 3 = exact match).
Qrels = dict[str, dict[str, int]]

#: ESCI labels (Amazon Shopping Queries dataset) as grades; full words or their initials.
ESCI_GRADES: dict[str, int] = {
    "exact": 3,
    "substitute": 2,
    "complement": 1,
    "irrelevant": 0,
    "e": 3,
    "s": 2,
    "c": 1,
    "i": 0,
}
MAX_GRADE = 3
ERRORS_SHOWN = 20  # an error message lists this many bad lines, then counts the rest


@dataclass(frozen=True)
class EvalQuery:
    """One judged query: its id, what the shopper typed and, if known, its locale."""

    query_id: str
    text: str
    locale: str | None = None  # the shopper's language: how BM25 analyses the query
    product_locale: str | None = None  # only products of this locale/language are eligible

    @property
    def language(self) -> str:
        """The query's language code ("de"), or "unknown" when it came without a locale."""
        return language_of(self.locale).code if self.locale else "unknown"


def parse_grade(value: object) -> int:
    """A grade 0-3 from an integer (or integral text) or an ESCI label; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"grade must be an integer 0-{MAX_GRADE} or an ESCI label (got {value})")
    if isinstance(value, str):
        label = value.strip().lower()
        if label in ESCI_GRADES:
            return ESCI_GRADES[label]
        try:
            value = int(label)
        except ValueError:
            raise ValueError(
                f"grade {value!r} is neither an integer 0-{MAX_GRADE} nor an ESCI label "
                "(Exact, Substitute, Complement, Irrelevant)"
            ) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value <= MAX_GRADE:
        raise ValueError(f"grade must be an integer 0-{MAX_GRADE} or an ESCI label (got {value!r})")
    return value


def _identifier(value: Any) -> Any:
    # Ids are often numbers in qrels-derived JSON; they are compared as text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class JudgmentRecord(BaseModel):
    """One JSON Lines judgment."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    query_id: str = Field(min_length=1)
    product_id: str = Field(min_length=1)
    grade: int

    _ids = field_validator("query_id", "product_id", mode="before")(_identifier)

    @field_validator("grade", mode="before")
    @classmethod
    def _grade(cls, value: object) -> int:
        return parse_grade(value)


class QueryRecord(BaseModel):
    """One JSON Lines query."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    query_id: str = Field(min_length=1)
    text: str = Field(min_length=1)
    locale: str | None = None
    product_locale: str | None = None

    _ids = field_validator("query_id", mode="before")(_identifier)

    @field_validator("locale", "product_locale")
    @classmethod
    def _known_locale(cls, value: str | None) -> str | None:
        if not value:
            return None
        # A bare language ("de") is allowed: recall then searches every locale of it.
        return value.lower() if value.lower() in LANGUAGES else canonical_locale(value)


@dataclass
class LineErrors:
    """Bad lines of one input file, raised together as one EvaluationInputError."""

    path: Path
    what: str
    lines: list[str] = field(default_factory=list)

    def add(self, line_no: int, reason: str) -> None:
        """Note a bad line."""
        self.lines.append(f"line {line_no}: {reason}")

    def raise_if_any(self) -> None:
        """Raise one error listing the bad lines, if there are any."""
        if not self.lines:
            return
        shown = self.lines[:ERRORS_SHOWN]
        more = len(self.lines) - len(shown)
        raise EvaluationInputError(
            f"{self.path}: {len(self.lines)} malformed {self.what} line(s); fix them and run "
            "again:\n  " + "\n  ".join(shown) + (f"\n  ... and {more} more" if more else "")
        )


def _lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped text) of every non-blank, non-comment line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EvaluationInputError(f"cannot open {what} file {path}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvaluationInputError(
            f"{path}: not valid UTF-8 at byte {exc.start}; save the {what} file as UTF-8"
        ) from None
    for line_no, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield line_no, line.rstrip("\r\n")


def _is_jsonl(lines: list[tuple[int, str]]) -> bool:
    return bool(lines) and lines[0][1].lstrip().startswith("{")


def _json_object(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _qrels_line(text: str) -> tuple[str, str, int]:
    fields = text.split()
    if len(fields) != 4:
        raise ValueError(f"expected 4 fields 'qid 0 docid grade', got {len(fields)}")
    return fields[0], fields[2], parse_grade(fields[3])


def read_judgments(path: Path) -> Qrels:
    """Every judgment of a qrels or JSON Lines file; all malformed lines raise one error."""
    lines = list(_lines(path, "judgments"))
    jsonl, errors = _is_jsonl(lines), LineErrors(path, "judgment")
    qrels: Qrels = {}
    where: dict[tuple[str, str], int] = {}
    for line_no, text in lines:
        try:
            if jsonl:
                record = JudgmentRecord.model_validate(_json_object(text))
                query_id, product_id, grade = record.query_id, record.product_id, record.grade
            else:
                query_id, product_id, grade = _qrels_line(text)
        except ValidationError as exc:
            errors.add(line_no, describe_validation_error(exc))
            continue
        except ValueError as exc:
            errors.add(line_no, str(exc))
            continue
        grades = qrels.setdefault(query_id, {})
        if product_id in grades and grades[product_id] != grade:
            errors.add(
                line_no,
                f"{query_id} {product_id} judged {grade} here and {grades[product_id]} on line "
                f"{where[(query_id, product_id)]}; keep one grade",
            )
            continue
        grades[product_id], where[(query_id, product_id)] = grade, line_no
    errors.raise_if_any()
    if not qrels:
        raise EvaluationInputError(f"{path}: no judgments found; expected qrels or JSON Lines")
    return qrels


def _tsv_query(text: str) -> QueryRecord:
    fields = text.split("\t")
    if len(fields) not in (2, 3):
        raise ValueError(f"expected 'qid<TAB>text' or 'qid<TAB>text<TAB>locale', got {text!r}")
    locale = fields[2] if len(fields) == 3 else None
    return QueryRecord(query_id=fields[0], text=fields[1], locale=locale)


def read_queries(path: Path) -> list[EvalQuery]:
    """Every query of a TSV or JSON Lines file, in order; all malformed lines raise one error."""
    lines = list(_lines(path, "queries"))
    jsonl, errors = _is_jsonl(lines), LineErrors(path, "query")
    queries: list[EvalQuery] = []
    seen: dict[str, int] = {}
    for line_no, text in lines:
        try:
            record = QueryRecord.model_validate(_json_object(text)) if jsonl else _tsv_query(text)
        except ValidationError as exc:
            errors.add(line_no, describe_validation_error(exc))
            continue
        except ValueError as exc:
            errors.add(line_no, str(exc))
            continue
        if record.query_id in seen:
            errors.add(
                line_no, f"query id {record.query_id} is already on line {seen[record.query_id]}"
            )
            continue
        seen[record.query_id] = line_no
        queries.append(
            EvalQuery(record.query_id, record.text, record.locale, record.product_locale)
        )
    errors.raise_if_any()
    if not queries:
        raise EvaluationInputError(f"{path}: no queries found; expected TSV or JSON Lines")
    return queries
