"""Named zones (polygons in 0..1 frame coordinates) per video or camera."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


def upsert(conn: psycopg.Connection, *, name: str, kind: str, polygon: list[list[float]],
           video_id: UUID | None = None, camera: str | None = None) -> dict:
    return conn.execute(
        """INSERT INTO zones (video_id, camera, name, kind, polygon) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (video_id, camera, name) DO UPDATE SET kind = EXCLUDED.kind, polygon = EXCLUDED.polygon
           RETURNING *""",
        (video_id, camera, name, kind, Jsonb(polygon)),
    ).fetchone()


def for_video(conn: psycopg.Connection, video_id: UUID) -> list[dict]:
    """The video's own zones, plus camera-less global zones."""
    return conn.execute(
        "SELECT * FROM zones WHERE video_id = %s OR (video_id IS NULL AND camera IS NULL) ORDER BY name",
        (video_id,),
    ).fetchall()
