"""Merchandising rules: pin, hide, boost and bury products for queries (model, store,
checks, application)."""
