"""A trained ranker on disk and in memory: a LightGBM LambdaMART model with its feature list,
versions and model card.

A ranker is a directory holding ``model.txt`` (LightGBM's own text format) and ``ranker.json``
(``FORMAT``, the feature list and ``FEATURE_VERSION`` it was trained on, the training
parameters and the model card). Loading refuses a file whose features are not ``FEATURES``:
a model scoring columns it was not trained on would rank by noise without a word.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from search.errors import ConfigError
from search.ranking.features import FEATURE_VERSION, FEATURES, FeatureKey

FORMAT = 1
MODEL_FILE = "model.txt"
CARD_FILE = "ranker.json"
DEFAULT_DIR = Path(__file__).resolve().parent / "default"
THREADS = 1  # one search scores on one core; parallel searches use the others
RECENT_SCORES = 4096  # candidate sets whose scores a ranker keeps (about 100 floats each)


class LearnedRanker:
    """A LightGBM booster that scores feature rows (``FEATURES``) on one thread, with its name,
    version (``FEATURE_VERSION`` and the model text's hash) and model card."""

    def __init__(self, model_text: str, meta: dict[str, Any], name: str) -> None:
        import lightgbm

        # The thread count is given to predict: Booster ignores (with a warning) params given
        # beside a model string.
        self.booster = lightgbm.Booster(model_str=model_text)
        self.meta = meta
        self.name = name
        digest = hashlib.sha256(model_text.encode()).hexdigest()[:10]
        self.version = f"f{meta.get('feature_version', FEATURE_VERSION)}-{digest}"
        self.features: tuple[str, ...] = tuple(meta.get("features", ()))
        # The recall modes its training queries ran in: its features mean what it learned there
        # only (a model trained on hybrid candidates has never seen a missing cosine everywhere).
        self.recall_modes: tuple[str, ...] = tuple(meta.get("recall_modes", ("hybrid",)))
        # The scores of the candidate sets searched last (a repeated query's are equal): the
        # rank stage's warm cost, as the score cache is the cross-encoder's.
        self._recent: OrderedDict[FeatureKey, np.ndarray] = OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def card(self) -> dict[str, Any]:
        """The model card: training data, held-out queries and their nDCG@10 against the
        fused order with the paired test."""
        card: dict[str, Any] = self.meta.get("card", {})
        return card

    @property
    def label(self) -> str:
        """How responses name it: ``default@f1-0123456789``."""
        return f"{self.name}@{self.version}"

    @classmethod
    def load(cls, path: Path, *, name: str | None = None) -> LearnedRanker:
        """The ranker saved in directory ``path``; ``ConfigError`` when it is missing,
        unreadable, of another format or trained on other features."""
        meta_path, model_path = path / CARD_FILE, path / MODEL_FILE
        if not meta_path.is_file() or not model_path.is_file():
            raise ConfigError(
                f"SHELF_RANKER={path}: no ranker there (expected {CARD_FILE} and {MODEL_FILE}); "
                "train one with `shelf ranker train`, or use default or none"
            )
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{meta_path} cannot be read: {exc}") from exc
        check_features(meta, str(path))
        ranker = cls(model_path.read_text(encoding="utf-8"), meta, name or path.name)
        if ranker.booster.num_feature() != len(FEATURES):
            raise ConfigError(
                f"{model_path} scores {ranker.booster.num_feature()} features, "
                f"{CARD_FILE} lists {len(FEATURES)}: the two files do not belong together"
            )
        return ranker

    @property
    def uses_cross_encoder(self) -> bool:
        """Whether any of its trees splits on the cross-encoder's score: False for a ranker
        trained without it (the default), which gives that score no weight."""
        importance = self.booster.feature_importance(importance_type="split")
        return bool(importance[FEATURES.index("cross_encoder")] > 0)

    def orders(self, recall_mode: str) -> bool:
        """Whether it orders searches in ``recall_mode`` (the modes it was trained in)."""
        return recall_mode in self.recall_modes

    def score_once(self, key: FeatureKey | None, features: Callable[[], np.ndarray]) -> np.ndarray:
        """The scores of the feature rows ``key`` stands for (``feature_key``): remembered for
        the last ``RECENT_SCORES`` keys, else ``score(features())``; ``key`` None: computed
        and not remembered."""
        if key is None:
            return self.score(features())
        with self._recent_lock:
            found = self._recent.get(key)
            if found is not None:
                self._recent.move_to_end(key)
                return found
        scores = self.score(features())
        scores.setflags(write=False)
        with self._recent_lock:
            self._recent[key] = scores
            if len(self._recent) > RECENT_SCORES:
                self._recent.popitem(last=False)
        return scores

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per row of ``features`` (shape (n, len(FEATURES))): higher ranks first."""
        if not len(features):
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.booster.predict(features, num_threads=THREADS), dtype=np.float64)


def check_features(meta: dict[str, Any], where: str) -> None:
    """``ConfigError`` unless ``meta`` names this format, ``FEATURES`` and ``FEATURE_VERSION``,
    saying what differs."""
    if meta.get("format") != FORMAT:
        raise ConfigError(f"{where}: ranker format {meta.get('format')!r}, expected {FORMAT}")
    features = tuple(meta.get("features", ()))
    if features != FEATURES or meta.get("feature_version") != FEATURE_VERSION:
        missing = [f for f in FEATURES if f not in features]
        extra = [f for f in features if f not in FEATURES]
        what = []
        if missing:
            what.append(f"lacks {', '.join(missing)}")
        if extra:
            what.append(f"has unknown {', '.join(extra)}")
        if not what and features != FEATURES:
            what.append("lists the features in another order")
        if meta.get("feature_version") != FEATURE_VERSION:
            what.append(f"is feature version {meta.get('feature_version')}, not {FEATURE_VERSION}")
        raise ConfigError(
            f"{where}: the ranker was trained on other features (it {'; '.join(what)}): "
            "retrain it with `shelf ranker train` (or `make ranker` for the default)"
        )


def load_ranker(spec: str) -> LearnedRanker | None:
    """The ranker ``SHELF_RANKER`` names: ``default`` (shipped with Shelf), ``none`` (None:
    the fused order) or a directory ``shelf ranker train`` wrote."""
    value = spec.strip()
    if value.lower() == "none":
        return None
    if value.lower() == "default":
        path, name = DEFAULT_DIR, "default"
    else:
        path = Path(value).expanduser().resolve()
        name = path.name
    model = path / MODEL_FILE
    changed = model.stat().st_mtime_ns if model.is_file() else 0
    return _loaded(str(path), name, changed)


@lru_cache(maxsize=16)
def _loaded(path: str, name: str, changed: int) -> LearnedRanker:
    # Services are built often (tests, eval configurations): a ranker is loaded once per version
    # of its file (``changed``: the model file's mtime), and a booster is immutable once loaded.
    return LearnedRanker.load(Path(path), name=name)
