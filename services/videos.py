"""Videos: list, look up, upload, analyse now or in the queue, watch progress, delete."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Sequence
from uuid import UUID

from core.errors import VideoNotFound
from core.vocabulary import PERSON
from db.repos import chunks, events, jobs, runs, videos

log = logging.getLogger(__name__)

ACTIVE_STATUSES = ("pending", "processing")


def _uuid(value: UUID | str) -> UUID | None:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return None


def get_video(app, *, video_id: UUID | str | None) -> dict | None:
    """The video row with this id, or None (also for an id that is not a UUID)."""
    key = _uuid(video_id) if video_id else None
    if key is None:
        return None
    with app.db.connection() as conn:
        return videos.get(conn, key)


def video_by_id(app, *, video_id: UUID | str) -> dict:
    """The video row with this id; raises VideoNotFound."""
    row = get_video(app, video_id=video_id)
    if row is None:
        raise VideoNotFound(video_id)
    return row


def require_video(app, *, ref: UUID | str, exact: bool = False) -> dict:
    """The video with this id or name; raises VideoNotFound.

    `exact` refuses a name prefix, for commands that change or delete data.
    """
    with app.db.connection() as conn:
        row = videos.find(conn, str(ref))
    if row is None or (exact and str(ref) not in (str(row["id"]), row["name"], row["original_filename"])):
        raise VideoNotFound(ref)
    return row


def list_videos(app, *, name: str | None = None, statuses: Sequence[str] | None = None,
                limit: int = 500, offset: int = 0) -> list[dict]:
    """Videos, newest first, filtered by a name fragment and a set of statuses.

    Each row also says `job`: the status of its active analysis job ('queued', 'running') or None,
    so a pending video that was never submitted can be told from one waiting in the queue.
    """
    one_status = statuses[0] if statuses and len(statuses) == 1 else None
    with app.db.connection() as conn:
        rows = videos.list_videos(conn, status=one_status, name_like=(name or "").strip() or None,
                                  limit=limit, offset=offset)
        active = _active_jobs(conn)
    if statuses:
        rows = [r for r in rows if r["status"] in statuses]
    return [{**r, "job": active.get(r["id"])} for r in rows]


def _active_jobs(conn) -> dict[UUID, str]:
    return {j["video_id"]: j["status"] for s in jobs.ACTIVE for j in jobs.list_jobs(conn, status=s, limit=1000)}


def video_counts(app) -> dict[str, int]:
    with app.db.connection() as conn:
        return videos.counts_by_status(conn)


def video_choices(app) -> dict[str, str]:
    """{video id: name} for select boxes, newest first."""
    return {str(v["id"]): v["name"] for v in list_videos(app)}


@dataclass(frozen=True, slots=True)
class VideoDetail:
    """One video with its latest job, its events by type and whether the player can stream it."""

    video: dict
    job: dict | None
    events_by_type: dict[str, int]
    playable: bool
    chunks: list[dict] = field(default_factory=list)  # chunk_list of its latest analysis

    @property
    def event_count(self) -> int:
        return sum(self.events_by_type.values())


def video_detail(app, *, video_id: UUID | str) -> VideoDetail:
    """The video page and `GET /v1/videos/{id}`: raises VideoNotFound."""
    from services.storage import playable

    if app.settings.runner == "modal":
        try:
            app.runner.refresh()  # a Modal call that crashed is only noticed by asking Modal
        except Exception:
            log.warning("could not refresh Modal jobs", exc_info=True)
    row = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        job = jobs.latest_for_video(conn, row["id"])
        by_type = events.counts_by_type(conn, row["id"])
        parts = chunk_list(row, chunks.latest_jobs(conn, row["id"]))
    return VideoDetail(row, job, dict(by_type), playable(row)[0], parts)


def chunk_list(video: dict, rows: list[dict]) -> list[dict]:
    """{"index", "t_start", "t_end", "status", "progress"} per chunk of the latest analysis; one for a whole-file
    job (whose progress is the video's), none for a video never queued."""
    if len(rows) == 1 and not rows[0]["batch_id"]:
        job = rows[0]
        progress = {"completed": 100.0, "running": float(video["progress"] or 0)}.get(job["status"],
                                                                                      float(job["progress"] or 0))
        return [{"index": 0, "t_start": 0.0, "t_end": float(video["duration_s"] or 0.0), "status": job["status"],
                 "progress": progress}]
    return [{"index": j["chunk"], "t_start": float(j["t_start"]), "t_end": float(j["t_end"]), "status": j["status"],
             "progress": float(j["progress"] or 0)} for j in rows]


@dataclass(slots=True)
class ProgressSnapshot:
    """One poll of the videos a progress display is watching."""

    rows: list[dict] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True while any watched video waits for or is under analysis: keep polling."""
        return any(r["status"] in ACTIVE_STATUSES for r in self.rows)

    @property
    def done(self) -> bool:
        return bool(self.rows) and not self.active


def poll_progress(app, *, video_ids: Sequence[UUID | str] | None = None, name: str | None = None,
                  statuses: Sequence[str] | None = None) -> ProgressSnapshot:
    """The current status and progress of some videos (by id) or of the filtered list.

    This is the whole polling logic of the live progress fragments, kept apart from Streamlit
    so it can be tested directly (AppTest does not fire `run_every` timers).
    """
    if video_ids is None:
        return ProgressSnapshot(list_videos(app, name=name, statuses=statuses))
    wanted = [str(v) for v in video_ids]
    with app.db.connection() as conn:
        found = {str(r["id"]): r for r in (videos.get(conn, v) for v in wanted) if r}
        active = _active_jobs(conn)
        counts = {v: sum(events.counts_by_type(conn, found[v]["id"]).values()) for v in found}
        parts = {v: chunk_list(found[v], chunks.latest_jobs(conn, found[v]["id"])) for v in found}
    return ProgressSnapshot([{**found[v], "job": active.get(found[v]["id"]), "event_count": counts[v],
                              "chunks": parts[v]} for v in wanted if v in found])


def submit_analysis(app, *, video_id: UUID | str) -> dict:
    """Queue analysis of one video (idempotent: an active job is returned as is)."""
    return app.runner.submit(UUID(str(video_id)))


def upload(app, *, stream: BinaryIO, filename: str, on_bytes: Callable[[int], None] | None = None,
           submit: bool = True, camera: str | None = None):
    """Store an uploaded stream and queue its analysis; returns the IngestResult.

    camera: the camera it belongs to (whose zones apply); by default one derived from the file name.
    """
    from gpu_jobs.ingest import ingest_stream

    return ingest_stream(app, stream, filename, submit=submit, on_bytes=on_bytes, camera=camera)


def upload_camera(app, *, video: dict, camera: str) -> dict:
    """Put an uploaded video on the camera named in a field that came after its file (IngestError if bad)."""
    from core.cameras import clean_camera
    from gpu_jobs.ingest import IngestError

    try:
        camera = clean_camera(camera)
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    with app.db.connection() as conn:
        return videos.update(conn, video["id"], camera=camera) or video


def set_recorded_at(app, *, video_id: UUID | str, recorded_at: str | None) -> dict:
    """Say when a video's footage starts on the camera's clock (None: forget it); ValueError in one sentence."""
    from core.cameras import parse_recorded_at

    stamp = parse_recorded_at(recorded_at) if recorded_at is not None and str(recorded_at).strip() else None
    video = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        return videos.update(conn, video["id"], recorded_at=stamp) or video


def import_s3(app, *, uri: str, submit: bool = True, camera: str | None = None):
    """Copy an s3://bucket/key object into the store and queue its analysis; returns the IngestResult."""
    from gpu_jobs.ingest import ingest_s3_uri

    return ingest_s3_uri(app, uri, submit=submit, camera=camera)


def import_source(app, *, source: str | Path, submit: bool = True, camera: str | None = None):
    """Store a local path or an s3:// object (the CLI: a path of this machine) and queue its analysis."""
    from gpu_jobs.ingest import ingest

    return ingest(app, source, submit=submit, camera=camera)


def analysis_summary(app, *, video: dict) -> dict:
    """The `sentinel analyze` summary of a video's current run, read back from the database."""
    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video["id"])
        by_type = events.counts_by_type(conn, video["id"])
        frames = runs.frame_count(conn, video["id"], video["current_run_id"])
    return {"video_id": str(video["id"]), "duration_s": video["duration_s"], "frames_analyzed": frames,
            "tracks": sum(1 for t in tracks if t["class_name"] == PERSON),
            "objects": sum(1 for t in tracks if t["class_name"] != PERSON),
            "events_by_type": dict(sorted(by_type.items())), "elapsed_s": 0.0}


