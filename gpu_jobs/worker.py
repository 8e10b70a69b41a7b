"""The local worker: claims jobs from the Postgres queue, renews their lease, runs the pipeline."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Callable

from core.errors import is_transient
from db.repos import chunks, jobs, videos
from gpu_jobs.pipeline import JobCancelled, get_analyzer, run_analysis

log = logging.getLogger(__name__)

ALERT_SWEEP_S = 15.0  # an idle worker sends alerts still due at most this often


def _chunk_name(job: dict) -> str:
    return f"Chunk {job['chunk'] + 1}: " if job.get("batch_id") else ""


def _waiting(job: dict) -> dict:
    """The video's status while a job waits for its retry: a chunk's siblings may still be running."""
    return {} if job.get("batch_id") else {"status": "pending"}


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


class Heartbeat(threading.Thread):
    """Renews a job's lease; notices when the job was cancelled or taken over."""

    def __init__(self, app, job_id, owner: str, lease_s: float) -> None:
        super().__init__(name="lease", daemon=True)
        self.app, self.job_id, self.owner, self.lease_s = app, job_id, owner, lease_s
        self.lost = threading.Event()
        self._stopping = threading.Event()  # Thread._stop is Python's own, called after every fork

    def run(self) -> None:
        while not self._stopping.wait(max(0.5, self.lease_s / 3)):
            try:
                with self.app.db.connection() as conn:
                    if not jobs.renew(conn, job_id=self.job_id, owner=self.owner, lease_s=self.lease_s):
                        self.lost.set()
                        return
            except Exception:  # a missed renewal is retried; the lease has slack for it
                log.warning("lease renewal failed", exc_info=True)

    def stop(self) -> None:
        self._stopping.set()


