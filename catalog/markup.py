"""HTML in catalog text (Shopify's ``Body (HTML)``, feeds' descriptions) reduced to plain text.

Parsed by BeautifulSoup on Python's ``html.parser`` (lenient with the broken fragments exports
hold, and it adds no ``<html><body>`` wrapper), never by regular expressions: entities are
decoded, block elements and ``<br>`` become line breaks, table cells are separated by a space,
inline elements join their text without one (``ロゴ<span>Tシャツ</span>`` -> ``ロゴTシャツ``), and
script, style, template and similar non-text elements are dropped with their content.

Text is treated as HTML only when it contains a known HTML element, so plain text with a
``<`` (``I <3 this``, ``a < b``, ``size <M>``) is left exactly as it is.
"""

from __future__ import annotations

from bs4 import BeautifulSoup, Comment, Tag
from bs4.builder import HTMLTreeBuilder

# Elements that end a line: bs4's own list, plus the table and disclosure parts it leaves out.
_LINE_ELEMENTS = frozenset(HTMLTreeBuilder.DEFAULT_BLOCK_ELEMENTS) | {
    "tr", "caption", "thead", "tbody", "details", "summary", "dialog", "hgroup", "legend",
    "option", "title",
}  # fmt: skip
_CELL_ELEMENTS = frozenset({"td", "th"})
_DROPPED_ELEMENTS = frozenset(
    {"script", "style", "template", "noscript", "iframe", "object", "svg", "head", "button"}
)
_INLINE_ELEMENTS = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "big", "cite", "code", "data", "del", "dfn", "em", "font",
    "i", "ins", "kbd", "label", "mark", "q", "rp", "rt", "ruby", "s", "samp", "small", "span",
    "strike", "strong", "sub", "sup", "time", "tt", "u", "var", "center", "html", "body",
})  # fmt: skip
HTML_ELEMENTS = (
    _LINE_ELEMENTS
    | _CELL_ELEMENTS
    | _DROPPED_ELEMENTS
    | _INLINE_ELEMENTS
    | frozenset(HTMLTreeBuilder.DEFAULT_EMPTY_ELEMENT_TAGS or ())
)


def looks_like_html(soup: BeautifulSoup) -> bool:
    """Whether parsed text holds at least one known HTML element or an HTML comment."""
    if any(element.name in HTML_ELEMENTS for element in soup.find_all(True)):
        return True
    return soup.find(string=lambda s: isinstance(s, Comment)) is not None


def html_to_text(text: str, *, one_line: bool = False) -> str:
    """The text an HTML fragment shows, or ``text`` unchanged when it is not HTML.

    Lines are trimmed and their inner whitespace (``&nbsp;`` included) collapsed to one space;
    empty lines are dropped. ``one_line`` joins the lines with a space (for titles, brands,
    bullets), otherwise with ``\\n`` (descriptions).
    """
    if "<" not in text:  # also what keeps bs4 from warning that text looks like a URL or file
        return text
    soup = BeautifulSoup(text, "html.parser")
    if not looks_like_html(soup):
        return text
    for element in soup.find_all(_DROPPED_ELEMENTS):
        element.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for element in soup.find_all(True):
        if not isinstance(element, Tag):
            continue
        if element.name == "br":
            element.replace_with("\n")
        elif element.name in _LINE_ELEMENTS or element.name == "hr":
            element.insert_before("\n")
            element.insert_after("\n")
        elif element.name in _CELL_ELEMENTS:
            element.insert_after(" ")
    lines = (" ".join(line.split()) for line in soup.get_text().splitlines())
    return (" " if one_line else "\n").join(line for line in lines if line)
