"""The hybrid retriever of the ask path, and the windowing step that follows the reranker.

`HybridRetriever` is a LangChain `BaseRetriever`: question -> filters (rule parser, or
the filters the caller already has) -> one hybrid statement in Postgres (pgvector and
full-text search fused by reciprocal rank fusion, filters as parameters) -> Documents.

`window_context` expands the few reranked hits with their neighbours in time, so the
answer sees what happened just before and after.

Example:
    >>> retriever = HybridRetriever(db=app.db, embeddings=get_embeddings(), k=30)
    >>> docs = retriever.invoke("any theft between minute 3 and 5?")
    >>> docs[0].metadata["event_id"], docs[0].metadata["search_method"]
    (42, 'exact')
    >>> top = get_reranker().rerank(question, docs, parse_question(question), k=5)
    >>> with app.db.connection() as conn:
    ...     context = window_context(conn, top, window_s=10.0)
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from core.cameras import clock_windows, footage_start, overlaps_days
from core.errors import VideoNotFound
from core.vocabulary import REGIONS, SALIENCE
from db.repos import events as events_repo
from db.repos import videos as videos_repo
from db.repos.search import EXACT_MAX_ROWS, SearchFilters, hybrid_search
from rag.query import QueryFilters, parse_question
from rag.terms import is_vague

log = logging.getLogger(__name__)

SALIENT_TYPES = tuple(kind for kind, salience in SALIENCE.items() if salience >= 0.7)

# spellings stored attributes may use for a canonical filter value
_STORED_SPELLINGS: dict[str, tuple[str, ...]] = {"grey": ("gray",), "centre": ("center", "middle")}


def _with_spellings(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(v for value in values for v in (value, *_STORED_SPELLINGS.get(value, ()))))


def search_filters(filters: QueryFilters, video_ids: Sequence[UUID] | None = None,
                   windows: Sequence[tuple[UUID, float, float]] | None = None) -> SearchFilters:
    """The SQL constraints for parsed question filters (the video already resolved to ids).

    `last_s` stays relative ("the last minute" of each video) unless `filters.resolve`
    already turned it into a window.
    """
    facets = {"age_group": filters.age_groups, "gender": filters.genders,
              "colour": _with_spellings(filters.colours)}
    return SearchFilters(
        video_ids=list(video_ids) if video_ids else None,
        types=list(filters.event_types) or None,
        t_from=filters.t_from,
        t_to=filters.t_to,
        last_s=filters.last_s if filters.t_from is None and filters.t_to is None else None,
        zones=[*_with_spellings([z for z in filters.zones if z not in REGIONS]), *filters.zone_names] or None,
        zone_kinds=sorted(filters.zone_kinds) or None,
        regions=_with_spellings([z for z in filters.zones if z in REGIONS]) or None,
        region_names=tuple(_with_spellings(REGIONS)),
        facets={name: list(values) for name, values in facets.items() if values} or None,
        staff=None if filters.role is None else filters.role == "staff",
        windows=list(windows) if windows else None,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    return value


def row_to_document(row: Mapping[str, Any]) -> Document:
    """One search row as a LangChain Document (description as text, the rest as metadata)."""
    embedding = row.get("embedding")
    if embedding is not None:
        embedding = np.asarray(embedding.to_numpy() if hasattr(embedding, "to_numpy") else embedding,
                               dtype=np.float32).tolist()
    metadata = {
        "event_id": row["id"],
        "video_id": _jsonable(row["video_id"]),
        "video_name": row.get("video_name"),
        "t_start": row["t_start"],
        "t_end": row["t_end"],
        "type": row["type"],
        "zone": row.get("zone"),
        "confidence": row.get("confidence"),
        "attributes": row.get("attributes") or {},
        "keywords": list(row.get("keywords") or []),
        "highlight_key": row.get("highlight_key"),
        "track_number": row.get("track_number"),
        "scores": {"vector": row.get("vector_score"), "text": row.get("text_score"), "rrf": row.get("rrf_score")},
        "vector_rank": row.get("vector_rank"),
        "text_rank": row.get("text_rank"),
        "search_method": row.get("search_method"),
        "embedding": embedding,
    }
    return Document(id=str(row["id"]), page_content=row["description"], metadata=metadata)


def _as_written(question: str, name: str) -> str:
    """`name` with the casing the question used (the rule parser lowercases what it finds)."""
    at = question.lower().find(name.lower())
    return question[at:at + len(name)] if at >= 0 and len(question) == len(question.lower()) else name


def _find_video(conn: psycopg.Connection, reference: str, question: str) -> dict | None:
    found = videos_repo.find(conn, reference)
    if found is None:
        written = _as_written(question, reference)
        found = videos_repo.find(conn, written) if written != reference else None
    return found


class HybridRetriever(BaseRetriever):
    """Events for a question from Postgres: pgvector + full-text, fused by RRF, filters as parameters.

    Attributes:
        db: the `db.database.Database` (its pool gives connections with pgvector registered).
        embeddings: LangChain embeddings of the same model as the stored vectors
            (default: `core.runtime.embeddings.get_embeddings()`).
        k: documents returned.
        ef_search: HNSW beam width for broad questions.
        filters: filters to use instead of parsing each question (e.g. from the LLM parser).
        video: restrict to one video, by id or name (wins over a video named in the question).
        exact: force exact ranking (True) or HNSW (False); None decides per question.
        exact_max_rows: the filtered-row count up to which ranking is exact.

    Per call, `invoke(question, k=..., filters=..., video=...)` overrides the fields.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    db: Any
    embeddings: Embeddings | None = None
    k: int = Field(default=30, ge=0)
    ef_search: int = Field(default=400, ge=1, le=1000)
    filters: QueryFilters | None = None
    video: str | None = None
    exact: bool | None = None
    exact_max_rows: int = Field(default=EXACT_MAX_ROWS, ge=0)

    def _embed(self, text: str) -> list[float]:
        embeddings = self.embeddings
        if embeddings is None:
            from core.runtime.embeddings import get_embeddings

            embeddings = get_embeddings(getattr(self.db, "settings", None))
        return embeddings.embed_query(text)

    def resolve_filters(self, query: str, filters: QueryFilters | None = None,
                        video: str | None = None) -> QueryFilters:
        """The filters a question searches with: the given ones, else the rule parser's.

        A video scope (argument, then field) replaces any video the question names.
        """
        resolved = filters or self.filters or parse_question(query)
        scope = video or self.video
        if scope:
            resolved = resolved.model_copy(update={"video": str(scope)})
        return resolved

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, filters: QueryFilters | None = None,
                                video: str | None = None, video_row: Mapping[str, Any] | None = None,
                                **kwargs: Any) -> list[Document]:
        query = query.replace("\x00", " ")  # PostgreSQL text cannot hold NUL
        parsed = self.resolve_filters(query, filters, video)
        # time phrases and video names are filters now; what is left is what to look for
        text = (parsed.text.replace("\x00", " ").strip() or query.strip())
        vector = self._embed(text)
        limit = self.k if k is None else int(k)
        with self.db.connection() as conn:
            video_ids: list[UUID] | None = None
            if parsed.video:
                # a caller that resolved the video already passes its row: one lookup, one message
                found = video_row if video_row is not None else _find_video(conn, parsed.video, query)
                if found is None:
                    if video or self.video:
                        raise VideoNotFound(parsed.video)
                    log.info("the question names video %r, which does not exist", parsed.video)
                    return []  # events of other videos would answer a different question
                video_ids = [found["id"]]
                parsed = parsed.resolve(found.get("duration_s"))
            elif parsed.videos:  # "in fighting1 and fighting2": those videos
                video_ids = [UUID(v) for v in parsed.videos]
            if parsed.camera:  # "any theft on the till camera?": that camera's videos
                video_ids = camera_scope(conn, parsed, video_ids)
                if not video_ids:
                    return []
            starts: dict = {}
            zone = getattr(getattr(self.db, "settings", None), "zone", None)  # the store's clock for uploads
            if parsed.day_from is not None:
                video_ids, starts = day_scope(conn, parsed, video_ids, zone)
                if not video_ids:
                    return []  # no footage of those days: nothing else answers the question
            windows = None
            if parsed.clock_from_s is not None:  # "after 22:00": each video's footage at those hours
                windows = clock_scope(conn, parsed, video_ids, zone)
                if not windows:
                    return []
                video_ids = list(dict.fromkeys(w[0] for w in windows))

            def search(asked: QueryFilters) -> list[dict]:
                return hybrid_search(conn, query_embedding=vector, query_text=text,
                                     filters=search_filters(asked, video_ids, windows), k=limit,
                                     ef_search=self.ef_search,
                                     exact=self.exact, exact_max_rows=self.exact_max_rows)

            rows = search(parsed)
            if is_vague(parsed, query) and not parsed.event_types:
                # "what happened?": its words rank nothing, so the incidents in scope are candidates first
                incidents = search(parsed.model_copy(update={"event_types": list(SALIENT_TYPES)}))
                seen = {row["id"] for row in incidents}
                rows = [*incidents, *(row for row in rows if row["id"] not in seen)][:limit]
        if starts:
            rows = [row for row in rows if within_days(parsed, starts[row["video_id"]], row)]
        return [row_to_document(row) for row in rows]


