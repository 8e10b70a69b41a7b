"""anomaly: running, or walking against the typical flow of the other tracks."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.events import direction, lasts, make_event, mean_confidence, runs_where, saturate
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track


class AnomalyRule(ThresholdRule):
    """anomaly: running (speed >= anomaly_speed for anomaly_persist_s) or walking against the typical flow.

    The typical flow is the mean walking direction of the other tracks; it exists only when at
    least flow_min_tracks of them mostly agree (flow_consistency).
    """

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        profiles = [scene.profile(tr, self.th) for tr in person_tracks(tracks)]
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
                evidence=0.5 + 0.25 * saturate(duration, 2 * th.anomaly_persist_s)
                + 0.25 * saturate(mean_speed - th.anomaly_speed, th.anomaly_speed),
                detection=mean_confidence(span), place=scene.zones.dominant_label(span),
                facts={"kind": "running", "speed": mean_speed, "peak_speed": float(p.speed[peak]),
                       "duration_s": duration, "direction": direction(dx, dy)},
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
                evidence=0.4 + 0.3 * consistency + 0.3 * saturate(duration, 2 * th.against_flow_s),
                detection=mean_confidence(span), place=scene.zones.dominant_label(span),
                facts={"kind": "against_flow", "duration_s": duration, "direction": direction(dx, dy),
                       "flow_direction": direction(*flow), "flow_consistency": consistency,
                       "speed": float(p.speed[first:last + 1].mean())},
            ))
        return events
