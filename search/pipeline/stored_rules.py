"""The synonym and merchandising rules the event store holds (``SHELF_EVENTS_URL``), read once:
what ``shelf search`` applies, as ``shelf serve`` applies the snapshots it keeps refreshed
(``search.api.app.build_components``): the same ``SynonymStore.snapshot`` and the same
``RuleSet`` its ``RuleBook`` serves, without the background threads a one-shot search has no use
for.

A store that cannot be read (a PostgreSQL server down, a SQLite path that is not a database)
is no reason to refuse a search: the rules come back empty with ``problem`` saying why, and the
caller says so (``shelf search`` on stderr). A ``SHELF_EVENTS_URL`` that is no SQLAlchemy URL is a
setting to fix, and raises ``ConfigError``, as it does for the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from search.merchandising.apply import RuleSet
from search.merchandising.book import RuleBook
from search.settings import Settings
from search.synonyms.model import SynonymSet
from search.synonyms.store import SynonymStore


@dataclass(frozen=True)
class StoredRules:
    """The rules a search applies: ``synonyms`` (every set) and merchandising ``rules``;
    ``problem`` (None when read) says why both are empty."""

    synonyms: SynonymSet = field(default_factory=SynonymSet)
    rules: RuleSet = field(default_factory=RuleSet)
    problem: str | None = None


def read_stored_rules(settings: Settings) -> StoredRules:
    """Every synonym and merchandising rule the configured event store holds, read now (the
    tables made if missing, as the server makes them). A store fault (SQLAlchemy's errors,
    ``OSError``) gives empty rules and its ``problem``; a bad URL raises ``ConfigError``."""
    from search.events.log import make_event_log

    try:
        event_log = make_event_log(settings)
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        return StoredRules(problem=_problem(exc))
    try:
        synonyms = SynonymStore(
            event_log.engine,
            table_prefix=settings.events_table_prefix,
            max_rules=settings.synonyms_max_rules,
        ).snapshot()
        book = RuleBook(
            event_log.engine,
            None,  # only a change is checked against the index
            table_prefix=settings.events_table_prefix,
            max_rules=settings.rules_max,
            refresh_s=settings.rules_refresh_s,
        )
        stored = book.store.load()
        return StoredRules(synonyms, RuleSet(stored.rules, stored.version))
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        return StoredRules(problem=_problem(exc))
    finally:
        event_log.close()


def _problem(exc: Exception) -> str:
    """One line: the event store, the error's kind and its first line (SQLAlchemy's own
    messages run on with the statement and a link)."""
    first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = first[0][:200] if first else ""
    return (
        f"the event store (SHELF_EVENTS_URL) could not be read ({type(exc).__name__}: {detail}): "
        "searching without its synonyms and merchandising rules"
    )
