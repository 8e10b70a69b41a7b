"""Reading events of the current run of each video."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence
from uuid import UUID

import psycopg

EVENT_COLUMNS = """e.id, e.video_id, v.name AS video_name, e.track_number, e.type, e.t_start, e.t_end, e.frame,
    e.bbox, e.zone, e.confidence, e.attributes, e.description, e.keywords, e.highlight_key, e.created_at"""


def list_events(conn: psycopg.Connection, *, video_id: UUID | None = None, types: Sequence[str] | None = None,
                t_from: float | None = None, t_to: float | None = None, zone: str | None = None,
                min_confidence: float | None = None, attributes: dict | None = None, staff: bool | None = None,
                limit: int = 1000, offset: int = 0) -> list[dict]:
    """Events filtered by video, types, time overlap, zone, confidence, attribute values and who.

    zone: the zone an event happened in, the shelf a hand reached into, the staff area of a member of staff,
    or its third of the frame. staff: True, only the events of staff (they name their `staff_area`); False,
    only the customers'.
    """
    return conn.execute(
        f"""SELECT {EVENT_COLUMNS} FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id
            WHERE (%(video)s::uuid IS NULL OR e.video_id = %(video)s)
              AND (%(types)s::text[] IS NULL OR e.type = ANY(%(types)s))
              AND (%(t_from)s::float8 IS NULL OR e.t_end >= %(t_from)s)
              AND (%(t_to)s::float8 IS NULL OR e.t_start <= %(t_to)s)
              AND (%(zone)s::text IS NULL OR e.zone = %(zone)s OR e.attributes->>'shelf' = %(zone)s
                   OR e.attributes->>'region' = %(zone)s OR e.attributes->>'staff_area' = %(zone)s)
              AND (%(staff)s::boolean IS NULL OR (e.attributes->>'staff_area' IS NOT NULL) = %(staff)s)
              AND (%(conf)s::float8 IS NULL OR e.confidence >= %(conf)s)
              AND (%(attrs)s::jsonb IS NULL OR e.attributes @> %(attrs)s)
            ORDER BY e.video_id, e.t_start, e.id LIMIT %(limit)s OFFSET %(offset)s""",
        {"video": video_id, "types": list(types) if types else None, "t_from": t_from, "t_to": t_to,
         "zone": zone, "conf": min_confidence, "staff": staff,
         "attrs": psycopg.types.json.Jsonb(attributes) if attributes else None,
         "limit": limit, "offset": offset},
    ).fetchall()


def get_many(conn: psycopg.Connection, ids: Sequence[int]) -> list[dict]:
    if not ids:
        return []
    return conn.execute(
        f"SELECT {EVENT_COLUMNS} FROM events e JOIN videos v ON v.id = e.video_id WHERE e.id = ANY(%s) ORDER BY e.id",
        (list(ids),),
    ).fetchall()


def neighbours(conn: psycopg.Connection, *, video_id: UUID, t_from: float, t_to: float) -> list[dict]:
    """The current run's events of one video overlapping [t_from, t_to], by time."""
    return list_events(conn, video_id=video_id, t_from=t_from, t_to=t_to, limit=200)


def counts_by_type(conn: psycopg.Connection, video_id: UUID | None = None) -> dict[str, int]:
    rows = conn.execute(
        """SELECT e.type, count(*) AS n FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id
           WHERE (%(video)s::uuid IS NULL OR e.video_id = %(video)s) GROUP BY e.type ORDER BY n DESC""",
        {"video": video_id},
    ).fetchall()
    return {r["type"]: r["n"] for r in rows}


def per_day_by_type(conn: psycopg.Connection, starts: dict[UUID, datetime]) -> list[dict]:
    """Event counts per footage day and type: each video's events placed at its wall-clock start plus their time."""
    if not starts:
        return []
    return conn.execute(
        """SELECT date_trunc('day', s.start + e.t_start * interval '1 second') AS day, e.type, count(*) AS n
           FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id
           JOIN unnest(%s::uuid[], %s::timestamp[]) AS s(video_id, start) ON s.video_id = e.video_id
           GROUP BY 1, 2 ORDER BY 1, 2""",
        (list(starts), list(starts.values())),
    ).fetchall()


def latest_notable(conn: psycopg.Connection, *, types: Sequence[str] = ("theft", "collapse", "violent"),
                   limit: int = 12) -> list[dict]:
    return conn.execute(
        f"""SELECT {EVENT_COLUMNS} FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id
            WHERE e.type = ANY(%s) ORDER BY e.created_at DESC, e.id DESC LIMIT %s""",
        (list(types), limit),
    ).fetchall()
