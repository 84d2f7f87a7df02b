"""What an analytics question is asked over: a locale, a time range ``[from, to)`` and a row
limit, each checked once for the API and the CLI alike (a 422 naming the parameter)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from catalog.locales import canonical_locale, language_of
from search.errors import InvalidQuery, LimitExceeded


@dataclass(frozen=True)
class Window:
    """Searches with ``start <= ts < end`` (UTC; None: unbounded) in ``language`` (the query's
    language as searches store it, e.g. ``de``; None: every one)."""

    language: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def describe(self) -> dict[str, str | None]:
        """The window as a response states it (ISO 8601, UTC)."""
        return {
            "locale": self.language,
            "from": None if self.start is None else self.start.isoformat(),
            "to": None if self.end is None else self.end.isoformat(),
        }


def to_utc(value: dt.datetime, name: str) -> dt.datetime:
    """``value`` in UTC (a time without an offset is read as UTC, the zone searches are stored
    in). A time whose UTC equivalent falls outside years 1-9999 (``0001-01-01T00:00+01:00``,
    ``9999-12-31T23:59-12:00``) raises ``InvalidQuery`` naming ``name``."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise InvalidQuery(
            f"{name}: {value.isoformat()} is outside the representable range in UTC "
            f"(years 1-9999); give a time between {dt.datetime.min.isoformat()}Z and "
            f"{dt.datetime.max.isoformat()}Z"
        ) from None


def _utc(value: dt.datetime | None, name: str) -> dt.datetime | None:
    return None if value is None else to_utc(value, name)


def make_window(
    locale: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    *,
    start_name: str = "from",
) -> Window:
    """A checked window. ``locale``: any locale of a supported language (``de-CH`` and ``de``
    both select German queries); an unknown one raises ``InvalidQuery`` naming ``locale``.
    ``start`` must come before ``end`` (``InvalidQuery`` naming ``from`` and ``to``); a time
    outside years 1-9999 once in UTC raises ``InvalidQuery`` naming ``start_name`` or ``to``."""
    language = None
    if locale is not None:
        try:
            language = language_of(canonical_locale(locale)).code
        except ValueError as exc:
            raise InvalidQuery(f"locale: {exc}") from None
    start, end = _utc(start, start_name), _utc(end, "to")
    if start is not None and end is not None and start >= end:
        raise InvalidQuery(
            f"from ({start.isoformat()}) must be before to ({end.isoformat()}): the range is "
            "[from, to)"
        )
    return Window(language, start, end)


def check_limit(limit: int, max_limit: int) -> int:
    """``limit`` when ``1 <= limit <= max_limit``; else ``LimitExceeded`` naming ``limit`` and
    ``SHELF_ANALYTICS_MAX_ROWS``."""
    if not 1 <= limit <= max_limit:
        raise LimitExceeded(
            f"limit must be between 1 and {max_limit} (SHELF_ANALYTICS_MAX_ROWS); got {limit}"
        )
    return limit
