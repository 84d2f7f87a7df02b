"""Operations: ``/healthz`` (liveness), ``/readyz`` (each dependency checked), ``/metrics``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from search.api.components import Components, components_of
from search.api.models import Check, HealthOut, ReadyOut
from search.metrics import (
    DEPENDENCY_UP,
    IMPRESSION_QUEUE_DEPTH,
    RERANK_QUEUE_DEPTH,
    SNAPSHOT_AGE,
    SNAPSHOT_STALE,
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
    """Each dependency checked: index, model or workers, Redis, event store, and the snapshots
    read from the event store. 503 unless every required one is ok. Search needs only the
    index: a reranking model not available here, a Redis score cache or an event store that is
    down, and stale snapshots are reported (``ok: false``) but not required."""
    missing = components.service.missing_reranker
    checks = {
        "index": _check(True, lambda: f"{components.recall.count()} products"),
        "model": Check(ok=False, detail=missing.notice, required=False)
        if missing is not None
        else _check(True, components.reranker.ready),
        **dependency_checks(components),
        "vectors": _check(False, lambda: _vectors_probe(components)),
        **snapshot_checks(components),
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


def dependency_checks(components: Components) -> dict[str, Check]:
    """The optional dependencies, checked now: the Redis score cache (when used) and the event
    store; each one's ``shelf_dependency_up`` gauge set to what its check found."""
    cache = components.cache
    checks = {
        "redis": _check(False, lambda: _redis_probe(cache))
        if isinstance(cache, RedisScoreCache)
        else Check(ok=True, detail="not used (in-process score cache)", required=False),
        "event_store": _check(False, lambda: _events_probe(components)),
    }
    for name, check in checks.items():
        if not check.ok:
            check.detail += _WITHOUT[name]
        if name != "redis" or isinstance(cache, RedisScoreCache):
            DEPENDENCY_UP.labels(name).set(1 if check.ok else 0)
    return checks


# What searches do while an optional dependency is down (said after its check's failure).
_WITHOUT = {
    "redis": ": searches run without the score cache (every pair scored)",
    "event_store": ": searches apply the last good synonyms, rules and experiments",
}


def snapshot_checks(components: Components) -> dict[str, Check]:
    """One check per snapshot read from the event store (not required): ok while current;
    its gauges (``shelf_snapshot_stale``, ``shelf_snapshot_age_seconds``) set."""
    checks = {}
    for part in components.freshness():
        SNAPSHOT_STALE.labels(part.name).set(1 if part.stale else 0)
        if part.age_s is not None:
            SNAPSHOT_AGE.labels(part.name).set(part.age_s)
        age = "never read" if part.age_s is None else f"read {part.age_s:.0f} s ago"
        detail = f"{age} (from the {part.source})" if part.source != "none" else age
        if part.stale:
            detail = f"may be stale, {detail}: {part.problem}"
        checks[part.name] = Check(ok=not part.stale, detail=detail[:300], required=False)
    return checks


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
    dependency_checks(components)  # shelf_dependency_up, as of this scrape
    snapshot_checks(components)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
