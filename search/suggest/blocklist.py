"""The operator's blocklist: phrases no suggestion may be or contain, whatever their popularity.

A blocked phrase is matched on its key: ``completion_key`` (NFKC, so full-width and half-width
forms fold; casefolded; Han and kana variants folded) with the accents of Latin letters dropped
(``Viágra`` is ``viagra``). It removes the completion that is the phrase and every completion
holding it as a whole-word sequence (``cheap viagra`` blocks ``buy cheap viagra now``, not
``cheap viagrant``); a phrase written in Han or kana, which put no spaces between words, blocks
every completion holding it anywhere. Popular queries and catalog words alike.

Stored in the event store's database (``<prefix>suggest_blocks``, with who blocked it and when),
so every server applies it at its next rebuild (``SHELF_SUGGEST_REFRESH_S``), the one that made
the change at once.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from pydantic import BaseModel

from search.errors import InvalidQuery, NotFound
from search.lazy_tables import create_when_connected
from search.query.input_text import describe_control_character, first_control_character
from search.suggest.text import completion_key, is_latin

MAX_PHRASE_CHARS = 200
_UNSPACED = re.compile(r"[\u3041-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]")


def block_key(text: str) -> str:
    """The key a phrase and a completion are matched on: ``completion_key`` with the marks of
    Latin letters dropped (``"Ｃａｆé  Crème"`` -> ``"cafe creme"``)."""
    key = completion_key(text)
    if key.isascii():
        return key
    kept = []
    for ch in key:
        if ch.isascii() or not is_latin(ch):
            kept.append(ch)
            continue
        kept.extend(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", "".join(kept))


@dataclass(frozen=True)
class Blocklist:
    """Blocked phrases by key: ``words`` (a sequence of whole words), ``unspaced`` (Han or
    kana, matched anywhere)."""

    words: frozenset[tuple[str, ...]] = frozenset()
    unspaced: frozenset[str] = frozenset()

    @classmethod
    def of(cls, phrases: Iterable[str]) -> Blocklist:
        """The blocklist of ``phrases`` (any spelling; keyed with ``block_key``)."""
        words, unspaced = set(), set()
        for phrase in phrases:
            key = block_key(phrase)
            if _UNSPACED.search(key):
                unspaced.add(key)
            elif key:
                words.add(tuple(key.split(" ")))
        return cls(frozenset(words), frozenset(unspaced))

    def __bool__(self) -> bool:
        return bool(self.words or self.unspaced)

    def blocks(self, text: str) -> bool:
        """True when the completion ``text`` is a blocked phrase or holds one (see the module
        docstring)."""
        key = block_key(text)
        if any(phrase in key for phrase in self.unspaced):
            return True
        if not self.words:
            return False
        tokens = key.split(" ")
        longest = max(len(w) for w in self.words)
        return any(
            tuple(tokens[start : start + size]) in self.words
            for start in range(len(tokens))
            for size in range(1, min(longest, len(tokens) - start) + 1)
        )


class BlockedPhrase(BaseModel):
    """A blocked phrase: as the operator wrote it, its key, who blocked it and when."""

    phrase: str
    key: str
    actor: str
    at: dt.datetime


def checked_phrase(phrase: str) -> str:
    """``phrase`` stripped; ``InvalidQuery`` when it is empty once keyed, longer than
    ``MAX_PHRASE_CHARS``, or holds a control character (tab and newline are spaces)."""
    phrase = phrase.strip()
    if len(phrase) > MAX_PHRASE_CHARS:
        raise InvalidQuery(f"phrase: {len(phrase)} characters; at most {MAX_PHRASE_CHARS}")
    bad = first_control_character(phrase, "free")
    if bad is not None:
        raise InvalidQuery(f"phrase: {describe_control_character(bad, 'free')}")
    if not block_key(phrase):
        raise InvalidQuery("phrase: empty; give the words to block, e.g. 'cheap pills'")
    return phrase


class BlockStore:
    """The blocked phrases of one event database (``<prefix>suggest_blocks``)."""

    def __init__(self, engine: sa.Engine, *, table_prefix: str = "shelf_") -> None:
        self.engine = engine
        metadata = sa.MetaData()
        self.table = sa.Table(
            f"{table_prefix}suggest_blocks",
            metadata,
            sa.Column("key", sa.String(4 * MAX_PHRASE_CHARS), primary_key=True),
            sa.Column("phrase", sa.Text, nullable=False),
            sa.Column("actor", sa.String(128), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        )
        create_when_connected(engine, metadata)  # not now: the store may be down

    def block(self, phrase: str, actor: str) -> tuple[BlockedPhrase, bool]:
        """Block ``phrase`` (``checked_phrase``); the entry and whether it is new (a phrase
        whose key is already blocked keeps its first entry)."""
        phrase = checked_phrase(phrase)
        key = block_key(phrase)
        row = {"key": key, "phrase": phrase, "actor": actor, "at": dt.datetime.now(dt.UTC)}
        with self.engine.begin() as conn:
            found = self._row(conn, key)
            if found is not None:
                return found, False
            conn.execute(self.table.insert().values(row))
        return BlockedPhrase.model_validate(row), True

    def unblock(self, phrase: str) -> BlockedPhrase:
        """Remove the entry of ``phrase``'s key; ``NotFound`` when it is not blocked."""
        key = block_key(checked_phrase(phrase))
        with self.engine.begin() as conn:
            found = self._row(conn, key)
            if found is None:
                raise NotFound(
                    f"{phrase!r} is not blocked: GET /suggest/blocks lists what is",
                    cli_message=f"{phrase!r} is not blocked: `shelf suggest --blocked` lists "
                    "what is",
                )
            conn.execute(self.table.delete().where(self.table.c.key == key))
        return found

    def entries(self) -> list[BlockedPhrase]:
        """Every blocked phrase, by key."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(self.table).order_by(self.table.c.key))
            return [_entry(row._mapping) for row in rows]

    def blocklist(self) -> Blocklist:
        """What completions are filtered with now."""
        with self.engine.connect() as conn:
            return Blocklist.of(row[0] for row in conn.execute(sa.select(self.table.c.phrase)))

    def drop_table(self) -> None:
        """Drop the table (tests)."""
        self.table.drop(self.engine, checkfirst=True)

    def _row(self, conn: sa.Connection, key: str) -> BlockedPhrase | None:
        row = conn.execute(sa.select(self.table).where(self.table.c.key == key)).first()
        return None if row is None else _entry(row._mapping)


def _entry(row: object) -> BlockedPhrase:
    entry = BlockedPhrase.model_validate(dict(row))  # type: ignore[call-overload]
    if entry.at.tzinfo is None:  # SQLite gives back naive times: they were written in UTC
        entry = entry.model_copy(update={"at": entry.at.replace(tzinfo=dt.UTC)})
    return entry
