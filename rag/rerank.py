"""Rerank retrieved events: keep the few that best answer the question.

Two adapters of the `Reranker` port:
- `OfflineReranker` (default): no packaged cross-encoder exists, so it blends embedding
  similarity, word overlap, filter match and detection confidence.
- `CrossEncoderReranker`: a sentence-transformers `CrossEncoder` (ms-marco-MiniLM,
  bge-reranker...) when SENTINEL_RERANKER_MODEL points at its weights.

Both take and return LangChain `Document`s: `page_content` is the event description,
`metadata` holds event_id, video_id, t_start, t_end, type, zone, confidence, attributes,
highlight_key, the stored `embedding` when available and the retrieval scores. The
returned documents are copies with `rerank_score` added to their metadata.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from langchain_core.documents import Document

from core.vocabulary import SALIENCE
from rag.query import QueryFilters, match_filters
from rag.terms import content_terms, is_vague

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)


@runtime_checkable
class Reranker(Protocol):
    """Orders candidate events by how well they answer the question."""

    def rerank(
        self, query: str, docs: list[Document], filters: QueryFilters, k: int = 5
    ) -> list[Document]:
        """The best `k` of `docs`, best first, each with `metadata['rerank_score']`."""
        ...


def _with_score(doc: Document, score: float, **extra: Any) -> Document:
    """A copy of `doc` carrying its rerank score (the caller's documents stay untouched)."""
    return Document(
        page_content=doc.page_content,
        metadata={**doc.metadata, "rerank_score": float(score), **extra},
        id=doc.id,
    )


def _start(doc: Document) -> float:
    value = doc.metadata.get("t_start")
    return float(value) if value is not None else math.inf


# ---------------------------------------------------------------------------
# Offline reranker
# ---------------------------------------------------------------------------

def _doc_terms(doc: Document) -> set[str]:
    meta = doc.metadata
    parts = [doc.page_content, str(meta.get("type") or ""), str(meta.get("zone") or "")]
    keywords = meta.get("keywords") or []
    parts.extend(str(k) for k in keywords)
    attributes = meta.get("attributes") or {}
    if isinstance(attributes, Mapping):
        parts.extend(str(v) for v in attributes.values() if isinstance(v, str | int | float))
    return content_terms(" ".join(parts))


def _as_vector(value: Any) -> np.ndarray | None:
    """A float32 vector from a list, numpy array or pgvector `Vector`; None if absent."""
    if value is None:
        return None
    if hasattr(value, "to_numpy"):
        value = value.to_numpy()
    try:
        vector = np.asarray(value, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError):
        return None
    return vector if vector.size else None


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return 0.0  # vectors from another embedding model cannot be compared
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / denom if denom else 0.0


@dataclass(frozen=True, slots=True)
class RerankWeights:
    """How much each signal counts in the offline score (the total is divided by the weights used).

    semantic:   cosine similarity of question and event embeddings (clipped at 0): the
                main signal, it matches meaning ("shoplifting" ~ "concealed a bottle").
    filters:    share of the asked facets (type, age, gender, colour, zone, time, video)
                the event meets; unknown attributes count half, a contradiction zero, so
                an event that misses the asked type or window sinks.
    lexical:    share of the question's content words found in the event's text, type,
                zone, keywords and attributes: rewards exact names the embedding blurs.
    confidence: the detector's confidence in the event: a tie-breaker between
                otherwise equal events.
    salience:   only for a question with no content words beyond its filters ("what
                happened between minute 1 and 2?", "what did the man in black do?"),
                in place of semantic and lexical, which would rank on noise: how much a
                store owner wants the event's type seen (`core.vocabulary.SALIENCE`),
                so a theft comes before people standing.
    """

    semantic: float = 0.45
    filters: float = 0.30
    lexical: float = 0.15
    confidence: float = 0.10
    salience: float = 0.15  # above any confidence gap, below half a filter: grey's own standing beats red's theft


def filter_score(filters: QueryFilters, metadata: Mapping[str, Any]) -> float:
    """0..1: how well one event meets the constrained facets (1.0 when none are asked)."""
    checks = match_filters(filters, metadata)
    if not checks:
        return 1.0
    values = {True: 1.0, None: 0.5, False: 0.0}
    return sum(values[v] for v in checks.values()) / len(checks)


class OfflineReranker:
    """Scores candidates on embedding similarity, word overlap, filter match and confidence.

    Args:
        embeddings: LangChain embeddings used for the question, and for any candidate
            without a stored `embedding`. None drops the semantic signal (the other
            weights are rescaled).
        weights: see `RerankWeights`.

    Example:
        >>> reranker = OfflineReranker(embeddings=get_embeddings())
        >>> top = reranker.rerank("did anyone steal?", docs, parse_question("did anyone steal?"), k=5)
        >>> top[0].metadata["rerank_score"]
    """

    def __init__(self, embeddings: Embeddings | None = None, weights: RerankWeights | None = None) -> None:
        self.embeddings = embeddings
        self.weights = weights or RerankWeights()

    def _semantic(self, query: str, docs: Sequence[Document]) -> list[float] | None:
        if self.embeddings is None or not query.strip():
            return None
        q = _as_vector(self.embeddings.embed_query(query))
        vectors = [_as_vector(d.metadata.get("embedding")) for d in docs]
        missing = [i for i, v in enumerate(vectors) if v is None]
        if missing:
            # events written without an embedding still get a fair comparison
            fresh = self.embeddings.embed_documents([docs[i].page_content for i in missing])
            for i, vector in zip(missing, fresh):
                vectors[i] = _as_vector(vector)
        return [max(0.0, _cosine(q, v)) if v is not None and q is not None else 0.0 for v in vectors]

    def score(self, query: str, docs: Sequence[Document], filters: QueryFilters) -> list[dict[str, float]]:
        """The per-signal scores (each 0..1) and the weighted total for each document."""
        # time phrases and video names only add noise to the similarity signals
        text = filters.text.strip() or query
        query_terms = content_terms(text)
        vague = is_vague(filters, query)  # nothing to match: rank by what the owner wants to see instead
        semantic = None if vague else self._semantic(text, docs)
        weights = self.weights
        total_weight = weights.filters + weights.confidence + (weights.salience if vague else weights.lexical)
        if semantic is not None:
            total_weight += weights.semantic
        parts: list[dict[str, float]] = []
        for i, doc in enumerate(docs):
            overlap = len(query_terms & _doc_terms(doc)) / len(query_terms) if query_terms else 0.0
            confidence = doc.metadata.get("confidence")
            part = {
                "semantic": semantic[i] if semantic is not None else 0.0,
                "filters": filter_score(filters, doc.metadata),
                "lexical": overlap,
                "confidence": min(1.0, max(0.0, float(confidence))) if confidence is not None else 0.5,
                "salience": SALIENCE.get(str(doc.metadata.get("type")), 0.5) if vague else 0.0,
            }
            weighted = (
                weights.filters * part["filters"]
                + weights.confidence * part["confidence"]
                + (weights.salience * part["salience"] if vague else weights.lexical * part["lexical"])
                + (weights.semantic * part["semantic"] if semantic is not None else 0.0)
            )
            part["total"] = weighted / total_weight if total_weight else 0.0
            parts.append(part)
        return parts

    def rerank(
        self, query: str, docs: list[Document], filters: QueryFilters, k: int = 5
    ) -> list[Document]:
        """The best `k` documents, best first; ties go to the earlier event."""
        if not docs or k <= 0:
            return []
        parts = self.score(query, docs, filters)
        order = sorted(range(len(docs)), key=lambda i: (-parts[i]["total"], _start(docs[i])))
        return [
            _with_score(docs[i], parts[i]["total"], rerank_parts={k_: round(v, 4) for k_, v in parts[i].items()})
            for i in order[:k]
        ]


# ---------------------------------------------------------------------------
# Cross-encoder reranker
# ---------------------------------------------------------------------------

class CrossEncoderReranker:
    """A sentence-transformers `CrossEncoder` scoring (question, event description) pairs.

    The filters already narrowed the candidates in the retriever, so the cross-encoder
    judges relevance alone.

    Args:
        model_path: a local folder (or a cached model name) with the cross-encoder.
        batch_size: pairs per forward pass.
        max_length: tokens per pair; longer pairs are truncated.
    """

    def __init__(self, model_path: str, *, batch_size: int = 16, max_length: int = 512) -> None:
        from sentence_transformers import CrossEncoder

        self.model_path = str(model_path)
        self.batch_size = batch_size
        self.model = CrossEncoder(self.model_path, max_length=max_length)

    def rerank(
        self, query: str, docs: list[Document], filters: QueryFilters, k: int = 5
    ) -> list[Document]:
        """The best `k` documents by cross-encoder score, best first."""
        if not docs or k <= 0:
            return []
        text = filters.text.strip() or query
        pairs = [(text, doc.page_content) for doc in docs]
        scores = np.asarray(self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False))
        scores = scores.reshape(len(docs), -1)[:, -1]  # a two-label model: the 'relevant' logit
        order = sorted(range(len(docs)), key=lambda i: (-float(scores[i]), _start(docs[i])))
        return [_with_score(docs[i], float(scores[i])) for i in order[:k]]
