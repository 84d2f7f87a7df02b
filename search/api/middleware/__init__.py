"""What runs around every request: admission, request ids and logs, limits, hygiene."""
