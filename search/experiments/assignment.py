"""Which variant of the search a shopper is served.

Experiments are a later issue: until then every request is served ``"default"``. The API calls
only ``assign_variant``, so the experiments issue replaces this one function.
"""

from __future__ import annotations

DEFAULT_VARIANT = "default"


def assign_variant(user_id: str | None, session_id: str | None) -> str:
    """The variant for this shopper: always ``"default"`` until experiments exist."""
    return DEFAULT_VARIANT
