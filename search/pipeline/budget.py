"""The query budget: how much one query may search for, decided once, in the understand stage,
for both recall backends.

A query's **terms** are its own words, then one per word typo tolerance may correct (query
order), then the synonym phrases its rules bring (round robin over its phrases, in query order:
``SynonymSet.expand``). Its **clauses** are the index terms the lexical query holds: the query's
analysed terms (``searchable_terms``), ``MAX_EXPANSIONS`` per correctable word, and each synonym
phrase's terms per analysis language (``phrase_terms``). Over ``SHELF_SEARCH_MAX_TERMS`` or
``SHELF_SEARCH_MAX_CLAUSES``, the query is cut from the end of that order: synonyms first, then
corrections, then the query's last words. The cut depends on nothing but the query, its
languages and the rules, so the same query is always cut the same way, and the answer's
``budget`` says what was left out.

Refused instead (422): a query longer than ``SHELF_API_MAX_QUERY_CHARS`` or
``SHELF_API_MAX_QUERY_BYTES`` (``search.pipeline.request``), and one whose first word alone
is over the clause budget (nothing sensible is left to search).
"""

from __future__ import annotations

from collections.abc import Callable

from search.errors import InvalidQuery, LimitExceeded
from search.query.budget import BudgetReport, Deadline, QueryBudget
from search.recall import SearchFilters, searchable_terms
from search.recall.lexical import (
    MAX_EXPANSIONS,
    LexicalOptions,
    SynonymUse,
    phrase_terms,
    query_words,
    typo_words,
)
from search.synonyms.model import Expansion

# A synonym expansion under a budget of alternatives (None: no rules).
Expander = Callable[[str, int], Expansion]


def cut_words(text: str, max_words: int) -> tuple[str, tuple[str, ...]]:
    """``text`` (normalised) up to its ``max_words``-th word, and the words after it (a word:
    a whitespace token that is not punctuation alone, ``query_words``)."""
    tokens = text.split()
    kept: list[str] = []
    count = 0
    for position, token in enumerate(tokens):
        if query_words(token):
            if count == max_words:
                return " ".join(kept), tuple(query_words(" ".join(tokens[position:])))
            count += 1
        kept.append(token)
    return text, ()


def plan_lexical(
    text: str,
    filters: SearchFilters,
    analyze_as: tuple[str, ...] | None,
    *,
    budget: QueryBudget,
    typos: bool,
    expand: Expander | None,
    deadline: Deadline | None = None,
    words_dropped: tuple[str, ...] = (),
) -> tuple[str, LexicalOptions, BudgetReport]:
    """The query text to search (its last words cut when its clauses are over the budget), the
    lexical leg's options within the budget, and the report. ``words_dropped``: words an
    earlier cut (``cut_words``) left out. ``LimitExceeded`` names ``SHELF_SEARCH_MAX_CLAUSES``
    when the first word alone is over it."""
    try:
        languages, terms = searchable_terms(text, filters, analyze_as)
    except InvalidQuery:  # nothing for BM25 to search: the lexical leg says so if it runs
        words = len(query_words(text))
        report = BudgetReport(
            bool(words_dropped), words, budget.max_terms, 0, budget.max_clauses,
            deadline.budget_ms if deadline is not None else None, words_dropped,
        )  # fmt: skip
        return text, LexicalOptions(typos=typos, deadline=deadline), report
    clauses = len(terms)
    if clauses > budget.max_clauses:
        text, more = _fit_words(text, filters, analyze_as, budget.max_clauses)
        words_dropped = (*more, *words_dropped)
        languages, terms = searchable_terms(text, filters, analyze_as)
        clauses = len(terms)
    words = len(query_words(text))
    left = max(budget.max_terms - words, 0)
    correctable = typo_words(text.casefold()) if typos else []
    corrections = min(len(correctable), left, (budget.max_clauses - clauses) // MAX_EXPANSIONS)
    left -= corrections
    clauses += corrections * MAX_EXPANSIONS
    uses: list[tuple[str, tuple[str, ...]]] = []
    synonyms_dropped = 0
    if expand is not None:
        expansion = expand(text, left)
        kept = 0
        for _phrase, alternative in expansion.picked:
            cost = sum(len(t) for t in phrase_terms(alternative, languages))
            if clauses + cost > budget.max_clauses:
                break
            clauses += cost
            kept += 1
        uses = expansion.first(kept)
        synonyms_dropped = expansion.dropped + len(expansion.picked) - kept
    lexical = LexicalOptions(
        synonyms=tuple(SynonymUse(term, also) for term, also in uses),
        typos=typos,
        max_corrections=corrections if corrections < len(correctable) else None,
        deadline=deadline,
    )
    dropped_corrections = len(correctable) - corrections
    report = BudgetReport(
        cut=bool(words_dropped or dropped_corrections or synonyms_dropped),
        terms=words + corrections + sum(len(also) for _term, also in uses),
        max_terms=budget.max_terms,
        clauses=clauses,
        max_clauses=budget.max_clauses,
        deadline_ms=deadline.budget_ms if deadline is not None else None,
        words_dropped=words_dropped,
        corrections_dropped=dropped_corrections,
        synonyms_dropped=synonyms_dropped,
    )
    return text, lexical, report


def _fit_words(
    text: str, filters: SearchFilters, analyze_as: tuple[str, ...] | None, max_clauses: int
) -> tuple[str, tuple[str, ...]]:
    """The longest prefix of ``text``'s words whose analysed terms fit ``max_clauses`` (a
    binary search: a word never removes terms), and the words left out."""
    low, high = 0, len(query_words(text))  # low fits (no words: no terms), high does not
    while high - low > 1:
        middle = (low + high) // 2
        prefix, _dropped = cut_words(text, middle)
        if len(searchable_terms(prefix, filters, analyze_as)[1]) <= max_clauses:
            low = middle
        else:
            high = middle
    if low == 0:
        first = query_words(text)[0]
        count = len(searchable_terms(cut_words(text, 1)[0], filters, analyze_as)[1])
        raise LimitExceeded(
            f"the query's first word ({first[:40]!r}) alone is {count} index terms; a query may "
            f"search for {max_clauses} (SHELF_SEARCH_MAX_CLAUSES): shorten it or split it "
            "with spaces"
        )
    return cut_words(text, low)
