"""Behaviour rules over tracks: each rule is a small, explainable unit that turns tracks into events.

The rules work on observations at the sampled rate (default 5 fps). Distances and speeds are
measured in body sizes (the larger side of the person's box, so a lying person keeps their
length), which makes the thresholds independent of the camera's distance.

Example:
    >>> events = BehaviourRules(get_settings().rules).run(tracks, zones, (1280, 720), 5.0)
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import combinations
from typing import Iterable, Sequence

import numpy as np

from gpu_jobs.types import KEYPOINTS, BBox, Event, Observation, Track, Zone
from settings import BehaviourThresholds, get_settings

log = logging.getLogger(__name__)

PERSON = "person"
FALL_FRAMES_KEY = "fall_frames"  # optional track attribute: frames an external fall detector flagged
ZONE_PRIORITY = ("shelf", "checkout", "exit", "custom")  # a named zone says more than a third of the frame
REGIONS = ("left", "centre", "right")
# COCO classes a shopper can pick up and carry; chairs or tables moving are not "taking"
CARRYABLE = frozenset({
    "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "sports ball", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
})

_KP = {name: i for i, name in enumerate(KEYPOINTS)}
_WRISTS = (_KP["left_wrist"], _KP["right_wrist"])
_HOLD_MARGIN = 0.15  # an item this close (body sizes) outside a person's box is still in their hands
_WRIST_REACH = 0.3  # an item this close (body sizes) to a wrist is in that hand
_REACH_HEIGHT = 0.3  # without keypoints, hands are looked for at this height of the box (shoulders)
_REACH_EXTENSION = 0.25  # a hand this far (body sizes) from the box centre is held out; hanging arms are ~0.15
_EPS = 1e-6
_GRAB_WINDOW_S = 2.0  # a picking event starts at most this long before the item moves


def default_regions(w: float, h: float) -> list[Zone]:
    """The left, centre and right thirds of a w x h frame, as zones of kind 'region'."""
    third = w / 3
    return [
        Zone(name, "region", [(i * third, 0.0), ((i + 1) * third, 0.0), ((i + 1) * third, float(h)), (i * third, float(h))])
        for i, name in enumerate(REGIONS)
    ]


def region_of(x: float, width: float) -> str:
    """The third of the frame a horizontal position falls in."""
    return REGIONS[min(2, max(0, int(3 * x / max(width, 1.0))))]


# --------------------------------------------------------------------------- zones


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    u = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + u * ab)))


def points_in_polygon(points: np.ndarray, polygon: Sequence[tuple[float, float]]) -> np.ndarray:
    """Even-odd test of many points against one polygon; the same rule as Zone.contains."""
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), bool)
    pts = list(polygon)
    for i in range(len(pts)):
        (xi, yi), (xj, yj) = pts[i], pts[i - 1]
        crosses = (yi > y) != (yj > y)
        x_at = (xj - xi) * (y - yi) / ((yj - yi) or 1e-9) + xi
        inside ^= crosses & (x < x_at)
    return inside


class ZoneMap:
    """The video's zones by name and kind, with the point tests the rules need."""

    def __init__(self, zones: Iterable[Zone]):
        self.zones = list(zones)
        self.by_name = {zone.name: zone for zone in self.zones}
        self._foot: dict[int, tuple[Observation, tuple[str, ...]]] = {}

    def kind(self, name: str) -> str:
        """The kind of a zone; names only the tracker knows count as custom."""
        zone = self.by_name.get(name)
        return zone.kind if zone else "custom"

    def at_point(self, x: float, y: float, kind: str | None = None) -> list[str]:
        """Names of the zones (of one kind, if given) containing a point."""
        return [z.name for z in self.zones if (kind is None or z.kind == kind) and z.contains(x, y)]

    def at_foot(self, obs: Observation) -> tuple[str, ...]:
        """Zones of the foot point: the tracker's list plus our own polygon test."""
        cached = self._foot.get(id(obs))
        if cached is not None and cached[0] is obs:
            return cached[1]
        names = tuple(dict.fromkeys([*obs.zones, *self.at_point(*obs.foot)]))
        self._foot[id(obs)] = (obs, names)
        return names

    def prefetch(self, observations: Sequence[Observation]) -> None:
        """Compute the foot zones of many observations at once (one array test per zone)."""
        if not observations:
            return
        feet = np.array([o.foot for o in observations], float)
        inside = {z.name: points_in_polygon(feet, z.polygon) for z in self.zones}
        for k, obs in enumerate(observations):
            names = tuple(dict.fromkeys([*obs.zones, *(name for name, mask in inside.items() if mask[k])]))
            self._foot[id(obs)] = (obs, names)

    def foot_in(self, obs: Observation, kind: str) -> str | None:
        """The first zone of a kind the foot point is in, if any."""
        return next((n for n in self.at_foot(obs) if self.kind(n) == kind), None)

    def near(self, x: float, y: float, kind: str, margin: float) -> str | None:
        """The zone of a kind containing the point, or the closest within margin pixels."""
        best, best_d = None, float("inf")
        p = np.array([x, y], float)
        for zone in self.zones:
            if zone.kind != kind or len(zone.polygon) < 2:
                continue
            if zone.contains(x, y):
                return zone.name
            pts = np.asarray(zone.polygon, float)
            d = min(_segment_distance(p, pts[i - 1], pts[i]) for i in range(len(pts)))
            if d <= margin and d < best_d:
                best, best_d = zone.name, d
        return best

    def label(self, obs: Observation) -> tuple[str, str]:
        """(name, kind) of the most telling place of an observation: a named zone, else its region."""
        named = [n for n in self.at_foot(obs) if self.kind(n) != "region"]
        if not named:
            return obs.region, "region"
        rank = {k: i for i, k in enumerate(ZONE_PRIORITY)}
        best = min(named, key=lambda n: rank.get(self.kind(n), len(rank)))
        return best, self.kind(best)

    def dominant_label(self, observations: Sequence[Observation]) -> tuple[str, str]:
        """The place label seen most often over some observations (first seen wins ties)."""
        counts = Counter(self.label(o) for o in observations)
        return counts.most_common(1)[0][0]


