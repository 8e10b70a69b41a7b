"""Running an analysis job: progress on the video row, the zones in, and the run written atomically.

The analysis itself (`gpu_jobs.analysis`) is pure; this module is the persistence around it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from typing import Callable
from uuid import UUID


from core.jsonable import jsonable
from core.runtime.memory import release_freed_memory
from core.vocabulary import PERSON
from gpu_jobs.analysis import AnalysisOutput, Analyzer, JobCancelled
from gpu_jobs.types import Zone
from settings import Settings

log = logging.getLogger(__name__)

__all__ = ["JobCancelled", "ProgressWriter", "event_rows_for", "get_analyzer", "load_zones", "run_analysis",
           "run_summary", "track_rows", "write_run"]


class ProgressWriter:
    """Writes progress (0-100) to the video row: on change at most once a second, and every second
    from a background thread while running, so slow stages (model loading, highlights) still show life.

    `observer`, when given, sees every value at once (the CLI's progress bar).
    """

    def __init__(self, app, video_id: UUID, *, min_interval_s: float = 1.0, heartbeat_s: float = 1.0,
                 observer: Callable[[float], None] | None = None) -> None:
        self.app, self.video_id = app, video_id
        self.min_interval_s, self.heartbeat_s = min_interval_s, heartbeat_s
        self.observer = observer
        self._last = 0.0
        self.value = 0.0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, progress: float, *, force: bool = False) -> None:
        self.value = progress
        if self.observer:
            self.observer(progress)
        if force or time.monotonic() - self._last >= self.min_interval_s:
            self._write()

    def _write(self) -> None:
        from db.repos import videos

        self._last = time.monotonic()
        with self.app.db.connection() as conn:
            videos.set_progress(conn, self.video_id, self.value)

    def _beat(self) -> None:
        while not self._stopping.wait(self.heartbeat_s):
            try:
                self._write()
            except Exception:  # a missed beat is harmless; the next one retries
                log.debug("progress write failed", exc_info=True)

    def __enter__(self) -> "ProgressWriter":
        self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        if self._thread:
            self._thread.join(5)


def load_zones(app, video_id: UUID, frame_size: tuple[int, int]) -> list[Zone]:
    """The video's zones in pixels (stored as 0..1 polygons)."""
    from db.repos import zones as zones_repo

    w, h = frame_size
    with app.db.connection() as conn:
        rows = zones_repo.for_video(conn, video_id)
    return [Zone(r["name"], r["kind"], [(float(x) * w, float(y) * h) for x, y in r["polygon"]], r.get("loiter_s"))
            for r in rows]


def run_analysis(app, video_id: UUID, analyzer: Analyzer, *, should_stop: Callable[[], bool] | None = None,
                 observer: Callable[[float], None] | None = None) -> dict:
    """Analyse one stored video end to end and write the run atomically; return the CLI summary."""
    started = time.monotonic()
    video = _start(app, video_id)
    with ProgressWriter(app, video_id, observer=observer) as progress:
        run_id = uuid.uuid4()
        with app.store.local_path(video["storage_key"]) as path:
            zones = load_zones(app, video_id, (video["width"] or 0, video["height"] or 0))
            output = analyzer.analyze_file(path, zones=zones, progress=progress, should_stop=should_stop)
        release_freed_memory()  # the decoded frames are freed: the embedder and the write reuse their pages
        if should_stop and should_stop():
            raise JobCancelled("The analysis was cancelled.")
        event_rows, highlight_keys = event_rows_for(app, video_id, run_id, output, progress)
        tracks = track_rows(output)
        inputs = rule_inputs_row(output, analyzer, video.get("fps"))
    write_run(app, video_id, run_id, tracks, event_rows, output.frame_stats, highlight_keys, inputs)
    return run_summary(video_id, output, time.monotonic() - started)


def _start(app, video_id: UUID) -> dict:
    """The video row, marked processing; refuses a video that is gone or has no media."""
    from db.repos import videos

    with app.db.connection() as conn:
        video = videos.get(conn, video_id)
        if video is None:
            raise LookupError(f"No video {video_id}.")
        if not video["storage_key"]:
            raise ValueError("This video has no media to analyse (imported events only).")
        videos.update(conn, video_id, status="processing", progress=0, error=None)
    return video


def event_rows_for(app, video_id: UUID, run_id: uuid.UUID, output: AnalysisOutput,
                   progress: ProgressWriter) -> tuple[list[dict], list[str]]:
    """Event rows with embeddings; their highlight JPEGs are stored now under keys of this run."""
    from core.runtime.embeddings import embed_texts

    embeddings = embed_texts([e.description for e in output.events], app.settings) if output.events else []
    progress(96.0)
    highlight_keys: list[str] = []
    rows = []
    for i, event in enumerate(output.events):
        key = None
        if i in output.highlights:
            key = f"highlights/{video_id}/{run_id}/{i:05d}_{event.type}.jpg"
            app.store.put_bytes(key, output.highlights[i], content_type="image/jpeg")
            highlight_keys.append(key)
        rows.append(event_row(event, embeddings[i], key))
    return rows, highlight_keys


def event_row(event, embedding, highlight_key: str | None) -> dict:
    """One event as `runs.write_run` takes it."""
    return {
        "track_number": event.track_number, "type": event.type, "t_start": event.t_start,
        "t_end": event.t_end, "frame": event.frame, "bbox": [float(v) for v in event.bbox], "zone": event.zone,
        "confidence": event.confidence,
        "attributes": jsonable({**event.attributes, "related_tracks": list(event.related_tracks),
                                 **({"object": event.object_class} if event.object_class else {})}),
        "description": event.description, "keywords": event.keywords, "highlight_key": highlight_key,
        "embedding": embedding,
    }


def rule_inputs_row(output: AnalysisOutput, analyzer: Analyzer, video_fps: float | None) -> dict:
    """What the rules read (tracks' observations and attributes, frame signals), packed to re-derive events.

    fps is the rate the rules ran at, as `Analyzer.analyze_file` chose it.
    """
    from gpu_jobs import rule_inputs

    fps = float(analyzer.settings.analysis_fps)
    if video_fps:
        fps = min(fps, float(video_fps))
    return {"fps": fps, "frame_width": output.frame_size[0], "frame_height": output.frame_size[1],
            "data": rule_inputs.pack(output.tracks, output.signals, picture=output.picture)}


def track_rows(output: AnalysisOutput) -> list[dict]:
    return [{
        "track_number": t.number, "class_name": t.class_name, "t_first": t.t_start, "t_last": t.t_end,
        "attributes": jsonable(t.attributes),
        "path": [[o.frame, *[round(v, 1) for v in o.bbox], round(o.confidence, 3)] for o in t.observations],
    } for t in output.tracks]


def write_run(app, video_id: UUID, run_id: uuid.UUID, track_rows: list[dict], event_rows: list[dict],
              frame_stats: list[dict], highlight_keys: list[str], rule_inputs: dict | None = None) -> None:
    """One transaction replaces the previous run; the old run's pictures go only once it committed."""
    from db.repos import runs, videos
    from gpu_jobs import alerts

    with app.db.connection() as conn:
        old_keys = runs.highlight_keys(conn, video_id)
    try:
        with app.db.connection() as conn:
            runs.write_run(conn, video_id=video_id, run_id=run_id, tracks=track_rows, events=event_rows,
                           frame_stats=frame_stats, rule_inputs=rule_inputs)
    except BaseException:
        for key in highlight_keys:  # a failed run leaves no stray pictures behind
            app.store.delete(key)
        raise
    for key in old_keys:
        app.store.delete(key)
    with app.db.connection() as conn:
        videos.update(conn, video_id, status="completed", progress=100, error=None)
    alerts.after_run(app, video_id)


def run_summary(video_id: UUID, output: AnalysisOutput, elapsed_s: float) -> dict:
    by_type = Counter(e.type for e in output.events)
    return {
        "video_id": str(video_id), "duration_s": output.duration_s, "frames_analyzed": output.frames_analyzed,
        "tracks": sum(1 for t in output.tracks if t.class_name == PERSON),
        "objects": sum(1 for t in output.tracks if t.class_name != PERSON),
        "events_by_type": dict(sorted(by_type.items())), "elapsed_s": round(elapsed_s, 2),
    }



_analyzers: dict[str, Analyzer] = {}
_analyzer_lock = threading.Lock()


def get_analyzer(settings: Settings) -> Analyzer:
    """One Analyzer per process and distinct settings (models load once).

    Keyed by the settings' values, not the object's id: a freed Settings' id can be reused by
    another with other models or thresholds.
    """
    key = settings.model_dump_json()
    with _analyzer_lock:
        if key not in _analyzers:
            _analyzers[key] = Analyzer(settings)
        return _analyzers[key]
