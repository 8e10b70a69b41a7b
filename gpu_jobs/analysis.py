"""The pure analysis of one video file: decode -> detect -> track -> pose -> attributes -> behaviours -> describe.

Nothing here touches the database or the store: `Analyzer.analyze_file` turns a path (and the
zones to use) into an `AnalysisOutput`; `gpu_jobs.pipeline` writes it.

Example:
    >>> output = Analyzer(get_settings()).analyze_file(Path("vtest.avi"))
    >>> sorted({e.type for e in output.events})
    ['standing', 'walking']
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.runtime.media import probe, sample_frames
from core.vocabulary import PERSON
from gpu_jobs.types import Event, Frame, FrameSignal, Observation, Track, Zone
from gpu_jobs.vision.motion import MotionQueue
from settings import Settings

log = logging.getLogger(__name__)

ProgressFn = Callable[[float], None]
ATTRIBUTE_EVERY_S = 1.0  # faces change slowly; one look a second per person is plenty
DETECT_SHARE = 85.0  # per cent of the progress bar the decode-detect-track pass fills


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
    signals: list[FrameSignal] = field(default_factory=list)  # per sampled frame: motion where people are
    picture: tuple[int, int, int, int] | None = None  # the picture inside black bars (None: the whole frame)


class Analyzer:
    """Holds the loaded models (once per process or Modal container) and analyses video files."""

    def __init__(self, settings: Settings, *, detector=None, pose=None, attributes=None) -> None:
        from gpu_jobs.vision.attributes import AttributeEstimator
        from gpu_jobs.vision.detectors import make_detector
        from gpu_jobs.vision.fall_check import make_fall_check
        from gpu_jobs.vision.pose import make_pose

        self.settings = settings
        self.detector = detector or make_detector(settings)
        self.pose = pose or make_pose(settings)
        self.attributes = attributes or AttributeEstimator()
        self.fall_check = make_fall_check(settings, self.detector)

    def new_tracker(self, fps: float):
        from gpu_jobs.vision.tracking import ObjectTracker

        return ObjectTracker(frame_rate=fps)

    def analyze_file(self, path: Path, *, zones: list[Zone] | None = None, progress: ProgressFn | None = None,
                     should_stop: Callable[[], bool] | None = None) -> AnalysisOutput:
        """Run every stage over the file and return tracks, events (described) and frame stats."""
        from gpu_jobs.highlights import render_highlights
        from gpu_jobs.vision.picture import find_picture

        report = progress or (lambda p: None)
        info = probe(path)
        fps = min(self.settings.analysis_fps, info.fps)
        picture = find_picture(path, info.duration_s)
        scan = FrameScan(self, fps, (info.width, info.height), zones or [],
                         expected=max(1, int(info.duration_s * fps)), report=report, picture=picture)
        scan.run(path, should_stop)
        kept = scan.finished_tracks()
        events = self.derive_events(kept, list(zones or []), (info.width, info.height), fps, signals=scan.signals,
                                    picture=picture)
        report(88.0)
        output = AnalysisOutput(kept, events, scan.stats, scan.frames_done, info.duration_s, (info.width, info.height),
                                signals=scan.signals, picture=picture)
        output.highlights = render_highlights(path, events, scan.stats, fps, zones or [], kept)
        report(92.0)
        return output

    def derive_events(self, tracks: list[Track], zones: list[Zone], frame_size: tuple[int, int],
                      fps: float, *, signals: list[FrameSignal] | None = None,
                      picture: tuple[int, int, int, int] | None = None) -> list[Event]:
        """Behaviour events from finished tracks (and per-frame motion signals), each with its sentence and keywords.

        picture: where the picture lies inside black bars (gpu_jobs.vision.picture); None: the whole frame.
        """
        from gpu_jobs.behaviours import BehaviourRules, default_regions
        from gpu_jobs.describe import describe

        regions = default_regions(*frame_size)
        events = BehaviourRules(self.settings.rules).run(tracks, zones + regions, frame_size, fps, signals=signals,
                                                         picture=picture)
        attrs_by_number = {t.number: t.attributes for t in tracks}
        for event in events:
            event.description, event.keywords = describe(event, attrs_by_number.get(event.track_number, {}))
        return events


class FrameScan:
    """One pass over the sampled frames: detections become tracks with poses, attributes and frame stats."""

    def __init__(self, analyzer: Analyzer, fps: float, frame_size: tuple[int, int], zones: list[Zone], *,
                 expected: int, report: ProgressFn, picture: tuple[int, int, int, int] | None = None,
                 motion_thread: bool = True) -> None:
        self.analyzer, self.fps, self.frame_size, self.zones = analyzer, fps, frame_size, zones
        self.picture = picture  # the picture inside black bars (None: the whole frame)
        self.expected, self.report = expected, report
        self.tracker = analyzer.new_tracker(fps)
        self.tracks: dict[tuple[str, int], Track] = {}
        self.attr_samples: dict[tuple[str, int], list[dict]] = defaultdict(list)
        self.last_attr_t: dict[tuple[str, int], float] = {}
        self.stats: list[dict] = []
        self.frames_done = 0
        self.motion = MotionQueue(background=motion_thread)
        self.signals: list[FrameSignal] = []
        check = getattr(analyzer, "fall_check", None)  # test stubs may have none
        self.falls = check.watch(picture) if check is not None else None

    def run(self, path: Path, should_stop: Callable[[], bool] | None, *, start_s: float = 0.0,
            end_s: float | None = None) -> None:
        """Scan the sampled frames between start_s and end_s (a chunk's span; the whole file by default)."""
        batch: list[Frame] = []
        with self.motion:
            for frame in sample_frames(path, fps=self.fps, start_s=start_s, end_s=end_s):
                if should_stop and should_stop():
                    raise JobCancelled("The analysis was cancelled.")
                batch.append(frame)
                if len(batch) >= self.analyzer.settings.detect_batch:
                    self.process(batch)
                    batch = []
            if batch:
                self.process(batch)
            self.motion.drain()  # the last frames' motion, before anyone reads tracks or signals

    def process(self, batch: list[Frame]) -> None:
        """Detect a batch of frames at once, then track, pose and record each frame in order."""
        for frame, dets in zip(batch, self.analyzer.detector.detect([f.image for f in batch])):
            if self.falls is not None:
                dets = self.falls.review(frame.image, frame.t, dets)
            self.stats.append(self.observe(frame, self.tracker.update(dets), dets))
            self.frames_done += 1
        self.report(min(DETECT_SHARE, DETECT_SHARE * self.frames_done / self.expected))

    def observe(self, frame: Frame, tracked, detections=None) -> dict:
        """Add one frame's tracked boxes to their tracks; return the frame's stats row.

        detections: the detector's boxes for the frame (the tracker's input); their person boxes
        get motion too, so people the tracker has not confirmed still count (FrameSignal).
        """
        from gpu_jobs.behaviours import classify_posture, region_of

        names = [str(n) for n in tracked.data.get("class_name", [PERSON] * len(tracked))]
        person_idx = [i for i, n in enumerate(names) if n == PERSON]
        keypoints = (self.analyzer.pose.estimate(frame.image, tracked.xyxy[person_idx])
                     if person_idx else np.zeros((0, 17, 3), np.float32))
        kp_of = {i: keypoints[j] for j, i in enumerate(person_idx)}
        person_obs: dict[int, Observation] = {}
        falls = tracked.data.get("fall")
        counts: Counter = Counter()
        by_region: dict[str, Counter] = defaultdict(Counter)
        rows = []
        at_zones = [(z.name, z.holds_boxes(tracked.xyxy)) for z in self.zones]
        for i, (box, conf, tid) in enumerate(zip(tracked.xyxy, tracked.confidence, tracked.tracker_id)):
            name = names[i]
            bbox = tuple(float(v) for v in box)
            region = region_of((bbox[0] + bbox[2]) / 2, self.frame_size[0])
            obs = Observation(t=frame.t, frame=frame.index, bbox=bbox, confidence=float(conf),
                              keypoints=kp_of.get(i), region=region,
                              zones=tuple(name for name, held in at_zones if held[i]),
                              fall=bool(falls[i]) if falls is not None else False)
            if name == PERSON:
                person_obs[i] = obs
            self._append(frame, (name, int(tid)), obs)
            counts[name] += 1
            by_region[region][name] += 1
            # "track" holds the observation until tracklets are linked and numbered
            detection = {"track": obs, "class": name, "bbox": [round(v, 1) for v in bbox],
                         "region": region, "confidence": round(float(conf), 3)}
            if name == PERSON:  # frame chat reports who stands, sits or lies at a moment
                detection["posture"] = classify_posture(obs, self.analyzer.settings.rules)
            rows.append(detection)
        self._motion(frame, tracked, person_idx, detections, person_obs)
        return {"t": frame.t, "frame": frame.index, "counts": dict(counts),
                "region_counts": {r: dict(c) for r, c in by_region.items()}, "detections": rows}

    def _motion(self, frame: Frame, tracked, person_idx: list[int], detections,
                person_obs: dict[int, Observation]) -> None:
        """Optical flow in the tracked and detected person boxes, measured in the motion thread.

        One small DIS flow a frame; its FrameSignal and each person observation's motion are filled
        in when the measurement comes back (in frame order, before the scan ends).
        """
        det_boxes = np.zeros((0, 4), np.float32)
        det_conf = np.zeros(0, np.float32)
        if detections is not None and len(detections):
            det_names = detections.data.get("class_name", np.array([PERSON] * len(detections), dtype=object))
            is_person = np.array([str(n) == PERSON for n in det_names], bool)
            det_boxes, det_conf = detections.xyxy[is_person], detections.confidence[is_person]
        det_boxes = np.asarray(det_boxes, np.float32).reshape(-1, 4)
        det_conf = np.asarray(det_conf, np.float32).reshape(-1)
        h, w = frame.image.shape[:2]
        whole = np.array([[0, 0, w, h]], np.float32)
        if not person_idx and not len(det_boxes):
            # an empty frame still says the scene was watched (someone lost there did not come back)
            def empty(found, flow):  # the frame's flow too: a brawl can hide its people from the detector
                self.signals.append(FrameSignal(t=frame.t, frame=frame.index, boxes=det_boxes, confidence=det_conf,
                                                flow=None if found is None else flow))

            self.motion.submit(frame.image, frame.t, whole, empty)
            return
        # a tracked box is its matched detection's box: measure each distinct box once
        tracked_boxes = np.asarray(tracked.xyxy[person_idx], np.float32).reshape(-1, 4)
        boxes, where = np.unique(np.concatenate([det_boxes, tracked_boxes]).round(1), axis=0, return_inverse=True)
        where = where.reshape(-1)
        k = len(det_boxes)

        def measured(found, flow):
            self.signals.append(FrameSignal(
                t=frame.t, frame=frame.index, boxes=det_boxes, confidence=det_conf,
                motion=None if found is None else found[where[:k]], frame_motion=None if found is None else found[-1],
                flow=None if found is None else flow))
            if found is not None:
                for j, i in enumerate(person_idx):
                    person_obs[i].motion = found[where[k + j]]

        self.motion.submit(frame.image, frame.t, np.concatenate([boxes, whole]), measured)

    def _append(self, frame: Frame, key: tuple[str, int], obs: Observation) -> None:
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = Track(number=len(self.tracks) + 1, class_name=key[0])
        track.observations.append(obs)
        if key[0] == PERSON and frame.t - self.last_attr_t.get(key, -1e9) >= ATTRIBUTE_EVERY_S:
            self.last_attr_t[key] = frame.t
            self.attr_samples[key].append(self.analyzer.attributes.estimate(frame.image, obs.bbox, obs.keypoints))

    def finished_tracks(self) -> list[Track]:
        """Tracks with their attributes, short noise dropped and split tracklets linked; stats renumbered."""
        from gpu_jobs.vision.attributes import aggregate
        from gpu_jobs.vision.tracking import link_tracklets

        for key, track in self.tracks.items():
            if track.class_name == PERSON:
                track.attributes = aggregate(self.attr_samples.get(key, []))
        # one or two sightings are detector noise, not a track; split tracklets of one person are joined
        kept = link_tracklets([t for t in self.tracks.values() if len(t.observations) >= 3])
        numbers = {id(o): t.number for t in kept for o in t.observations}
        for stat in self.stats:
            for det in stat["detections"]:
                det["track"] = numbers.get(id(det["track"]))
        return kept
