"""Reranking: the Reranker seam (local and Celery), the score cache, task results."""
