"""Language identification for text without a locale (queries now, catalog records later).

Uses lingua, which ships its models and is built for short, mixed text such as search queries.

``guess_languages`` fails safe: it weighs only the languages a caller can use (those the catalog
holds), and it names one language only when it is sure; otherwise every plausible one, so a
query analysed as each of them cannot lose the products one wrong guess would hide (an English
sentence with a Nordic product name, ``... ready to use TRÅDFRI smart kit``, reads as German).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from catalog.locales import LANGUAGES

# Below this confidence the guess is no better than leaving the language open.
MIN_CONFIDENCE = 0.3
# guess_languages: the most likely languages (among the candidates) that together reach this
# confidence (a "top-p" set), each language of at least PLAUSIBLE_CONFIDENCE, and each that a span
# of the text reads as (lingua's detect_multiple_languages_of: "ready to use" in "ready to use
# TRÅDFRI smart kit") are plausible; a guess is sure when that leaves one.
SURE_CONFIDENCE = 0.9
PLAUSIBLE_CONFIDENCE = 0.1


@dataclass(frozen=True)
class LanguageGuess:
    """The languages a text may be written in, most likely first, and whether the first is sure
    (then it is the only one)."""

    languages: tuple[str, ...]
    sure: bool


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGES
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def _code(language: Any) -> str:
    return str(language.iso_code_639_1.name.lower())


def detect_language(text: str) -> tuple[str, float] | None:
    """The most likely language code of ``text`` and its confidence, or None when unsure."""
    confidences = _detector().compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return None
    best = confidences[0]
    return _code(best.language), float(best.value)


def guess_languages(text: str, candidates: Collection[str]) -> LanguageGuess | None:
    """The plausible languages of ``text`` among ``candidates`` (language codes), or None when
    detection tells nothing about them.

    Confidences (lingua's, 0..1) are renormalised over the candidates, so a language the catalog
    does not hold neither wins nor dilutes the others. Plausible: the most likely candidates that
    together reach ``SURE_CONFIDENCE``, each at ``PLAUSIBLE_CONFIDENCE`` or more, and each that a
    span of the text is detected as. Sure: one plausible language (then its confidence is at
    least ``SURE_CONFIDENCE``).
    """
    wanted = set(candidates)
    if not wanted:
        return None
    detector = _detector()
    confidences = {
        code: float(item.value)
        for item in detector.compute_language_confidence_values(text)
        if (code := _code(item.language)) in wanted
    }
    total = sum(confidences.values())
    if total <= 0:
        return None
    ranked = sorted(((value / total, code) for code, value in confidences.items()),
                    key=lambda pair: (-pair[0], pair[1]))  # fmt: skip
    spans = {_code(span.language) for span in detector.detect_multiple_languages_of(text)}
    plausible, reached = [], 0.0
    for value, code in ranked:
        if reached < SURE_CONFIDENCE or value >= PLAUSIBLE_CONFIDENCE or code in spans:
            plausible.append(code)
        reached += value
    return LanguageGuess(tuple(plausible), len(plausible) == 1)


def warm_up() -> None:
    """Load the detector's models now (about 4 s), so no caller pays for it later."""
    detect_language("warm up the language detector before the first query")
    guess_languages("warm up the detector of mixed text", ("en", "de"))
