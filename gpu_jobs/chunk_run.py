"""Running one chunk of a long video, and, after the last one, stitching the chunks into one run.

A chunk job decodes only its span (seeking to it; from S3 it reads byte ranges of a presigned URL,
never the whole object), scans it as the whole-file analysis would and stores its partial result
(`chunk_results`: tracks and signals packed as the rule inputs are, frame stats as compressed
JSON). The worker whose chunk ends last, still holding its lease, stitches every partial
(`gpu_jobs.stitch`), runs the behaviour rules over the stitched tracks, renders each event's
highlight by seeking to its frame, embeds, and writes the run in one transaction, as
`run_analysis` does. If it dies on the way, its lease expires and whoever takes the job over finds
the chunk's result stored and goes straight to stitching.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from typing import Callable
from uuid import UUID

from core.runtime.memory import release_freed_memory
from gpu_jobs.analysis import DETECT_SHARE, AnalysisOutput, Analyzer, FrameScan, JobCancelled
from gpu_jobs.pipeline import (ProgressWriter, event_rows_for, load_zones, run_summary, track_rows,
                               write_run)
from gpu_jobs.stitch import ChunkPart, stitch
from gpu_jobs.types import Event, Track, Zone

log = logging.getLogger(__name__)


class ChunkProgress(ProgressWriter):
    """Writes a chunk's progress to its job row and the chunks' sum to the video; the observer sees the sum."""

    def __init__(self, app, job: dict, *, observer: Callable[[float], None] | None = None) -> None:
        super().__init__(app, job["video_id"])
        self.job_id, self.chunk_observer = job["id"], observer
        self._writing = threading.Lock()  # the heartbeat thread writes too: the observer sees the figures in order

    def __call__(self, progress: float, *, force: bool = False) -> None:
        # the scan reports up to DETECT_SHARE; the chunk is done when its result is stored
        super().__call__(min(99.0, 100.0 * progress / DETECT_SHARE), force=force)

    def _write(self) -> None:
        from db.repos import chunks

        with self._writing:
            self._last = time.monotonic()
            with self.app.db.connection() as conn:
                video_progress = chunks.set_progress(conn, job_id=self.job_id, progress=self.value)
            if self.chunk_observer and video_progress is not None:
                self.chunk_observer(float(video_progress))


def _start(app, job: dict) -> dict:
    from db.repos import videos

    with app.db.connection() as conn:
        video = videos.get(conn, job["video_id"])
        if video is None:
            raise LookupError(f"No video {job['video_id']}.")
        if not video["storage_key"]:
            raise ValueError("This video has no media to analyse (imported events only).")
        videos.update(conn, video["id"], status="processing", error=None)
    return video


def run_chunk(app, job: dict, analyzer: Analyzer, *, owner: str, should_stop: Callable[[], bool] | None = None,
              observer: Callable[[float], None] | None = None) -> dict:
    """Analyse the job's span and store it; stitch the run when it is the last chunk. Returns a summary."""
    from db.repos import chunks

    started = time.monotonic()
    video = _start(app, job)
    with app.db.connection() as conn:
        done = chunks.has_result(conn, job["id"])
    if not done:
        with ChunkProgress(app, job, observer=observer) as progress:
            progress(0.0, force=True)
            scan_chunk(app, video, job, analyzer, progress=progress, should_stop=should_stop)
        release_freed_memory()  # the stitch that may follow starts from the models' footprint, not the scan's
    if should_stop and should_stop():
        raise JobCancelled("The analysis was cancelled.")
    with app.db.connection() as conn:
        last = chunks.complete_unless_last(conn, job=job, owner=owner)
    if not last:
        return {"video_id": str(video["id"]), "chunk": job["chunk"], "stitched": False,
                "elapsed_s": round(time.monotonic() - started, 2)}
    return finish_batch(app, video, job["batch_id"], analyzer, should_stop=should_stop, observer=observer,
                        started=started)


def scan_chunk(app, video: dict, job: dict, analyzer: Analyzer, *, progress, should_stop) -> None:
    """Decode and analyse [t_start, t_end] of the video; store the chunk's tracks, signals and frame stats."""
    from core.runtime.media import keyframe_times, probe
    from db.repos import chunks
    from gpu_jobs import rule_inputs
    from gpu_jobs.chunks import snap_to_keyframe
    from gpu_jobs.vision.picture import find_picture

    overlap = app.settings.chunk_overlap_s
    with app.store.media_source(video["storage_key"]) as path:
        t_start, t_end = float(job["t_start"]), float(job["t_end"])
        if job["chunk"] > 0:
            # start on a keyframe just before the planned start when there is one: decoding begins exactly there
            near = keyframe_times(path, start_s=max(0.0, t_start - 2 * overlap), end_s=t_start)
            snapped = snap_to_keyframe(t_start, near, overlap_s=overlap)
            if snapped != t_start:
                with app.db.connection() as conn:
                    chunks.set_start(conn, job_id=job["id"], t_start=snapped)
                job = {**job, "t_start": snapped}
                t_start = snapped
        info = probe(path)
        fps = min(analyzer.settings.analysis_fps, info.fps)
        size = (info.width, info.height)
        zones = load_zones(app, video["id"], size)
        picture = find_picture(path, info.duration_s)  # frames spread over the whole video: every chunk finds the same
        scan = FrameScan(analyzer, fps, size, zones, expected=max(1, int((t_end - t_start) * fps)), report=progress,
                         picture=picture)
        scan.run(path, should_stop, start_s=t_start, end_s=t_end)
    tracks = scan.finished_tracks()
    if should_stop and should_stop():
        raise JobCancelled("The analysis was cancelled.")
    stats = zlib.compress(json.dumps(scan.stats).encode(), 6)
    with app.db.connection() as conn:
        chunks.save_result(conn, job=job, fps=fps, frame_size=size, frames=scan.frames_done,
                           data=rule_inputs.pack(tracks, scan.signals, picture=picture), stats=stats)


