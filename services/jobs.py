"""Analysis jobs: the queue as the admin sees it, retry and cancel."""

from __future__ import annotations

import logging
from uuid import UUID

from db.repos import jobs

log = logging.getLogger(__name__)


def list_jobs(app, *, status: str | None = None, limit: int = 200) -> list[dict]:
    try:
        app.runner.refresh()  # Modal jobs learn about remote failures here
    except Exception:  # a refresh problem must not hide the queue
        log.warning("could not refresh the runner's jobs", exc_info=True)
    with app.db.connection() as conn:
        return jobs.list_jobs(conn, status=status, limit=limit)


def running_jobs(app) -> list[dict]:
    return [j for j in list_jobs(app, limit=100) if j["status"] in jobs.ACTIVE]


def retry_job(app, *, job_id: UUID | str) -> dict | None:
    with app.db.connection() as conn:
        old = jobs.get(conn, UUID(str(job_id)))
        if old is not None and old["batch_id"] and old["status"] not in jobs.ACTIVE:
            # a chunk alone cannot be stitched into a run: the video's whole analysis is queued again
            return app.runner.submit(old["video_id"])
        job = jobs.retry(conn, UUID(str(job_id)))
    if job is not None and job["status"] == "queued":
        # the runner owns how a queued job starts (a Modal call, or the local worker's next claim)
        job = app.runner.submit(job["video_id"])
    return job


def cancel_job(app, *, job_id: UUID | str) -> dict | None:
    return app.runner.cancel(UUID(str(job_id)))
