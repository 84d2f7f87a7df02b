"""The rank stage with a learned ranker: it orders the candidates of both legs, ``none`` gives
the fused order, the cross-encoder's score is one of its features and never a second ordering,
and the match set is the same either way."""

from __future__ import annotations

import numpy as np
import pytest

from search.pipeline.config import SearchConfig
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.ranking.features import INDEX, RankTrace
from search.ranking.model import load_ranker
from search.recall.embedded.backend import EmbeddedRecall
from search.rerank.cache import NoScoreCache
from search.rerank.rerankers import LocalReranker
from workers.embedding.model import UseEmbedder
from workers.rerank.model import RerankModel

# Cross-language queries: the fused order puts keyword traps first, the ranker does not.
QUERIES = [
    ("家用跑步机 可折叠", "zh-CN"),
    ("wireless noise cancelling headphones", "en-US"),
    ("kaffeemaschine mit mahlwerk", "de-DE"),
]


@pytest.fixture
def service(hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder) -> SearchService:
    return SearchService(
        hybrid_sample_index, None, embedder=embedder,
        config=SearchConfig(recall_k=20, ranker=load_ranker("default")),
    )  # fmt: skip


def _ids(service: SearchService, text: str, lang: str, **params: object) -> list[str]:
    request = search_request(text, lang=lang, recall="hybrid", size=20, **params)
    return [item.product_id for item in service.search(request).items]


def test_the_ranker_changes_the_order_and_none_gives_the_fused_order(
    service: SearchService,
) -> None:
    changed = 0
    for text, lang in QUERIES:
        ranked = service.search(search_request(text, lang=lang, recall="hybrid", size=20))
        assert ranked.ranker is not None and ranked.ranker.startswith("default@")
        assert "ranker" in ranked.timings_ms
        fused = service.with_config(ranker=None).search(
            search_request(text, lang=lang, recall="hybrid", size=20)
        )
        assert fused.ranker is None and "ranker" not in fused.timings_ms
        assert ranked.total == fused.total  # the match set does not change meaning
        scores = [item.final_score for item in ranked.items]
        assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]
        changed += [i.product_id for i in ranked.items] != [i.product_id for i in fused.items]
    assert changed >= 2


@pytest.mark.parametrize("recall", ["bm25", "dense"])
def test_a_recall_mode_the_ranker_was_not_trained_in_keeps_its_own_order(
    service: SearchService, recall: str
) -> None:
    text, lang = QUERIES[1]
    request = search_request(text, lang=lang, recall=recall, size=20)
    result = service.search(request)
    assert result.ranker is None and "ranker" not in result.timings_ms
    fused = service.with_config(ranker=None).search(request)
    assert [i.product_id for i in result.items] == [i.product_id for i in fused.items]


def test_the_ranker_orders_with_rerank_off_and_sees_past_the_window(
    service: SearchService,
) -> None:
    trace = RankTrace()
    request = search_request(QUERIES[0][0], lang=QUERIES[0][1], recall="hybrid", size=20,
                             rerank=False)  # fmt: skip
    result = service.search(request, trace=trace)
    assert result.ranker is not None
    assert len(trace.product_ids) > 20  # both legs, past the fused window of 20
    assert trace.features is not None
    assert np.isnan(trace.features[:, INDEX["cross_encoder"]]).all()


def test_the_cross_encoder_score_is_a_feature_not_an_override(
    hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder, rerank_model: RerankModel
) -> None:
    reranking = SearchService(
        hybrid_sample_index, LocalReranker(rerank_model, NoScoreCache()), embedder=embedder,
        config=SearchConfig(recall_k=20, deadline_ms=60_000, ranker=load_ranker("default")),
    )  # fmt: skip
    trace = RankTrace()
    text, lang = QUERIES[1]
    result = reranking.search(search_request(text, lang=lang, recall="hybrid", size=20),
                              trace=trace)  # fmt: skip
    assert result.reranked and result.ranker is not None
    assert trace.features is not None
    model_column = trace.features[:, INDEX["cross_encoder"]]
    assert not np.isnan(model_column[:20]).any()  # the window was scored
    assert np.isnan(model_column[20:]).all()  # the rest: missing, not zero
    items = result.items
    # The ranker's score orders the page; the cross-encoder's is reported beside it.
    finals = [item.final_score for item in items]
    assert finals == sorted(finals, reverse=True)  # type: ignore[type-var]
    by_model = sorted(
        (i for i in items if i.rerank_score is not None),
        key=lambda i: -(i.rerank_score or 0.0),
    )
    assert [i.product_id for i in items if i.rerank_score is not None] != [
        i.product_id for i in by_model
    ]


def test_every_demo_query_puts_a_judged_relevant_product_first_without_the_cross_encoder(
    hybrid_sample_index: EmbeddedRecall, embedder: UseEmbedder
) -> None:
    """What `make demo` and the README's first search show offline: the default ranker, no
    cross-encoder, Shelf's default configuration, each demo query asked as the demo asks it."""
    from catalog.samples import sample_judgments, sample_queries, xling_judgments, xling_queries
    from search.cli.demo import demo_queries, demo_xling_queries

    query_ids = {(q["text"], q["locale"]): q["query_id"] for q in sample_queries()}
    query_ids |= {(q["text"], q["locale"]): q["query_id"] for q in xling_queries()}
    grades = {
        (j["query_id"], j["product_id"]): int(j["grade"])
        for j in [*sample_judgments(), *xling_judgments()]
    }
    service = SearchService(
        hybrid_sample_index, None, embedder=embedder,
        config=SearchConfig(ranker=load_ranker("default")),
    )  # fmt: skip
    asked = [*demo_queries(), *[(text, locale) for text, locale, _ in demo_xling_queries()]]
    firsts = {}
    for text, locale in asked:
        result = service.search(search_request(text, lang=locale, size=5, rerank=False))
        assert result.ranker is not None and result.model is None
        first = result.items[0].product_id
        firsts[text] = (first, grades.get((query_ids[text, locale], first), 0))
    assert len(firsts) == 11 and all(grade >= 2 for _, grade in firsts.values()), firsts
