"""The cross-encoder: loading, scoring, the Celery rerank task."""
