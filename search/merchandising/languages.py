"""The languages a search is known to be in, for the rules of one language
(``Condition.language``): what ``RuleSet.plan`` is given by every result set, the default
pipeline's and each experiment variant's (``search.results.result_set.search_page``).

Known means the shopper or the text says so, not that BM25 tried it: a query that is analysed
as several plausible languages, or as every language of its script because it is too short to
detect, is in no known language, and meets only the rules of every language (README,
"Merchandising rules"). The analysis itself (``SearchPipeline.plan``) is left as it is: it tries
each candidate so that recall finds more; a campaign rule must not fire for the shoppers of
another language who type the same word.
"""

from __future__ import annotations

from collections.abc import Sequence

from catalog.analysis import query_languages
from catalog.locales import language_of


def known_languages(
    text: str,
    *,
    stated: bool,
    analyze_as: Sequence[str] | None,
    detected: bool,
    filter_language: str | None,
) -> frozenset[str]:
    """The language codes ``text`` (the normalised query) is known to be in.

    ``stated``: the request named the query's language (``lang``/``locale``; then
    ``analyze_as`` holds it); ``analyze_as`` and ``detected`` as ``QueryPlan`` gives them
    (``detected``: lingua is sure of the one language); ``filter_language``: that of the
    ``product_locale`` filter. Each of these adds its language; so does, when none is stated,
    the only language Shelf analyses in the query's script (Arabic, Cyrillic). Several
    plausible languages, or every candidate of a short query, add none. Empty: no rule of one
    language applies."""
    known: set[str] = set()
    if (stated or detected) and analyze_as and len(analyze_as) == 1:
        known.add(analyze_as[0])
    if filter_language is not None:
        known.add(filter_language)
    script = () if stated else query_languages(text)
    if len(script) == 1 and language_of(script[0]).script != "cjk":  # CJK: zh, ja or ko
        known.add(script[0])
    return frozenset(known)
