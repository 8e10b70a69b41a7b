"""What footage a question covers: the videos in scope, hh:mm read on the wall clock, and unrecorded hours.

A question's days, camera and video narrow the analysed videos (`videos_in_scope`); "after 22:00" is
read on each footage's own clock when the footage says it can be (`read_clock`); an empty answer over
hours or days that no footage covers is unknown, not a no (`unrecorded`).

Example:
    >>> read_clock(conn, "any theft after 22:00?", parse_question("any theft after 22:00?"), None).clock_from_s
    79200.0
"""

from __future__ import annotations

from datetime import timedelta, tzinfo

from langchain_core.documents import Document

from core.cameras import clock_phrase, clock_windows, footage_clock
from db.repos import videos
from rag.query import QueryFilters
from rag.retriever import camera_scope, clock_scope, footage_starts, videos_in_days
from rag.time_phrases import clock_reading, exact_clock_reading, twenty_four_hour, written_clock_times

MAX_VIDEOS = 5000  # videos a count or summary question may cover


def read_clock(conn, question: str, filters: QueryFilters, video: dict | None, *,
               beyond_footage: bool = True) -> QueryFilters:
    """'After 22:00' as a time of day on each footage's wall clock, when the footage in scope reads so.

    It does when the question says am or pm, when a video whose clock is known (set at upload, or its
    file name) shows a written time (or, for "between 22:00 and 06:00", overlaps the window), or, with
    beyond_footage (or when every video in scope has a known clock), when no video in scope is long enough
    for the minutes reading; otherwise "after 2:30" stays 2 min 30 s in. An hh:mm:ss ("at 22:01:30") is the
    clock's only when no video in scope is that long and a clock-known one shows it.
    """
    clock = twenty_four_hour(question)  # "after 10pm" is the parser's 22:00, and a clock time whatever the footage
    reading = clock_reading(clock, filters.t_from, filters.t_to)
    if reading is None:
        return _read_exact_clock(conn, clock, filters, video)
    rows = _clock_rows(conn, filters, video)
    if not rows:
        return filters
    written = written_clock_times(clock)
    spans = [reading] if len(written) == 2 else [(t, t + 60.0) for t in written]
    shown = any(footage_clock(r)[0] is not None and clock_windows(r, lo, hi) for r in rows for lo, hi in spans)
    known = all(footage_clock(r)[0] is not None for r in rows)  # no upload time stands in for a clock
    too_long = (beyond_footage or known) and (filters.t_from or 0.0) > max(float(r.get("duration_s") or 0.0)
                                                                          for r in rows)
    if not (shown or too_long or clock != question):
        return filters
    return _on_the_clock(filters, reading)


def _on_the_clock(filters: QueryFilters, reading: tuple[float, float | None]) -> QueryFilters:
    """The filters with their window read on the wall clock instead of in the footage."""
    return filters.model_copy(update={"t_from": None, "t_to": None, "clock_from_s": reading[0],
                                      "clock_to_s": reading[1]})


def _clock_rows(conn, filters: QueryFilters, video: dict | None) -> list[dict]:
    """The video asked about, else every analysed one of the camera asked, with what their clocks need."""
    rows = [video] if video else videos.analysed_clocks(conn)
    if filters.camera:
        rows = [r for r in rows if str(r.get("camera") or "").lower() == filters.camera.lower()]
    return rows


def _read_exact_clock(conn, clock: str, filters: QueryFilters, video: dict | None) -> QueryFilters:
    """'At 22:01:30' on the wall clock, when no video in scope is 22 hours long and a clock-known one shows it."""
    reading = exact_clock_reading(clock, filters.t_from, filters.t_to)
    rows = _clock_rows(conn, filters, video) if reading else []
    if not rows:
        return filters
    lo, hi = reading[0], reading[0] + 1.0 if reading[1] is None else reading[1]
    footage = max(t for t in (filters.t_from, filters.t_to) if t is not None)
    if footage <= max(float(r.get("duration_s") or 0.0) for r in rows) or not any(
            footage_clock(r)[0] is not None and clock_windows(r, lo, hi) for r in rows):
        return filters
    return _on_the_clock(filters, reading)


def unrecorded(conn, filters: QueryFilters, video_row: dict | None, zone: tzinfo | None) -> bool:
    """Whether no analysed footage in scope covers the days or hours asked (so an empty answer is unknown)."""
    if filters.day_from is None and filters.clock_from_s is None:
        return False
    scope = camera_scope(conn, filters, [video_row["id"]] if video_row else filters.videos or None)
    if filters.day_from is not None:
        scope = [v["id"] for v in videos_in_days(conn, filters, scope, zone)]
        if not scope:
            return True
    return filters.clock_from_s is not None and not clock_scope(conn, filters, scope, zone)


def videos_in_scope(conn, filters: QueryFilters, video_row: dict | None, zone: tzinfo | None) -> list[dict]:
    """The video in scope, else every analysed one (newest first) of the camera and days asked."""
    scope = [video_row] if video_row else videos.list_videos(conn, status="completed", limit=MAX_VIDEOS)
    if not video_row and filters.videos:  # "how many people were in fighting1 and fighting2?"
        scope = [v for v in scope if str(v["id"]) in set(filters.videos)]
    if filters.camera:  # "how many people came in on the front camera?"
        kept = {str(v) for v in videos.of_camera(conn, filters.camera)}
        scope = [v for v in scope if str(v["id"]) in kept]
    if filters.day_from is not None:  # "how many people came in today?": that day's footage, whole
        kept = {str(v["id"]) for v in videos_in_days(conn, filters, [v["id"] for v in scope], zone)}
        scope = [v for v in scope if str(v["id"]) in kept]
    return scope


def on_the_wall_clock(conn, docs: list[Document], zone: tzinfo | None) -> list[Document]:
    """The events with `starts_at` (when each begins on its footage's wall clock) and `clock` (known how)."""
    starts = footage_starts(conn, {str(d.metadata.get("video_id")) for d in docs} - {"None"}, zone)
    for doc in docs:
        start, source = starts.get(str(doc.metadata.get("video_id")), (None, ""))
        if start is not None:
            doc.metadata["starts_at"] = start + timedelta(seconds=float(doc.metadata.get("t_start") or 0.0))
            doc.metadata["clock"] = clock_phrase(source)
            doc.metadata["clock_from"] = source
    return docs
