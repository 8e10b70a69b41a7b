"""Event construction: runs and durations, evidence scaling, and the Event a rule emits."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from gpu_jobs.behaviours.kinematics import FALL_FRAMES_KEY
from gpu_jobs.types import BBox, Event, Observation, Track

EPS = 1e-6


def runs_where(mask: Sequence[bool], t: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """(first, last) index of each run of True, a run ending at a False or a time gap > max_gap_s."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, on in enumerate(mask):
        if on and start is not None and t[i] - t[i - 1] > max_gap_s + EPS:
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
    return duration >= threshold - EPS


def confidence(evidence: float, detection: float) -> float:
    """How sure an event is: mostly how clearly the rule fired, partly how sure the detector was."""
    return round(float(np.clip(0.7 * evidence + 0.3 * detection, 0.0, 1.0)), 3)


def saturate(value: float, full: float) -> float:
    """value / full, capped to 0..1: how far past a threshold something went."""
    return float(np.clip(value / full, 0.0, 1.0)) if full > 0 else 1.0


def direction(dx: float, dy: float) -> str:
    """Heading in image terms; moving up the image usually means away from the camera."""
    if abs(dx) >= abs(dy):
        return "right" if dx > 0 else "left"
    return "away" if dy < 0 else "towards"


def track_attributes(track: Track | None) -> dict:
    if track is None:
        return {}
    # the per-frame fall signal is input to the rules, not a description of the person
    return {k: v for k, v in track.attributes.items() if k != FALL_FRAMES_KEY}


def union_box(boxes: Iterable[BBox], frame_size: tuple[int, int]) -> BBox:
    arr = np.array(list(boxes), float)
    w, h = frame_size
    return (
        float(max(0.0, arr[:, 0].min())), float(max(0.0, arr[:, 1].min())),
        float(min(w, arr[:, 2].max())), float(min(h, arr[:, 3].max())),
    )


def mean_confidence(observations: Iterable[Observation]) -> float:
    values = [o.confidence for o in observations]
    return float(np.mean(values)) if values else 0.0


def make_event(
    type_: str, *, track: Track | None, obs: Observation, t_start: float, t_end: float,
    evidence: float, detection: float, place: tuple[str, str], facts: dict,
    related: Iterable[int] = (), object_class: str | None = None, bbox: BBox | None = None,
) -> Event:
    """An event with the track's attributes, the rule's facts and the place it happened."""
    attributes = track_attributes(track)
    attributes.update({k: (round(float(v), 2) if isinstance(v, (float, np.floating)) else v) for k, v in facts.items()})
    attributes["zone_kind"] = place[1]
    if place[1] != "region" and obs.region:  # "any picking on the left?" still finds a pick at a named shelf there
        attributes["region"] = obs.region
    return Event(
        type=type_, t_start=round(float(t_start), 2), t_end=round(float(t_end), 2), frame=int(obs.frame),
        bbox=tuple(float(v) for v in (bbox or obs.bbox)), confidence=confidence(evidence, detection),
        track_number=track.number if track is not None else None, zone=place[0], attributes=attributes,
        related_tracks=tuple(sorted(set(related))), object_class=object_class,
    )
