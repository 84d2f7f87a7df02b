"""The names Shelf's Celery tasks are registered and sent under.

The lowest module of ``workers``: the task modules, the app and the clients that send tasks all
import the names from here, so none of them imports another only for a name.
"""

from __future__ import annotations

RERANK_TASK = "shelf.rerank"
INGEST_TASK = "shelf.ingest_chunk"
EMBED_TASK = "shelf.embed"
