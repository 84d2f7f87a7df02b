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
    """Two products and a query five users searched, in the test's data dir."""
    settings = get_settings()
    recall = EmbeddedRecall(settings.index_dir)
    recall.index([make_product(id="p-1", brand="Brookline"), make_product(id="p-2")])
    recall.close()
    log = make_event_log(settings)
    log.record_impressions(
        [
            Impression(uuid.uuid4().hex, "brook trout", "en", "control", ("p-1",), user_id=f"u{n}")
            for n in range(5)
        ]
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
    ],
)
def test_bad_input_exits_2_naming_the_argument(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert names in capsys.readouterr().err
