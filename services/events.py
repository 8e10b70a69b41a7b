"""Events: browse and filter them, count them, and export a video's analysis."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Sequence
from uuid import UUID

from core.cameras import footage_start
from db.repos import events, runs
from services.videos import require_video

EXPORT_FORMATS = ("json", "mot")
_EXPORT_VIDEO = ("id", "name", "duration_s", "fps", "width", "height", "status")
_EXPORT_TRACK = ("track_number", "class_name", "t_first", "t_last", "attributes", "path")
_EXPORT_EVENT = ("id", "type", "t_start", "t_end", "frame", "bbox", "zone", "confidence", "attributes",
                 "description", "keywords", "track_number")


def list_events(app, *, video_id: UUID | str | None = None, video_ref: str | None = None,
                types: Sequence[str] | None = None, t_from: float | None = None, t_to: float | None = None,
                zone: str | None = None, min_confidence: float | None = None, attributes: dict | None = None,
                staff: bool | None = None, limit: int = 1000, offset: int = 0) -> list[dict]:
    """Events of the current analysis runs in time order; `video_ref` (id or name) raises VideoNotFound.

    staff: True, only the events of staff (seen in a drawn staff area most of their time); False, the customers'.
    """
    if video_ref:
        video_id = require_video(app, ref=video_ref)["id"]
    with app.db.connection() as conn:
        return events.list_events(conn, video_id=UUID(str(video_id)) if video_id else None, types=types or None,
                                  t_from=t_from, t_to=t_to, zone=zone or None, min_confidence=min_confidence,
                                  attributes=attributes or None, staff=staff, limit=limit, offset=offset)


def events_by_id(app, *, ids: Sequence[int]) -> dict[int, dict]:
    with app.db.connection() as conn:
        return {r["id"]: r for r in events.get_many(conn, list(ids))}


def event_types(app) -> dict[str, int]:
    with app.db.connection() as conn:
        return events.counts_by_type(conn)


def events_per_day(app, *, days: int = 30) -> list[dict]:
    """Events per day and type of the videos analysed in the last `days` days, on each footage's own wall clock."""
    from db.repos import videos

    since = datetime.now(timezone.utc) - timedelta(days=days)
    with app.db.connection() as conn:
        starts = {v["id"]: footage_start(v, app.settings.zone)[0] for v in videos.analysed_since(conn, since)}
        return events.per_day_by_type(conn, starts)


def on_the_wall_clock(app, rows: Sequence[dict]) -> list[dict]:
    """The events with `at`, when each begins on its footage's wall clock ('2026-12-01 23:00:50'), and `clock`
    (how that clock is known: 'file name', 'set at upload', 'upload time')."""
    from rag.retriever import footage_starts

    with app.db.connection() as conn:
        starts = footage_starts(conn, [r["video_id"] for r in rows], app.settings.zone)
    out = []
    for row in rows:
        start, source = starts.get(str(row["video_id"]), (None, ""))
        at = start + timedelta(seconds=float(row["t_start"] or 0.0)) if start is not None else None
        out.append({**row, "at": f"{at:%Y-%m-%d %H:%M:%S}" if at else None, "clock": source or None})
    return out


def latest_notable(app, *, types: Sequence[str], limit: int = 8) -> list[dict]:
    with app.db.connection() as conn:
        return events.latest_notable(conn, types=types, limit=limit)


def attribute_values(rows: Sequence[dict]) -> dict[str, list]:
    """The text, whole-number and yes/no attribute values present in some events, per attribute.

    Values keep their JSON type, so a chosen value matches the stored one (`attributes @> {...}`).
    """
    found: dict[str, set] = {}
    for row in rows:
        for key, value in (row.get("attributes") or {}).items():
            if isinstance(value, (str, int, bool)) and value not in ("", "unknown"):
                found.setdefault(key, set()).add(value)
    return {k: sorted(v, key=str) for k, v in sorted(found.items())}


def export_video(app, *, ref: str, format: str = "json") -> str:
    """A video's analysis as text: MOTChallenge lines for every frame (`mot`) or events and tracks (`json`)."""
    from gpu_jobs.export import mot_lines

    if format not in EXPORT_FORMATS:
        raise ValueError(f"Unknown export format {format!r}; use one of {', '.join(EXPORT_FORMATS)}.")
    video = require_video(app, ref=ref)
    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video["id"])
        rows = events.list_events(conn, video_id=video["id"], limit=100000) if format == "json" else []
    if format == "mot":
        return "\n".join(mot_lines(tracks)) + "\n"
    return json.dumps({
        "video": {k: video[k] for k in _EXPORT_VIDEO},
        "tracks": [{k: t[k] for k in _EXPORT_TRACK} for t in tracks],
        "events": [{k: e[k] for k in _EXPORT_EVENT} for e in rows],
        "events_by_type": dict(Counter(e["type"] for e in rows)),
    }, default=str, indent=2)
