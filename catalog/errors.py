"""The root of Shelf's exception hierarchy, owned by the lowest layer so every package can use it.

``catalog`` imports nothing of ``search`` or ``workers`` (the import contracts in
``pyproject.toml``), so the base class and the catalog's own error live here;
``search.errors`` re-exports both beside the rest of the hierarchy, and
``from search.errors import ShelfError`` keeps working everywhere above the catalog.
"""

from __future__ import annotations


class ShelfError(Exception):
    """Base class: the message says what was wrong and what to do about it."""

    #: HTTP status a caller (the API, the CLI) maps this error to.
    status_code = 500


class CatalogError(ShelfError):
    """A catalog file or record cannot be read."""

    status_code = 422