# --------------------------------------------------------------------------- per-track measurements


def _thigh_shares(keypoints: np.ndarray, min_score: float) -> np.ndarray:
    """Per observation: hip-to-knee height as a share of the torso (mean of visible sides), NaN if not measurable."""
    shares = []
    for side in ("left", "right"):
        s, h, k = (keypoints[:, _KP[f"{side}_{part}"]] for part in ("shoulder", "hip", "knee"))
        torso = h[:, 1] - s[:, 1]
        # a torso that is not upright (or unseen joints) makes the thigh test meaningless
        ok = (np.minimum(np.minimum(s[:, 2], h[:, 2]), k[:, 2]) >= min_score) & (torso > 1.0)
        shares.append(np.where(ok, (k[:, 1] - h[:, 1]) / np.where(ok, torso, 1.0), np.nan))
    both = np.stack(shares, axis=1)
    counts = np.isfinite(both).sum(axis=1)
    return np.where(counts > 0, np.nansum(both, axis=1) / np.maximum(counts, 1), np.nan)


def postures(aspect: np.ndarray, keypoints: np.ndarray, fall_flag: np.ndarray, th: BehaviourThresholds) -> list[str]:
    """upright, sitting or lying per observation, from the box aspect (h / w) and, when visible, hips and knees.

    keypoints is (n, 17, 3) with zero scores where there is no pose.
    """
    thigh = _thigh_shares(keypoints, th.keypoint_min_score)
    sitting = np.where(np.isfinite(thigh), thigh < th.sitting_thigh_ratio, aspect < th.sitting_aspect)
    lying = fall_flag | (aspect < th.lying_aspect)
    return np.where(lying, "lying", np.where(sitting, "sitting", "upright")).tolist()


def classify_posture(obs: Observation, th: BehaviourThresholds, fall_flag: bool = False) -> str:
    """upright, sitting or lying for one observation (see postures)."""
    kp = obs.keypoints if obs.keypoints is not None else np.zeros((len(KEYPOINTS), 3))
    return postures(np.array([obs.height / obs.width]), kp[None], np.array([fall_flag]), th)[0]


def hand_points(obs: Observation, min_score: float) -> tuple[list[tuple[float, float]], str]:
    """Where the hands are: visible wrists, else the box's sides at shoulder height."""
    kp = obs.keypoints
    if kp is not None:
        pts = [(float(kp[i, 0]), float(kp[i, 1])) for i in _WRISTS if kp[i, 2] >= min_score]
        if pts:
            return pts, "wrist"
    x1, y1, x2, y2 = obs.bbox
    y = y1 + _REACH_HEIGHT * (y2 - y1)
    return [(x1, y), (x2, y)], "box"


@dataclass(slots=True)
class TrackProfile:
    """Per-observation measurements of one track, computed once and shared by the rules."""

    track: Track
    t: np.ndarray
    frames: np.ndarray
    boxes: np.ndarray  # (n, 4) pixels
    foot: np.ndarray  # (n, 2) pixels
    centre: np.ndarray  # (n, 2) pixels
    body: np.ndarray  # body size in pixels: max(h, w)
    wrists: np.ndarray  # (n, 2, 3) left and right wrist x, y, score; score 0 without keypoints
    velocity: np.ndarray  # (n, 2) foot velocity in body sizes per second, over speed_window_s
    speed: np.ndarray
    posture: list[str]  # upright | sitting | lying
    hip_y: np.ndarray  # hips from keypoints, else the box centre
    limb_speed: np.ndarray  # wrist speed relative to the body centre, body sizes per second
    limb_from_wrists: np.ndarray  # False where limb_speed comes from the box shape instead
    fall_flag: np.ndarray
    by_frame: dict[int, int]  # frame number -> observation index

    @property
    def observations(self) -> list[Observation]:
        return self.track.observations

    @property
    def median_body(self) -> float:
        return float(np.median(self.body))


def _windowed_velocity(t: np.ndarray, foot: np.ndarray, body: np.ndarray, half: int) -> np.ndarray:
    """Foot displacement across +-half samples, per second and body size."""
    n = len(t)
    idx = np.arange(n)
    a, b = np.maximum(0, idx - half), np.minimum(n - 1, idx + half)
    cum = np.concatenate(([0.0], np.cumsum(body)))
    mean_body = (cum[b + 1] - cum[a]) / (b - a + 1)
    dt = t[b] - t[a]
    safe = np.where(dt > 0, dt, 1.0)
    return np.where((dt > 0)[:, None], (foot[b] - foot[a]) / safe[:, None] / mean_body[:, None], 0.0)


def _limb_speeds(t, centre, body, widths, wrists, has_pose, th) -> tuple[np.ndarray, np.ndarray]:
    """Wrist speed relative to the body centre; without any pose, how fast the box changes width."""
    n = len(t)
    limb, from_wrists = np.zeros(n), np.zeros(n, bool)
    if n < 2:
        return limb, from_wrists
    dt = np.diff(t)
    step_ok = (dt > 0) & (dt <= th.max_gap_s)
    safe = np.where(dt > 0, dt, 1.0)
    rel = (wrists[:, :, :2] - centre[:, None, :]) / body[:, None, None]
    seen = wrists[:, :, 2] >= th.keypoint_min_score
    both = seen[1:] & seen[:-1] & step_ok[:, None]
    moves = np.linalg.norm(rel[1:] - rel[:-1], axis=2) / safe[:, None]
    from_wrists[1:] = both.any(axis=1)
    wrist_speed = np.where(both, moves, 0.0).max(axis=1)
    # no pose: a limb flung out shows as the box suddenly widening or narrowing
    no_pose = ~has_pose[1:] & ~has_pose[:-1] & step_ok
    box_speed = np.abs(np.diff(widths)) / safe / body[1:]
    limb[1:] = np.where(from_wrists[1:], wrist_speed, np.where(no_pose, box_speed, 0.0))
    return limb, from_wrists


