"""One embedding pass over an index, here or on Celery workers, with a progress bar: what
`shelf embed`, `shelf ingest` and `shelf eval` run."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from search.errors import NotConfigured
from search.settings import Settings

if TYPE_CHECKING:
    from search.embedding.backfill import EmbedReport
    from search.recall import Recall


def run_embedding(
    recall: Recall, settings: Settings, *, celery: bool, quiet: bool = False
) -> EmbedReport:
    """One embedding pass over ``recall``, here or on Celery workers, with a progress bar on
    stderr (unless ``quiet``)."""
    from tqdm import tqdm

    from search.embedding.backfill import embed_pending
    from search.embedding.cache import EmbeddingCache

    total = recall.vector_status().without_vector
    bar = None if quiet else tqdm(total=total, unit="products", desc="embed", file=sys.stderr)

    def progress(report: EmbedReport) -> None:
        if bar is not None:
            bar.n = report.embedded + report.stale
            bar.refresh()

    try:
        if celery:
            from workers.celery_app import make_celery_app
            from workers.embedding.tasks import embed_with_celery

            app = make_celery_app(settings)
            return embed_with_celery(recall, settings, app=app, progress=progress)
        from workers.embedding.factory import make_embedder
        from workers.threads import available_cores

        embedder = make_embedder(settings)
        if embedder is None:
            raise NotConfigured("SHELF_EMBED_MODEL=none: there is no model to embed with")
        processes = settings.embed_processes or available_cores()
        if processes > 1 and total > settings.embed_batch_size:
            from workers.embedding.pool import EmbeddingPool

            embedder = EmbeddingPool(embedder, settings, processes)
        cache = EmbeddingCache(settings.embed_cache_path)
        try:
            return embed_pending(
                recall,
                embedder,
                batch_size=settings.embed_batch_size * processes,
                progress=progress,
                cache=cache,
            )
        finally:
            embedder.close()
            cache.close()
    finally:
        if bar is not None:
            bar.close()
