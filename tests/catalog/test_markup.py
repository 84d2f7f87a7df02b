"""HTML in catalog text is reduced to the text it shows, by an HTML parser, before anything reads
it; plain text with angle brackets is left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog.enrich import to_product
from catalog.markup import html_to_text
from catalog.product import Product
from catalog.readers import SourceRecord
from catalog.text import rerank_text

MARKUP = [
    ("<p>Hi</p>", "Hi"),
    ('<p class="p1"><span class="s1">ロゴ</span><span class="s2">Tシャツ</span></p>',
     "ロゴTシャツ"),
    ("Tom &amp; Jerry <b>mug</b>", "Tom & Jerry mug"),
    ("<p>&lt;3 &eacute;t&eacute; &#8364;5 &#x263A;</p>", "<3 été €5 ☺"),
    ("<p>a&nbsp;&nbsp;b</p>", "a b"),
    ("<p>one</p><p>two</p>", "one\ntwo"),
    ("one<br>two<br/>three", "one\ntwo\nthree"),
    ("<ul><li>cotton</li><li>blue</li></ul>", "cotton\nblue"),
    ("<h2>Care</h2>Wash cold", "Care\nWash cold"),
    ("<div>a<div>b</div>c</div>", "a\nb\nc"),
    ("<table><tr><td>Weight</td><td>1 kg</td></tr><tr><td>Size</td><td>M</td></tr></table>",
     "Weight 1 kg\nSize M"),
    ("<p>Fine</p><script>alert('span')</script><style>.class{color:red}</style>", "Fine"),
    ("<!-- class span --><p>Fine</p>", "Fine"),
    ("<p>Unclosed <b>bold", "Unclosed bold"),
    ('<a href="https://x/span?class=1">link text</a>', "link text"),
    ("<P CLASS='X'>Upper</P>", "Upper"),
    ("  <p>\n  spaced \t out  </p>\n\n", "spaced out"),
]  # fmt: skip
NOT_HTML = ["I <3 this mug", "a < b > c", "size <M>", "5 < 6", "<3", "x<y and y>z",
            "Tom &amp; Jerry", "<<< sale >>>", "plain"]  # fmt: skip


@pytest.mark.parametrize(("html", "text"), MARKUP)
def test_html_is_reduced_to_the_text_it_shows(html: str, text: str) -> None:
    assert html_to_text(html) == text


@pytest.mark.parametrize("text", NOT_HTML)
def test_plain_text_with_angle_brackets_is_left_as_it_is(text: str) -> None:
    assert html_to_text(text) == text


def test_one_line_fields_join_block_text_with_spaces() -> None:
    assert html_to_text("<p>Canvas</p><p>tote</p>", one_line=True) == "Canvas tote"


@given(st.text())
def test_any_text_gives_text_and_text_without_a_tag_is_unchanged(text: str) -> None:
    result = html_to_text(text)
    assert isinstance(result, str)
    if "<" not in text:
        assert result == text


TEXT_FIELDS = [
    ("title", "<b>Canvas</b> tote &amp; bag", "Canvas tote & bag"),
    ("description", "<p>Sturdy</p><p>canvas</p>", "Sturdy\ncanvas"),
    ("brand", "<span>Loom</span>", "Loom"),
    ("category", "Bags &gt; <i>Totes</i>", "Bags > Totes"),
    ("bullets", ["<li>cotton</li>", "<p></p>", "blue"], ["cotton", "blue"]),
    ("localized_titles", {"de-DE": "<b>Tasche</b>"}, {"de-DE": "Tasche"}),
]  # fmt: skip


@pytest.mark.parametrize(("field", "given", "stored"), TEXT_FIELDS, ids=[f[0] for f in TEXT_FIELDS])
def test_html_in_any_text_field_is_stored_as_text(
    field: str, given: object, stored: object
) -> None:
    record = {"id": "p", "locale": "en-US", "title": "Canvas tote bag", "price": 5,
              "currency": "USD", field: given}  # fmt: skip
    product = to_product(SourceRecord(1, "", record))
    assert isinstance(product, Product)
    assert getattr(product, field) == stored
    assert "<" not in rerank_text(product)


def test_the_language_is_detected_from_the_text_not_the_markup() -> None:
    description = (
        '<p class="p1"><span class="s1" style="font-family: Helvetica">Eine Kaffeemühle aus '
        'Edelstahl</span></p><div class="section"><span class="s2">mit Kegelmahlwerk</span></div>'
    )
    record = {"id": "p", "title": "<b>Kaffeemühle</b>", "description": description, "price": 5,
              "currency": "EUR"}  # fmt: skip
    product = to_product(SourceRecord(1, "", record))
    assert isinstance(product, Product)
    assert product.locale == "de-DE"
    assert "class" not in product.description and "span" not in product.description