def profile_track(track: Track, th: BehaviourThresholds, fps: float) -> TrackProfile:
    """Measure a track: posture, smoothed speed, hip height and limb speed per observation."""
    obs = track.observations
    n = len(obs)
    t = np.array([o.t for o in obs], float)
    boxes = np.array([o.bbox for o in obs], float).reshape(n, 4)
    w = np.maximum(1.0, boxes[:, 2] - boxes[:, 0])
    h = np.maximum(1.0, boxes[:, 3] - boxes[:, 1])
    body = np.maximum(h, w)
    foot = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]))
    centre = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2))

    # displacement across a window, not frame-to-frame steps, so box jitter does not read as motion
    velocity = _windowed_velocity(t, foot, body, max(1, int(fps * th.speed_window_s / 2 + 0.5)))

    has_pose = np.array([o.keypoints is not None for o in obs], bool)
    keypoints = np.zeros((n, len(KEYPOINTS), 3))
    for i, o in enumerate(obs):
        if o.keypoints is not None:
            keypoints[i] = o.keypoints
    flagged = set(track.attributes.get(FALL_FRAMES_KEY) or ())
    fall_flag = np.array([o.frame in flagged for o in obs], bool)
    posture = postures(h / w, keypoints, fall_flag, th)
    hips = keypoints[:, [_KP["left_hip"], _KP["right_hip"]]]
    hip_seen = hips[:, :, 2] >= th.keypoint_min_score
    hip_count = hip_seen.sum(axis=1)
    hip_y = np.where(hip_count > 0, (hips[:, :, 1] * hip_seen).sum(axis=1) / np.maximum(hip_count, 1), centre[:, 1])

    wrists = keypoints[:, list(_WRISTS)]
    limb, from_wrists = _limb_speeds(t, centre, body, w, wrists, has_pose, th)
    return TrackProfile(
        track=track, t=t, frames=np.array([o.frame for o in obs], int), boxes=boxes, foot=foot, centre=centre,
        body=body, wrists=wrists, velocity=velocity, speed=np.linalg.norm(velocity, axis=1), posture=posture,
        hip_y=hip_y, limb_speed=limb, limb_from_wrists=from_wrists, fall_flag=fall_flag,
        by_frame={o.frame: i for i, o in enumerate(obs)},
    )


@dataclass
class Scene:
    """What every rule needs besides the tracks: zones, frame size and sampling rate; caches per run."""

    zones: ZoneMap
    frame_size: tuple[int, int]
    fps: float
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, zones: Iterable[Zone] = (), frame_size: tuple[int, int] = (1280, 720), fps: float = 5.0) -> Scene:
        return cls(ZoneMap(zones), (int(frame_size[0]), int(frame_size[1])), float(fps) if fps > 0 else 5.0)

    def cached(self, key: tuple, keep: object, compute):
        """compute() once per key; keep is held so the ids in key stay unique while cached."""
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = (keep, compute())
        return entry[1]

    def profile(self, track: Track, th: BehaviourThresholds) -> TrackProfile:
        """The track's measurements, computed once per run."""
        def compute() -> TrackProfile:
            self.zones.prefetch(track.observations)
            return profile_track(track, th, self.fps)

        return self.cached(("profile", id(track), id(th)), (track, th), compute)


# --------------------------------------------------------------------------- small shared pieces


