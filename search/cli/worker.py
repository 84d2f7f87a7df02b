"""`shelf worker`: a Celery worker for the rerank, embed and ingest queues."""

from __future__ import annotations

import argparse

from search.settings import Settings


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run a rerank worker: one process (per GPU), its model loaded once, N requests at once."""
    from workers.celery_app import make_celery_app

    app = make_celery_app(settings)
    queues = args.queues.split(",") if args.queues else [settings.rerank_queue]
    if settings.rerank_queue in queues:
        from workers.tasks import worker_state

        worker_state(settings)  # load and warm the model before taking any task
    if settings.embed_queue in queues:
        from workers.embedding.tasks import worker_embedder

        worker_embedder(settings)
    argv = [
        "worker",
        "--pool=threads",
        f"--concurrency={args.concurrency or settings.worker_concurrency}",
        f"--queues={','.join(queues)}",
        f"--loglevel={args.loglevel}",
        "--without-gossip",
        "--without-mingle",
    ]
    if args.hostname:
        argv.append(f"--hostname={args.hostname}")
    app.worker_main(argv)
    return 0
