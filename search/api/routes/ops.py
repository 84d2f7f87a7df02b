"""Operations: ``/healthz`` (liveness), ``/readyz`` (each dependency checked), ``/metrics``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from search.api.components import Components, components_of
from search.api.models import Check, HealthOut, ReadyOut
from search.metrics import (
    IMPRESSION_QUEUE_DEPTH,
    RERANK_QUEUE_DEPTH,
    SPOOL_DEPTH,
    SPOOL_OLDEST_AGE,
)
from search.rerank.cache import RedisScoreCache

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is up and answering (it checks nothing else)."""
    return HealthOut(status="ok")


def _check(required: bool, probe: object) -> Check:
    try:
        detail = probe() if callable(probe) else str(probe)
    except Exception as exc:  # a failed probe is the answer, not an error
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}"[:300], required=required)
    return Check(ok=True, detail=str(detail), required=required)


def _redis_probe(cache: RedisScoreCache) -> str:
    cache.client.ping()
    return "ping ok"


def _events_probe(components: Components) -> str:
    components.event_log.ping()
    return "SELECT 1 ok"


@router.get("/readyz", response_model=ReadyOut, responses={503: {"model": ReadyOut}})
def readyz(components: Annotated[Components, Depends(components_of)]) -> JSONResponse:
    """Each dependency checked: index, model or workers, Redis, event store. 503 unless every
    required one is ok (a reranking model not available here is not required: searches run
    without it)."""
    cache = components.cache
    missing = components.service.missing_reranker
    checks = {
        "index": _check(True, lambda: f"{components.recall.count()} products"),
        "model": Check(ok=False, detail=missing.notice, required=False)
        if missing is not None
        else _check(True, components.reranker.ready),
        "redis": _check(True, lambda: _redis_probe(cache))
        if isinstance(cache, RedisScoreCache)
        else Check(ok=True, detail="not used (in-process score cache)", required=False),
        "event_store": _check(True, lambda: _events_probe(components)),
        "vectors": _check(False, lambda: _vectors_probe(components)),
        "spool": _spool_check(components),
    }
    ready = all(c.ok for c in checks.values() if c.required)
    pending = None
    if components.service.embedder is not None and checks["vectors"].ok:
        pending = components.recall.vector_status().without_vector
    body = ReadyOut(ready=ready, checks=checks, vectors_pending=pending)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


def _spool_check(components: Components) -> Check:
    """Required: writes can go somewhere (the event store, or the local spool while it is
    down). Fails with the reason when neither can take them (a full disk)."""
    if components.spool is None:
        return Check(ok=True, detail="not used", required=False)
    health = components.spool.health()
    if health.unwritable is not None:
        return Check(ok=False, detail=health.unwritable, required=True)
    detail = (
        f"{health.depth} waiting for the event store, oldest {health.oldest_age_s:.1f} s"
        if health.depth
        else "empty: writes go to the event store"
    )
    if health.orphaned:
        detail += f"; {health.orphaned} orphaned events (their search never appeared)"
    return Check(ok=True, detail=detail, required=True)


def _vectors_probe(components: Components) -> str:
    """The dense leg's coverage: how many products still lack a vector (not required: BM25
    still finds them)."""
    embedder = components.service.embedder
    if embedder is None:
        return "not used (SHELF_EMBED_MODEL=none or SHELF_RECALL_MODE=bm25)"
    status = components.recall.vector_status()
    if status.model_id is not None and status.model_id != embedder.model_id:
        raise RuntimeError(
            f"the index's vectors come from {status.model_id}, the server embeds queries with "
            f"{embedder.model_id}: run `shelf embed --rebuild`"
        )
    return (
        f"{status.with_vector} products with a vector, {status.without_vector} without "
        f"(model {embedder.model_id})"
    )


def queue_depth(components: Components) -> int:
    """Pairs queued for the local model, or rerank tasks waiting in the broker's queue."""
    try:
        return components.reranker.queue_depth()
    except Exception:  # Redis down: readyz says so; the gauge keeps its last value
        return -1


@router.get("/metrics", response_class=Response)
def metrics(components: Annotated[Components, Depends(components_of)]) -> Response:
    """Prometheus text format: requests, stage latencies, cache, rerank, queues, impressions."""
    depth = queue_depth(components)
    if depth >= 0:
        RERANK_QUEUE_DEPTH.set(depth)
    IMPRESSION_QUEUE_DEPTH.set(components.impressions.queued())
    if components.spool is not None:
        health = components.spool.health()
        SPOOL_DEPTH.set(health.depth)
        SPOOL_OLDEST_AGE.set(health.oldest_age_s)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
