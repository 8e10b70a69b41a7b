"""The chunks of one analysis (analysis_jobs rows sharing a batch id) and their partial results."""

from __future__ import annotations

import uuid
from typing import Sequence
from uuid import UUID

import psycopg

from db.repos.jobs import ACTIVE

CHUNKS_SHARE = 90.0  # per cent of the video's progress the chunks fill; stitching and writing the run the rest


def submit_batch(conn: psycopg.Connection, *, video_id: UUID, spans: Sequence[tuple[float, float]],
                 runner: str = "local", max_attempts: int = 3) -> list[dict]:
    """Queue one job per (t_start, t_end) span under a new batch id, unless the video has active jobs.

    Returns the video's active jobs in chunk order: the new ones, or those already queued or running.
    """
    with conn.transaction():
        # serialise submitters of the same video so two cannot queue two batches
        conn.execute("SELECT id FROM videos WHERE id = %s FOR UPDATE", (video_id,))
        active = conn.execute(
            "SELECT * FROM analysis_jobs WHERE video_id = %s AND status IN ('queued', 'running') ORDER BY chunk",
            (video_id,)).fetchall()
        if active:
            return active
        batch = uuid.uuid4()
        # results of earlier batches are never read again
        conn.execute("DELETE FROM chunk_results WHERE video_id = %s", (video_id,))
        with conn.cursor() as cur:
            cur.executemany(
                """INSERT INTO analysis_jobs (video_id, chunk, runner, max_attempts, batch_id, t_start, t_end)
                   VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                [(video_id, k, runner, max_attempts, batch, float(a), float(b)) for k, (a, b) in enumerate(spans)])
        return batch_jobs(conn, batch)


def batch_jobs(conn: psycopg.Connection, batch_id: UUID) -> list[dict]:
    return conn.execute("SELECT * FROM analysis_jobs WHERE batch_id = %s ORDER BY chunk", (batch_id,)).fetchall()


def latest_jobs(conn: psycopg.Connection, video_id: UUID) -> list[dict]:
    """The jobs of the video's latest analysis: every chunk of its batch, or its one job, or none."""
    latest = conn.execute(
        "SELECT * FROM analysis_jobs WHERE video_id = %s ORDER BY created_at DESC, chunk DESC LIMIT 1",
        (video_id,)).fetchone()
    if latest is None:
        return []
    return batch_jobs(conn, latest["batch_id"]) if latest["batch_id"] else [latest]


def claim_job(conn: psycopg.Connection, *, job_id: UUID, owner: str, lease_s: float) -> dict | None:
    """Take this job when it is queued, or running on a lease that expired (a Modal call per chunk)."""
    return conn.execute(
        """UPDATE analysis_jobs SET status = 'running', lease_owner = %(owner)s,
               lease_expires_at = now() + make_interval(secs => %(lease)s),
               attempts = attempts + 1, started_at = COALESCE(started_at, now()), error = NULL, updated_at = now()
           WHERE id = %(id)s AND ((status = 'queued' AND (not_before IS NULL OR not_before <= now()))
                                  OR (status = 'running' AND lease_expires_at < now()))
           RETURNING *""",
        {"id": job_id, "owner": owner, "lease": lease_s}).fetchone()


def set_start(conn: psycopg.Connection, *, job_id: UUID, t_start: float) -> None:
    """Move a chunk's start to where its decoding really starts (a keyframe)."""
    conn.execute("UPDATE analysis_jobs SET t_start = %s, updated_at = now() WHERE id = %s", (t_start, job_id))


def set_progress(conn: psycopg.Connection, *, job_id: UUID, progress: float) -> float | None:
    """Record one chunk's progress (0-100) and set its video's to the chunks' sum; returns the video's figure."""
    row = conn.execute(
        """UPDATE analysis_jobs SET progress = %s, updated_at = now()
           WHERE id = %s AND status = 'running' RETURNING batch_id, video_id""",
        (max(0.0, min(100.0, float(progress))), job_id)).fetchone()
    if row is None or row["batch_id"] is None:
        return None
    # each chunk weighs by the seconds it adds after the one before (its start moves to a keyframe; its end
    # does not), so the figure moves at the pace of the video and never drops
    return conn.execute(
        """UPDATE videos v SET progress = LEAST(100, GREATEST(0, s.p)), updated_at = now()
           FROM (SELECT %(share)s * sum(progress * w) / sum(w) / 100 AS p
                 FROM (SELECT progress, GREATEST(t_end - COALESCE(lag(t_end) OVER (ORDER BY chunk), 0), 0.001) AS w
                       FROM analysis_jobs WHERE batch_id = %(batch)s) weighted) s
           WHERE v.id = %(video)s RETURNING v.progress""",
        {"share": CHUNKS_SHARE, "batch": row["batch_id"], "video": row["video_id"]}).fetchone()["progress"]


def save_result(conn: psycopg.Connection, *, job: dict, fps: float, frame_size: tuple[int, int], frames: int,
                data: bytes, stats: bytes) -> None:
    """Store a chunk's partial result (replacing an earlier attempt's)."""
    conn.execute(
        """INSERT INTO chunk_results (job_id, video_id, batch_id, chunk, t_start, t_end, fps, frame_width,
                                      frame_height, frames, data, stats)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
           ON CONFLICT (job_id) DO UPDATE SET t_start = EXCLUDED.t_start, t_end = EXCLUDED.t_end,
               fps = EXCLUDED.fps, frames = EXCLUDED.frames, data = EXCLUDED.data, stats = EXCLUDED.stats,
               created_at = now()""",
        (job["id"], job["video_id"], job["batch_id"], job["chunk"], float(job["t_start"]), float(job["t_end"]),
         float(fps), int(frame_size[0]), int(frame_size[1]), int(frames), data, stats))


def has_result(conn: psycopg.Connection, job_id: UUID) -> bool:
    return conn.execute("SELECT 1 FROM chunk_results WHERE job_id = %s", (job_id,)).fetchone() is not None


def results(conn: psycopg.Connection, batch_id: UUID) -> list[dict]:
    return conn.execute("SELECT * FROM chunk_results WHERE batch_id = %s ORDER BY chunk", (batch_id,)).fetchall()


def delete_results(conn: psycopg.Connection, batch_id: UUID) -> None:
    conn.execute("DELETE FROM chunk_results WHERE batch_id = %s", (batch_id,))


def complete_unless_last(conn: psycopg.Connection, *, job: dict, owner: str) -> bool:
    """Mark this chunk completed, unless every other chunk of its batch already is: then True, and the
    caller (still holding the job's lease) stitches the run and completes the job after it.

    One transaction under the video's row lock, so of two chunks ending together exactly one stitches.
    """
    with conn.transaction():
        conn.execute("SELECT id FROM videos WHERE id = %s FOR UPDATE", (job["video_id"],))
        left = conn.execute(
            "SELECT count(*) AS n FROM analysis_jobs WHERE batch_id = %s AND id <> %s AND status <> 'completed'",
            (job["batch_id"], job["id"])).fetchone()["n"]
        if left == 0:
            return True
        conn.execute(
            """UPDATE analysis_jobs SET status = 'completed', progress = 100, finished_at = now(),
                   lease_expires_at = NULL, not_before = NULL, updated_at = now()
               WHERE id = %s AND status = 'running' AND lease_owner = %s""", (job["id"], owner))
        return False


def cancel_batch(conn: psycopg.Connection, batch_id: UUID) -> list[dict]:
    """Cancel every chunk of the batch still queued or running; returns them."""
    return conn.execute(
        """UPDATE analysis_jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
               updated_at = now()
           WHERE batch_id = %s AND status = ANY(%s) RETURNING *""",
        (batch_id, list(ACTIVE))).fetchall()