def videos_in_days(conn: psycopg.Connection, filters: QueryFilters, video_ids: Sequence[UUID] | None = None,
                   zone: tzinfo | None = None) -> list[dict]:
    """The analysed videos (of `video_ids`, when given) whose footage overlaps the asked days (`zone`: the store's)."""
    rows = videos_repo.analysed_clocks(conn)
    wanted = None if video_ids is None else {str(v) for v in video_ids}
    return [v for v in rows if (wanted is None or str(v["id"]) in wanted)
            and overlaps_days(v, filters.day_from, filters.day_to, zone)]


def camera_scope(conn: psycopg.Connection, filters: QueryFilters, video_ids: Sequence[UUID] | None = None
                 ) -> list[UUID] | None:
    """The asked camera's videos (of `video_ids`, when given); `video_ids` as they are when no camera is asked."""
    if not filters.camera:
        return None if video_ids is None else list(video_ids)
    wanted = None if video_ids is None else {str(v) for v in video_ids}
    return [v for v in videos_repo.of_camera(conn, filters.camera) if wanted is None or str(v) in wanted]


def day_scope(conn: psycopg.Connection, filters: QueryFilters, video_ids: Sequence[UUID] | None = None,
              zone: tzinfo | None = None) -> tuple[list[UUID], dict]:
    """(ids, wall-clock footage starts) of the analysed videos overlapping the asked days, for `within_days`."""
    scope = videos_in_days(conn, filters, video_ids, zone)
    return [v["id"] for v in scope], {v["id"]: footage_start(v, zone)[0] for v in scope}


