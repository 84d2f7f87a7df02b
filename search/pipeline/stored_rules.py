"""The synonym and merchandising rules the event store holds (``SHELF_EVENTS_URL``), read once:
what ``shelf search`` applies, as ``shelf serve`` applies the snapshots it keeps refreshed
(``search.api.app.build_components``): the same ``SynonymStore.snapshot`` and the same
``RuleSet`` its ``RuleBook`` serves, without the background threads a one-shot search has no use
for.

A store that cannot be read (a PostgreSQL server down, a SQLite path that is not a database)
is no reason to refuse a search: the rules come back from the last good copy a server kept
(``SHELF_LAST_GOOD_DIR``), or empty when there is none, with ``problem`` saying which and why,
and the caller says so (``shelf search`` on stderr). A ``SHELF_EVENTS_URL`` that is no
SQLAlchemy URL is a setting to fix, and raises ``ConfigError``, as it does for the server.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from search.events.refreshed import LastGood, LocalCopy, describe_failure
from search.merchandising.apply import RuleSet
from search.merchandising.book import RuleBook, rules_copy
from search.settings import Settings
from search.synonyms.model import SynonymSet, synonyms_as_json, synonyms_from_json
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
        return _from_copies(settings, exc)
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
        return _from_copies(settings, exc)
    finally:
        event_log.close()


def synonyms_copy(last_good: LastGood) -> LocalCopy[SynonymSet]:
    """Where the served synonyms' last good copy is kept (JSON: every rule)."""
    return last_good.copy("synonyms", synonyms_as_json, synonyms_from_json)


def _from_copies(settings: Settings, exc: Exception) -> StoredRules:
    """The rules of the last good copies a server kept of this store, and ``problem`` in one
    line: the event store, the error's kind and its first line, and what the search applies."""
    failure = f"the event store (SHELF_EVENTS_URL) could not be read ({describe_failure(exc)})"
    last_good = LastGood.of(
        settings.last_good_path, settings.events_database_url, settings.events_table_prefix
    )
    try:
        synonyms = synonyms_copy(last_good).load()
        rules = rules_copy(last_good).load()
    except Exception:  # a damaged copy: as if there were none
        synonyms = rules = None
    if synonyms is None or rules is None:
        return StoredRules(
            problem=f"{failure}: searching without its synonyms and merchandising rules"
        )
    saved = dt.datetime.fromtimestamp(min(synonyms[1], rules[1]), dt.UTC)
    return StoredRules(
        synonyms[0],
        rules[0],
        problem=f"{failure}: searching with the last good copy of its synonyms and merchandising "
        f"rules ({saved:%Y-%m-%d %H:%M:%S} UTC)",
    )
