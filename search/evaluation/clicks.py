"""Graded relevance judgments from the search log's clicks, corrected for position bias.

Model: COEC, clicks over expected clicks (Zhang & Jones, "Clicks over Expected Clicks", 2007;
Chapelle & Zhang, "A Dynamic Bayesian Network Click Model for Web Search Ranking", WWW 2009,
§2), per query and product:

    COEC(q, d) = clicks(q, d) / Σ_{impressions of d for q} prior(position)

The position priors are the examination probabilities of the position-based model (PBM:
Richardson et al., WWW 2007; Craswell et al., WSDM 2008), P(click) = θ_k · γ_qd, fitted to the
same log by expectation-maximisation (Chuklin, Markov, de Rijke, "Click Models for Web Search",
2015, §4.2; Wang et al., WSDM 2018) and scaled so that θ_1 = 1: COEC is then the product's
click-through rate had it always been shown first. Plain position CTRs as priors would also
absorb the ranker's own quality (better products sit higher), and over-correct low positions.

Grades (TREC qrels, 0-3) come from COEC by thresholds (default 0.05, 0.15, 0.35: a product that
one shopper in 20, 7 or 3 would click at the top gets 1, 2, 3). Only pairs with at least
``min_impressions`` impressions are judged. The log is read in one streamed pass (searches with
their clicked products, ordered by request); only the per (query, product, position) counts are
kept, up to ``max_position``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from search.errors import InvalidQuery
from search.events.tables import Tables
from search.query.normalize import normalize_query, query_key

DEFAULT_THRESHOLDS = (0.05, 0.15, 0.35)
EM_ITERATIONS = 100
EM_TOLERANCE = 1e-7
_ROWS_PER_FETCH = 1000

QueryKey = tuple[str, str | None]  # normalised text, locale


@dataclass(frozen=True)
class ClickJudgment:
    """One judged (query, product) pair."""

    query_id: str
    product_id: str
    grade: int
    coec: float
    impressions: int
    clicks: int


@dataclass(frozen=True)
class ClickJudgments:
    """The judgments, the queries they belong to (id -> text, locale) and the fitted
    examination probability per position (1-based; θ_1 = 1)."""

    judgments: list[ClickJudgment]
    queries: dict[str, QueryKey]
    examination: list[float]
    searches: int
    withheld: int = 0  # judged queries left out: sent by fewer than ``min_users`` users


def query_id(key: QueryKey) -> str:
    """A stable id for a (text, locale) query: ``q`` + 12 hex digits of its SHA-1."""
    return "q" + hashlib.sha1(f"{key[1] or ''}\x00{key[0]}".encode()).hexdigest()[:12]


def click_log_query(tables: Tables, since: dt.datetime, until: dt.datetime) -> sa.Select:
    """SELECT every search in [since, until) with each product clicked on it (one row per
    clicked product, one with NULL when none), ordered by request id."""
    searches, events = tables.searches, tables.events
    clicked = (
        sa.select(events.c.request_id, events.c.product_id)
        .where(events.c.type == "click")
        .distinct()
        .subquery("clicked")
    )
    return (
        sa.select(
            searches.c.request_id,
            searches.c.query,
            searches.c.locale,
            searches.c.product_ids,
            searches.c.first_position,
            clicked.c.product_id.label("clicked"),
        )
        .select_from(searches.outerjoin(clicked, clicked.c.request_id == searches.c.request_id))
        .where(searches.c.ts >= since, searches.c.ts < until)
        .order_by(searches.c.request_id)
    )


def queries_of_enough_users(
    engine: sa.Engine, tables: Tables, since: dt.datetime, until: dt.datetime, min_users: int
) -> set[str]:
    """The ``query_key`` of every query at least ``min_users`` distinct users (user id, else
    session id) sent in [since, until): the k-anonymity threshold analytics apply
    (``SHELF_ANALYTICS_MIN_USERS``, ``search.analytics.queries``)."""
    searches = tables.searches
    users = sa.func.count(sa.distinct(searches.c.unit_id))
    select = (
        sa.select(searches.c.query_key)
        .where(searches.c.ts >= since, searches.c.ts < until)
        .group_by(searches.c.query_key)
        .having(users >= min_users)
    )
    with engine.connect() as conn:
        return {row[0] for row in conn.execute(select) if row[0] is not None}


def click_counts(
    engine: sa.Engine,
    tables: Tables,
    since: dt.datetime,
    until: dt.datetime,
    *,
    max_position: int = 20,
) -> tuple[dict[tuple[QueryKey, str, int], list[int]], int]:
    """({(query, product, position): [impressions, clicks]}, searches), streamed."""
    counts: dict[tuple[QueryKey, str, int], list[int]] = defaultdict(lambda: [0, 0])
    searches = 0
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=_ROWS_PER_FETCH).execute(
            click_log_query(tables, since, until)
        )
        for _, rows in itertools.groupby(result, key=lambda row: row.request_id):
            first, *rest = rows
            try:
                key = (normalize_query(first.query).casefold(), first.locale)
            except InvalidQuery:
                continue  # an empty or oversized stored query names nothing to judge
            searches += 1
            clicked = {row.clicked for row in (first, *rest) if row.clicked is not None}
            for offset, product in enumerate(first.product_ids):
                position = first.first_position + offset
                if position > max_position:
                    break
                entry = counts[(key, str(product), position)]
                entry[0] += 1
                entry[1] += product in clicked
    return counts, searches


def fit_examination(
    positions: np.ndarray, pairs: np.ndarray, impressions: np.ndarray, clicks: np.ndarray
) -> np.ndarray:
    """θ per position (index 0 = position 1, scaled so θ_1 = 1) of the position-based model,
    by EM over aggregated counts: row i is ``impressions[i]`` showings of pair ``pairs[i]`` at
    ``positions[i]`` (1-based) with ``clicks[i]`` clicks."""
    k = int(positions.max())
    pos = positions - 1
    n_pairs = int(pairs.max()) + 1
    shown = np.bincount(pos, impressions, k)
    ctr = np.bincount(pos, clicks, k) / np.maximum(shown, 1)
    theta = np.clip(ctr / max(ctr[0], 1e-9), 0.01, 0.99)
    gamma = np.full(n_pairs, 0.5)
    not_clicked = impressions - clicks
    pair_shown = np.bincount(pairs, impressions, n_pairs)
    for _ in range(EM_ITERATIONS):
        t, g = theta[pos], gamma[pairs]
        unclicked = 1 - t * g
        # E-step: a skipped result was examined but unattractive, or attractive but not seen.
        examined = clicks + not_clicked * t * (1 - g) / unclicked
        attractive = clicks + not_clicked * (1 - t) * g / unclicked
        new_theta = np.bincount(pos, examined, k) / np.maximum(shown, 1)
        gamma = np.bincount(pairs, attractive, n_pairs) / pair_shown
        done = np.max(np.abs(new_theta - theta)) < EM_TOLERANCE
        theta = np.clip(new_theta, 1e-6, 1.0)
        if done:
            break
    return theta / theta[0]


def grade_of(coec: float, thresholds: Sequence[float] = DEFAULT_THRESHOLDS) -> int:
    """0-3: how many of the three ascending ``thresholds`` ``coec`` reaches."""
    return sum(coec >= t for t in thresholds)


def judgments_from_clicks(
    engine: sa.Engine,
    tables: Tables,
    since: dt.datetime,
    until: dt.datetime,
    *,
    min_impressions: int = 20,
    max_position: int = 20,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    min_users: int = 1,
) -> ClickJudgments:
    """Graded judgments of every (query, product) shown at least ``min_impressions`` times in
    [since, until), sorted by query id then product id. A query fewer than ``min_users``
    distinct users sent (k-anonymity, as analytics) is left out, judgments and text alike; the
    result's ``withheld`` counts those queries."""
    counts, searches = click_counts(engine, tables, since, until, max_position=max_position)
    if not counts:
        return ClickJudgments([], {}, [], searches)
    allowed = (
        None if min_users <= 1 else queries_of_enough_users(engine, tables, since, until, min_users)
    )
    withheld: set[QueryKey] = set()
    pair_index: dict[tuple[QueryKey, str], int] = {}
    rows = np.array(
        [
            (pair_index.setdefault((key, product), len(pair_index)), position, shown, clicked)
            for (key, product, position), (shown, clicked) in counts.items()
        ],
        dtype=np.int64,
    )
    pairs, positions, impressions, clicks = rows.T
    theta = fit_examination(positions, pairs, impressions.astype(float), clicks.astype(float))
    n = len(pair_index)
    expected = np.bincount(pairs, impressions * theta[positions - 1], n)
    pair_clicks = np.bincount(pairs, clicks, n)
    pair_shown = np.bincount(pairs, impressions, n)
    judgments, queries = [], {}
    for (key, product), i in pair_index.items():
        if pair_shown[i] < min_impressions or any(ch.isspace() for ch in product):
            continue  # too few showings to judge; or an id qrels cannot hold
        if allowed is not None and query_key(key[0]) not in allowed:
            withheld.add(key)  # its text would show what fewer than min_users users typed
            continue
        coec = float(pair_clicks[i] / expected[i])
        qid = query_id(key)
        queries[qid] = key
        judgments.append(ClickJudgment(qid, product, grade_of(coec, thresholds), coec,
                                       int(pair_shown[i]), int(pair_clicks[i])))  # fmt: skip
    judgments.sort(key=lambda j: (j.query_id, j.product_id))
    return ClickJudgments(judgments, queries, [float(t) for t in theta], searches, len(withheld))


def qrels_lines(result: ClickJudgments) -> Iterator[str]:
    """TREC qrels lines, ``qid 0 docid grade`` (what ``shelf eval --judgments`` reads)."""
    for j in result.judgments:
        yield f"{j.query_id} 0 {j.product_id} {j.grade}\n"


def queries_lines(result: ClickJudgments) -> Iterator[str]:
    """The queries file, ``qid<TAB>text[<TAB>locale]`` (what ``shelf eval --queries`` reads)."""
    for qid in sorted(result.queries):
        text, locale = result.queries[qid]
        yield f"{qid}\t{text}" + (f"\t{locale}" if locale else "") + "\n"
