"""Every number a Product has lies in a sane range for its field, or the record is rejected
naming the field and the range (a price of 1e300 was accepted)."""

from __future__ import annotations

import math
import types
import typing

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.enrich import Reject, to_product
from catalog.product import NUMBER_RANGES, Product
from catalog.readers import SourceRecord

BASE = {"id": "a", "locale": "en-US", "title": "Lamp", "currency": "EUR", "price": 1.0}
NUMBERS = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([1e300, -1e300, 1e9, 1e9 + 1, -0.0, 5e-324, -1e-9, 10**400, -(10**400)])
    | st.integers()
    | st.sampled_from(["1e300", "inf", "-inf", "nan", "NaN", "1e9", "2.5"])
)


def _numeric(annotation: object) -> bool:
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else ()
    return annotation in (int, float) or any(arg in (int, float) for arg in args)


def test_every_numeric_field_of_a_product_has_a_range() -> None:
    numeric = {name for name, f in Product.model_fields.items() if _numeric(f.annotation)}
    assert numeric == set(NUMBER_RANGES)


def _as_number(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:
        return math.inf


@pytest.mark.parametrize("field", sorted(NUMBER_RANGES))
@given(value=NUMBERS)
def test_a_number_is_accepted_exactly_when_finite_and_in_its_fields_range(
    field: str, value: float | int | str
) -> None:
    low, high = NUMBER_RANGES[field]
    fields = {**BASE, field: value}
    if field == "price_max":
        fields["price"] = 0.0  # price_max must not be below the price
    item = to_product(SourceRecord(3, fields, fields))
    number = _as_number(value)
    if math.isfinite(number) and low <= number <= high:
        assert isinstance(item, Product), item
        assert getattr(item, field) == number
    else:
        assert isinstance(item, Reject)
        assert item.line_no == 3
        expected = f"{field}: must be a finite number from 0 to 1,000,000,000 (got "
        assert (low, high) == (0.0, 1e9) and item.reason.startswith(expected), item.reason
