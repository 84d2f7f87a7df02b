"""Language identification for text without a locale (queries now, catalog records later).

Uses lingua, which ships its models and is built for short, mixed text such as search queries.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from catalog.locales import LANGUAGES

# Below this confidence the guess is no better than leaving the language open.
MIN_CONFIDENCE = 0.3


@lru_cache(maxsize=1)
def _detector() -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = [
        Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in LANGUAGES
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def detect_language(text: str) -> tuple[str, float] | None:
    """The most likely language code of ``text`` and its confidence, or None when unsure."""
    confidences = _detector().compute_language_confidence_values(text)
    if not confidences or confidences[0].value < MIN_CONFIDENCE:
        return None
    best = confidences[0]
    return best.language.iso_code_639_1.name.lower(), float(best.value)


def warm_up() -> None:
    """Load the detector's models now (about 4 s), so no caller pays for it later."""
    detect_language("warm up the language detector before the first query")
