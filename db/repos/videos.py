"""The videos table."""

from __future__ import annotations

from typing import Any, Sequence
from uuid import UUID

import psycopg

from db.repos.common import one_or_none

_UPDATABLE = {
    "name", "storage_key", "thumbnail_key", "size_bytes", "duration_s", "fps", "width", "height",
    "codec", "frame_count", "status", "progress", "error", "storage_tier", "restore_state",
    "restore_expires_at", "current_run_id", "camera", "recorded_at",
}


def insert(conn: psycopg.Connection, *, name: str, original_filename: str, sha256: str | None,
           storage_key: str | None, size_bytes: int, source: str = "upload",
           meta: dict[str, Any] | None = None, video_id: UUID | None = None, camera: str | None = None) -> dict:
    """Insert a video row; `meta` holds duration_s, fps, width, height, codec, frame_count."""
    meta = meta or {}
    return conn.execute(
        """INSERT INTO videos (id, name, original_filename, sha256, storage_key, size_bytes, source,
                               duration_s, fps, width, height, codec, frame_count, camera)
           VALUES (COALESCE(%(id)s, gen_random_uuid()), %(name)s, %(orig)s, %(sha)s, %(key)s, %(size)s,
                   %(source)s, %(duration_s)s, %(fps)s, %(width)s, %(height)s, %(codec)s, %(frame_count)s,
                   %(camera)s)
           RETURNING *""",
        {"id": video_id, "name": name, "orig": original_filename, "sha": sha256, "key": storage_key,
         "size": size_bytes, "source": source, "duration_s": meta.get("duration_s"), "fps": meta.get("fps"),
         "width": meta.get("width"), "height": meta.get("height"), "codec": meta.get("codec"),
         "frame_count": meta.get("frame_count"), "camera": camera},
    ).fetchone()


def upsert_media_less(conn: psycopg.Connection, videos: Sequence[tuple[str, float]], *,
                      source: str) -> dict[str, UUID]:
    """Create or refresh media-less (imported) videos by name, marked completed; returns name -> id.

    One statement for the whole list (imports write thousands); a name given twice keeps its last duration.
    """
    latest = dict(videos)
    if not latest:
        return {}
    rows = conn.execute(
        """INSERT INTO videos (name, original_filename, sha256, storage_key, size_bytes, source, duration_s,
                               status, progress)
           SELECT r.name, r.name, NULL, NULL, 0, %s, r.duration, 'completed', 100
           FROM unnest(%s::text[], %s::float8[]) AS r(name, duration)
           ON CONFLICT (name) WHERE sha256 IS NULL
           DO UPDATE SET duration_s = EXCLUDED.duration_s, status = 'completed', progress = 100, error = NULL,
                         updated_at = now()
           RETURNING id, name""",
        (source, list(latest), list(latest.values())),
    ).fetchall()
    return {row["name"]: row["id"] for row in rows}


def like_literal(text: str) -> str:
    """`text` for a LIKE pattern with `ESCAPE '\\'`, matched as written: `%`, `_` and `\\` are no wildcards."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get(conn: psycopg.Connection, video_id: UUID | str) -> dict | None:
    """A video by id (None for an unknown or malformed id)."""
    try:
        video_id = UUID(str(video_id))
    except ValueError:
        return None
    return conn.execute("SELECT * FROM videos WHERE id = %s", (video_id,)).fetchone()


def get_by_sha(conn: psycopg.Connection, sha256: str) -> dict | None:
    return conn.execute("SELECT * FROM videos WHERE sha256 = %s", (sha256,)).fetchone()


def find(conn: psycopg.Connection, id_or_name: str) -> dict | None:
    """A video by id, or else by exact name, or else by a unique name prefix."""
    found = get(conn, id_or_name)
    if found:
        return found
    rows = conn.execute(
        "SELECT * FROM videos WHERE name = %s OR original_filename = %s ORDER BY created_at DESC",
        (id_or_name, id_or_name),
    ).fetchall()
    if rows:
        return rows[0]
    # people type names in any case ("cam07_front" for Cam07_Front); unique matches only
    found = one_or_none(conn.execute(
        "SELECT * FROM videos WHERE lower(name) = lower(%s) LIMIT 2", (id_or_name,)).fetchall())
    if found:
        return found
    return one_or_none(conn.execute(
        r"SELECT * FROM videos WHERE name LIKE %s ESCAPE '\' ORDER BY created_at DESC LIMIT 2",
        (like_literal(id_or_name) + "%",),
    ).fetchall())


def named_in(conn: psycopg.Connection, text: str, *, limit: int = 20) -> list[dict]:
    """Videos whose name without its extension (3 characters or more) occurs in text, any case; longest first."""
    return conn.execute(
        r"""SELECT id, name, stem FROM (
                SELECT id, name, created_at, regexp_replace(name, '\.[A-Za-z0-9]{1,5}$', '') AS stem FROM videos
            ) v
            WHERE length(stem) >= 3 AND strpos(lower(%s), lower(stem)) > 0
            ORDER BY length(stem) DESC, created_at DESC LIMIT %s""",
        (text, limit),
    ).fetchall()


def get_many(conn: psycopg.Connection, ids: Sequence[UUID | str]) -> list[dict]:
    """The videos of these ids (unknown ones left out)."""
    return conn.execute("SELECT * FROM videos WHERE id = ANY(%s::uuid[])", ([str(i) for i in ids],)).fetchall()


def cameras_named_in(conn: psycopg.Connection, text: str) -> list[str]:
    """The cameras (of any video) whose name occurs in text, any case."""
    return [row["camera"] for row in conn.execute(
        """SELECT DISTINCT camera FROM videos WHERE length(camera) >= 2 AND strpos(lower(%s), lower(camera)) > 0
           ORDER BY 1""", (text,)).fetchall()]


def camera_names(conn: psycopg.Connection) -> list[str]:
    """Every camera a video is on, by name."""
    return [row["camera"] for row in conn.execute(
        "SELECT DISTINCT camera FROM videos WHERE camera IS NOT NULL AND camera <> '' ORDER BY 1").fetchall()]


def of_camera(conn: psycopg.Connection, camera: str) -> list[UUID]:
    """The ids of a camera's videos (its name in any case)."""
    return [row["id"] for row in conn.execute(
        "SELECT id FROM videos WHERE lower(camera) = lower(%s) ORDER BY created_at", (camera,)).fetchall()]


