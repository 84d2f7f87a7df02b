"""``shelf suggest`` on a real index and event store in the test's data dir."""

from __future__ import annotations

import json
import uuid

import pytest

from search.api.routes.suggest import SuggestOut
from search.cli.main import main
from search.events.log import Impression, make_event_log
from search.recall.embedded.backend import EmbeddedRecall
from search.settings import get_settings
from tests.conftest import make_product


@pytest.fixture
def store() -> None:
    """Two products and a query five users from five networks searched, in the test's data
    dir."""
    settings = get_settings()
    recall = EmbeddedRecall(settings.index_dir)
    recall.index([make_product(id="p-1", brand="Brookline"), make_product(id="p-2")])
    recall.close()
    log = make_event_log(settings)
    log.record_impressions(
        [
            Impression(
                uuid.uuid4().hex,
                "brook trout",
                "en",
                "control",
                ("p-1",),
                user_id=f"u{n}",
                client_network=f"10.0.{n}.0/24",
            )
            for n in range(5)
        ]  # fmt: skip
    )
    log.close()


def test_suggest_json_ranks_popular_queries_then_catalog_words(
    store: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suggest", "Broo", "--locale", "en-US", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["language"] == "en"
    # GET /suggest's names (search.api.routes.suggest.SuggestOut), the prefix as "q"
    assert set(out) == set(SuggestOut.model_fields)
    assert (out["q"], out["locale"]) == ("Broo", "en-US")
    assert [(s["text"], s["users"], s["products"]) for s in out["suggestions"]] == [
        ("brook trout", 5, 0),
        ("Brookline", 0, 2),
    ]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["suggest", "a" * 501], "PREFIX"),
        (["suggest", "bro", "--locale", "sw-KE"], "--locale"),
        (["suggest", "bro", "--limit", "0"], "--limit"),
        (["suggest", "bro", "--limit", "21"], "--limit"),
        (["suggest"], "PREFIX"),
        (["suggest", "bro", "--block", "x"], "not both"),
        (["suggest", "--block", "  "], "phrase: empty"),
        (["suggest", "--block", "x" * 201], "at most 200"),
        (["suggest", "--unblock", "never blocked"], "is not blocked"),
    ],
)
def test_bad_input_exits_2_naming_the_argument(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert names in capsys.readouterr().err


def suggested(capsys: pytest.CaptureFixture[str], prefix: str) -> list[str]:
    assert main(["suggest", prefix, "--locale", "en", "--json"]) == 0
    return [s["text"] for s in json.loads(capsys.readouterr().out)["suggestions"]]


def test_a_blocked_phrase_leaves_suggestions_until_unblocked(
    store: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["suggest", "--block", "TROUT", "--json"]) == 0
    blocked = json.loads(capsys.readouterr().out)
    assert (blocked["phrase"], blocked["key"], blocked["created"]) == ("TROUT", "trout", True)
    assert blocked["actor"].startswith("cli:")
    assert suggested(capsys, "broo") == ["Brookline"]  # "brook trout" holds the word
    assert main(["suggest", "--blocked", "--json"]) == 0
    assert [e["key"] for e in json.loads(capsys.readouterr().out)["blocked"]] == ["trout"]
    assert main(["suggest", "--unblock", "Trout"]) == 0  # any spelling of the key
    assert "unblocked: TROUT" in capsys.readouterr().out
    assert suggested(capsys, "broo") == ["brook trout", "Brookline"]
