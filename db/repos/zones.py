"""Named zones (polygons in 0..1 frame coordinates) per camera, per video, or global.

A video's zones are its camera's, overridden by name by the video's own (and camera-less
global zones below both).
"""

from __future__ import annotations

from typing import Iterable
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


def upsert(conn: psycopg.Connection, *, name: str, kind: str, polygon: list[list[float]],
           video_id: UUID | None = None, camera: str | None = None, loiter_s: float | None = None) -> dict:
    return conn.execute(
        """INSERT INTO zones (video_id, camera, name, kind, polygon, loiter_s) VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (video_id, camera, name) DO UPDATE SET kind = EXCLUDED.kind, polygon = EXCLUDED.polygon,
                                                              loiter_s = EXCLUDED.loiter_s
           RETURNING *""",
        (video_id, camera, name, kind, Jsonb(polygon), loiter_s),
    ).fetchone()


def replace(conn: psycopg.Connection, zones: Iterable[dict], *, video_id: UUID | None = None,
            camera: str | None = None) -> list[dict]:
    """Replace the zones of one video (video_id) or one camera (camera) in one transaction.

    Zone dicts: name, kind, polygon (0..1), optional loiter_s. Returns the stored rows by name.
    """
    if (video_id is None) == (camera is None):
        raise ValueError("give exactly one of video_id and camera")
    with conn.transaction():
        if video_id is not None:
            conn.execute("DELETE FROM zones WHERE video_id = %s", (video_id,))
        else:
            conn.execute("DELETE FROM zones WHERE camera = %s AND video_id IS NULL", (camera,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO zones (video_id, camera, name, kind, polygon, loiter_s) VALUES (%s, %s, %s, %s, %s, %s)",
                [(video_id, camera if video_id is None else None, z["name"], z["kind"], Jsonb(z["polygon"]),
                  z.get("loiter_s")) for z in zones])
    return of_owner(conn, video_id=video_id, camera=camera)


def of_owner(conn: psycopg.Connection, *, video_id: UUID | None = None, camera: str | None = None) -> list[dict]:
    """The zones stored for exactly this video, or exactly this camera."""
    if video_id is not None:
        return conn.execute("SELECT * FROM zones WHERE video_id = %s ORDER BY name", (video_id,)).fetchall()
    return conn.execute("SELECT * FROM zones WHERE camera = %s AND video_id IS NULL ORDER BY name",
                        (camera,)).fetchall()


def for_video(conn: psycopg.Connection, video_id: UUID) -> list[dict]:
    """The zones that apply to a video: its own, then its camera's, then global ones; the first of a name wins.

    Each row has `source`: video, camera or global.
    """
    return conn.execute(
        """SELECT DISTINCT ON (z.name) z.*,
                  CASE WHEN z.video_id IS NOT NULL THEN 'video' WHEN z.camera IS NOT NULL THEN 'camera'
                       ELSE 'global' END AS source
             FROM zones z LEFT JOIN videos v ON v.id = %s
            WHERE z.video_id = %s
               OR (z.video_id IS NULL AND z.camera IS NOT NULL AND z.camera = v.camera)
               OR (z.video_id IS NULL AND z.camera IS NULL)
            ORDER BY z.name, (z.video_id IS NULL), (z.camera IS NULL)""",
        (video_id, video_id),
    ).fetchall()


def names_and_kinds(conn: psycopg.Connection, *, video_id: UUID | str | None = None,
                    camera: str | None = None) -> list[tuple[str, str]]:
    """The zone names (with their kinds) that apply to a video, to a camera's videos, or else anywhere."""
    if video_id is not None:
        return sorted({(r["name"], r["kind"]) for r in for_video(conn, UUID(str(video_id)))})
    if camera is not None:
        rows = conn.execute(
            """SELECT DISTINCT z.name, z.kind FROM zones z LEFT JOIN videos v ON v.id = z.video_id
                WHERE lower(z.camera) = lower(%s) OR lower(v.camera) = lower(%s)
                   OR (z.video_id IS NULL AND z.camera IS NULL)""", (camera, camera)).fetchall()
    else:
        rows = conn.execute("SELECT DISTINCT name, kind FROM zones").fetchall()
    return sorted((r["name"], r["kind"]) for r in rows)


def cameras(conn: psycopg.Connection) -> list[dict]:
    """Every camera named by a video or a zone: name, videos, zones, and the frame size of its latest sized video."""
    return conn.execute(
        """WITH names AS (SELECT camera AS name FROM videos WHERE camera IS NOT NULL
                          UNION SELECT camera FROM zones WHERE camera IS NOT NULL AND video_id IS NULL)
           SELECT n.name,
                  (SELECT count(*) FROM videos v WHERE v.camera = n.name) AS videos,
                  (SELECT count(*) FROM zones z WHERE z.camera = n.name AND z.video_id IS NULL) AS zones,
                  s.width, s.height
             FROM names n
             LEFT JOIN LATERAL (SELECT width, height FROM videos v
                                 WHERE v.camera = n.name AND v.width > 0 AND v.height > 0
                                 ORDER BY v.created_at DESC LIMIT 1) s ON true
            ORDER BY n.name""",
    ).fetchall()


def camera(conn: psycopg.Connection, name: str) -> dict | None:
    return next((c for c in cameras(conn) if c["name"] == name), None)
