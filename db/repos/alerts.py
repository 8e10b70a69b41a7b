"""The alert outbox: queue an alert once per event, hand out the due ones, record each delivery."""

from __future__ import annotations

from typing import Iterable
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


def enqueue(conn: psycopg.Connection, video_id: UUID, alerts: Iterable[tuple[str, int | None, dict]]) -> int:
    """Queue (dedupe key, event id, payload) alerts; one already queued under its key is skipped. Returns how many."""
    added = 0
    for dedupe, event_id, payload in alerts:
        row = conn.execute(
            """INSERT INTO alerts (video_id, event_id, dedupe, payload) VALUES (%s, %s, %s, %s)
               ON CONFLICT (dedupe) DO NOTHING RETURNING id""",
            (video_id, event_id, dedupe, Jsonb(payload))).fetchone()
        added += row is not None
    return added


def claim_due(conn: psycopg.Connection, *, limit: int, lease_s: float, video_id: UUID | None = None) -> list[dict]:
    """Pending alerts whose time has come, oldest first, held for `lease_s` so no other sender takes them meanwhile.

    The claim commits at once: the POSTs happen outside any transaction, and an alert whose sender
    died is due again when its lease runs out.
    """
    return conn.execute(
        """UPDATE alerts SET next_at = now() + make_interval(secs => %(lease)s)
           WHERE id IN (SELECT id FROM alerts
                        WHERE status = 'pending' AND next_at <= now()
                          AND (%(video)s::uuid IS NULL OR video_id = %(video)s)
                        ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
           RETURNING id, video_id, event_id, payload, attempts""",
        {"video": video_id, "limit": limit, "lease": lease_s}).fetchall()


def mark_sent(conn: psycopg.Connection, alert_id: int) -> None:
    conn.execute("UPDATE alerts SET status = 'sent', attempts = attempts + 1, sent_at = now(), last_error = NULL "
                 "WHERE id = %s", (alert_id,))


def mark_failed(conn: psycopg.Connection, alert_id: int, error: str, *, retry_in_s: float | None) -> None:
    """One failed attempt: retried after `retry_in_s`, or given up (status failed) when None."""
    conn.execute(
        """UPDATE alerts SET attempts = attempts + 1, last_error = %(error)s,
                  status = CASE WHEN %(retry)s::float8 IS NULL THEN 'failed' ELSE 'pending' END,
                  next_at = now() + make_interval(secs => COALESCE(%(retry)s::float8, 0))
           WHERE id = %(id)s""",
        {"id": alert_id, "error": error[:500], "retry": retry_in_s})


def recent(conn: psycopg.Connection, *, limit: int = 50) -> list[dict]:
    """The latest alerts, newest first, with their delivery state."""
    return conn.execute(
        """SELECT a.id, a.video_id, v.name AS video_name, a.event_id, a.payload, a.status, a.attempts,
                  a.last_error, a.created_at, a.sent_at, a.next_at
           FROM alerts a JOIN videos v ON v.id = a.video_id ORDER BY a.id DESC LIMIT %s""", (limit,)).fetchall()


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """How many alerts are sent, pending and failed (given up)."""
    rows = conn.execute("SELECT status, count(*) AS n FROM alerts GROUP BY status").fetchall()
    return {"sent": 0, "pending": 0, "failed": 0, **{r["status"]: r["n"] for r in rows}}