def runs_where(mask: Sequence[bool], t: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """(first, last) index of each run of True, a run ending at a False or a time gap > max_gap_s."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, on in enumerate(mask):
        if on and start is not None and t[i] - t[i - 1] > max_gap_s + _EPS:
            runs.append((start, i - 1))
            start = None
        if on and start is None:
            start = i
        elif not on and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def lasts(duration: float, threshold: float) -> bool:
    """duration >= threshold, forgiving float noise (2.4 - 2.0 is just under 0.4)."""
    return duration >= threshold - _EPS


def confidence(evidence: float, detection: float) -> float:
    """How sure an event is: mostly how clearly the rule fired, partly how sure the detector was."""
    return round(float(np.clip(0.7 * evidence + 0.3 * detection, 0.0, 1.0)), 3)


def _saturate(value: float, full: float) -> float:
    """value / full, capped to 0..1: how far past a threshold something went."""
    return float(np.clip(value / full, 0.0, 1.0)) if full > 0 else 1.0


def _direction(dx: float, dy: float) -> str:
    """Heading in image terms; moving up the image usually means away from the camera."""
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "away" if dy < 0 else "towards"


def _track_attributes(track: Track | None) -> dict:
    if track is None:
        return {}
    # the per-frame fall signal is input to the rules, not a description of the person
    return {k: v for k, v in track.attributes.items() if k != FALL_FRAMES_KEY}


def _union(boxes: Iterable[BBox], frame_size: tuple[int, int]) -> BBox:
    arr = np.array(list(boxes), float)
    w, h = frame_size
    return (
        float(max(0.0, arr[:, 0].min())), float(max(0.0, arr[:, 1].min())),
        float(min(w, arr[:, 2].max())), float(min(h, arr[:, 3].max())),
    )


def _mean_conf(observations: Iterable[Observation]) -> float:
    values = [o.confidence for o in observations]
    return float(np.mean(values)) if values else 0.0


def make_event(
    type_: str, *, track: Track | None, obs: Observation, t_start: float, t_end: float,
    evidence: float, detection: float, place: tuple[str, str], facts: dict,
    related: Iterable[int] = (), object_class: str | None = None, bbox: BBox | None = None,
) -> Event:
    """An event with the track's attributes, the rule's facts and the place it happened."""
    attributes = _track_attributes(track)
    attributes.update({k: (round(float(v), 2) if isinstance(v, (float, np.floating)) else v) for k, v in facts.items()})
    attributes["zone_kind"] = place[1]
    return Event(
        type=type_, t_start=round(float(t_start), 2), t_end=round(float(t_end), 2), frame=int(obs.frame),
        bbox=tuple(float(v) for v in (bbox or obs.bbox)), confidence=confidence(evidence, detection),
        track_number=track.number if track is not None else None, zone=place[0], attributes=attributes,
        related_tracks=tuple(sorted(set(related))), object_class=object_class,
    )


def _persons(tracks: Iterable[Track]) -> list[Track]:
    return [tr for tr in tracks if tr.class_name == PERSON and tr.observations]


# --------------------------------------------------------------------------- walking / standing / sitting


@dataclass(slots=True)
class Segment:
    """A stretch of one track with one posture or motion label."""

    label: str  # walking | standing | sitting | lying
    first: int
    last: int
    agreement: float  # share of the raw per-observation labels that agree with the segment


def motion_labels(profile: TrackProfile, th: BehaviourThresholds) -> list[str]:
    """One raw label per observation: sitting, lying, or walking/standing by speed with hysteresis."""
    labels: list[str] = []
    prev = None
    for posture, speed in zip(profile.posture, profile.speed):
        if posture != "upright":
            label = posture
        elif speed >= th.walking_speed:
            label = "walking"
        elif speed < th.standing_speed:
            label = "standing"
        elif prev in ("walking", "standing"):
            label = prev  # between the two thresholds: keep the current label so it does not flicker
        else:
            label = "walking" if speed >= (th.walking_speed + th.standing_speed) / 2 else "standing"
        labels.append(label)
        prev = label
    return labels


def segment_track(profile: TrackProfile, th: BehaviourThresholds) -> list[Segment]:
    """Split a person track into posture/motion segments; blips shorter than min_segment_s are absorbed."""
    labels = motion_labels(profile, th)
    t = profile.t
    runs: list[list] = []
    for i, label in enumerate(labels):
        if runs and runs[-1][0] == label:
            runs[-1][2] = i
        else:
            runs.append([label, i, i])
    merged: list[list] = []
    pending = None  # a short run at the very start joins the run after it
    for k, (label, first, last) in enumerate(runs):
        if pending is not None:
            first, pending = pending, None
        short = not lasts(t[last] - t[first], th.min_segment_s)
        if short and merged:
            merged[-1][2] = last  # a blip belongs to what came before it
        elif short and k < len(runs) - 1:
            pending = first
        elif merged and merged[-1][0] == label:
            merged[-1][2] = last
        else:
            merged.append([label, first, last])
    return [
        Segment(label, first, last, sum(lab == label for lab in labels[first:last + 1]) / (last - first + 1))
        for label, first, last in merged
    ]


class PostureSegments:
    """walking, standing and sitting: one event per segment of at least min_segment_s."""

    types = ("walking", "standing", "sitting")

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = []
        for track in _persons(tracks):
            profile = scene.profile(track, self.th)
            for seg in segment_track(profile, self.th):
                duration = profile.t[seg.last] - profile.t[seg.first]
                if seg.label not in self.types or not lasts(duration, self.th.min_segment_s):
                    continue
                span = track.observations[seg.first:seg.last + 1]
                facts = {"duration_s": duration, "speed": float(profile.speed[seg.first:seg.last + 1].mean())}
                if seg.label == "walking":
                    dx, dy = profile.foot[seg.last] - profile.foot[seg.first]
                    facts["direction"] = _direction(dx, dy)
                events.append(make_event(
                    seg.label, track=track, obs=span[len(span) // 2], t_start=span[0].t, t_end=span[-1].t,
                    evidence=seg.agreement, detection=_mean_conf(span),
                    place=scene.zones.dominant_label(span), facts=facts,
                ))
        return events


# --------------------------------------------------------------------------- collapse


class CollapseRule:
    """collapse: upright to lying with the hips falling fast, then lying for collapse_persist_s.

    A frame flagged by an external fall detector (track attribute `fall_frames`) counts as lying
    and stands in for the visible transition.
    """

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def _fall(self, p: TrackProfile, first: int) -> tuple[int | None, float]:
        """The upright observation the fall started from and how far the hips dropped (body heights)."""
        th = self.th
        before = [j for j in range(first) if p.t[first] - p.t[j] <= th.collapse_drop_s + _EPS and p.posture[j] == "upright"]
        if not before:
            return None, 0.0
        highest = min(before, key=lambda j: p.hip_y[j])  # hips before the fall, robust to a half-fallen frame
        after = [i for i in range(first, len(p.t)) if p.t[i] - p.t[first] <= th.collapse_drop_s and p.posture[i] == "lying"]
        drop = (max(p.hip_y[i] for i in after) - p.hip_y[highest]) / p.observations[highest].height
        return before[-1], float(drop)

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        events = []
        for track in _persons(tracks):
            p = scene.profile(track, th)
            for first, last in runs_where([s == "lying" for s in p.posture], p.t, th.max_gap_s):
                lying_s = p.t[last] - p.t[first]
                if not lasts(lying_s, th.collapse_persist_s):
                    continue
                flagged = bool(p.fall_flag[first:last + 1].any())
                start, drop = self._fall(p, first)
                seen_falling = start is not None and drop >= th.collapse_min_drop
                if not (seen_falling or flagged):
                    continue  # already lying when first seen, or lay down slowly: not a collapse
                evidence = 0.4 + 0.3 * _saturate(drop, 2 * th.collapse_min_drop) + 0.3 * _saturate(lying_s, 2 * th.collapse_persist_s)
                if flagged:
                    evidence = max(evidence, 0.9)
                obs = track.observations
                events.append(make_event(
                    "collapse", track=track, obs=obs[first],
                    t_start=obs[start].t if start is not None else obs[first].t, t_end=obs[last].t,
                    evidence=evidence, detection=_mean_conf(obs[first:last + 1]), place=scene.zones.label(obs[first]),
                    facts={"lying_s": lying_s, "hip_drop": drop, "fall_flag": flagged},
                ))
        return events


# --------------------------------------------------------------------------- picking and theft


@dataclass(slots=True)
class ItemTake:
    """An item track lifted from a shelf and carried by a person."""

    item: Track
    person: Track
    shelf: str
    held: np.ndarray  # per item observation: in this person's hands
    grab: int  # item observation index when the person took hold of it
    moved: int  # first item observation index off its place, in the person's hands
    carry_end: int  # last item observation index of the carry
    carried_share: float  # share of the carry's observations with the item in the person's hands
    put_back: bool  # the item was last seen at a shelf again


def held_mask(profile: TrackProfile, item: Track, min_score: float) -> np.ndarray:
    """Per item observation: is it in the person's hands (inside their box, or next to a wrist)?"""
    j = np.array([profile.by_frame.get(o.frame, -1) for o in item.observations])
    seen = j >= 0
    j = np.where(seen, j, 0)
    centres = np.array([o.centre for o in item.observations], float).reshape(-1, 2)
    box, body = profile.boxes[j], profile.body[j]
    m = _HOLD_MARGIN * body
    inside = (
        (centres[:, 0] >= box[:, 0] - m) & (centres[:, 0] <= box[:, 2] + m)
        & (centres[:, 1] >= box[:, 1] - m) & (centres[:, 1] <= box[:, 3] + m)
    )
    wrists = profile.wrists[j]
    reach = np.linalg.norm(wrists[:, :, :2] - centres[:, None, :], axis=2) <= _WRIST_REACH * body[:, None]
    by_wrist = ((wrists[:, :, 2] >= min_score) & reach).any(axis=1)
    return seen & (inside | by_wrist)


def find_item_takes(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[ItemTake]:
    """Items that start at a shelf and then move with one person for at least picking_dwell_s (cached per run)."""
    key = ("takes", id(th), tuple(id(tr) for tr in tracks))
    return scene.cached(key, (list(tracks), th), lambda: _find_item_takes(tracks, scene, th))


def _find_item_takes(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[ItemTake]:
    persons = [(tr, scene.profile(tr, th)) for tr in _persons(tracks)]
    takes = []
    for item in tracks:
        if item.class_name not in CARRYABLE or not item.observations:
            continue
        # the carrier is whoever has the item in hand most often
        best = None
        for person, prof in persons:
            held = held_mask(prof, item, th.keypoint_min_score)
            if held.any() and (best is None or held.sum() > best[2].sum()):
                best = (person, prof, held)
        if best is not None:
            take = _take_by(item, *best, scene, th)
            if take is not None:
                takes.append(take)
    return takes


def _take_by(item: Track, person: Track, prof: TrackProfile, held: np.ndarray, scene: Scene, th: BehaviourThresholds) -> ItemTake | None:
    obs = item.observations
    centres = np.array([o.centre for o in obs], float)
    body = prof.median_body
    away = np.linalg.norm(centres - centres[0], axis=1) >= th.picking_item_move * body
    candidates = np.flatnonzero(held & away)
    if candidates.size == 0:
        return None
    moved = int(candidates[0])
    margin = th.picking_shelf_margin * body
    shelf = scene.zones.near(*centres[0], "shelf", margin)
    if shelf is None:
        return None  # the person's own bag or phone: it never sat on a shelf
    grab = moved - 1 if moved > 0 and held[moved - 1] else moved
    carry_end = moved
    for k in range(moved + 1, len(obs)):
        if held[k]:
            carry_end = k
        elif obs[k].t - obs[carry_end].t > th.max_gap_s:
            break
    if not lasts(obs[carry_end].t - obs[grab].t, th.picking_dwell_s):
        return None
    return ItemTake(
        item=item, person=person, shelf=shelf, held=held, grab=grab, moved=moved, carry_end=carry_end,
        carried_share=float(held[moved:carry_end + 1].mean()),
        put_back=scene.zones.near(*centres[-1], "shelf", margin) is not None,
    )


def reaching_shelf(obs: Observation, scene: Scene, min_score: float) -> tuple[str | None, str]:
    """The shelf an outstretched hand is in, if any, and where the hand came from (wrist or box)."""
    points, source = hand_points(obs, min_score)
    cx, cy = obs.centre
    body = max(obs.height, obs.width)
    for x, y in points:
        # box points sit at a fixed height, so only a widened box (arm out sideways) shows a reach
        offset = np.hypot(x - cx, y - cy) if source == "wrist" else abs(x - cx)
        if offset < _REACH_EXTENSION * body:
            continue  # a hand by the body: standing in front of the shelf, not reaching into it
        names = scene.zones.at_point(x, y, "shelf")
        if names:
            return names[0], source
    return None, source


class PickingRule:
    """picking: an item track taken from a shelf by a person, or an outstretched hand dwelling in a shelf zone."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = [self._take_event(take, scene) for take in find_item_takes(tracks, scene, self.th)]
        taken = defaultdict(list)
        for e in events:
            taken[e.track_number].append((e.t_start, e.t_end))
        for track in _persons(tracks):
            for e in self._hand_events(track, scene):
                # the item-track event already tells this picking, with the object
                if not any(s - _GRAB_WINDOW_S <= e.t_end and e.t_start <= t + _GRAB_WINDOW_S for s, t in taken[track.number]):
                    events.append(e)
        return events

    def _take_event(self, take: ItemTake, scene: Scene) -> Event:
        prof = scene.profile(take.person, self.th)
        item_obs = take.item.observations
        moved = item_obs[take.moved]
        person_obs = prof.observations[prof.by_frame[moved.frame]]
        t_start = max(item_obs[take.grab].t, moved.t - _GRAB_WINDOW_S)
        return make_event(
            "picking", track=take.person, obs=person_obs, t_start=t_start, t_end=moved.t,
            evidence=0.7 + 0.3 * take.carried_share, detection=(moved.confidence + person_obs.confidence) / 2,
            place=(take.shelf, "shelf"), related=(take.item.number,), object_class=take.item.class_name,
            facts={"item": take.item.class_name, "evidence": "item_track", "put_back": take.put_back},
        )

    def _hand_events(self, track: Track, scene: Scene) -> list[Event]:
        th = self.th
        obs = track.observations
        reaches = [reaching_shelf(o, scene, th.keypoint_min_score) for o in obs]
        t = np.array([o.t for o in obs])
        events = []
        for first, last in runs_where([shelf is not None for shelf, _ in reaches], t, th.max_gap_s):
            if first == 0:
                continue  # the hand must enter the shelf, not be there when the track starts
            dwell = t[last] - t[first]
            if not lasts(dwell, th.picking_dwell_s):
                continue
            span = reaches[first:last + 1]
            shelf = Counter(s for s, _ in span if s).most_common(1)[0][0]
            by_wrist = sum(source == "wrist" for _, source in span) > len(span) / 2
            # no object seen: weaker evidence than an item track, and weaker still without a wrist
            evidence = (0.4 + 0.3 * _saturate(dwell, 3 * th.picking_dwell_s)) * (1.0 if by_wrist else 0.85)
            events.append(make_event(
                "picking", track=track, obs=obs[(first + last) // 2], t_start=t[first], t_end=t[last],
                evidence=evidence, detection=_mean_conf(obs[first:last + 1]), place=(shelf, "shelf"),
                facts={"evidence": "hand_in_shelf", "dwell_s": dwell, "hand": "wrist" if by_wrist else "box"},
            ))
        return events


class TheftRule:
    """theft: an item taken and not put back, then concealed or carried out past an exit, unpaid.

    Concealed: the item track vanishes while it is in the person's hands, away from a shelf, and
    the person stays visible. Carried out: the person reaches an exit zone with the item (seen, or
    concealed). Unpaid: no checkout zone visited between the take and the exit (or the track's end).
    """

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = []
        for take in find_item_takes(tracks, scene, self.th):
            if not take.put_back:
                event = self._judge(take, scene)
                if event is not None:
                    events.append(event)
        return events

    def _judge(self, take: ItemTake, scene: Scene) -> Event | None:
        th = self.th
        prof = scene.profile(take.person, th)
        person_obs = prof.observations
        item_obs = take.item.observations
        t_taken = item_obs[take.grab].t
        vanished = item_obs[-1]

        j = prof.by_frame.get(vanished.frame)
        concealed = bool(
            j is not None
            and lasts(take.person.t_end - vanished.t, th.theft_conceal_grace_s)
            and take.held[-1]
            and not self._at_shelf(person_obs[j], scene)
        )
        exit_j = next((k for k, o in enumerate(person_obs) if o.t >= t_taken and scene.zones.foot_in(o, "exit")), None)
        t_until = person_obs[exit_j].t if exit_j is not None else take.person.t_end
        paid = any(t_taken <= o.t <= t_until and scene.zones.foot_in(o, "checkout") for o in person_obs)
        carried_out = exit_j is not None and (concealed or self._held_near(take, person_obs[exit_j].t))
        if paid or not (concealed or carried_out):
            return None

        highlight = person_obs[j] if concealed else person_obs[exit_j]
        place = (scene.zones.foot_in(person_obs[exit_j], "exit"), "exit") if carried_out else scene.zones.label(highlight)
        return make_event(
            "theft", track=take.person, obs=highlight, t_start=t_taken,
            t_end=person_obs[exit_j].t if carried_out else vanished.t,
            evidence=0.5 + 0.25 * concealed + 0.25 * carried_out,
            detection=(vanished.confidence + highlight.confidence) / 2, place=place,
            related=(take.item.number,), object_class=take.item.class_name,
            facts={"item": take.item.class_name, "shelf": take.shelf, "taken_at": t_taken, "concealed": concealed,
                   "carried_out": carried_out, "checkout_visited": False},
        )

    def _at_shelf(self, obs: Observation, scene: Scene) -> bool:
        points, _ = hand_points(obs, self.th.keypoint_min_score)
        return scene.zones.foot_in(obs, "shelf") is not None or any(scene.zones.at_point(x, y, "shelf") for x, y in points)

    def _held_near(self, take: ItemTake, t: float) -> bool:
        """Whether the item is seen in the person's hands around time t."""
        return any(held and abs(o.t - t) <= self.th.max_gap_s for o, held in zip(take.item.observations, take.held))


# --------------------------------------------------------------------------- violence


class ViolenceRule:
    """violent: fast wrist motion (relative to the body) between two people at close range, persisting."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        profiles = [scene.profile(tr, self.th) for tr in _persons(tracks)]
        events = []
        for a, b in combinations(profiles, 2):
            events.extend(self._pair(a, b, scene))
        return events

    def _pair(self, a: TrackProfile, b: TrackProfile, scene: Scene) -> list[Event]:
        th = self.th
        _, ia, ib = np.intersect1d(a.frames, b.frames, return_indices=True)
        if ia.size == 0:
            return []
        distance = np.linalg.norm(a.centre[ia] - b.centre[ib], axis=1) / ((a.body[ia] + b.body[ib]) / 2)
        fast = np.maximum(a.limb_speed[ia], b.limb_speed[ib]) >= th.violent_limb_speed
        close_and_fast = np.flatnonzero((distance <= th.violent_distance) & fast)
        hits = [(a.t[ia[k]], int(ia[k]), int(ib[k]), float(distance[k])) for k in close_and_fast]  # time order
        episodes: list[list] = []
        for hit in hits:
            if episodes and hit[0] - episodes[-1][-1][0] <= th.violent_gap_s + _EPS:
                episodes[-1].append(hit)
            else:
                episodes.append([hit])
        events = []
        for ep in episodes:
            span = ep[-1][0] - ep[0][0]
            if not lasts(span, th.violent_persist_s):
                continue  # one fast swing is not a fight
            # the one whose limbs moved most is the main actor
            if sum(a.limb_speed[h[1]] for h in ep) >= sum(b.limb_speed[h[2]] for h in ep):
                actor, other, idx = a, b, 1
            else:
                actor, other, idx = b, a, 2
            peak = max(ep, key=lambda h: actor.limb_speed[h[idx]])
            peak_speed = float(actor.limb_speed[peak[idx]])
            wrists = float(np.mean([actor.limb_from_wrists[h[idx]] for h in ep]))
            evidence = 0.4 + 0.3 * _saturate(span, 2 * th.violent_persist_s) + 0.3 * _saturate(peak_speed, 2 * th.violent_limb_speed)
            evidence *= 0.7 + 0.3 * wrists  # box-shape motion is a weaker sign than seen wrists
            actor_obs = actor.observations[peak[idx]]
            other_obs = other.observations[peak[3 - idx]]
            events.append(make_event(
                "violent", track=actor.track, obs=actor_obs, t_start=ep[0][0], t_end=ep[-1][0],
                evidence=evidence, detection=(actor_obs.confidence + other_obs.confidence) / 2,
                place=scene.zones.label(actor_obs), related=(other.track.number,),
                bbox=_union([actor_obs.bbox, other_obs.bbox], scene.frame_size),
                facts={"duration_s": span, "limb_speed": peak_speed, "distance": min(h[3] for h in ep),
                       "hits": len(ep), "limb_source": "wrist" if wrists >= 0.5 else "box"},
            ))
        return events


# --------------------------------------------------------------------------- loitering


def _stay_end(foot: np.ndarray, i: int, radius: float, chunk: int = 256) -> int:
    """Last index from i on with every foot point within radius of foot[i]; looks ahead chunk by chunk."""
    n = len(foot)
    j = i
    while j + 1 < n:
        stop = min(n, j + 1 + chunk)
        outside = np.flatnonzero(np.linalg.norm(foot[j + 1:stop] - foot[i], axis=1) > radius)
        if outside.size:
            return j + int(outside[0])
        j = stop - 1
    return j


class LoiteringRule:
    """loitering: the foot point staying within loitering_radius body heights for loitering_s or longer."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        events = []
        for track in _persons(tracks):
            p = scene.profile(track, th)
            radius = th.loitering_radius * p.median_body
            n, i = len(p.t), 0
            while i < n:
                j = _stay_end(p.foot, i, radius)
                dwell = p.t[j] - p.t[i]
                if not lasts(dwell, th.loitering_s):
                    i += 1
                    continue
                span = track.observations[i:j + 1]
                spread = float(np.max(np.linalg.norm(p.foot[i:j + 1] - p.foot[i], axis=1)) / p.median_body)
                events.append(make_event(
                    "loitering", track=track, obs=span[len(span) // 2], t_start=p.t[i], t_end=p.t[j],
                    evidence=0.5 + 0.5 * _saturate(dwell - th.loitering_s, th.loitering_s),
                    detection=_mean_conf(span), place=scene.zones.dominant_label(span),
                    facts={"dwell_s": dwell, "radius": spread},
                ))
                i = j + 1
        return events


# --------------------------------------------------------------------------- crowding


class CrowdingRule:
    """crowding: at least crowding_people in the frame, or crowding_region_people in one third, persisting."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        by_frame: dict[int, list[tuple[Track, Observation]]] = defaultdict(list)
        for track in _persons(tracks):
            for o in track.observations:
                by_frame[o.frame].append((track, o))
        frames = sorted(by_frame)
        t = np.array([by_frame[f][0][1].t for f in frames])
        crowded = []
        for f in frames:
            regions = Counter(o.region for _, o in by_frame[f])
            crowded.append(len(by_frame[f]) >= th.crowding_people or max(regions.values()) >= th.crowding_region_people)
        events = []
        # a frame or two where someone was missed should not split the crowd
        for first, last in runs_where(crowded, t, th.max_gap_s):
            members = [f for k, f in enumerate(frames[first:last + 1], first) if crowded[k]]
            duration = t[last] - t[first]
            if not lasts(duration, th.crowding_persist_s):
                continue
            peak = max(members, key=lambda f: len(by_frame[f]))
            people = by_frame[peak]
            regions = Counter(o.region for _, o in people)
            region, in_region = regions.most_common(1)[0]
            everyone = [o for f in members for _, o in by_frame[f]]
            events.append(make_event(
                "crowding", track=None, obs=people[0][1], t_start=t[first], t_end=t[last],
                evidence=0.5 + 0.5 * _saturate(duration, 3 * th.crowding_persist_s), detection=_mean_conf(everyone),
                place=(region, "region"), bbox=_union([o.bbox for _, o in people], scene.frame_size),
                related=(tr.number for f in members for tr, _ in by_frame[f]),
                facts={"people": len(people), "people_in_region": in_region, "duration_s": duration,
                       "scope": "frame" if len(people) >= th.crowding_people else "region"},
            ))
        return events


# --------------------------------------------------------------------------- anomalies


class AnomalyRule:
    """anomaly: running (speed >= anomaly_speed for anomaly_persist_s) or walking against the typical flow.

    The typical flow is the mean walking direction of the other tracks; it exists only when at
    least flow_min_tracks of them mostly agree (flow_consistency).
    """

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        profiles = [scene.profile(tr, self.th) for tr in _persons(tracks)]
        events = [e for p in profiles for e in self._running(p, scene)]
        directions = {p.track.number: d for p in profiles if (d := self._heading(p)) is not None}
        for p in profiles:
            others = [d for number, d in directions.items() if number != p.track.number]
            if len(others) < self.th.flow_min_tracks:
                continue
            mean = np.mean(others, axis=0)
            consistency = float(np.linalg.norm(mean))
            if consistency >= self.th.flow_consistency:
                events.extend(self._against(p, mean / consistency, consistency, scene))
        return events

    def _walking(self, p: TrackProfile) -> np.ndarray:
        return (p.speed >= self.th.walking_speed) & np.array([s == "upright" for s in p.posture], bool)

    def _heading(self, p: TrackProfile) -> np.ndarray | None:
        """The track's mean walking direction as a unit vector, if it walked long enough."""
        walking = self._walking(p)
        if not walking.any() or not lasts(p.t[walking][-1] - p.t[walking][0], self.th.min_segment_s):
            return None
        v = p.velocity[walking].mean(axis=0)
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else None

    def _running(self, p: TrackProfile, scene: Scene) -> list[Event]:
        th = self.th
        fast = (p.speed >= th.anomaly_speed) & np.array([s != "lying" for s in p.posture], bool)
        events = []
        for first, last in runs_where(fast, p.t, th.max_gap_s):
            duration = p.t[last] - p.t[first]
            if not lasts(duration, th.anomaly_persist_s):
                continue
            span = p.observations[first:last + 1]
            peak = first + int(np.argmax(p.speed[first:last + 1]))
            mean_speed = float(p.speed[first:last + 1].mean())
            dx, dy = p.foot[last] - p.foot[first]
            events.append(make_event(
                "anomaly", track=p.track, obs=p.observations[peak], t_start=p.t[first], t_end=p.t[last],
                evidence=0.5 + 0.25 * _saturate(duration, 2 * th.anomaly_persist_s)
                + 0.25 * _saturate(mean_speed - th.anomaly_speed, th.anomaly_speed),
                detection=_mean_conf(span), place=scene.zones.dominant_label(span),
                facts={"kind": "running", "speed": mean_speed, "peak_speed": float(p.speed[peak]),
                       "duration_s": duration, "direction": _direction(dx, dy)},
            ))
        return events

    def _against(self, p: TrackProfile, flow: np.ndarray, consistency: float, scene: Scene) -> list[Event]:
        th = self.th
        cos = (p.velocity @ flow) / np.maximum(p.speed, 1e-9)
        against = self._walking(p) & (cos <= th.against_flow_cos)
        events = []
        for first, last in runs_where(against, p.t, th.max_gap_s):
            duration = p.t[last] - p.t[first]
            if not lasts(duration, th.against_flow_s):
                continue
            span = p.observations[first:last + 1]
            dx, dy = p.foot[last] - p.foot[first]
            events.append(make_event(
                "anomaly", track=p.track, obs=span[len(span) // 2], t_start=p.t[first], t_end=p.t[last],
                evidence=0.4 + 0.3 * consistency + 0.3 * _saturate(duration, 2 * th.against_flow_s),
                detection=_mean_conf(span), place=scene.zones.dominant_label(span),
                facts={"kind": "against_flow", "duration_s": duration, "direction": _direction(dx, dy),
                       "flow_direction": _direction(*flow), "flow_consistency": consistency,
                       "speed": float(p.speed[first:last + 1].mean())},
            ))
        return events


# --------------------------------------------------------------------------- all rules


class BehaviourRules:
    """Runs every behaviour rule over the tracks of one video (or chunk) and returns their events."""

    def __init__(self, thresholds: BehaviourThresholds | None = None):
        self.thresholds = thresholds or get_settings().rules
        th = self.thresholds
        self.rules = [
            PostureSegments(th), CollapseRule(th), PickingRule(th), TheftRule(th),
            ViolenceRule(th), LoiteringRule(th), CrowdingRule(th), AnomalyRule(th),
        ]

    def run(self, tracks: list[Track], zones: list[Zone], frame_size: tuple[int, int], fps_sampled: float) -> list[Event]:
        """Events of all rules, ordered by start time.

        Args:
            tracks: person and item tracks with observations at the sampled rate.
            zones: the video's shelf, checkout, exit and custom zones (regions optional).
            frame_size: (width, height) in pixels.
            fps_sampled: the analysis rate, used for smoothing windows.
        """
        usable = [_in_time_order(tr) for tr in tracks if tr.observations]
        scene = Scene.build(zones, frame_size, fps_sampled if fps_sampled > 0 else _infer_fps(usable))
        events: list[Event] = []
        for rule in self.rules:
            found = rule.detect(usable, scene)
            log.debug("%s found %d events", type(rule).__name__, len(found))
            events.extend(found)
        events.sort(key=lambda e: (e.t_start, e.type, e.track_number if e.track_number is not None else -1))
        return events


def _in_time_order(track: Track) -> Track:
    obs = track.observations
    if all(a.t <= b.t for a, b in zip(obs, obs[1:])):
        return track
    # a copy, so the caller's track is left as it was
    return Track(track.number, track.class_name, sorted(obs, key=lambda o: o.t), track.attributes)


def _infer_fps(tracks: Sequence[Track]) -> float:
    steps = [b.t - a.t for tr in tracks for a, b in zip(tr.observations, tr.observations[1:]) if b.t > a.t]
    return 1.0 / float(np.median(steps)) if steps else 5.0
