"""The analysis_jobs queue: idempotent submit, SKIP LOCKED claims with renewable leases."""

from __future__ import annotations

from uuid import UUID

import psycopg

ACTIVE = ("queued", "running")


def submit(conn: psycopg.Connection, *, video_id: UUID, runner: str = "local",
           max_attempts: int = 3, chunk: int = 0) -> dict:
    """Queue a job for the video unless one is already active; return the active job."""
    row = conn.execute(
        """INSERT INTO analysis_jobs (video_id, chunk, runner, max_attempts)
           VALUES (%s, %s, %s, %s)
           ON CONFLICT (video_id, chunk) WHERE status IN ('queued', 'running') DO NOTHING
           RETURNING *""",
        (video_id, chunk, runner, max_attempts),
    ).fetchone()
    if row is None:
        row = conn.execute(
            "SELECT * FROM analysis_jobs WHERE video_id = %s AND chunk = %s AND status IN ('queued', 'running')",
            (video_id, chunk),
        ).fetchone()
    return row


def claim(conn: psycopg.Connection, *, owner: str, lease_s: float, runner: str = "local") -> dict | None:
    """Take the oldest queued job, or a running one whose lease expired (its worker died)."""
    return conn.execute(
        """UPDATE analysis_jobs j
           SET status = 'running', lease_owner = %(owner)s,
               lease_expires_at = now() + make_interval(secs => %(lease)s),
               attempts = j.attempts + 1, started_at = COALESCE(j.started_at, now()),
               error = NULL, updated_at = now()
           WHERE j.id = (
               SELECT id FROM analysis_jobs
               WHERE runner = %(runner)s AND (
                      (status = 'queued' AND (not_before IS NULL OR not_before <= now()))
                      OR (status = 'running' AND lease_expires_at < now()))
               ORDER BY created_at, chunk
               FOR UPDATE SKIP LOCKED
               LIMIT 1)
           RETURNING j.*""",
        {"owner": owner, "lease": lease_s, "runner": runner},
    ).fetchone()


def claim_video(conn: psycopg.Connection, *, video_id: UUID, owner: str, lease_s: float) -> dict | None:
    """Take this video's queued job (for synchronous analysis from the CLI)."""
    return conn.execute(
        """UPDATE analysis_jobs j
           SET status = 'running', lease_owner = %(owner)s,
               lease_expires_at = now() + make_interval(secs => %(lease)s),
               attempts = j.attempts + 1, started_at = COALESCE(j.started_at, now()), updated_at = now()
           WHERE j.id = (SELECT id FROM analysis_jobs WHERE video_id = %(video)s AND status = 'queued'
                         ORDER BY created_at, chunk FOR UPDATE SKIP LOCKED LIMIT 1)
           RETURNING j.*""",
        {"owner": owner, "lease": lease_s, "video": video_id},
    ).fetchone()


def renew(conn: psycopg.Connection, *, job_id: UUID, owner: str, lease_s: float, progress: float | None = None) -> bool:
    """Extend the lease; False when the job is no longer ours (cancelled or taken over)."""
    row = conn.execute(
        """UPDATE analysis_jobs SET lease_expires_at = now() + make_interval(secs => %(lease)s),
               progress = COALESCE(%(progress)s, progress), updated_at = now()
           WHERE id = %(id)s AND lease_owner = %(owner)s AND status = 'running'
           RETURNING id""",
        {"id": job_id, "owner": owner, "lease": lease_s, "progress": progress},
    ).fetchone()
    return row is not None


def complete(conn: psycopg.Connection, *, job_id: UUID, owner: str | None = None) -> bool:
    row = conn.execute(
        """UPDATE analysis_jobs SET status = 'completed', progress = 100, finished_at = now(),
               lease_expires_at = NULL, not_before = NULL, updated_at = now()
           WHERE id = %(id)s AND status = 'running' AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s)
           RETURNING id""",
        {"id": job_id, "owner": owner},
    ).fetchone()
    return row is not None


