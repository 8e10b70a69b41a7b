"""Cached per-video summaries with a status."""

from __future__ import annotations

from uuid import UUID

import psycopg


def get(conn: psycopg.Connection, video_id: UUID) -> dict | None:
    return conn.execute("SELECT * FROM summaries WHERE video_id = %s", (video_id,)).fetchone()


def set_status(conn: psycopg.Connection, video_id: UUID, status: str, *, text: str | None = None,
               model: str | None = None, error: str | None = None) -> dict:
    return conn.execute(
        """INSERT INTO summaries (video_id, status, text, model, error) VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (video_id) DO UPDATE SET status = EXCLUDED.status,
               text = COALESCE(EXCLUDED.text, summaries.text), model = COALESCE(EXCLUDED.model, summaries.model),
               error = EXCLUDED.error, updated_at = now()
           RETURNING *""",
        (video_id, status, text, model, error),
    ).fetchone()
