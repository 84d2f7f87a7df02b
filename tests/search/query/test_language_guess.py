"""Query language detection fails safe: it weighs only the languages the catalog holds, and an
unsure guess analyses the query as each plausible language. The reported case (an English sentence
with one Nordic product name read as German) and its siblings, on a real tantivy index."""

from __future__ import annotations

from pathlib import Path

import pytest

import search.pipeline.understand as understand_module
from catalog.language import LanguageGuess, guess_languages
from search.pipeline.request import search_request
from search.pipeline.service import SearchService
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product

# (query, its language, the product it must find): sentences in one language that name a product
# or brand in another.
MIXED = [
    ("ready to use TRÅDFRI smart kit for the living room", "en",
     ("en-1", "en-US", "Smart lighting starter kit, ready to use, 3 bulbs")),
    ("gift set with a Kaffeemühle and beans", "en",
     ("en-2", "en-US", "Coffee gift set: hand grinder and whole beans")),
    ("warm socks from Nordkamm Fjell", "en",
     ("en-3", "en-US", "Merino wool socks, warm and breathable")),
    ("FJÄLLRÄVEN Kånken backpack for school", "en",
     ("en-4", "en-US", "Classic school backpacks with laptop sleeve")),
    ("headphones with Geräuschunterdrückung for kids", "en",
     ("en-5", "en-US", "Volume-limited headphones for kids")),
    ("Bosch Kühlschrank with freezer drawers", "en",
     ("en-6", "en-US", "Fridge freezer with three drawers")),
    ("sturdy Zapatillas de running for trail", "en",
     ("en-7", "en-US", "Trail running shoes, sturdy grip")),
    ("Mölkky outdoor game for the whole family", "en",
     ("en-8", "en-US", "Wooden outdoor games for families")),
    ("Kopfhörer mit Noise Cancelling und langer Akkulaufzeit", "de",
     ("de-1", "de-DE", "Kabellose Kopfhörer mit langer Akkulaufzeit")),
    ("Smart Home Starter Kit für das Wohnzimmer", "de",
     ("de-2", "de-DE", "Starterset Beleuchtung fürs Wohnzimmer")),
    ("Ladekabel für iPhone Fast Charging", "de",
     ("de-3", "de-DE", "Ladekabel USB-C auf Lightning, 2 m")),
    ("auriculares inalámbricos con noise cancelling", "es",
     ("es-1", "es-ES", "Auriculares inalámbricos con estuche de carga")),
    ("zapatillas running Nike Air Zoom para mujer", "es",
     ("es-2", "es-ES", "Zapatillas de correr para mujer")),
    ("funda para iPhone Clear Case con MagSafe", "es",
     ("es-3", "es-ES", "Funda transparente compatible con MagSafe")),
]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> SearchService:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("language-guess") / "index")
    recall.index([
        make_product(id=pid, locale=locale, title=title, description=title, bullets=[],
                     brand="Acme", category="Home")
        for _query, _language, (pid, locale, title) in MIXED
    ])  # fmt: skip
    return SearchService(recall, None)


@pytest.mark.parametrize(("query", "language", "product"), MIXED, ids=[m[0][:30] for m in MIXED])
def test_a_sentence_naming_a_foreign_product_is_analysed_as_its_own_language_too(
    pipeline: SearchService, query: str, language: str, product: tuple[str, str, str]
) -> None:
    analyze_as = pipeline.understand(search_request(query)).analyze_as
    assert analyze_as is not None and language in analyze_as
    found = [
        item.product_id for item in pipeline.search(search_request(query, k=3, rerank=False)).items
    ]
    assert product[0] in found


def test_the_reported_sentence_was_read_as_german_alone_and_now_also_as_english() -> None:
    guess = guess_languages("... ready to use TRÅDFRI smart kit ...", ("en", "de", "es"))
    assert guess is not None and not guess.sure
    assert guess.languages[0] == "de" and "en" in guess.languages


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Kaffeeflecken aus weißer Bluse entfernen", "de"),
        ("how do i clean my dirty white sneakers", "en"),
        ("algo para llevar el móvil mientras salgo a correr", "es"),
    ],
)
def test_a_sure_guess_is_one_language(text: str, language: str) -> None:
    assert guess_languages(text, ("en", "de", "es")) == LanguageGuess((language,), True)


def test_only_languages_the_catalog_holds_are_considered(tmp_path: Path) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([
        make_product(id="en", locale="en-US", title="Smart lighting kit"),
        make_product(id="ru", locale="ru-RU", title="Умная лампа"),
    ])  # fmt: skip
    pipeline = SearchService(recall, None)
    # German alone would be the guess among all languages; this catalog has only English.
    plan = pipeline.understand(search_request("ready to use TRÅDFRI smart kit for the living room"))
    assert plan.analyze_as == ("en",)
    assert pipeline.understand(search_request("wireless Kopfhörer")).analyze_as == (
        "en",
    )  # short: every held one
    assert guess_languages("Kopfhörer mit langer Akkulaufzeit", ()) is None


def test_a_catalog_holding_none_of_the_scripts_languages_leaves_it_to_the_backend(
    tmp_path: Path,
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    recall.index([make_product(id="ru", locale="ru-RU", title="Умная лампа")])
    assert (
        SearchService(recall, None).understand(search_request("smart lamp for the desk")).analyze_as
        is None
    )


def test_the_held_languages_are_counted_live_and_cached_briefly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recall = EmbeddedRecall(tmp_path / "index")
    assert recall.languages() == {}
    recall.index([make_product(id=f"en-{n}", locale="en-US") for n in range(3)])
    recall.index([make_product(id="de-1", locale="de-DE"), make_product(id="de-2", locale="de-CH")])
    assert recall.languages() == {"en": 3, "de": 2}
    recall.delete(["de-1", "de-2"])
    assert recall.languages() == {"en": 3}  # deletes count at once, merged or not

    pipeline = SearchService(recall, None)
    assert pipeline.understand(search_request("lamps with a dimmer switch")).analyze_as == ("en",)
    recall.index([make_product(id="de-3", locale="de-DE", title="Lampe mit Dimmer")])
    # Within the TTL the pipeline still trusts what it was told; past it, it asks again.
    assert pipeline.understand(search_request("wireless lamp")).analyze_as == ("en",)
    monkeypatch.setattr(understand_module, "HELD_LANGUAGES_TTL_S", -1.0)
    assert pipeline.understand(search_request("wireless lamp")).analyze_as == ("en", "de")
