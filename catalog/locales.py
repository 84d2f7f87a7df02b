"""The locales Shelf knows, and what each one's language needs from text analysis."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    """How one language is analysed: its script family and its snowball stemmer, if any."""

    code: str
    script: str  # "cjk", "latin", "cyrillic" or "arabic"
    stemmer: str | None


LANGUAGES: dict[str, Language] = {
    "zh": Language("zh", "cjk", None),
    "ja": Language("ja", "cjk", None),
    "ko": Language("ko", "cjk", None),
    "ar": Language("ar", "arabic", "arabic"),
    "ru": Language("ru", "cyrillic", "russian"),
    "en": Language("en", "latin", "english"),
    "de": Language("de", "latin", "german"),
    "es": Language("es", "latin", "spanish"),
    "fr": Language("fr", "latin", "french"),
    "it": Language("it", "latin", "italian"),
    "pt": Language("pt", "latin", "portuguese"),
    "nl": Language("nl", "latin", "dutch"),
}

SUPPORTED_LOCALES: tuple[str, ...] = (
    "zh-CN", "zh-TW", "ja-JP", "ko-KR", "ar-SA", "ar-AE", "ru-RU",
    "en-US", "en-GB", "de-DE", "de-AT", "es-ES", "es-MX", "fr-FR", "it-IT", "pt-BR", "pt-PT",
    "nl-NL",
)  # fmt: skip

# The locale a record gets when its language is detected from its text rather than given: the
# market with the most shoppers for that language. A shop selling elsewhere states the locale (a
# column, or "defaults" in its mapping file) instead of relying on detection.
DEFAULT_LOCALES: dict[str, str] = {
    "zh": "zh-CN", "ja": "ja-JP", "ko": "ko-KR", "ar": "ar-SA", "ru": "ru-RU", "en": "en-US",
    "de": "de-DE", "es": "es-ES", "fr": "fr-FR", "it": "it-IT", "pt": "pt-BR", "nl": "nl-NL",
}  # fmt: skip

_BY_LOWER = {locale.lower(): locale for locale in SUPPORTED_LOCALES}


def canonical_locale(value: str) -> str:
    """Return the canonical spelling of a supported locale (``zh_cn`` -> ``zh-CN``).

    Raises ValueError naming the supported locales when ``value`` is not one of them.
    """
    key = value.strip().replace("_", "-").lower()
    if key in _BY_LOWER:
        return _BY_LOWER[key]
    raise ValueError(f"unknown locale {value!r}; supported locales: {', '.join(SUPPORTED_LOCALES)}")


def language_of(locale: str) -> Language:
    """The language (analysis rules) of a supported locale or bare language code."""
    return LANGUAGES[locale.split("-", 1)[0].lower()]
