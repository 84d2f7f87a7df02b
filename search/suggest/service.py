"""Suggestions as a running server holds them: a snapshot of every language's prefix index,
rebuilt every ``SHELF_SUGGEST_REFRESH_S`` seconds by a background thread
(``search.events.refreshed.Refreshed``) when a source changed, the previous snapshot served until
the
new one is complete. A lookup never touches the event store or the product index.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from catalog.locales import LANGUAGES
from search.events.refreshed import (
    Fallback,
    Freshness,
    LastGood,
    LocalCopy,
    Refreshed,
    describe_failure,
    write_atomically,
)
from search.settings import Settings
from search.suggest.catalog_words import CatalogWords, count_catalog_words, indexed_records
from search.suggest.index import Completion, PrefixIndex, Suggestion, rank_order
from search.suggest.popular import PopularQuery, popular_queries
from search.suggest.stops import has_stop_word_edge
from search.suggest.text import completion_key, prefix_key

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuggestSnapshot:
    """Every language's index (key None: searches stored without a language), when it was built
    and how long that took."""

    indexes: dict[str | None, PrefixIndex] = field(default_factory=dict)
    every: PrefixIndex | None = None  # every language's completions together
    built_at: dt.datetime | None = None
    build_s: float = 0.0

    def suggest(self, prefix: str, language: str | None, limit: int) -> list[Suggestion]:
        """The best ``limit`` completions of ``prefix`` in ``language`` (a language code), or,
        when None, in every language together, by the same ranking."""
        index = self.every if language is None else self.indexes.get(language)
        return index.lookup(prefix_key(prefix), limit) if index is not None else []

    @property
    def completions(self) -> int:
        """How many completions the snapshot holds, every language together."""
        return sum(len(index) for index in self.indexes.values())


def build_snapshot(
    popular: Iterable[PopularQuery], words: CatalogWords, *, max_limit: int
) -> SuggestSnapshot:
    """Merge the popular queries and the catalog's words (``count_catalog_words``) by key per
    language and index each language, and all of them together (see ``search.suggest.index``).
    A key both sources hold keeps the query's spelling, its users and the catalog's product
    count. A query that is a stop word, or starts or ends with one, is left out."""
    started = time.perf_counter()
    users: dict[str | None, dict[str, tuple[int, str]]] = {}
    for row in popular:
        key = completion_key(row.query)
        if not key or has_stop_word_edge(key, row.language):
            continue  # "für katzen": no completion starts or ends with a stop word
        seen = users.setdefault(row.language, {})
        if row.users > seen.get(key, (0, ""))[0]:
            seen[key] = (row.users, row.query.strip())
    indexes: dict[str | None, PrefixIndex] = {}
    for language in set(users) | set(words.products):
        queries = users.get(language, {})
        products: Mapping[str, int] = words.products.get(language or "", {})
        spelling = words.spelling.get(language or "", {})
        completions = [
            Completion(
                key,
                queries[key][1] if key in queries else spelling[key],
                queries.get(key, (0, ""))[0],
                products.get(key, 0),
            )
            for key in set(queries) | set(products)
        ]
        latin = language is not None and LANGUAGES[language].script == "latin"
        indexes[language] = PrefixIndex(completions, typo_tolerant=latin, max_limit=max_limit)
    every = PrefixIndex(_merged(indexes.values()), typo_tolerant=True, max_limit=max_limit)
    return SuggestSnapshot(indexes, every, dt.datetime.now(dt.UTC), time.perf_counter() - started)


def _merged(indexes: Iterable[PrefixIndex]) -> list[Completion]:
    """One completion per key over every language: the most users of any language (a lower
    bound: one user may have searched it in two), the products of all (each product has one
    language), the text of the best ranked."""
    merged: dict[str, Completion] = {}
    for index in indexes:
        for c in index.ranked:
            seen = merged.get(c.key)
            if seen is None:
                merged[c.key] = c
            else:
                best = min(seen, c, key=rank_order)
                merged[c.key] = Completion(
                    c.key, best.text, max(seen.users, c.users), seen.products + c.products
                )
    return list(merged.values())


class Suggestions:
    """The snapshot a server answers from, rebuilt by ``load`` every ``refresh_s`` seconds in a
    daemon thread (a failed rebuild keeps the last snapshot, logged)."""

    def __init__(self, load: Callable[[], SuggestSnapshot], *, refresh_s: float) -> None:
        self._snapshot = Refreshed(load, SuggestSnapshot(), refresh_s=refresh_s, name="suggestions")

    def get(self) -> SuggestSnapshot:
        """The last complete snapshot (no store access)."""
        return self._snapshot.get()

    def freshness(self) -> Freshness:
        """Whether the popular queries may be stale (the store could not be read), and their
        age."""
        return self._snapshot.freshness()

    def refresh(self) -> bool:
        """Rebuild now (tests, ``shelf suggest``); False when the sources could not be read."""
        return self._snapshot.refresh()

    def start(self) -> None:
        """Build once now, then every ``refresh_s`` seconds until ``close``."""
        self._snapshot.start()
        snapshot = self.get()
        log.info(
            "suggestions built",
            extra={"completions": snapshot.completions, "build_s": round(snapshot.build_s, 3)},
        )

    def close(self) -> None:
        """Stop rebuilding."""
        self._snapshot.close()


class SnapshotLoader:
    """What the background rebuild calls: reads both sources, and builds a new snapshot only when
    one of them changed since the last build (otherwise the last snapshot is returned as is).

    The catalog is re-read (and its words counted; the records are not kept) only when the
    index's ``meta.json`` changed (tantivy rewrites it at every commit); the popular queries are
    re-aggregated at every call (one SQL query)."""

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        searches: sa.Table,
        copy: LocalCopy[list[PopularQuery]] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.searches = searches
        self.copy = copy  # the popular queries last read, for a restart while the store is down
        self._catalog_stamp: tuple[int, int] | None = None
        self._words = CatalogWords({}, {})
        self._popular: list[PopularQuery] | None = None
        self._saved: list[PopularQuery] | None = None
        self._last: SuggestSnapshot | None = None

    def __call__(self) -> SuggestSnapshot:
        """The snapshot of the sources as they are now. With the event store down, the catalog's
        words are still read and the popular queries last read (here, or in the local copy)
        are used: ``Fallback`` carries that snapshot."""
        settings = self.settings
        catalog_changed = False
        if settings.recall_backend == "embedded":
            meta = settings.index_dir / "meta.json"
            stat = meta.stat() if meta.exists() else None
            stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
            if stamp != self._catalog_stamp:
                self._words = count_catalog_words(
                    indexed_records(settings.index_dir), min_products=settings.suggest_min_products
                )
                self._catalog_stamp, catalog_changed = stamp, True
        problem = None
        try:
            popular = sorted(
                popular_queries(self.engine, self.searches, min_users=settings.analytics_min_users),
                key=lambda q: (q.language or "", q.query),
            )
        except Exception as exc:  # the store is down: the catalog's words still complete
            problem = (
                f"the event store could not be read ({describe_failure(exc)}): popular "
                "queries as last read"
            )
            popular = self._popular if self._popular is not None else self._copied()
        if problem is None and popular != self._saved:
            self._save(popular)
        if self._last is None or catalog_changed or popular != self._popular:
            self._popular = popular
            self._last = build_snapshot(popular, self._words, max_limit=settings.suggest_max_limit)
        if problem is not None:
            raise Fallback(self._last, problem)
        return self._last

    def _copied(self) -> list[PopularQuery]:
        """The popular queries of the local copy; none when there is none or it is unreadable."""
        if self.copy is None:
            return []
        try:
            loaded = self.copy.load()
        except Exception as exc:  # a damaged copy: the catalog's words still complete
            log.warning("could not read the local copy of popular queries: %s", exc)
            return []
        return [] if loaded is None else loaded[0]

    def _save(self, popular: list[PopularQuery]) -> None:
        """Write the copy; one that cannot be written is logged, and tried again only once the
        popular queries change (not at every rebuild)."""
        self._saved = popular
        if self.copy is not None:
            try:
                write_atomically(self.copy.path, self.copy.dump(popular))
            except OSError as exc:
                log.warning("could not keep a local copy of popular queries: %s", exc)


def make_suggestions(
    settings: Settings,
    engine: sa.Engine,
    searches: sa.Table,
    last_good: LastGood | None = None,
) -> Suggestions:
    """The server's suggestions: popular queries from ``searches`` (``SHELF_ANALYTICS_MIN_USERS``
    distinct users; their last good copy kept in ``last_good``) and the embedded index's
    products (``SHELF_DATA_DIR``/index; with Elasticsearch, popular queries only). Not
    started."""
    copy = None if last_good is None else last_good.copy("popular", _popular_json, _popular_of)
    return Suggestions(
        SnapshotLoader(settings, engine, searches, copy), refresh_s=settings.suggest_refresh_s
    )


def _popular_json(popular: list[PopularQuery]) -> list[list[object]]:
    return [[q.language, q.query, q.users] for q in popular]


def _popular_of(rows: list[list[Any]]) -> list[PopularQuery]:
    return [PopularQuery(language, query, int(users)) for language, query, users in rows]
