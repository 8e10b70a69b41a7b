"""Video summaries: read the cached one, or write it now or in the background."""

from __future__ import annotations

from uuid import UUID

from core.errors import VideoNotFound
from services.videos import video_by_id


def get_summary(app, *, video_id: UUID | str) -> dict | None:
    """The cached summary row (with `stale` after a re-analysis), or None if none was requested."""
    from rag.summaries import get_summary as read

    video_by_id(app, video_id=video_id)
    try:
        return read(app, video_id)
    except LookupError:
        return None  # deleted in between


def generate_summary(app, *, video_id: UUID | str, wait: bool = True) -> dict:
    """Write the summary now (`wait`) or in a background thread; raises SummaryUnavailable before analysis."""
    from rag.summaries import SummaryUnavailable, generate_summary as generate, request_summary

    video = video_by_id(app, video_id=video_id)
    if video["current_run_id"] is None:  # nothing to summarise: refuse before a summary row is written
        raise SummaryUnavailable.not_analysed(video)
    try:
        return generate(app, video["id"]) if wait else request_summary(app, video["id"])
    except LookupError:
        raise VideoNotFound(video_id) from None
