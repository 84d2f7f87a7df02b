"""Synonym rules: the model, the store."""
