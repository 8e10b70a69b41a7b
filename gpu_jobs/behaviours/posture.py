"""walking, standing and sitting: per-track posture/motion segments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from gpu_jobs.behaviours.events import direction, lasts, make_event, mean_confidence
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track
from settings import BehaviourThresholds


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


class PostureSegments(ThresholdRule):
    """walking, standing and sitting: one event per segment of at least min_segment_s."""

    types = ("walking", "standing", "sitting")

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = []
        for track in person_tracks(tracks):
            profile = scene.profile(track, self.th)
            for seg in segment_track(profile, self.th):
                duration = profile.t[seg.last] - profile.t[seg.first]
                if seg.label not in self.types or not lasts(duration, self.th.min_segment_s):
                    continue
                span = track.observations[seg.first:seg.last + 1]
                facts = {"duration_s": duration, "speed": float(profile.speed[seg.first:seg.last + 1].mean())}
                if seg.label == "walking":
                    dx, dy = profile.foot[seg.last] - profile.foot[seg.first]
                    facts["direction"] = direction(dx, dy)
                events.append(make_event(
                    seg.label, track=track, obs=span[len(span) // 2], t_start=span[0].t, t_end=span[-1].t,
                    evidence=seg.agreement, detection=mean_confidence(span),
                    place=scene.zones.dominant_label(span), facts=facts,
                ))
        return events
