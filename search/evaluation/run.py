"""Send judged queries through the search service, as ``GET /search`` and ``shelf search``
serve them, and score what comes back.

Each configuration (rerank on or off, recall K) asks for the first page of K results in
relevance order, with the event store's synonym and merchandising rules applied as ``shelf
search`` applies them: the top k of that list is the final ranking the shopper sees, and the
whole list is the recall stage's candidate set in the final order, so recall@K of the recall
stage is read off the same list. A configuration can also name a stored TREC run file instead.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from catalog.locales import language_of
from search.errors import CatalogError, EvaluationInputError, InvalidQuery, ShelfError
from search.evaluation.judgments import EvalQuery
from search.evaluation.metrics import RunEvaluation, evaluate_run
from search.evaluation.trec import Run, read_run
from search.pipeline.request import MAX_K, RECALL_MODES, search_request
from search.pipeline.service import SearchService, make_service
from search.pipeline.stored_rules import StoredRules, read_stored_rules
from search.ranking.model import load_ranker
from search.recall import Recall
from search.recall.factory import make_recall
from search.results.items import SearchItem
from search.settings import Settings

OnQuery = Callable[[], None]


@dataclass(frozen=True)
class EvalConfig:
    """One way of ranking: the search service with or without reranking at a recall K, with
    a learned ranker (``SHELF_RANKER``'s values; None: the configured one), or a run file."""

    rerank: bool
    recall_k: int
    run_file: Path | None = None
    recall: str = "bm25"  # the recall legs: bm25, dense or hybrid
    ranker: str | None = None  # default, none or a directory; None: SHELF_RANKER's

    @property
    def label(self) -> str:
        """How reports name it: ``bm25 K=50``, ``hybrid+rerank K=100``, ``run old.trec``,
        ``hybrid K=50 ranker=none``."""
        if self.run_file is not None:
            return f"run {self.run_file.name}"
        ranker = f" ranker={self.ranker}" if self.ranker is not None else ""
        return f"{self.recall}{'+rerank' if self.rerank else ''} K={self.recall_k}{ranker}"

    @property
    def tag(self) -> str:
        """The TREC run tag (one word): ``shelf-bm25-k50``, ``shelf-hybrid-rerank-k100``,
        ``shelf-hybrid-k50-ranker-none``."""
        ranker = ""
        if self.ranker is not None:
            ranker = "-ranker-" + "".join(c if c.isalnum() else "_" for c in Path(self.ranker).name)
        return f"shelf-{self.recall}{'-rerank' if self.rerank else ''}-k{self.recall_k}{ranker}"


def parse_config(spec: str, default: EvalConfig) -> EvalConfig:
    """A configuration from ``rerank=on|off``, ``recall=bm25|dense|hybrid``, ``recall_k=N``,
    ``ranker=default|none|DIR`` (comma-joined) or ``run=FILE``."""
    rerank, recall_k, run_file, recall = default.rerank, default.recall_k, None, default.recall
    ranker = default.ranker
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        key, value = key.strip().replace("-", "_"), value.strip()
        if not sep or not value:
            key = "?"
        if key == "rerank" and value.lower() in {"on", "off", "true", "false", "1", "0"}:
            rerank = value.lower() in {"on", "true", "1"}
        elif key == "recall" and value.lower() in RECALL_MODES:
            recall = value.lower()
        elif key == "recall_k" and value.isdigit() and 1 <= int(value) <= MAX_K:
            recall_k = int(value)
        elif key == "run":
            run_file = Path(value)
        elif key == "ranker":
            ranker = value
        else:
            raise EvaluationInputError(
                f"cannot read the configuration {spec!r} at {part!r}: use rerank=on|off, "
                f"recall={'|'.join(RECALL_MODES)}, recall_k=N (1-{MAX_K}), "
                "ranker=default|none|DIR or run=FILE, e.g. 'recall=hybrid,rerank=on,recall_k=100'"
            )
    return EvalConfig(
        rerank=rerank, recall_k=recall_k, run_file=run_file, recall=recall, ranker=ranker
    )


@dataclass
class RankedQueries:
    """What one configuration returned for every query."""

    config: EvalConfig
    run: Run
    languages: dict[str, str]  # query id -> language it is averaged under
    failed: dict[str, str] = field(default_factory=dict)  # query id -> why it returned nothing


# Offline evaluation waits for every score: a degraded ranking would measure the deadline.
EVAL_DEADLINE_MS = 600_000


class RerankIncomplete(ShelfError):
    """Reranking did not score every candidate, so the ranking cannot be evaluated."""

    status_code = 503


def rank_queries(
    service: SearchService,
    queries: Sequence[EvalQuery],
    config: EvalConfig,
    on_query: OnQuery | None = None,
) -> RankedQueries:
    """Every query's first page of K results in relevance order (the reranked head, rules
    applied), scored by the reranker or else by recall."""
    ranked = RankedQueries(config, run={}, languages={})
    for query in queries:
        # The query's locale is its language (how BM25 analyses it); only a stated
        # product_locale restricts the products, as in GET /search.
        try:
            response = service.search(
                search_request(
                    query.text,
                    sort="relevance",
                    page=1,
                    size=config.recall_k,
                    recall_k=config.recall_k,
                    product_locale=query.product_locale,
                    rerank=config.rerank,
                    lang=query.locale,
                    recall=config.recall,
                )  # fmt: skip
            )
        except InvalidQuery as exc:
            # One unsearchable query (no words left after analysis) must not stop the others.
            ranked.run[query.query_id], ranked.failed[query.query_id] = [], str(exc)
            ranked.languages[query.query_id] = query.language
        else:
            if response.degraded:
                raise RerankIncomplete(
                    f"query {query.query_id}: only {response.scored} of {response.candidates} "
                    f"candidates were reranked within {EVAL_DEADLINE_MS / 1000:.0f}s; an "
                    "evaluation needs every score (are the rerank workers running?)"
                )
            ranked.run[query.query_id] = [
                (i.product_id, i.rerank_score if i.rerank_score is not None else _recall_score(i))
                for i in response.items
            ]
            ranked.languages[query.query_id] = (
                query.language
                if query.locale or response.language is None
                else language_of(response.language).code  # detected from the query text
            )
        if on_query:
            on_query()
    return ranked


def _recall_score(item: SearchItem) -> float:
    """What a run file records for an unreranked item: its fused recall score."""
    return item.final_score if item.final_score is not None else item.bm25_score


def stored_run(queries: Sequence[EvalQuery], config: EvalConfig) -> RankedQueries:
    """A run file ranked as if by a configuration; queries it lacks rank nothing."""
    assert config.run_file is not None
    stored = read_run(config.run_file)
    run = {q.query_id: stored.get(q.query_id, []) for q in queries}
    return RankedQueries(config, run=run, languages={q.query_id: q.language for q in queries})


def score(ranked: RankedQueries, qrels: Mapping[str, Mapping[str, int]], k: int) -> RunEvaluation:
    """The metrics of a configuration's rankings: at ``k``, and recall at its recall K."""
    rankings = {qid: [doc for doc, _ in items] for qid, items in ranked.run.items()}
    recall_ks = [ranked.config.recall_k] if ranked.config.recall_k != k else []
    return evaluate_run(rankings, qrels, ranked.languages, k, recall_ks)


@contextmanager
def catalog_index(
    catalog: Path | None, settings: Settings, *, embed: bool = False
) -> Iterator[tuple[Recall, int]]:
    """The configured index, or a temporary one holding ``catalog`` (with vectors when
    ``embed``); yields it and its rejects."""
    if catalog is None:
        recall = make_recall(settings)
        try:
            yield recall, 0
        finally:
            recall.close()
        return
    from catalog.ingest import ingest_file

    with tempfile.TemporaryDirectory(prefix="shelf-eval-") as tmp:
        recall = make_recall(settings.model_copy(update={"data_dir": Path(tmp)}))
        try:
            report = ingest_file(catalog, recall)
            if not report.indexed:
                raise CatalogError(
                    f"{catalog}: no product could be indexed ({report.rejected} rejected); "
                    "check it with `shelf ingest` first"
                )
            if embed:
                from search.embedding.run import run_embedding

                run_embedding(recall, settings, celery=False)
            yield recall, report.rejected
        finally:
            recall.close()


def evaluate_configs(
    configs: Sequence[EvalConfig],
    queries: Sequence[EvalQuery],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    k: int,
    catalog: Path | None,
    settings: Settings,
    on_query: OnQuery | None = None,
    stored: StoredRules | None = None,
) -> tuple[list[tuple[RankedQueries, RunEvaluation]], int]:
    """Rank and score every configuration over one index, with ``stored`` rules (default: the
    event store's, ``read_stored_rules``); also returns the catalog's rejects."""
    for config in configs:
        if config.run_file is None and k > config.recall_k:
            raise EvaluationInputError(
                f"k={k} is above recall K={config.recall_k}: the final ranking cannot be longer "
                "than the recalled candidates; lower --k or raise --recall-k"
            )
    searched = [c for c in configs if c.run_file is None]
    by_config: dict[EvalConfig, RankedQueries] = {}
    rejected = 0
    if searched:
        embed = any(c.recall != "bm25" for c in searched)
        with catalog_index(catalog, settings, embed=embed) as (recall, rejected):
            stored = stored or read_stored_rules(settings)
            rules = stored.rules
            # The score cache lets configurations that share candidates (K=50, K=100) score once.
            service = make_service(
                settings.model_copy(
                    update={
                        "rerank_deadline_ms": EVAL_DEADLINE_MS,
                        "recall_mode": "hybrid" if embed else "bm25",
                    }
                ),
                rerank=any(c.rerank for c in searched),
                recall=recall,
                synonyms=lambda: stored.synonyms,
                rules=lambda: rules,
            )
            try:
                for config in searched:
                    ranked_by = service
                    if config.ranker is not None:
                        ranked_by = service.with_config(ranker=load_ranker(config.ranker))
                    by_config[config] = rank_queries(ranked_by, queries, config, on_query)
            finally:  # the index is closed by catalog_index; stop the model's thread here
                if service.reranker is not None:
                    service.reranker.close()
                if service.embedder is not None:
                    service.embedder.close()
    results = []
    for config in configs:
        ranked = by_config.get(config) or stored_run(queries, config)
        results.append((ranked, score(ranked, qrels, k)))
    return results, rejected