def fail(conn: psycopg.Connection, *, job_id: UUID, error: str, owner: str | None = None) -> dict | None:
    """Record the failure; requeue while attempts remain, else mark failed. Returns the job."""
    return conn.execute(
        """UPDATE analysis_jobs SET error = %(error)s, lease_owner = NULL, lease_expires_at = NULL,
               status = CASE WHEN attempts < max_attempts THEN 'queued' ELSE 'failed' END,
               finished_at = CASE WHEN attempts < max_attempts THEN NULL ELSE now() END,
               updated_at = now()
           WHERE id = %(id)s AND status = 'running' AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s)
           RETURNING *""",
        {"id": job_id, "error": error[:2000], "owner": owner},
    ).fetchone()


def defer(conn: psycopg.Connection, *, job_id: UUID, error: str, delay_s: float,
          owner: str | None = None) -> dict | None:
    """Queue the job again after `delay_s` without spending an attempt: a dependency was down, not the analysis."""
    return conn.execute(
        """UPDATE analysis_jobs SET error = %(error)s, lease_owner = NULL, lease_expires_at = NULL,
               status = 'queued', attempts = GREATEST(attempts - 1, 0), deferrals = deferrals + 1,
               deferred_since = COALESCE(deferred_since, now()),
               not_before = now() + make_interval(secs => %(delay)s), updated_at = now()
           WHERE id = %(id)s AND status = 'running' AND (%(owner)s::text IS NULL OR lease_owner = %(owner)s)
           RETURNING *""",
        {"id": job_id, "error": error[:2000], "owner": owner, "delay": delay_s},
    ).fetchone()


def cancel(conn: psycopg.Connection, job_id: UUID) -> dict | None:
    return conn.execute(
        """UPDATE analysis_jobs SET status = 'cancelled', finished_at = now(), lease_expires_at = NULL,
               updated_at = now()
           WHERE id = %s AND status IN ('queued', 'running') RETURNING *""",
        (job_id,),
    ).fetchone()


def retry(conn: psycopg.Connection, job_id: UUID) -> dict | None:
    """Queue a finished (failed or cancelled) job's video again as a fresh job."""
    old = get(conn, job_id)
    if old is None or old["status"] in ACTIVE:
        return old
    return submit(conn, video_id=old["video_id"], runner=old["runner"], max_attempts=old["max_attempts"],
                  chunk=old["chunk"])


def set_external_id(conn: psycopg.Connection, *, job_id: UUID, external_id: str) -> None:
    conn.execute("UPDATE analysis_jobs SET external_id = %s, updated_at = now() WHERE id = %s", (external_id, job_id))


def get(conn: psycopg.Connection, job_id: UUID) -> dict | None:
    return conn.execute("SELECT * FROM analysis_jobs WHERE id = %s", (job_id,)).fetchone()


def latest_for_video(conn: psycopg.Connection, video_id: UUID) -> dict | None:
    return conn.execute(
        # the chunks of one analysis share created_at: the first chunk stands for them
        "SELECT * FROM analysis_jobs WHERE video_id = %s ORDER BY created_at DESC, chunk LIMIT 1", (video_id,)
    ).fetchone()


def list_jobs(conn: psycopg.Connection, *, status: str | None = None, limit: int = 200) -> list[dict]:
    return conn.execute(
        """SELECT j.*, v.name AS video_name FROM analysis_jobs j JOIN videos v ON v.id = j.video_id
           WHERE (%(status)s::text IS NULL OR j.status = %(status)s)
           ORDER BY j.created_at DESC LIMIT %(limit)s""",
        {"status": status, "limit": limit},
    ).fetchall()


def active_by_runner(conn: psycopg.Connection, runner: str) -> list[dict]:
    return conn.execute(
        "SELECT * FROM analysis_jobs WHERE runner = %s AND status IN ('queued', 'running') ORDER BY created_at",
        (runner,),
    ).fetchall()


def mark_failed(conn: psycopg.Connection, *, job_id: UUID, error: str) -> None:
    """Fail a job outright (its remote call raised); no retry from here."""
    conn.execute(
        """UPDATE analysis_jobs SET status = 'failed', error = %s, finished_at = now(), lease_expires_at = NULL,
               updated_at = now() WHERE id = %s AND status IN ('queued', 'running')""",
        (error[:2000], job_id),
    )
