"""Multi-object tracking: ByteTrack (Roboflow `trackers`) per class group, so a bag never takes a person's id."""

from __future__ import annotations

import numpy as np


class ObjectTracker:
    """Tracks people and carried items over sampled frames; returns detections with stable tracker ids.

    ByteTrack (Roboflow `trackers`), one instance for people and one for items, so a bag never
    takes a person's id; item ids are offset so the two never collide. Boxes above
    `high_confidence` are matched first, weaker ones only continue existing tracks, and a track
    starts at `activation`. Unconfirmed tracks (tracker_id == -1) are dropped.

    Defaults were tuned on PETS09-S2L1 sampled at 5 fps with SSD-MobileNet on two tiles and a
    0.2 detection floor (bench/bench_tracking.py); item thresholds are lower because small
    objects score lower, and are not tuned (no item ground truth).

    Args:
        frame_rate: the rate update() is called at (the analysis rate).
        lost_track_s: how long a lost track can come back with its id.
        activation: lowest score that starts a person track.
        high_confidence: person boxes at or above it are matched first.
        min_iou: lowest (buffered) IoU that associates a box with a track.
        consecutive: sightings in a row before a track gets an id.
        buffer_ratio: boxes are grown by this before IoU: at 5 fps a walker's boxes barely overlap.
        item_activation, item_high_confidence: the same two thresholds for carried items.

    Example:
        >>> tracker = ObjectTracker(frame_rate=5)
        >>> for frame in frames:
        ...     tracked = tracker.update(detector.detect([frame])[0])
        ...     tracked.tracker_id  # stable across frames
    """

    ITEM_ID_OFFSET = 100_000

    def __init__(self, *, frame_rate: float = 5.0, lost_track_s: float = 2.0, activation: float = 0.6,
                 high_confidence: float = 0.6, min_iou: float = 0.05, consecutive: int = 2,
                 buffer_ratio: float = 0.3, item_activation: float = 0.4, item_high_confidence: float = 0.4) -> None:
        from trackers import ByteTrackTracker
        from trackers.utils.iou import BIoU

        # lost_track_buffer counts 30 fps frames in this package, whatever the real rate
        buffer = int(round(lost_track_s * 30))

        def make(activation: float, high: float):
            return ByteTrackTracker(lost_track_buffer=buffer, frame_rate=frame_rate,
                                    track_activation_threshold=activation, minimum_consecutive_frames=consecutive,
                                    minimum_iou_threshold=min_iou, high_conf_det_threshold=high,
                                    iou=BIoU(buffer_ratio=buffer_ratio))

        self.people = make(activation, high_confidence)
        self.items = make(item_activation, item_high_confidence)

    def update(self, detections):
        """Feed one frame's detections; return the confirmed, tracked ones (class_name and other data kept)."""
        import supervision as sv

        names = detections.data.get("class_name", np.array(["person"] * len(detections), dtype=object))
        is_person = np.array([n == "person" for n in names], bool)
        parts = []
        for tracker, mask, offset in ((self.people, is_person, 0), (self.items, ~is_person, self.ITEM_ID_OFFSET)):
            tracked = tracker.update(detections[mask])
            if len(tracked) == 0:
                continue
            tracked = tracked[tracked.tracker_id != -1]
            if len(tracked) == 0:
                continue
            tracked.tracker_id = tracked.tracker_id + offset
            parts.append(tracked)
        if not parts:
            empty = detections[np.zeros(len(detections), bool)]
            empty.tracker_id = np.zeros(0, int)
            return empty
        return sv.Detections.merge(parts) if len(parts) > 1 else parts[0]

    def reset(self) -> None:
        """Forget every track (a new video or scene)."""
        self.people.reset()
        self.items.reset()


def link_tracklets(tracks: list, *, max_gap_s: float = 2.0, max_jump: float = 1.0, min_iou_size: float = 0.6,
                   fragment_s: float = 3.0, fragment_gap_s: float = 5.0, fragment_jump: float = 1.0) -> list:
    """Join person tracklets that the tracker split: one ends, another starts soon after where it was heading.

    A sampled-rate tracker loses people behind others or in missed detections and starts a new id
    when they reappear; counting people and IDF1 both suffer. A later tracklet is appended to an
    earlier one when it starts within `max_gap_s`, near the earlier one's extrapolated foot point
    (within `max_jump` body heights per second of gap, plus one), at a similar size, and the two
    never overlap in time. A fragment (either tracklet seen for under `fragment_s`) may also bridge
    a longer gap, up to `fragment_gap_s`, when it restarts within `fragment_jump` body heights of
    where it was lost: someone who stood hidden behind another person. Greedy by cost, so each
    tracklet joins at most one other.

    Args:
        tracks: `gpu_jobs.types.Track` objects with observations in time order.

    Returns:
        The tracks after linking, renumbered 1..n in order of first appearance.
    """
    people = sorted((t for t in tracks if t.class_name == "person" and t.observations), key=lambda t: t.t_start)
    others = [t for t in tracks if t.class_name != "person" or not t.observations]

    def velocity(track) -> tuple[float, float]:
        obs = track.observations[-min(len(track.observations), 6):]
        dt = obs[-1].t - obs[0].t
        if dt <= 0:
            return 0.0, 0.0
        (x0, y0), (x1, y1) = obs[0].foot, obs[-1].foot
        return (x1 - x0) / dt, (y1 - y0) / dt

    candidates = []
    for a in people:
        last = a.observations[-1]
        vx, vy = velocity(a)
        for b in people:
            first = b.observations[0]
            gap = first.t - last.t
            if b is a or gap <= 0:
                continue
            size = min(first.height, last.height) / max(first.height, last.height)
            if gap > max_gap_s:
                short = min(a.t_end - a.t_start, b.t_end - b.t_start) < fragment_s
                stayed = float(np.hypot(first.foot[0] - last.foot[0], first.foot[1] - last.foot[1])) / last.height
                if short and gap <= fragment_gap_s and stayed <= fragment_jump and size >= min_iou_size:
                    candidates.append((stayed + 0.2 * gap, a, b))
                continue
            px, py = last.foot[0] + vx * gap, last.foot[1] + vy * gap
            dist = ((first.foot[0] - px) ** 2 + (first.foot[1] - py) ** 2) ** 0.5 / last.height
            if dist <= max_jump * (1 + gap) and size >= min_iou_size:
                candidates.append((dist + 0.2 * gap, a, b))
    candidates.sort(key=lambda c: c[0])
    head = {id(t): t for t in people}  # tracklet -> the chain it now belongs to
    has_next, has_prev = set(), set()
    for _, a, b in candidates:
        if id(a) in has_next or id(b) in has_prev:
            continue
        chain = head[id(a)]
        if chain is b or chain.observations[-1].t >= b.observations[0].t:
            continue
        chain.observations.extend(b.observations)
        for key, value in b.attributes.items():
            if chain.attributes.get(key) in (None, "unknown"):
                chain.attributes[key] = value
        has_next.add(id(a))
        has_prev.add(id(b))
        for k, v in list(head.items()):
            if v is b:
                head[k] = chain
    merged = [t for t in people if id(t) not in has_prev]
    out = sorted(merged + others, key=lambda t: t.t_start if t.observations else 0.0)
    for n, track in enumerate(out, start=1):
        track.number = n
    return out
