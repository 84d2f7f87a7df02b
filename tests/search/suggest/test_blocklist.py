"""The operator's blocklist: a blocked phrase, in any case, width or accents, removes the
completion that is it and every completion holding it as whole words; the store keeps it in the
event database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.errors import InvalidQuery, NotFound
from search.events.log import SqliteEventLog
from search.suggest.blocklist import Blocklist, BlockStore, block_key
from search.suggest.catalog_words import CatalogWords
from search.suggest.popular import PopularQuery
from search.suggest.service import build_snapshot

# (blocked phrase, completion, blocked?)
MATCHES = [
    ("cheap pills", "cheap pills", True),
    ("cheap pills", "CHEAP  Pills", True),  # case, spacing
    ("cheap pills", "ｃｈｅａｐ ｐｉｌｌｓ", True),  # full-width
    ("cheap pills", "chéap píllš", True),  # accents
    ("Chéap Pills", "cheap pills", True),  # accents on the blocked side
    ("cheap pills", "buy cheap pills now", True),  # inside, as whole words
    ("cheap pills", "cheap pills", True),
    ("pills", "cheap pills", True),
    ("cheap pills", "cheap pillsbury", False),  # not a whole word
    ("cheap pills", "pills cheap", False),  # not the sequence
    ("cheap pills", "cheap", False),  # a part of the phrase is not the phrase
    ("pill", "pills", False),
    ("降噪", "无线降噪耳机", True),  # Han: no spaces between words, matched anywhere
    ("降噪耳機", "降噪耳机", True),  # Traditional folds to Simplified
    ("ｲﾔﾎﾝ", "イヤホン 黒", True),  # half-width katakana
    ("ガ", "カメラ", False),  # a kana's voicing mark is not an accent
    ("straße", "STRASSE", True),  # casefolded
]


@pytest.mark.parametrize(("phrase", "completion", "blocked"), MATCHES)
def test_what_a_blocked_phrase_blocks(phrase: str, completion: str, blocked: bool) -> None:
    assert Blocklist.of([phrase]).blocks(completion) is blocked


@given(st.lists(st.text(alphabet="abcé ", min_size=1, max_size=12), min_size=1, max_size=4))
def test_a_blocked_phrase_blocks_every_completion_it_starts_ends_or_is(words: list[str]) -> None:
    phrase = " ".join(words)
    if not block_key(phrase):
        return
    blocklist = Blocklist.of([phrase])
    for completion in (phrase, f"x {phrase}", f"{phrase} y", f"x {phrase.upper()} y"):
        assert blocklist.blocks(completion), completion


def test_an_empty_blocklist_blocks_nothing() -> None:
    assert not Blocklist() and not Blocklist().blocks("anything")


def test_blocked_completions_leave_a_snapshot_from_either_source() -> None:
    spelling = {"en": {"spam brand": "Spam Brand", "good brand": "Good Brand"}}
    words = CatalogWords({"en": Counter({"spam brand": 3, "good brand": 3})}, spelling)
    popular = [PopularQuery("en", "buy spam now", 9), PopularQuery("en", "brand shoes", 9)]
    snapshot = build_snapshot(popular, words, max_limit=10, blocked=Blocklist.of(["SPAM"]))
    assert [s.text for s in snapshot.suggest("", "en", 10)] == ["brand shoes", "Good Brand"]
    assert [s.text for s in snapshot.suggest("", None, 10)] == ["brand shoes", "Good Brand"]


def test_the_store_blocks_lists_and_unblocks_by_key(event_log: SqliteEventLog) -> None:
    store = BlockStore(event_log.engine, table_prefix=event_log.tables.searches.name[:-8])
    try:
        entry, created = store.block("  Cheap Pills ", "key:12345678")
        assert (entry.phrase, entry.key, entry.actor, created) == (
            "Cheap Pills", "cheap pills", "key:12345678", True
        )  # fmt: skip
        again, created = store.block("CHEAP PILLS", "cli:other")
        assert again == entry and not created  # the first entry stays
        assert [e.key for e in store.entries()] == ["cheap pills"]
        assert store.blocklist().blocks("buy cheap pills")
        assert store.unblock("cheap  pills").phrase == "Cheap Pills"
        assert store.entries() == [] and not store.blocklist()
        with pytest.raises(NotFound, match="is not blocked"):
            store.unblock("cheap pills")
    finally:
        store.drop_table()


@pytest.mark.parametrize(
    ("phrase", "why"),
    [("", "empty"), ("   ", "empty"), ("x" * 201, "at most 200"), ("a\x00b", "control")],
)
def test_a_bad_phrase_is_refused_naming_it(
    event_log: SqliteEventLog, phrase: str, why: str
) -> None:
    store = BlockStore(event_log.engine, table_prefix=event_log.tables.searches.name[:-8])
    try:
        with pytest.raises(InvalidQuery, match=f"phrase: .*{why}"):
            store.block(phrase, "key:12345678")
    finally:
        store.drop_table()
