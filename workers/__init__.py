"""Shelf's rerank workers: the model and, in production, the Celery app that serves it."""
