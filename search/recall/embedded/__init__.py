"""Recall on the embedded tantivy index (one machine, no server)."""
