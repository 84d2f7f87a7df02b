"""Query suggestions, what a lookup costs warm: ``GET /suggest``'s work (the snapshot's
``suggest``) over the sample catalog plus a generated shop of realistic size, in one run.

1. build one snapshot from the sample catalog (640 products), ``--products`` generated products
   in six locales (en, de, es, fr, zh, ja; titles of 3-8 words drawn by Zipf from 6,000 words
   per language, 400 brands, 60 categories) and ``--queries`` generated popular queries (1-3
   words, 5 to 5,000 distinct users, Zipf): the build's time is printed;
2. time ``--lookups`` lookups after a warm-up: prefixes cut at 1 to 12 characters from
   completions and queries, a fifth of the Latin ones of 4+ characters with one typo, a tenth
   with no locale (every language answers); ``limit`` 10;
3. run them twice: back to back (a closed loop: on a busy machine every time the scheduler
   takes the core away lands inside a lookup), then paced, one every ``--pace-ms`` (requests
   arriving at a server: a woken thread gets a core first); print p50/p99 per kind, overall and
   in CPU time. The RESULT line's p50/p99 are the paced ones: warm p99 must stay under 10 ms.

Progress goes to stderr; ends with one ``RESULT key=value ...`` line.
Run: ``python -m bench.suggest [--products 200000] [--queries 100000] [--lookups 20000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bench.common import hardware, percentile

if TYPE_CHECKING:
    from search.suggest.catalog_words import CatalogRecord
    from search.suggest.popular import PopularQuery
    from search.suggest.service import SuggestSnapshot

LATIN = {"en-US": "en", "de-DE": "de", "es-ES": "es", "fr-FR": "fr"}
CJK = {"zh-CN": "zh", "ja-JP": "ja"}
_SYLLABLES = [
    "ka",
    "ri",
    "to",
    "ne",
    "mo",
    "sa",
    "lu",
    "ver",
    "bel",
    "dor",
    "fin",
    "gra",
    "pol",
    "ste",
    "wan",
    "chi",
    "hau",
    "mer",
    "tis",
    "ol",
]
_CJK_CHARS = {"zh-CN": (0x4E00, 0x4E00 + 3000), "ja-JP": (0x30A1, 0x30F6)}


def vocabulary(locale: str, size: int, rng: random.Random) -> list[str]:
    """``size`` distinct made-up words of the locale's script."""
    words: set[str] = set()
    while len(words) < size:
        if locale in CJK:
            low, high = _CJK_CHARS[locale]
            words.add("".join(chr(rng.randrange(low, high)) for _ in range(rng.randint(2, 4))))
        else:
            words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


def zipf_pick(words: list[str], rng: random.Random) -> str:
    """A word, the first ones far more often (Zipf, s about 1)."""
    return words[min(int(rng.paretovariate(1.0)) - 1, len(words) - 1) if rng.random() < 0.5
                 else rng.randrange(len(words))]  # fmt: skip


def generated(
    products: int, queries: int, seed: int = 0
) -> tuple[Iterator[CatalogRecord], list[PopularQuery]]:
    """The generated catalog records and popular queries."""
    from search.suggest.catalog_words import CatalogRecord
    from search.suggest.popular import PopularQuery

    rng = random.Random(seed)
    locales = [*LATIN, *CJK]
    vocab = {loc: vocabulary(loc, 6000, rng) for loc in locales}
    brands = {loc: vocabulary(loc, 400, rng) for loc in locales}
    categories = {loc: vocabulary(loc, 60, rng) for loc in locales}
    glue = {loc: "" if loc in CJK else " " for loc in locales}

    def records() -> Iterator[CatalogRecord]:
        for n in range(products):
            loc = locales[n % len(locales)]
            words = [zipf_pick(vocab[loc], rng) for _ in range(rng.randint(3, 8))]
            top, sub = rng.sample(categories[loc], 2)
            yield CatalogRecord(loc, " ".join(words), rng.choice(brands[loc]), f"{top} > {sub}")

    popular: list[PopularQuery] = []
    seen: set[tuple[str, str]] = set()
    while len(popular) < queries:
        loc = locales[len(popular) % len(locales)]
        text = glue[loc].join(zipf_pick(vocab[loc], rng) for _ in range(rng.randint(1, 3)))
        if (loc, text) not in seen:
            seen.add((loc, text))
            users = min(5000, 5 + int(rng.paretovariate(1.2)) - 1)
            popular.append(PopularQuery(LATIN.get(loc) or CJK[loc], text, users))
    return records(), popular


