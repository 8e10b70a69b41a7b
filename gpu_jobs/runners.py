"""JobRunner port: where analysis jobs run. LocalRunner (a worker claiming from Postgres) or ModalRunner."""

from __future__ import annotations

import logging
import os
from typing import Protocol
from uuid import UUID

from db.repos import chunks, jobs, videos

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
            job = queue_analysis(self.app, conn, video_id, runner=self.name)[0]
            video = videos.get(conn, video_id)
            if video["status"] in ("failed", "completed") and job["status"] == "queued":
                videos.update(conn, video_id, status="pending", progress=0, error=None)
        return job

    def cancel(self, job_id: UUID) -> dict | None:
        with self.app.db.connection() as conn:
            job = cancel_all(conn, job_id)
            if job:
                _mark_video_cancelled(conn, job["video_id"])
        return job

    def refresh(self) -> None:
        return None


class ModalRunner:
    """Each job is a call of the deployed Modal function `analyze_video`; it writes progress to the database."""

    name = "modal"

    def __init__(self, app, *, function=None, chunk_function=None) -> None:
        self.app = app
        self._function = function
        self._chunk_function = chunk_function or function

    @property
    def chunk_function(self):
        if self._chunk_function is None:
            import modal

            self._chunk_function = modal.Function.from_name("sentinel", "analyze_chunk")
        return self._chunk_function

    @property
    def function(self):
        if self._function is None:
            import modal

            self._function = modal.Function.from_name("sentinel", "analyze_video")
        return self._function

    def submit(self, video_id: UUID) -> dict:
        """One call per job: `analyze_video` for a short video, `analyze_chunk` for each chunk of a long one."""
        with self.app.db.connection() as conn:
            queued = queue_analysis(self.app, conn, video_id, runner=self.name)
        for job in queued:
            if job["external_id"]:
                continue
            function = self.chunk_function if job["batch_id"] else self.function
            call = function.spawn(str(video_id), str(job["id"]))
            with self.app.db.connection() as conn:
                jobs.set_external_id(conn, job_id=job["id"], external_id=call.object_id)
        with self.app.db.connection() as conn:
            return jobs.get(conn, queued[0]["id"])

    def cancel(self, job_id: UUID) -> dict | None:
        with self.app.db.connection() as conn:
            job = jobs.get(conn, job_id)
            siblings = chunks.batch_jobs(conn, job["batch_id"]) if job and job["batch_id"] else [job] if job else []
        self._cancel_calls(siblings)
        with self.app.db.connection() as conn:
            job = cancel_all(conn, job_id)
            if job:
                _mark_video_cancelled(conn, job["video_id"])
        return job

    def _cancel_calls(self, rows: list[dict]) -> None:
        for row in rows:
            if row["external_id"] and row["status"] in jobs.ACTIVE:
                try:
                    self._call(row["external_id"]).cancel()
                except Exception:  # a call that already ended cannot be cancelled; its row is cancelled below
                    log.warning("could not cancel Modal call %s", row["external_id"], exc_info=True)

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
                    siblings = chunks.batch_jobs(conn, job["batch_id"]) if job["batch_id"] else []
                    videos.update(conn, job["video_id"], status="failed", error=message)
                # Modal already retried this call; without its chunk the run cannot be stitched
                self._cancel_calls([s for s in siblings if s["id"] != job["id"]])
                if siblings:
                    with self.app.db.connection() as conn:
                        chunks.cancel_batch(conn, job["batch_id"])


def queue_analysis(app, conn, video_id: UUID, *, runner: str) -> list[dict]:
    """Queue the video's analysis: one job, or one per chunk when it is long. Returns its active jobs."""
    from gpu_jobs.chunks import plan_chunks

    s = app.settings
    video = videos.get(conn, video_id)
    spans = plan_chunks(float(video["duration_s"] or 0.0) if video else 0.0, chunk_s=s.chunk_s,
                        overlap_s=s.chunk_overlap_s)
    if len(spans) == 1:
        return [jobs.submit(conn, video_id=video_id, runner=runner, max_attempts=s.job_max_attempts)]
    return chunks.submit_batch(conn, video_id=video_id, spans=[(c.t_start, c.t_end) for c in spans],
                               runner=runner, max_attempts=s.job_max_attempts)


def cancel_all(conn, job_id: UUID) -> dict | None:
    """Cancel the job and, for a chunk, every other chunk of its video's analysis; returns the job."""
    job = jobs.get(conn, job_id)
    if job and job["batch_id"]:
        cancelled = {row["id"]: row for row in chunks.cancel_batch(conn, job["batch_id"])}
        return cancelled.get(job_id)
    return jobs.cancel(conn, job_id)


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