def nobody_detected(app, *, video_id: UUID | str) -> bool:
    """Its current run tracked no person and found no event (one query; the answers use the same test)."""
    with app.db.connection() as conn:
        return bool(runs.without_people(conn, [video_id], PERSON))


def analyze_now(app, *, source: str | Path, progress: Callable[[float], None] | None = None,
                camera: str | None = None, recorded_at: str | None = None) -> dict:
    """Ingest a path or s3:// URI and analyse it in this process; returns the analysis summary.

    recorded_at: when the footage starts on the camera's clock (checked before anything is stored).
    The same bytes analysed before are not analysed again: their summary is read back
    (with `duplicate: true`).
    """
    from core.cameras import parse_recorded_at
    from gpu_jobs.worker import Worker

    if recorded_at is not None:
        parse_recorded_at(recorded_at)
    result = import_source(app, source=source, submit=False, camera=camera)
    video = result.video
    if recorded_at is not None:
        video = set_recorded_at(app, video_id=video["id"], recorded_at=recorded_at)
    if result.duplicate and video["status"] == "completed":
        return {**analysis_summary(app, video=video), "duplicate": True}
    from gpu_jobs.runners import queue_analysis

    worker = Worker(app)
    with app.db.connection() as conn:
        queued = queue_analysis(app, conn, video["id"], runner="local")
        if video["status"] == "failed" and queued[0]["status"] == "queued":
            videos.update(conn, video["id"], status="pending", progress=0, error=None)
    if not queued[0]["batch_id"]:
        with app.db.connection() as conn:
            job = jobs.claim_video(conn, video_id=video["id"], owner=worker.owner, lease_s=worker.lease_s)
        if job is None:
            raise RuntimeError("This video is being analysed by a worker already; `sentinel videos` shows progress.")
        summary = worker.process(job, progress=progress)
        if summary is None:
            raise RuntimeError("The analysis was cancelled.")
        return summary
    return _analyze_chunks_here(app, worker, video, progress)


