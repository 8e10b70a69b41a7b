"""Joining the chunks of a video into one run: tracks matched across each overlap, one timeline of frames.

Neighbouring chunks both analyse their overlap, and sampled frames are the same frames in both
(indices count from the file's start), so a person there is one box per frame in each. Tracks of
the two chunks are paired by their mean box IoU over the frames both saw (Hungarian assignment),
with the people's attributes (clothing colour, gender, age) as a tie-break. Each frame is then
taken from one chunk only: the earlier one before the middle of the overlap, the later one
from it on, so nothing is counted twice. Split tracklets at a boundary that the overlap did not
pair (someone hidden there) get a second chance in `link_tracklets`, which also numbers the
tracks 1..n through the whole video.

Example:
    >>> stitched = stitch([ChunkPart(0, 0.0, 64.0, tracks0, signals0, stats0),
    ...                    ChunkPart(1, 60.0, 120.0, tracks1, signals1, stats1)])
    >>> [t.number for t in stitched.tracks]
    [1, 2, 3]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.geometry import box_iou
from gpu_jobs.types import FrameSignal, Track

MIN_IOU = 0.5  # mean IoU over the shared frames for two tracks to be one person
MIN_SHARED = 2  # sampled frames both tracks must have in the overlap
APPEARANCE_WEIGHT = 0.1  # cost added per differing attribute: decides between boxes that overlap alike
APPEARANCE_KEYS = ("clothing_colour", "gender", "age_group")
MIN_OBSERVATIONS = 3  # as the frame scan: fewer sightings are detector noise


@dataclass(slots=True)
class ChunkPart:
    """One chunk's partial result: its tracks (numbered within the chunk), signals and frame stats.

    Frame stats' detections name their track by that chunk-local number (or None).
    """

    index: int
    t_start: float
    t_end: float
    tracks: list[Track]
    signals: list[FrameSignal]
    stats: list[dict]


@dataclass(slots=True)
class Stitched:
    tracks: list[Track]
    signals: list[FrameSignal]
    stats: list[dict]
    cuts: list[float] = field(default_factory=list)  # the time each later chunk takes over
    matched: list[int] = field(default_factory=list)  # tracks paired across each boundary


def appearance_mismatch(a: Track, b: Track) -> int:
    """How many known attributes of the two tracks differ."""
    known = ("unknown", None, "")
    return sum(1 for k in APPEARANCE_KEYS
               if a.attributes.get(k) not in known and b.attributes.get(k) not in known
               and a.attributes.get(k) != b.attributes.get(k))


def match_overlap(earlier: list[Track], later: list[Track], t_from: float, t_to: float) -> list[tuple[int, int]]:
    """Pairs (i, j) of earlier[i] and later[j] that are one object in the overlap [t_from, t_to]."""
    from scipy.optimize import linear_sum_assignment

    def boxes(track: Track) -> dict[int, tuple]:
        return {o.frame: o.bbox for o in track.observations if t_from - 1e-6 <= o.t <= t_to + 1e-6}

    a_boxes, b_boxes = [boxes(t) for t in earlier], [boxes(t) for t in later]
    a_idx = [i for i, b in enumerate(a_boxes) if b]
    b_idx = [j for j, b in enumerate(b_boxes) if b]
    if not a_idx or not b_idx:
        return []
    invalid = 1e6
    cost = np.full((len(a_idx), len(b_idx)), invalid)
    for r, i in enumerate(a_idx):
        for c, j in enumerate(b_idx):
            if earlier[i].class_name != later[j].class_name:
                continue
            shared = a_boxes[i].keys() & b_boxes[j].keys()
            if len(shared) < MIN_SHARED:
                continue
            iou = float(np.mean([box_iou(a_boxes[i][f], b_boxes[j][f]) for f in shared]))
            if iou >= MIN_IOU:
                cost[r, c] = 1.0 - iou + APPEARANCE_WEIGHT * appearance_mismatch(earlier[i], later[j])
    rows, cols = linear_sum_assignment(cost)
    return [(a_idx[r], b_idx[c]) for r, c in zip(rows, cols) if cost[r, c] < invalid]


def _merge_attributes(into: dict, other: dict) -> None:
    for key, value in other.items():
        if into.get(key) in (None, "unknown"):
            into[key] = value


def stitch(parts: list[ChunkPart]) -> Stitched:
    """One run from the chunks' partial results (in any order); tracks renumbered through the video."""
    from gpu_jobs.vision.tracking import link_tracklets

    parts = sorted(parts, key=lambda p: p.index)
    # chunk k keeps the frames in [lo_k, hi_k): the middle of each overlap hands over to the next chunk
    cuts = [(parts[k].t_start + parts[k - 1].t_end) / 2 for k in range(1, len(parts))]
    bounds = [(-np.inf if k == 0 else cuts[k - 1], np.inf if k == len(parts) - 1 else cuts[k])
              for k in range(len(parts))]
    identity: dict[tuple[int, int], int] = {}  # (chunk, local track index) -> stitched track
    members: list[list[tuple[int, int]]] = []
    matched = []
    for k, part in enumerate(parts):
        pairs = {}
        if k:
            prev = parts[k - 1]
            pairs = {j: i for i, j in match_overlap(prev.tracks, part.tracks, part.t_start, prev.t_end)}
            matched.append(len(pairs))
        for j in range(len(part.tracks)):
            if j in pairs:
                n = identity[(k - 1, pairs[j])]
                members[n].append((k, j))
            else:
                n = len(members)
                members.append([(k, j)])
            identity[(k, j)] = n

    stitched: list[Track | None] = []
    for chain in members:
        first = parts[chain[0][0]].tracks[chain[0][1]]
        track = Track(number=0, class_name=first.class_name, attributes=dict(first.attributes))
        for k, j in chain:
            lo, hi = bounds[k]
            source = parts[k].tracks[j]
            track.observations.extend(o for o in source.observations if lo <= o.t < hi)
            _merge_attributes(track.attributes, source.attributes)
        stitched.append(track if len(track.observations) >= MIN_OBSERVATIONS else None)
    kept = link_tracklets([t for t in stitched if t is not None])
    number_of_obs = {id(o): t.number for t in kept for o in t.observations}
    final = [number_of_obs[id(t.observations[0])] if t is not None else None for t in stitched]

    signals: list[FrameSignal] = []
    stats: list[dict] = []
    for k, part in enumerate(parts):
        lo, hi = bounds[k]
        local = {t.number: final[identity[(k, j)]] for j, t in enumerate(part.tracks)}
        signals.extend(s for s in part.signals if lo <= s.t < hi)
        for stat in part.stats:
            if lo <= stat["t"] < hi:
                for det in stat["detections"]:
                    det["track"] = local.get(det.get("track"))
                stats.append(stat)
    return Stitched(kept, signals, stats, cuts, matched)
