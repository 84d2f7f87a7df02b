from __future__ import annotations

import pytest
from pydantic import ValidationError

from catalog.product import Product, describe_validation_error
from catalog.text import content_hash, rerank_text
from tests.conftest import make_product


def _error_of(**fields: object) -> str:
    base = make_product().model_dump()
    base.update(fields)
    with pytest.raises(ValidationError) as info:
        Product.model_validate({k: v for k, v in base.items() if v is not ...})
    return describe_validation_error(info.value)


def test_missing_required_field_is_named() -> None:
    assert _error_of(title=...) == "title: required field is missing"


def test_negative_price_is_named_with_the_value() -> None:
    message = _error_of(price=-3)
    assert message.startswith("price: ")
    assert "-3" in message


def test_unknown_locale_lists_the_supported_languages() -> None:
    message = _error_of(locale="xx-YY")
    assert message.startswith("locale: unknown locale 'xx-YY'")
    assert "zh (Chinese)" in message and "ar (Arabic)" in message


def test_locale_spelling_is_canonicalised() -> None:
    assert make_product(locale="zh_cn").locale == "zh-CN"
    assert make_product(localized_titles={"DE-de": "Trinkflasche"}).localized_titles == {
        "de-DE": "Trinkflasche"
    }


def test_every_bad_field_is_reported_at_once() -> None:
    message = _error_of(price="cheap", currency="euro")
    assert "price:" in message and "currency:" in message


def test_id_with_whitespace_is_rejected() -> None:
    assert _error_of(id="a b").startswith("id: must not contain whitespace")


def test_category_path_lists_every_ancestor() -> None:
    product = make_product(category="Books >  Computers > Machine Learning")
    assert product.category_path == [
        "Books",
        "Books > Computers",
        "Books > Computers > Machine Learning",
    ]


def test_rerank_text_orders_parts_and_truncates() -> None:
    product = make_product(description="d" * 5000)
    text = rerank_text(product, max_chars=200)
    assert text.startswith("Stainless steel water bottle\nBrookline\nSports > Hydration\n750 ml")
    assert len(text) == 200


def test_content_hash_changes_with_any_field_and_only_then() -> None:
    product = make_product()
    assert content_hash(product) == content_hash(make_product())
    assert content_hash(product) != content_hash(make_product(description="Now warmer."))
    assert content_hash(product) != content_hash(make_product(price=20.0))


def test_the_cached_content_hash_follows_every_change_made_by_copying() -> None:
    from catalog.text import compute_content_hash, content_hash
    from tests.conftest import make_product

    product = make_product()
    before = content_hash(product)
    for update in ({"title": "Another"}, {"price": 1.0}, {"bullets": []}):
        changed = product.model_copy(update=update)
        assert content_hash(changed) == compute_content_hash(changed) != before
    assert content_hash(product.model_copy()) == before
    assert "content_hash" not in product.model_dump()


def test_a_changed_product_text_is_not_served_its_memoised_rerank_text() -> None:
    product = make_product()
    _ = product.content_hash  # memoised from here on
    assert rerank_text(product) is rerank_text(product)
    changed = product.model_copy(update={"title": "Insulated steel bottle"})
    _ = changed.content_hash
    assert rerank_text(changed).startswith("Insulated steel bottle\n")
    assert rerank_text(product).startswith("Stainless steel water bottle\n")
    assert rerank_text(product, max_chars=10) == "Stainless"
