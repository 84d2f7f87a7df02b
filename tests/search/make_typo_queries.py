"""Writes ``catalog/data/sample_queries_typo.jsonl``: each judged sample query of the Latin- and
Cyrillic-script languages (de, en, es, ru) with one or two edits, seeded, so the file can be
made again: ``python -m tests.search.make_typo_queries``.

Each line keeps its query's ``query_id`` (so ``sample_judgments.jsonl`` judges it unchanged) and
says what was done: ``original`` and ``edits`` (``deletion``, ``insertion``, ``substitution``,
``transposition``, each one edit in the optimal string alignment distance). The edited word is the
query's longest word without digits; the first letter is never edited (shoppers rarely get it
wrong, and typo tolerance keeps it as typed). Odd-numbered queries get two edits: both in the word
when it has nine letters or more, else one in each of its two longest words.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from rapidfuzz.distance import OSA

from catalog.samples import DATA_DIR, sample_queries

LANGUAGES = ("de", "en", "es", "ru")
KINDS = ("deletion", "insertion", "substitution", "transposition")
OUT = DATA_DIR / "sample_queries_typo.jsonl"
SEED = 15
_LATIN = "abcdefghijklmnopqrstuvwxyz"
_CYRILLIC = "абвгдежзийклмнопрстуфхцчшщыэюя"
_WORD = re.compile(r"\w+")


def edit(word: str, kind: str, rng: random.Random) -> str:
    """``word`` with one edit of ``kind`` at a random position after its first letter."""
    letters = _CYRILLIC if re.search("[а-я]", word.lower()) else _LATIN
    while True:
        at = rng.randrange(1, len(word) - 1 if kind == "transposition" else len(word))
        if kind == "deletion":
            out = word[:at] + word[at + 1 :]
        elif kind == "insertion":
            out = word[:at] + rng.choice(letters) + word[at:]
        elif kind == "substitution":
            out = word[:at] + rng.choice(letters.replace(word[at].lower(), "")) + word[at + 1 :]
        else:
            out = word[:at] + word[at + 1] + word[at] + word[at + 2 :]
        if OSA.distance(out, word) == 1:
            return out


def misspell(text: str, n: int, rng: random.Random) -> tuple[str, list[str]]:
    """``text`` with ``n`` (1 or 2) edits as the module docstring says, and their kinds."""
    words = [m for m in _WORD.finditer(text) if not any(ch.isdigit() for ch in m.group())]
    ranked = sorted(words, key=lambda m: (-len(m.group()), m.start()))
    kinds = [rng.choice(KINDS) for _ in range(n)]
    if n == 2 and len(ranked[0].group()) < 9 and len(ranked) > 1:
        targets = [ranked[0], ranked[1]]
    else:
        targets = [ranked[0]]
    out = text
    for i, target in enumerate(sorted(targets, key=lambda m: -m.start())):
        word = target.group()
        todo = kinds if len(targets) == 1 else [kinds[i]]
        changed = word
        for step, kind in enumerate(todo, start=1):
            while True:
                candidate = edit(changed, kind, rng)
                if OSA.distance(candidate, word) == step:
                    changed = candidate
                    break
        out = out[: target.start()] + changed + out[target.end() :]
    return out, kinds


def main() -> None:
    """Write the typo queries file."""
    rng = random.Random(SEED)
    lines = []
    chosen = [q for q in sample_queries() if q["locale"].split("-")[0] in LANGUAGES]
    for n, query in enumerate(chosen):
        text, kinds = misspell(query["text"], 2 if n % 2 else 1, rng)
        record = {**query, "text": text, "original": query["text"], "edits": kinds}
        lines.append(json.dumps(record, ensure_ascii=False))
    Path(OUT).write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