def _analyze_chunks_here(app, worker, video: dict, progress: Callable[[float], None] | None) -> dict:
    """Take the video's chunks one after another (running workers take others), then wait for the stitched run."""
    import time

    started = time.monotonic()
    while True:
        with app.db.connection() as conn:
            job = jobs.claim_video(conn, video_id=video["id"], owner=worker.owner, lease_s=worker.lease_s)
        if job is None:
            break
        summary = worker.process(job, progress=progress)
        if summary and summary.get("stitched"):
            return summary
    while True:  # the last chunk is another worker's: its stitching finishes the video
        row = video_by_id(app, video_id=video["id"])
        if progress:
            progress(float(row["progress"] or 0))
        if row["status"] == "completed" and row["current_run_id"]:
            return {**analysis_summary(app, video=row), "elapsed_s": round(time.monotonic() - started, 2)}
        if row["status"] == "failed":
            raise RuntimeError(row["error"] or "The analysis failed.")
        time.sleep(1.0)


def delete_video(app, *, video_id: UUID | str):
    """Stop its analysis if one runs, then delete its files in every tier and its rows (DeleteResult)."""
    from services import storage

    row = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        job = jobs.latest_for_video(conn, row["id"])
    if job and job["status"] in jobs.ACTIVE:
        app.runner.cancel(job["id"])  # a Modal call would otherwise keep writing to a deleted video
    return storage.delete_video(app, video_id=row["id"])