def list_videos(conn: psycopg.Connection, *, status: str | None = None, name_like: str | None = None,
                limit: int = 500, offset: int = 0) -> list[dict]:
    return conn.execute(
        """SELECT v.*, (SELECT count(*) FROM events e WHERE e.video_id = v.id
                        AND e.run_id = v.current_run_id) AS event_count
           FROM videos v
           WHERE (%(status)s::text IS NULL OR v.status = %(status)s)
             AND (%(name)s::text IS NULL OR v.name ILIKE '%%' || %(name)s || '%%' ESCAPE '\\')
           ORDER BY v.created_at DESC LIMIT %(limit)s OFFSET %(offset)s""",
        {"status": status, "name": like_literal(name_like) if name_like is not None else None, "limit": limit,
         "offset": offset},
    ).fetchall()


def analysed_since(conn: psycopg.Connection, since) -> list[dict]:
    """Videos uploaded since then whose analysis completed, oldest first (no event counts: the dashboard's hours)."""
    return conn.execute(
        """SELECT * FROM videos WHERE status = 'completed' AND current_run_id IS NOT NULL AND created_at >= %s
           ORDER BY created_at""", (since,)).fetchall()


def analysed_clocks(conn: psycopg.Connection) -> list[dict]:
    """Every analysed video's id, names, duration and clock columns, oldest first: what dates its footage."""
    return conn.execute(
        """SELECT id, name, original_filename, duration_s, recorded_at, created_at, camera FROM videos
           WHERE status = 'completed' AND current_run_id IS NOT NULL ORDER BY created_at""").fetchall()


def update(conn: psycopg.Connection, video_id: UUID, **fields: Any) -> dict | None:
    """Update whitelisted columns; column names never come from user input."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    if not fields:
        return get(conn, video_id)
    sets = ", ".join(f"{name} = %({name})s" for name in fields)
    return conn.execute(
        f"UPDATE videos SET {sets}, updated_at = now() WHERE id = %(id)s RETURNING *",
        {**fields, "id": video_id},
    ).fetchone()


def set_progress(conn: psycopg.Connection, video_id: UUID, progress: float) -> None:
    conn.execute(
        "UPDATE videos SET progress = %s, updated_at = now() WHERE id = %s",
        (max(0.0, min(100.0, float(progress))), video_id),
    )


def delete(conn: psycopg.Connection, video_id: UUID) -> dict | None:
    """Delete the row (events, tracks, jobs, stats and summary cascade); return it."""
    return conn.execute("DELETE FROM videos WHERE id = %s RETURNING *", (video_id,)).fetchone()


def counts_by_status(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT status, count(*) AS n FROM videos GROUP BY status").fetchall()
    return {r["status"]: r["n"] for r in rows}


def tier_stats(conn: psycopg.Connection) -> list[dict]:
    return conn.execute(
        """SELECT storage_tier AS tier, count(*) AS videos, COALESCE(sum(size_bytes), 0)::bigint AS bytes
           FROM videos GROUP BY storage_tier ORDER BY storage_tier"""
    ).fetchall()


def older_than(conn: psycopg.Connection, *, days: float, tier: str | None = None) -> list[dict]:
    return conn.execute(
        """SELECT * FROM videos WHERE created_at < now() - make_interval(secs => %(secs)s)
             AND storage_key IS NOT NULL AND (%(tier)s::text IS NULL OR storage_tier = %(tier)s)
           ORDER BY created_at""",
        {"secs": days * 86400.0, "tier": tier},
    ).fetchall()
