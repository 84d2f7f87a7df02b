"""Facets, what they cost: the same searches with and without four facets on a generated catalog
(embedded tantivy index, BM25 recall, no reranking), in one run.

1. generate ``--size`` products (``bench.ingest.write_catalog``'s five locales, 97 brands, 13
   categories under two levels, prices 1-500, a third out of stock) and index them;
2. for each query (one or two catalog words: broad match sets, tens of thousands of products),
   time ``SearchService.search`` of page 1 (size 10) without facets and with
   ``facets=category,brand,price,in_stock``, interleaved so both see the same noise; then the same
   with a brand filter active (disjunctive counting: two aggregations instead of one);
3. print p50/p99 of each, the recall stage's time (the BM25 leg, from the service's timings)
   and the faceted searches' match-set stage (total and facet counts), and their ratio: facets
   must add at most 2x the recall time;
4. for scale, the same queries' page 40 of 50 (past the head: the whole match set is listed)
   and page 1 in ``price_asc`` order.

Progress goes to stderr; ends with one ``RESULT key=value ...`` line.
Run: ``python -m bench.facets [--size 200000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

from bench.common import hardware, percentile
from bench.ingest import WORDS

FACETS = ("category", "brand", "price", "in_stock")


def products(size: int, seed: int = 0):  # type: ignore[no-untyped-def]
    """``size`` generated products, in chunks of 10,000 (``catalog.product.Product``)."""
    from catalog.product import Product

    rng = random.Random(seed)
    locales = list(WORDS)
    chunk = []
    for n in range(size):
        locale = locales[n % len(locales)]
        words = WORDS[locale]
        chunk.append(
            Product(
                id=f"p{n:07d}",
                locale=locale,
                title=" ".join(rng.choices(words, k=4)) + f" X{rng.randrange(10**6)}",
                description=" ".join(rng.choices(words, k=30)),
                brand=f"Brand{n % 97}",
                category=f"Home > Kitchen > Shelf {n % 13}",
                bullets=[" ".join(rng.choices(words, k=5)) for _ in range(3)],
                price=round(rng.uniform(1, 500), 2),
                currency="EUR",
                in_stock=n % 3 != 0,
                created_at=f"2025-{1 + n % 12:02d}-{1 + n % 28:02d}T00:00:00Z",
            )
        )
        if len(chunk) == 10_000:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def queries() -> list[str]:
    """One and two words of each locale: broad queries, as a storefront's category-like ones."""
    found = []
    for words in WORDS.values():
        found += [words[0], words[1], f"{words[2]} {words[3]}"]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(hardware(), flush=True)

    from search.pipeline.config import SearchConfig
    from search.pipeline.request import search_request
    from search.pipeline.service import SearchService
    from search.recall.embedded.backend import EmbeddedRecall

    with tempfile.TemporaryDirectory() as tmp:
        recall = EmbeddedRecall(Path(tmp) / "index")
        started = time.perf_counter()
        for chunk in products(args.size):
            recall.index(chunk)
            print(f"indexed {recall.count()} products", file=sys.stderr, flush=True)
        print(f"indexed {args.size} products in {time.perf_counter() - started:.0f} s")
        service = SearchService(recall, None, config=SearchConfig(recall_k=50))
        timings: dict[str, list[float]] = {}
        totals = []

        def timed(name: str, query: str, **call: object) -> None:
            began = time.perf_counter()
            call.setdefault("size", 10)
            result = service.search(search_request(query, rerank=False, **call))
            timings.setdefault(name, []).append((time.perf_counter() - began) * 1000)
            spent = result.timings_ms
            timings.setdefault(f"{name}_recall", []).append(spent["recall"])
            if "facets" in call:  # the match set stage: total and facet counts
                timings.setdefault(f"{name}_facets", []).append(spent["match_set"])
            if name == "plain":
                totals.append(result.total)

        brand = "Brand7"
        for query in queries():  # warm up: first searches load the index's pages
            timed("warmup", query, facets=FACETS)
        for round_ in range(args.rounds):
            for query in queries():
                timed("plain", query)
                timed("faceted", query, facets=FACETS)
                timed("plain_brand", query, brand=brand)
                timed("faceted_brand", query, brand=brand, facets=FACETS)
                timed("deep", query, page=40, size=50)  # positions 1951-2000, past the head
                timed("price_asc", query, sort="price_asc")
            print(f"round {round_ + 1} of {args.rounds}", file=sys.stderr, flush=True)
        service.close()

    def p(name: str, q: float) -> float:
        return percentile(timings[name], q)

    print(f"match sets: median {percentile(totals, 0.5):.0f}, largest {max(totals)} products")
    for name in ("plain", "faceted", "plain_brand", "faceted_brand", "deep", "price_asc"):
        print(f"{name:>14}: p50 {p(name, 0.5):7.2f} ms  p99 {p(name, 0.99):7.2f} ms  "
              f"(recall p50 {p(name + '_recall', 0.5):.2f} ms)")  # fmt: skip
    for name in ("faceted", "faceted_brand"):
        print(f"{name:>14}: facets p50 {p(name + '_facets', 0.5):.2f} ms  "
              f"p99 {p(name + '_facets', 0.99):.2f} ms")  # fmt: skip
    ratio = p("faceted_facets", 0.5) / p("faceted_recall", 0.5)
    ratio_brand = p("faceted_brand_facets", 0.5) / p("faceted_brand_recall", 0.5)
    print(f"facets / recall (p50): {ratio:.2f}x; with a brand filter {ratio_brand:.2f}x "
          "(aim: at most 2x)")  # fmt: skip
    print(
        f"RESULT size={args.size} plain_p50_ms={p('plain', 0.5):.2f} "
        f"plain_p99_ms={p('plain', 0.99):.2f} faceted_p50_ms={p('faceted', 0.5):.2f} "
        f"faceted_p99_ms={p('faceted', 0.99):.2f} recall_p50_ms={p('faceted_recall', 0.5):.2f} "
        f"facets_p50_ms={p('faceted_facets', 0.5):.2f} facets_over_recall={ratio:.2f} "
        f"facets_over_recall_brand={ratio_brand:.2f} deep_page_p50_ms={p('deep', 0.5):.2f} "
        f"price_asc_p50_ms={p('price_asc', 0.5):.2f}"
    )


if __name__ == "__main__":
    main()