def typo(prefix: str, rng: random.Random) -> str:
    """``prefix`` with one edit (substitution, deletion, insertion or transposition)."""
    i = rng.randrange(1, len(prefix) - 1)
    kind = rng.randrange(4)
    letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
    if kind == 0:
        return prefix[:i] + letter + prefix[i + 1 :]
    if kind == 1:
        return prefix[:i] + prefix[i + 1 :]
    if kind == 2:
        return prefix[:i] + letter + prefix[i:]
    return prefix[: i - 1] + prefix[i] + prefix[i - 1] + prefix[i + 1 :]


def timed(
    snapshot: SuggestSnapshot, cases: list[tuple[str, str, str | None]], pace_s: float
) -> list[float]:
    """Time each lookup (``limit`` 10), sleeping ``pace_s`` before each; print p50/p99 per kind,
    overall, and in CPU time (wall time also counts waiting for a core on a busy machine)."""
    times: dict[str, list[float]] = {}
    cpu: list[float] = []
    for n, (kind, prefix, language) in enumerate(cases):
        if pace_s:
            time.sleep(pace_s)
        started, started_cpu = time.perf_counter(), time.process_time()
        snapshot.suggest(prefix, language, 10)
        times.setdefault(kind, []).append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        if n % 5000 == 4999:
            print(f"  {n + 1:,}/{len(cases):,} lookups", file=sys.stderr, flush=True)
    every = [t for values in times.values() for t in values]
    for kind, values in [*sorted(times.items()), ("all", every), ("all, CPU time", cpu)]:
        print(f"{kind:>14}: n={len(values):>6,}  p50 {percentile(values, 0.5):.3f} ms  "
              f"p99 {percentile(values, 0.99):.3f} ms")  # fmt: skip
    print(f"{'':>14}  load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    return every


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=100_000)
    parser.add_argument("--lookups", type=int, default=20_000)
    parser.add_argument("--pace-ms", type=float, default=1.0, help="gap before each paced lookup")
    args = parser.parse_args()
    print(hardware(), flush=True)
    from catalog.samples import SAMPLE_CATALOG
    from search.suggest.catalog_words import CatalogRecord, count_catalog_words
    from search.suggest.service import build_snapshot

    sample = [
        CatalogRecord(r["locale"], r["title"], r.get("brand") or "", r.get("category") or "")
        for r in map(json.loads, SAMPLE_CATALOG.read_text(encoding="utf-8").splitlines())
    ]
    records, popular = generated(args.products, args.queries)
    print(f"building from {len(sample) + args.products:,} products and {len(popular):,} "
          "popular queries ...", file=sys.stderr, flush=True)  # fmt: skip
    started, started_cpu = time.perf_counter(), time.process_time()
    words = count_catalog_words([*sample, *records], min_products=2)
    snapshot = build_snapshot(popular, words, max_limit=20)
    build_s, build_cpu_s = time.perf_counter() - started, time.process_time() - started_cpu
    sizes = ", ".join(f"{k}: {len(v):,}" for k, v in snapshot.indexes.items())
    print(f"built {snapshot.completions:,} completions in {build_s:.1f} s "
          f"({build_cpu_s:.1f} s CPU; {sizes})")  # fmt: skip

    rng = random.Random(1)
    pool = [(lang, c.key) for lang, index in snapshot.indexes.items() for c in index.ranked]
    cases: list[tuple[str, str, str | None]] = []
    for _ in range(args.lookups):
        language, key = rng.choice(pool)
        prefix = key[: rng.randint(1, min(12, len(key)))]
        kind = "exact"
        if language in LATIN.values() and len(prefix) >= 4 and rng.random() < 0.2:
            prefix, kind = typo(prefix, rng), "typo"
        if rng.random() < 0.1:
            language, kind = None, "all languages"
        cases.append((kind, prefix, language))
    for _kind, prefix, language in cases[:1000]:  # warm-up
        snapshot.suggest(prefix, language, 10)
    print("back to back (closed loop):")
    back_to_back = timed(snapshot, cases, pace_s=0.0)
    print(f"paced, one lookup every {args.pace_ms} ms (as requests arrive at a server):")
    paced = timed(snapshot, cases, pace_s=args.pace_ms / 1000)
    p50, p99 = percentile(paced, 0.5), percentile(paced, 0.99)
    print(
        f"RESULT products={args.products + len(sample)} queries={len(popular)} "
        f"completions={snapshot.completions} build_s={build_s:.1f} p50_ms={p50:.3f} "
        f"p99_ms={p99:.3f} back_to_back_p99_ms={percentile(back_to_back, 0.99):.3f} "
        f"pass={str(p99 < 10).lower()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
