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

With ``--server``, the same over HTTP against a real ``shelf serve`` of the sample catalog on
its default search path (hybrid recall, the default learned ranker; ``rerank=false``, as offline):
quiet, then with 1 and with ``--bomb-clients`` bomb clients.

Prints each phase's progress, the canary's p50/p99 quiet and loaded, the bomb's own latency and
how its budget cut it, and ends with ``RESULT canary_p99_ratio=... quiet_p99_ms=...
loaded_p99_ms=... bomb_p50_ms=... bomb_terms=...`` (target: ratio < 2).
Run: ``python -m bench.query_budget [--canaries 200 --bomb-clients 2] [--server]``.
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
    parser.add_argument("--server", action="store_true", help="over HTTP, a real shelf serve")
    args = parser.parse_args(argv)
    print(hardware(), flush=True)
    if args.server:
        over_http(args.canaries, args.bomb_clients)
        return

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


def over_http(canaries: int, bomb_clients: int) -> None:
    """The canary's p99 over HTTP, quiet and while 1..``bomb_clients`` clients search the bomb
    back to back, against a real ``shelf serve`` (the sample catalog, the bomb's rules in its
    synonym store); one RESULT line with each ratio."""
    import httpx
    import sqlalchemy as sa

    from bench.common import Server, sample_server_env
    from catalog.ingest import validate
    from catalog.product import Product
    from catalog.readers import read_jsonl
    from catalog.samples import SAMPLE_CATALOG
    from search.synonyms.model import parse_synonym_line
    from search.synonyms.store import SynonymStore

    products = [p for p in validate(read_jsonl(SAMPLE_CATALOG)) if isinstance(p, Product)]
    words = catalog_words(products)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print("building the sample index and the server ...", flush=True)
        events = f"sqlite:///{root / 'events.db'}"
        env = sample_server_env(root, SHELF_EVENTS_URL=events, OMP_NUM_THREADS="1")
        store = SynonymStore(sa.create_engine(events))
        store.import_rules([parse_synonym_line(line) for line in synonym_bomb(words)], None)
        server = Server(env, root / "server.log")
        bomb = {"q": bomb_query(words), "rerank": "false"}
        canary = {"q": CANARY, "rerank": "false"}
        try:
            with httpx.Client(base_url=server.base, timeout=60) as client:
                print(f"the bomb's budget: {client.get('/search', params=bomb).json()['budget']}")
                for _ in range(30):
                    client.get("/search", params=canary)

                def phase(name: str) -> list[float]:
                    times = []
                    for i in range(canaries):
                        started = time.perf_counter()
                        client.get("/search", params=canary).raise_for_status()
                        times.append((time.perf_counter() - started) * 1000)
                        time.sleep(0.01)  # a canary is a probe, not load
                        if (i + 1) % max(canaries // 4, 1) == 0:
                            print(f"  {name}: {i + 1}/{canaries} canaries", flush=True)
                    return times

                quiet = percentile(phase("quiet"), 0.99)
                results = [f"quiet_p99_ms={quiet:.1f}"]
                for clients in sorted({1, bomb_clients}):
                    stop = threading.Event()

                    threads = [
                        threading.Thread(target=_bomb_client, args=(server.base, bomb, stop))
                        for _ in range(clients)
                    ]
                    for thread in threads:
                        thread.start()
                    try:
                        loaded = percentile(phase(f"{clients} bomb clients"), 0.99)
                    finally:
                        stop.set()
                        for thread in threads:
                            thread.join()
                    ratio = loaded / quiet
                    print(
                        f"canary p99 quiet {quiet:.1f} ms, with {clients} bomb clients "
                        f"{loaded:.1f} ms: {ratio:.2f}x (target < 2)",
                        flush=True,
                    )
                    results.append(f"canary_p99_ratio_{clients}={ratio:.2f}")
        finally:
            server.stop()
    print("RESULT " + " ".join(results))


def _bomb_client(base: str, bomb: dict[str, str], stop: threading.Event) -> None:
    import httpx

    with httpx.Client(base_url=base, timeout=60) as client:
        while not stop.is_set():
            client.get("/search", params=bomb)


if __name__ == "__main__":
    main()