def load_parts(rows: list[dict]) -> list[ChunkPart]:
    """The stored partial results as ChunkParts."""
    from gpu_jobs import rule_inputs

    parts = []
    for row in rows:
        tracks, signals = rule_inputs.unpack(bytes(row["data"]))
        stats = json.loads(zlib.decompress(bytes(row["stats"])))
        parts.append(ChunkPart(row["chunk"], float(row["t_start"]), float(row["t_end"]), tracks, signals, stats))
    return parts


def finish_batch(app, video: dict, batch_id: UUID, analyzer: Analyzer, *, should_stop=None, observer=None,
                 started: float | None = None) -> dict:
    """Stitch the batch's chunks, derive the events over the whole video and write the run atomically."""
    from db.repos import chunks
    from gpu_jobs import rule_inputs

    started = started if started is not None else time.monotonic()
    video_id = video["id"]
    with ProgressWriter(app, video_id, observer=observer) as progress:
        progress(chunks.CHUNKS_SHARE, force=True)
        with app.db.connection() as conn:
            rows = chunks.results(conn, batch_id)
            expected = len(chunks.batch_jobs(conn, batch_id))
        if len(rows) != expected:
            raise RuntimeError(f"Only {len(rows)} of {expected} chunks have a result; analyse the video again.")
        fps = float(rows[0]["fps"])
        size = (int(rows[0]["frame_width"]), int(rows[0]["frame_height"]))
        frames = sum(int(r["frames"]) for r in rows)
        picture = rule_inputs.stored_picture(bytes(rows[0]["data"]))
        stitched = stitch(load_parts(rows))
        del rows
        release_freed_memory()  # the packed partials are gone: the rules and the embedder reuse their pages
        zones = load_zones(app, video_id, size)
        events = analyzer.derive_events(stitched.tracks, zones, size, fps, signals=stitched.signals, picture=picture)
        output = AnalysisOutput(stitched.tracks, events, stitched.stats, len(stitched.stats),
                                float(video["duration_s"] or 0.0), size, signals=stitched.signals, picture=picture)
        progress(92.0)
        with app.store.media_source(video["storage_key"]) as path:
            output.highlights = render_by_seeking(path, events, stitched.stats, zones, stitched.tracks)
        if should_stop and should_stop():
            raise JobCancelled("The analysis was cancelled.")
        run_id = uuid.uuid4()
        event_rows, highlight_keys = event_rows_for(app, video_id, run_id, output, progress)
        inputs = {"fps": fps, "frame_width": size[0], "frame_height": size[1],
                  "data": rule_inputs.pack(stitched.tracks, stitched.signals, picture=picture)}
    write_run(app, video_id, run_id, track_rows(output), event_rows, output.frame_stats, highlight_keys, inputs)
    with app.db.connection() as conn:
        chunks.delete_results(conn, batch_id)
    log.info("video %s: %d chunks stitched (%s tracks paired at the boundaries, %d frames scanned)",
             video_id, len(stitched.cuts) + 1, stitched.matched, frames)
    return {**run_summary(video_id, output, time.monotonic() - started), "chunks": len(stitched.cuts) + 1,
            "stitched": True}


def render_by_seeking(path, events: list[Event], stats: list[dict], zones: list[Zone] = (),
                      tracks: list[Track] = ()) -> dict[int, bytes]:
    """Highlight JPEGs of the events (with the zones they used and their evidence), each frame read by seeking to it."""
    from core.runtime.media import encode_jpeg, read_frame_at
    from gpu_jobs.highlight_evidence import poses_at
    from gpu_jobs.highlights import draw_event

    poses = poses_at(tracks, events)

    by_frame = {s["frame"]: s for s in stats}
    out: dict[int, bytes] = {}
    last: tuple[int | None, object] = (None, None)  # events come in frame order: keep one decoded frame at a time
    for i in sorted(range(len(events)), key=lambda i: events[i].frame):
        event = events[i]
        stat = by_frame.get(event.frame)
        if last[0] != event.frame:
            try:
                last = (event.frame, read_frame_at(path, float(stat["t"] if stat else event.t_start)))
            except Exception:  # an unreadable frame costs the picture, not the run
                log.warning("no frame at %.2f s for a highlight", event.t_start, exc_info=True)
                last = (event.frame, None)
        if last[1] is not None:
            out[i] = encode_jpeg(draw_event(last[1], event, stat["detections"] if stat else [], zones, poses[i]),
                                 max_width=640)
    return out
