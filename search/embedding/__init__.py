"""Embeddings of the catalog: the vector cache and the embedding pass (backfill)."""
