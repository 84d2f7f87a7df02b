"""A canary search's p99, quiet and while synonym-bomb queries run (issue 27, "bounded query
work").

The probe that found it: 300 synonym rules of 32 terms each (within the documented limits) made
one public 100-word query cost 11-26 s of CPU, and a canary search went from 34 ms to 1.76 s at
p99 while that ran. Here, in one process on the sample catalog (embedded index, BM25, no
reranker: what the budget bounds is the lexical work):

1. the bomb: ``synonym_bomb`` (300 rules of 32 terms, every query word in 24 of them) stored
   in a real synonym store (SQLite), and ``bomb_query`` (100 words, under 500 characters);
2. quiet: ``--canaries`` searches of a short sample query, one at a time, each timed;
3. loaded: the same while ``--bomb-clients`` threads search the bomb query back to back.

Prints each phase's progress, the canary's p50/p99 quiet and loaded, the bomb's own latency and
how its budget cut it, and ends with ``RESULT canary_p99_ratio=... quiet_p99_ms=...
loaded_p99_ms=... bomb_p50_ms=... bomb_terms=...`` (target: ratio < 2).
Run: ``python -m bench.query_budget [--canaries 200 --bomb-clients 2]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import re
import tempfile
import threading
import time
from pathlib import Path

from bench.common import hardware, percentile

BOMB_RULES = 300
BOMB_TERMS = 32  # synonyms.model.MAX_TERMS_PER_RULE: the most a rule may hold
BOMB_WORDS = 100
CANARY = "wireless headphones"


def catalog_words(products: list, sizes: tuple[int, int] = (3, 4)) -> list[str]:  # type: ignore[type-arg]
    """The catalog's title words of ``sizes`` letters, lowercased, sorted."""
    pattern = re.compile(rf"[a-zA-Z]{{{sizes[0]},{sizes[1]}}}")
    return sorted({w.lower() for p in products for w in pattern.findall(p.title)})


def bomb_query(words: list[str], seed: int = 0) -> str:
    """``BOMB_WORDS`` distinct catalog words, under 500 characters (a public query)."""
    return " ".join(random.Random(seed).sample(words, BOMB_WORDS))


def synonym_bomb(words: list[str], seed: int = 0) -> list[str]:
    """``BOMB_RULES`` equivalent rules (text format) of ``BOMB_TERMS`` terms each: 8 words of
    ``bomb_query`` and 24 two-word catalog phrases, so each query word is in 24 rules and
    would also search for about 740 phrases."""
    rng = random.Random(seed)
    query = bomb_query(words, seed).split()
    rules = []
    for r in range(BOMB_RULES):
        terms = [query[(3 * r + 7 * j) % BOMB_WORDS] for j in range(8)]
        while len(set(terms)) < BOMB_TERMS:
            terms.append(f"{rng.choice(words)} {rng.choice(words)}")
        rules.append(", ".join(dict.fromkeys(terms)))
    return rules


def _timed(search: object, request: object) -> float:
    started = time.perf_counter()
    search(request)  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--canaries", type=int, default=200, help="canary searches per phase")
    parser.add_argument("--bomb-clients", type=int, default=2, help="threads searching bombs")
    args = parser.parse_args(argv)
    print(hardware(), flush=True)

    import sqlalchemy as sa

    from catalog.ingest import validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from search.pipeline.config import search_config
    from search.pipeline.request import search_request
    from search.pipeline.service import SearchService
    from search.recall.embedded.backend import EmbeddedRecall
    from search.settings import Settings
    from search.synonyms.model import parse_synonym_line
    from search.synonyms.store import SynonymStore

    products = [p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)]
    words = catalog_words(products)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"indexing {len(products)} sample products ...", flush=True)
        recall = EmbeddedRecall(root / "index")
        recall.index(products)
        store = SynonymStore(sa.create_engine(f"sqlite:///{root / 'events.db'}"))
        store.import_rules([parse_synonym_line(line) for line in synonym_bomb(words)], None)
        rules = store.snapshot()
        print(f"synonym bomb: {len(rules)} rules of {BOMB_TERMS} terms", flush=True)
        settings = Settings(data_dir=root)
        config = dataclasses.replace(search_config(settings), synonyms=lambda: rules)
        service = SearchService(recall, None, config=config)
        canary = search_request(CANARY, k=10, rerank=False, recall="bm25")
        bomb = search_request(bomb_query(words), k=10, rerank=False, recall="bm25")
        cut = service.search(bomb).budget
        print(f"the bomb's budget: {cut}", flush=True)
        for _ in range(20):  # warm: caches, the vocabulary, the analysers
            service.search(canary)

        def phase(name: str) -> list[float]:
            times = []
            for i in range(args.canaries):
                times.append(_timed(service.search, canary))
                if (i + 1) % max(args.canaries // 4, 1) == 0:
                    print(f"  {name}: {i + 1}/{args.canaries} canaries", flush=True)
            return times

        quiet = phase("quiet")
        stop = threading.Event()
        bomb_times: list[float] = []

        def bomb_client() -> None:
            while not stop.is_set():
                bomb_times.append(_timed(service.search, bomb))

        clients = [threading.Thread(target=bomb_client) for _ in range(args.bomb_clients)]
        for client in clients:
            client.start()
        try:
            loaded = phase(f"loaded ({args.bomb_clients} bomb clients)")
        finally:
            stop.set()
            for client in clients:
                client.join()
        recall.close()
    quiet_p99, loaded_p99 = percentile(quiet, 0.99), percentile(loaded, 0.99)
    bomb_p50 = percentile(bomb_times, 0.5) if bomb_times else 0.0
    print(f"canary quiet  p50 {percentile(quiet, 0.5):.2f} ms  p99 {quiet_p99:.2f} ms")
    print(f"canary loaded p50 {percentile(loaded, 0.5):.2f} ms  p99 {loaded_p99:.2f} ms")
    print(f"bomb: {len(bomb_times)} searches, p50 {bomb_p50:.2f} ms")
    ratio = loaded_p99 / quiet_p99 if quiet_p99 else 0.0
    print(f"canary p99 loaded / quiet: {ratio:.2f} (target < 2)")
    terms = cut.terms if cut else 0
    print(
        f"RESULT canary_p99_ratio={ratio:.2f} quiet_p99_ms={quiet_p99:.2f} "
        f"loaded_p99_ms={loaded_p99:.2f} bomb_p50_ms={bomb_p50:.2f} bomb_terms={terms}"
    )


if __name__ == "__main__":
    main()
