"""Chat sessions and their turns."""

from __future__ import annotations

from typing import Sequence
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


def create_session(conn: psycopg.Connection, *, title: str = "New chat", video_id: UUID | None = None) -> dict:
    return conn.execute(
        "INSERT INTO chat_sessions (title, video_id) VALUES (%s, %s) RETURNING *", (title, video_id)
    ).fetchone()


def rename_session(conn: psycopg.Connection, session_id: UUID, title: str) -> dict | None:
    return conn.execute(
        "UPDATE chat_sessions SET title = %s, updated_at = now() WHERE id = %s RETURNING *",
        (title.strip()[:200] or "Untitled", session_id),
    ).fetchone()


def get_session(conn: psycopg.Connection, session_id: UUID | str) -> dict | None:
    try:
        session_id = UUID(str(session_id))
    except ValueError:
        return None
    return conn.execute("SELECT * FROM chat_sessions WHERE id = %s", (session_id,)).fetchone()


def list_sessions(conn: psycopg.Connection, limit: int = 50) -> list[dict]:
    return conn.execute(
        "SELECT * FROM chat_sessions ORDER BY updated_at DESC LIMIT %s", (limit,)
    ).fetchall()


def add_turn(conn: psycopg.Connection, *, session_id: UUID, question: str, answer: str, filters: dict,
             search_method: str, cited_event_ids: Sequence[int], result_count: int, latency_ms: float) -> dict:
    row = conn.execute(
        """INSERT INTO chat_turns (session_id, question, answer, filters, search_method, cited_event_ids,
                                   result_count, latency_ms)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *""",
        (session_id, question, answer, Jsonb(filters), search_method, list(cited_event_ids), result_count, latency_ms),
    ).fetchone()
    conn.execute("UPDATE chat_sessions SET updated_at = now() WHERE id = %s", (session_id,))
    return row


def turns(conn: psycopg.Connection, session_id: UUID) -> list[dict]:
    return conn.execute(
        "SELECT * FROM chat_turns WHERE session_id = %s ORDER BY created_at, id", (session_id,)
    ).fetchall()
