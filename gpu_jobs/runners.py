"""JobRunner port: where analysis jobs run. LocalRunner (a worker claiming from Postgres) or ModalRunner."""

from __future__ import annotations

import logging
import os
from typing import Protocol
from uuid import UUID

from db.repos import jobs, videos

log = logging.getLogger(__name__)


class JobRunner(Protocol):
    name: str

    def submit(self, video_id: UUID) -> dict:
        """Queue analysis of the video (idempotent: one active job per video); return the job row."""

    def cancel(self, job_id: UUID) -> dict | None:
        """Stop a queued or running job."""

    def refresh(self) -> None:
        """Bring job rows up to date with the outside world (no-op for the local queue)."""


class LocalRunner:
    """Jobs wait in the Postgres queue; `sentinel worker` (started by `sentinel serve`) claims them."""

    name = "local"

    def __init__(self, app) -> None:
        self.app = app

    def submit(self, video_id: UUID) -> dict:
        with self.app.db.connection() as conn:
            job = jobs.submit(conn, video_id=video_id, runner=self.name,
                              max_attempts=self.app.settings.job_max_attempts)
            video = videos.get(conn, video_id)
            if video["status"] in ("failed", "completed") and job["status"] == "queued":
                videos.update(conn, video_id, status="pending", progress=0, error=None)
        return job

    def cancel(self, job_id: UUID) -> dict | None:
        with self.app.db.connection() as conn:
            job = jobs.cancel(conn, job_id)
            if job:
                _mark_video_cancelled(conn, job["video_id"])
        return job

    def refresh(self) -> None:
        return None


class ModalRunner:
    """Each job is a call of the deployed Modal function `analyze_video`; it writes progress to the database."""

    name = "modal"

    def __init__(self, app, *, function=None) -> None:
        self.app = app
        self._function = function

    @property
    def function(self):
        if self._function is None:
            import modal

            self._function = modal.Function.from_name("sentinel", "analyze_video")
        return self._function

    def submit(self, video_id: UUID) -> dict:
        with self.app.db.connection() as conn:
            job = jobs.submit(conn, video_id=video_id, runner=self.name,
                              max_attempts=self.app.settings.job_max_attempts)
        if job["external_id"]:
            return job
        call = self.function.spawn(str(video_id), str(job["id"]))
        with self.app.db.connection() as conn:
            jobs.set_external_id(conn, job_id=job["id"], external_id=call.object_id)
            return jobs.get(conn, job["id"])

    def cancel(self, job_id: UUID) -> dict | None:
        with self.app.db.connection() as conn:
            job = jobs.get(conn, job_id)
        if job and job["external_id"]:
            self._call(job["external_id"]).cancel()
        with self.app.db.connection() as conn:
            job = jobs.cancel(conn, job_id)
            if job:
                _mark_video_cancelled(conn, job["video_id"])
        return job

    def _call(self, call_id: str):
        import modal

        return modal.FunctionCall.from_id(call_id)

    def refresh(self) -> None:
        """Failures come from the FunctionCall: a call that raised marks its job and video failed."""
        with self.app.db.connection() as conn:
            active = jobs.active_by_runner(conn, self.name)
        for job in active:
            if not job["external_id"]:
                continue
            try:
                self._call(job["external_id"]).get(timeout=0)
            except TimeoutError:
                continue  # still running
            except Exception as exc:  # the remote function raised or was lost
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                message = f"Modal call failed: {first}"
                with self.app.db.connection() as conn:
                    jobs.mark_failed(conn, job_id=job["id"], error=message)
                    videos.update(conn, job["video_id"], status="failed", error=message)


def _mark_video_cancelled(conn, video_id: UUID) -> None:
    video = videos.get(conn, video_id)
    if video and video["status"] in ("pending", "processing"):
        videos.update(conn, video_id, status="failed", error="Analysis was cancelled.")


def modal_token_configured() -> bool:
    if os.environ.get("MODAL_TOKEN_ID") and os.environ.get("MODAL_TOKEN_SECRET"):
        return True
    return os.path.exists(os.path.expanduser("~/.modal.toml"))


def make_runner(app) -> JobRunner:
    return ModalRunner(app) if app.settings.runner == "modal" else LocalRunner(app)
