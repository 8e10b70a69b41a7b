"""Cached per-video summaries with a status.

A row's `run_id` is the analysis run its text was written from; `stale` is true when the
row has text and the video's current run is another one (re-analysed since).
"""

from __future__ import annotations

from uuid import UUID

import psycopg

_SELECT = """SELECT s.*, (s.text IS NOT NULL AND s.run_id IS DISTINCT FROM v.current_run_id) AS stale
             FROM summaries s JOIN videos v ON v.id = s.video_id"""


def get(conn: psycopg.Connection, video_id: UUID) -> dict | None:
    return conn.execute(f"{_SELECT} WHERE s.video_id = %s", (video_id,)).fetchone()


def set_status(conn: psycopg.Connection, video_id: UUID, status: str, *, text: str | None = None,
               model: str | None = None, error: str | None = None, run_id: UUID | None = None) -> dict:
    """Upsert the status; text, model and run_id keep their previous values unless given."""
    conn.execute(
        """INSERT INTO summaries (video_id, status, text, model, error, run_id) VALUES (%s, %s, %s, %s, %s, %s)
           ON CONFLICT (video_id) DO UPDATE SET status = EXCLUDED.status,
               text = COALESCE(EXCLUDED.text, summaries.text), model = COALESCE(EXCLUDED.model, summaries.model),
               run_id = COALESCE(EXCLUDED.run_id, summaries.run_id), error = EXCLUDED.error, updated_at = now()""",
        (video_id, status, text, model, error, run_id),
    )
    return get(conn, video_id)
