"""The embedding models (the dense leg), their factory, pool, centering and tasks."""