def footage_starts(conn: psycopg.Connection, video_ids: Sequence[UUID | str], zone: tzinfo | None = None
                   ) -> dict[str, tuple[datetime, str]]:
    """Each video's wall-clock start and how it is known (core.cameras.footage_start), by id as text."""
    rows = videos_repo.get_many(conn, sorted({str(i) for i in video_ids}))
    return {str(v["id"]): footage_start(v, zone) for v in rows}


def clock_scope(conn: psycopg.Connection, filters: QueryFilters, video_ids: Sequence[UUID] | None = None,
                zone: tzinfo | None = None) -> list[tuple[UUID, float, float]]:
    """(video id, t_from, t_to) of the analysed footage (of `video_ids`) at the asked times of day on its clock."""
    wanted = None if video_ids is None else {str(v) for v in video_ids}
    return [(v["id"], lo, hi) for v in videos_repo.analysed_clocks(conn) if wanted is None or str(v["id"]) in wanted
            for lo, hi in clock_windows(v, filters.clock_from_s, filters.clock_to_s, zone)]


def within_days(filters: QueryFilters, start, event: Mapping[str, Any]) -> bool:
    """Whether an event of footage starting at `start` (wall clock) happens within the asked days."""
    begins = start + timedelta(seconds=float(event["t_start"]))
    ends = start + timedelta(seconds=float(event.get("t_end") or event["t_start"]))
    return begins < filters.day_to and ends >= filters.day_from


def _merged_windows(hits: Sequence[Document], window_s: float) -> list[tuple[str, float, float]]:
    """[(video_id, from, to)] covering every hit +- window_s, overlapping spans merged.

    Videos come in the order of their best hit; spans of one video in time order.
    """
    spans: dict[str, list[list[float]]] = {}
    for doc in hits:
        meta = doc.metadata
        if meta.get("video_id") is None or meta.get("t_start") is None:
            continue
        start = float(meta["t_start"])
        end = float(meta["t_end"]) if meta.get("t_end") is not None else start
        spans.setdefault(str(meta["video_id"]), []).append([max(0.0, start - window_s), end + window_s])
    merged: list[tuple[str, float, float]] = []
    for video_id, pieces in spans.items():
        pieces.sort()
        current = pieces[0]
        for piece in pieces[1:]:
            if piece[0] <= current[1]:
                current[1] = max(current[1], piece[1])
            else:
                merged.append((video_id, current[0], current[1]))
                current = piece
        merged.append((video_id, current[0], current[1]))
    return merged


def window_context(conn: psycopg.Connection, hits: Sequence[Document], window_s: float) -> list[Document]:
    """The events of each hit's video within +-`window_s` seconds of it, hits included.

    Overlapping windows of one video are merged, each event appears once, and the result
    is ordered by video (best hit's video first) then time. Every document carries
    `metadata['is_hit']` and `metadata['window']` = [from, to] of its merged window.
    """
    hit_ids = {doc.metadata.get("event_id") for doc in hits}
    out: list[Document] = []
    seen: set[int] = set()
    for video_id, t_from, t_to in _merged_windows(hits, max(0.0, float(window_s))):
        for row in events_repo.neighbours(conn, video_id=UUID(video_id), t_from=t_from, t_to=t_to):
            if row["id"] in seen:
                continue
            seen.add(row["id"])
            doc = row_to_document({**row, "search_method": None})
            doc.metadata.pop("embedding", None)
            doc.metadata.pop("scores", None)
            doc.metadata.update(is_hit=row["id"] in hit_ids, window=[t_from, t_to])
            out.append(doc)
    return out
