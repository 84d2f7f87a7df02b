"""Shelf's online path: settings, recall backends, reranking client, pipeline and CLI."""

__version__ = "0.1.0"
