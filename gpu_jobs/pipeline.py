"""The analysis pipeline: decode -> detect -> track -> pose -> attributes -> behaviours -> describe -> write."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from uuid import UUID

import numpy as np

from core.runtime.media import encode_jpeg, probe, sample_frames
from gpu_jobs.types import Event, Frame, Observation, Track, Zone
from settings import Settings

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]
PERSON = "person"
ATTRIBUTE_EVERY_S = 1.0  # faces change slowly; one look a second per person is plenty


class JobCancelled(RuntimeError):
    """The job was cancelled (or taken over by another worker) while running."""


@dataclass(slots=True)
class AnalysisOutput:
    """Everything one run found in one video, before it is written."""

    tracks: list[Track]
    events: list[Event]
    frame_stats: list[dict]
    frames_analyzed: int
    duration_s: float
    frame_size: tuple[int, int]
    highlights: dict[int, bytes] = field(default_factory=dict)  # event index -> JPEG


class Analyzer:
    """Holds the loaded models (once per process or Modal container) and analyses video files."""

    def __init__(self, settings: Settings, *, detector=None, pose=None, attributes=None) -> None:
        from gpu_jobs.vision.attributes import AttributeEstimator
        from gpu_jobs.vision.detectors import make_detector
        from gpu_jobs.vision.pose import make_pose

        self.settings = settings
        self.detector = detector or make_detector(settings)
        self.pose = pose or make_pose(settings)
        self.attributes = attributes or AttributeEstimator()

    def new_tracker(self, fps: float):
        from gpu_jobs.vision.tracking import ObjectTracker

        return ObjectTracker(frame_rate=fps)

    def analyze_file(self, path: Path, *, zones: list[Zone] | None = None, progress: ProgressFn | None = None,
                     should_stop: Callable[[], bool] | None = None) -> AnalysisOutput:
        """Run every stage over the file and return tracks, events (described) and frame stats."""
        from gpu_jobs.behaviours import BehaviourRules, classify_posture, default_regions, region_of
        from gpu_jobs.describe import describe
        from gpu_jobs.vision.attributes import aggregate
        from gpu_jobs.vision.tracking import link_tracklets

        info = probe(path)
        fps = min(self.settings.analysis_fps, info.fps)
        w, h = info.width, info.height
        zones = list(zones or [])
        regions = default_regions(w, h)
        tracker = self.new_tracker(fps)
        tracks: dict[tuple[str, int], Track] = {}
        attr_samples: dict[tuple[str, int], list[dict]] = defaultdict(list)
        last_attr_t: dict[tuple[str, int], float] = {}
        stats: list[dict] = []
        frames_done = 0
        expected = max(1, int(info.duration_s * fps))
        report = progress or (lambda p: None)

        def process(batch: list[Frame]) -> None:
            nonlocal frames_done
            for frame, dets in zip(batch, self.detector.detect([f.image for f in batch])):
                tracked = tracker.update(dets)
                names = [str(n) for n in tracked.data.get("class_name", [PERSON] * len(tracked))]
                person_idx = [i for i, n in enumerate(names) if n == PERSON]
                keypoints = (self.pose.estimate(frame.image, tracked.xyxy[person_idx])
                             if person_idx else np.zeros((0, 17, 3), np.float32))
                kp_of = {i: keypoints[j] for j, i in enumerate(person_idx)}
                counts: Counter = Counter()
                by_region: dict[str, Counter] = defaultdict(Counter)
                detections = []
                for i, (box, conf, tid) in enumerate(zip(tracked.xyxy, tracked.confidence, tracked.tracker_id)):
                    name = names[i]
                    key = (name, int(tid))
                    bbox = tuple(float(v) for v in box)
                    foot_x, foot_y = (bbox[0] + bbox[2]) / 2, bbox[3]
                    region = region_of(foot_x, w)
                    obs = Observation(t=frame.t, frame=frame.index, bbox=bbox, confidence=float(conf),
                                      keypoints=kp_of.get(i), region=region,
                                      zones=tuple(z.name for z in zones if z.contains(foot_x, foot_y)))
                    track = tracks.get(key)
                    if track is None:
                        track = tracks[key] = Track(number=len(tracks) + 1, class_name=name)
                    track.observations.append(obs)
                    if name == PERSON and frame.t - last_attr_t.get(key, -1e9) >= ATTRIBUTE_EVERY_S:
                        last_attr_t[key] = frame.t
                        attr_samples[key].append(self.attributes.estimate(frame.image, bbox, kp_of.get(i)))
                    counts[name] += 1
                    by_region[region][name] += 1
                    # "track" holds the observation until tracklets are linked and numbered
                    detection = {"track": obs, "class": name, "bbox": [round(v, 1) for v in bbox],
                                 "region": region, "confidence": round(float(conf), 3)}
                    if name == PERSON:  # frame chat reports who stands, sits or lies at a moment
                        detection["posture"] = classify_posture(obs, self.settings.rules)
                    detections.append(detection)
                stats.append({"t": frame.t, "frame": frame.index, "counts": dict(counts),
                              "region_counts": {r: dict(c) for r, c in by_region.items()},
                              "detections": detections})
                frames_done += 1
            report(min(85.0, 85.0 * frames_done / expected))

        batch: list[Frame] = []
        for frame in sample_frames(path, fps=fps):
            if should_stop and should_stop():
                raise JobCancelled("The analysis was cancelled.")
            batch.append(frame)
            if len(batch) >= self.settings.detect_batch:
                process(batch)
                batch = []
        if batch:
            process(batch)

        for key, track in tracks.items():
            if track.class_name == PERSON:
                track.attributes = aggregate(attr_samples.get(key, []))
        # one or two sightings are detector noise, not a track; split tracklets of one person are joined
        kept = link_tracklets([t for t in tracks.values() if len(t.observations) >= 3])
        numbers = {id(o): t.number for t in kept for o in t.observations}
        for stat in stats:
            for det in stat["detections"]:
                det["track"] = numbers.get(id(det["track"]))
        events = BehaviourRules(self.settings.rules).run(kept, zones + regions, (w, h), fps)
        attrs_by_number = {t.number: t.attributes for t in kept}
        for event in events:
            event.description, event.keywords = describe(event, attrs_by_number.get(event.track_number, {}))
        report(88.0)
        output = AnalysisOutput(kept, events, stats, frames_done, info.duration_s, (w, h))
        output.highlights = render_highlights(path, events, stats, fps)
        report(92.0)
        return output


EVENT_COLOURS = {  # BGR
    "theft": (40, 40, 230), "collapse": (0, 140, 255), "violent": (60, 20, 200), "picking": (200, 160, 0),
    "loitering": (180, 80, 180), "crowding": (120, 120, 0), "anomaly": (0, 200, 255),
    "walking": (80, 200, 80), "standing": (200, 200, 200), "sitting": (200, 120, 60),
}


def render_highlights(path: Path, events: list[Event], stats: list[dict], fps: float) -> dict[int, bytes]:
    """Annotated JPEGs of each event's highlight frame, from one more sequential decode pass."""
    import cv2

    from gpu_jobs.describe import format_mmss

    wanted: dict[int, list[int]] = defaultdict(list)
    for i, event in enumerate(events):
        wanted[event.frame].append(i)
    boxes_at = {s["frame"]: s["detections"] for s in stats}
    out: dict[int, bytes] = {}
    if not wanted:
        return out
    last = max(wanted)
    for frame in sample_frames(path, fps=fps):
        if frame.index in wanted:
            for i in wanted[frame.index]:
                event = events[i]
                img = frame.image.copy()
                for det in boxes_at.get(frame.index, []):
                    x1, y1, x2, y2 = (int(v) for v in det["bbox"])
                    cv2.rectangle(img, (x1, y1), (x2, y2), (160, 160, 160), 1)
                colour = EVENT_COLOURS.get(event.type, (0, 255, 255))
                x1, y1, x2, y2 = (int(v) for v in event.bbox)
                cv2.rectangle(img, (x1, y1), (x2, y2), colour, 3)
                label = f"{event.type} {format_mmss(event.t_start)}"
                (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
                ty = max(th + 6, y1)
                cv2.rectangle(img, (x1, ty - th - 6), (x1 + tw + 6, ty), colour, -1)
                cv2.putText(img, label, (x1 + 3, ty - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
                out[i] = encode_jpeg(img, max_width=640)
        if frame.index >= last:
            break
    return out


class ProgressWriter:
    """Writes progress (0-100) to the video row: on change at most once a second, and every second
    from a background thread while running, so slow stages (model loading, highlights) still show life."""

    def __init__(self, app, video_id: UUID, *, min_interval_s: float = 1.0, heartbeat_s: float = 1.0) -> None:
        self.app, self.video_id = app, video_id
        self.min_interval_s, self.heartbeat_s = min_interval_s, heartbeat_s
        self._last = 0.0
        self.value = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __call__(self, progress: float, *, force: bool = False) -> None:
        self.value = progress
        if force or time.monotonic() - self._last >= self.min_interval_s:
            self._write()

    def _write(self) -> None:
        from db.repos import videos

        self._last = time.monotonic()
        with self.app.db.connection() as conn:
            videos.set_progress(conn, self.video_id, self.value)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            try:
                self._write()
            except Exception:  # a missed beat is harmless; the next one retries
                log.debug("progress write failed", exc_info=True)

    def __enter__(self) -> "ProgressWriter":
        self._thread = threading.Thread(target=self._beat, name="progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(5)


def load_zones(app, video_id: UUID, frame_size: tuple[int, int]) -> list[Zone]:
    """The video's zones in pixels (stored as 0..1 polygons)."""
    from db.repos import zones as zones_repo

    w, h = frame_size
    with app.db.connection() as conn:
        rows = zones_repo.for_video(conn, video_id)
    return [Zone(r["name"], r["kind"], [(float(x) * w, float(y) * h) for x, y in r["polygon"]]) for r in rows]


def run_analysis(app, video_id: UUID, analyzer: Analyzer, *, should_stop: Callable[[], bool] | None = None) -> dict:
    """Analyse one stored video end to end and write the run atomically; return the CLI summary."""
    from db.repos import runs, videos
    from core.runtime.embeddings import embed_texts

    started = time.monotonic()
    with app.db.connection() as conn:
        video = videos.get(conn, video_id)
        if video is None:
            raise LookupError(f"No video {video_id}.")
        if not video["storage_key"]:
            raise ValueError("This video has no media to analyse (imported events only).")
        videos.update(conn, video_id, status="processing", progress=0, error=None)
    with ProgressWriter(app, video_id) as progress:
        run_id = uuid.uuid4()
        with app.store.local_path(video["storage_key"]) as path:
            zones = load_zones(app, video_id, (video["width"] or 0, video["height"] or 0))
            output = analyzer.analyze_file(path, zones=zones, progress=progress, should_stop=should_stop)
        if should_stop and should_stop():
            raise JobCancelled("The analysis was cancelled.")
        embeddings = embed_texts([e.description for e in output.events], app.settings) if output.events else []
        progress(96.0)
        highlight_keys: list[str] = []
        event_rows = []
        for i, event in enumerate(output.events):
            key = None
            if i in output.highlights:
                key = f"highlights/{video_id}/{run_id}/{i:05d}_{event.type}.jpg"
                app.store.put_bytes(key, output.highlights[i], content_type="image/jpeg")
                highlight_keys.append(key)
            event_rows.append({
                "track_number": event.track_number, "type": event.type, "t_start": event.t_start,
                "t_end": event.t_end, "frame": event.frame, "bbox": [float(v) for v in event.bbox], "zone": event.zone,
                "confidence": event.confidence,
                "attributes": _jsonable({**event.attributes, "related_tracks": list(event.related_tracks),
                                         **({"object": event.object_class} if event.object_class else {})}),
                "description": event.description, "keywords": event.keywords, "highlight_key": key,
                "embedding": embeddings[i],
            })
        track_rows = [{
            "track_number": t.number, "class_name": t.class_name, "t_first": t.t_start, "t_last": t.t_end,
            "attributes": _jsonable(t.attributes),
            "path": [[o.frame, *[round(v, 1) for v in o.bbox], round(o.confidence, 3)] for o in t.observations],
        } for t in output.tracks]

    with app.db.connection() as conn:
        old_keys = runs.highlight_keys(conn, video_id)
    try:
        with app.db.connection() as conn:
            runs.write_run(conn, video_id=video_id, run_id=run_id, tracks=track_rows, events=event_rows,
                           frame_stats=output.frame_stats)
    except BaseException:
        for key in highlight_keys:  # a failed run leaves no stray pictures behind
            app.store.delete(key)
        raise
    for key in old_keys:
        app.store.delete(key)
    with app.db.connection() as conn:
        videos.update(conn, video_id, status="completed", progress=100, error=None)
    by_type = Counter(e.type for e in output.events)
    return {
        "video_id": str(video_id), "duration_s": output.duration_s, "frames_analyzed": output.frames_analyzed,
        "tracks": sum(1 for t in output.tracks if t.class_name == PERSON),
        "objects": sum(1 for t in output.tracks if t.class_name != PERSON),
        "events_by_type": dict(sorted(by_type.items())), "elapsed_s": round(time.monotonic() - started, 2),
    }


def _jsonable(value):
    """Numpy scalars and tuples to plain JSON types."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


_analyzers: dict[int, Analyzer] = {}
_analyzer_lock = threading.Lock()


def get_analyzer(settings: Settings) -> Analyzer:
    """One Analyzer per process and settings object (models load once)."""
    with _analyzer_lock:
        key = id(settings)
        if key not in _analyzers:
            _analyzers[key] = Analyzer(settings)
        return _analyzers[key]
