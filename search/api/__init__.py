"""Shelf's HTTP API (FastAPI): ``create_app(settings)`` builds it; ``shelf serve`` runs it."""
