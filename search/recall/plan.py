"""What the recall stage is asked to run: a query planned once per search (by the pipeline's
understand stage) and read by the legs, the match set and the rules."""

from __future__ import annotations

from dataclasses import dataclass

from search.query.budget import BudgetReport
from search.recall import SearchFilters, VectorStatus
from search.recall.lexical import LexicalOptions


@dataclass(frozen=True)
class QueryPlan:
    """A query made ready to search: its normalised text, filters, recall mode, the languages
    BM25 analyses it as (and whether detected), the query vector and the index's vector status,
    what the operator should know, the lexical leg's synonyms and typo tolerance, and how the
    query fared against its budget."""

    text: str
    filters: SearchFilters
    mode: str
    analyze_as: tuple[str, ...] | None
    detected: bool
    vector: list[float] | None
    status: VectorStatus | None
    notice: str | None
    lexical: LexicalOptions | None = None
    budget: BudgetReport | None = None