class Worker:
    """Processes queued analysis jobs one at a time."""

    def __init__(self, app, *, owner: str | None = None, poll_s: float = 1.0) -> None:
        self.app = app
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.poll_s = poll_s
        self.lease_s = app.settings.job_lease_s

    def warm_up(self) -> None:
        """Load the models before the first job needs them (a fresh data folder converts them: ~30 s).

        Meant for a background thread at start-up: a job claimed meanwhile waits for the same
        loads instead of sitting at 0 % while they happen. A failure here is only logged; the
        job then loads the models itself and reports any error on the video.
        """
        from core.runtime.embeddings import get_embeddings

        began = time.perf_counter()
        try:
            get_analyzer(self.app.settings)
            get_embeddings(self.app.settings)
        except Exception:
            log.warning("model warm-up failed; the first job will load the models itself", exc_info=True)
            return
        log.info("models ready in %.1f s", time.perf_counter() - began)

    def claim(self) -> dict | None:
        with self.app.db.connection() as conn:
            return jobs.claim(conn, owner=self.owner, lease_s=self.lease_s, runner="local")

    def process(self, job: dict, *, progress: Callable[[float], None] | None = None) -> dict | None:
        """Run one claimed job to completion or failure; return the analysis summary on success.

        `progress` sees every progress value (0-100) as the video row gets it.
        """
        heartbeat = Heartbeat(self.app, job["id"], self.owner, self.lease_s)
        heartbeat.start()
        try:
            if job.get("batch_id"):
                from gpu_jobs.chunk_run import run_chunk

                summary = run_chunk(self.app, job, get_analyzer(self.app.settings), owner=self.owner,
                                    should_stop=heartbeat.lost.is_set, observer=progress)
            else:
                summary = run_analysis(self.app, job["video_id"], get_analyzer(self.app.settings),
                                       should_stop=heartbeat.lost.is_set, observer=progress)
        except JobCancelled:
            log.info("job %s was cancelled or taken over", job["id"])
            return None
        except Exception as exc:
            transient = is_transient(exc)
            if transient:
                log.warning("job %s: a dependency is down (%s); it will be retried", job["id"], _one_line(exc))
            else:
                log.exception("job %s failed", job["id"])
            self._record_with_retries(job, _one_line(exc), transient=transient)
            raise
        finally:
            heartbeat.stop()
        try:
            with self.app.db.connection() as conn:
                jobs.complete(conn, job_id=job["id"], owner=self.owner)
        except Exception:
            log.exception("job %s finished but could not be marked completed", job["id"])
            raise
        return summary

    def retry_delay_s(self, job: dict) -> float | None:
        """Seconds to wait before a deferred job runs again, or None once its outage lasted too long."""
        s = self.app.settings
        since = job.get("deferred_since")
        if since is not None and (datetime.now(timezone.utc) - since).total_seconds() > s.job_retry_give_up_s:
            return None
        cap = min(s.job_retry_max_delay_s, s.job_retry_base_s * 2 ** int(job.get("deferrals") or 0))
        return cap * random.uniform(0.5, 1.0)  # full jitter on the upper half: workers don't retry in lockstep

    def _record_with_retries(self, job: dict, message: str, *, transient: bool) -> None:
        """Record the outcome; while the database itself is down, keep trying for about one lease."""
        delay, deadline = 0.5, time.monotonic() + self.lease_s
        while True:
            try:
                if transient and self._defer(job, message):
                    return
                self._record_failure(job, message)
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    # the lease expires and another claim retries it; say why it stayed running
                    log.exception("could not record the outcome of job %s", job["id"])
                    return
                time.sleep(delay)
                delay = min(2 * delay, 10.0)

    def _defer(self, job: dict, message: str) -> bool:
        """Queue the job again later without spending an attempt; False once the outage lasted too long."""
        wait = self.retry_delay_s(job)
        if wait is None:
            return False
        with self.app.db.connection() as conn:
            if jobs.defer(conn, job_id=job["id"], error=message, delay_s=wait, owner=self.owner) is not None:
                videos.update(conn, job["video_id"], **_waiting(job),
                              error=f"{_chunk_name(job)}{message}; retrying in {wait:.0f} s, on its own.")
        return True

    def _record_failure(self, job: dict, message: str) -> None:
        with self.app.db.connection() as conn:
            updated = jobs.fail(conn, job_id=job["id"], error=message, owner=self.owner)
            if updated is None:
                return
            if updated["status"] == "failed":
                if updated.get("batch_id"):  # the run cannot be stitched without this chunk: stop the others
                    chunks.cancel_batch(conn, updated["batch_id"])
                videos.update(conn, job["video_id"], status="failed", error=f"{_chunk_name(job)}{message}")
            else:
                videos.update(conn, job["video_id"], **_waiting(job),
                              error=f"{_chunk_name(job)}Attempt {updated['attempts']} failed ({message}); retrying.")

    def run_once(self) -> bool:
        """Claim and process one job; False when the queue is empty."""
        job = self.claim()
        if job is None:
            return False
        log.info("claimed job %s for video %s (attempt %d)", job["id"], job["video_id"], job["attempts"])
        try:
            self.process(job)
        except Exception:  # process() logged it and recorded it on the job and video; the worker lives on
            log.debug("job %s ended in failure", job["id"])
        return True

    def run_forever(self, stop: threading.Event | None = None) -> None:
        from gpu_jobs import alerts

        stop = stop or threading.Event()
        log.info("worker %s polling for jobs", self.owner)
        next_alerts = 0.0
        while not stop.is_set():
            try:
                if not self.run_once():
                    if time.monotonic() >= next_alerts:  # alerts a run could not send: retried while idle
                        next_alerts = time.monotonic() + ALERT_SWEEP_S
                        alerts.deliver_due(self.app)
                    stop.wait(self.poll_s)
            except Exception:  # the database may be restarting; keep polling
                log.warning("worker loop error", exc_info=True)
                stop.wait(5 * self.poll_s)


def run_claimed_job(app, *, video_id, job_id=None, owner: str) -> dict:
    """Claim this job (or the video's queued one, created if needed) and run it here: the Modal entry point.

    A chunk's call returns its own summary; the call of the chunk that ends last returns the run's.
    """
    import uuid as _uuid

    video_id = _uuid.UUID(str(video_id))
    worker = Worker(app, owner=owner)
    with app.db.connection() as conn:
        if job_id is None:
            jobs.submit(conn, video_id=video_id, runner=app.settings.runner,
                        max_attempts=app.settings.job_max_attempts)
            job = jobs.claim_video(conn, video_id=video_id, owner=worker.owner, lease_s=worker.lease_s)
        else:
            job = chunks.claim_job(conn, job_id=_uuid.UUID(str(job_id)), owner=worker.owner, lease_s=worker.lease_s)
    if job is None:
        with app.db.connection() as conn:
            row = jobs.get(conn, _uuid.UUID(str(job_id))) if job_id is not None else None
        if row is not None and row["status"] in ("cancelled", "completed"):
            # a retried call whose job ended meanwhile: nothing to do, and nothing for Modal to retry again
            return {"video_id": str(video_id), "job_id": str(row["id"]), "status": row["status"]}
        raise RuntimeError(f"No queued analysis job for video {video_id}.")
    summary = worker.process(job)
    if summary is None:  # cancelled (by the user, or a chunk that failed for good) or taken over: not a failure
        with app.db.connection() as conn:
            row = jobs.get(conn, job["id"])
        return {"video_id": str(video_id), "job_id": str(job["id"]), "status": row["status"] if row else "deleted"}
    return summary
