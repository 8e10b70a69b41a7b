"""collapse: a fast fall from upright to lying, then lying on."""

from __future__ import annotations

from typing import Sequence

from gpu_jobs.behaviours.events import EPS, lasts, make_event, mean_confidence, runs_where, saturate
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track


class CollapseRule(ThresholdRule):
    """collapse: upright to lying with the hips falling fast, then lying for collapse_persist_s.

    A frame flagged by an external fall detector (track attribute `fall_frames`) counts as lying
    and stands in for the visible transition.
    """

    def _fall(self, p: TrackProfile, first: int) -> tuple[int | None, float]:
        """The upright observation the fall started from and how far the hips dropped (body heights)."""
        th = self.th
        before = [j for j in range(first) if p.t[first] - p.t[j] <= th.collapse_drop_s + EPS and p.posture[j] == "upright"]
        if not before:
            return None, 0.0
        highest = min(before, key=lambda j: p.hip_y[j])  # hips before the fall, robust to a half-fallen frame
        after = [i for i in range(first, len(p.t)) if p.t[i] - p.t[first] <= th.collapse_drop_s and p.posture[i] == "lying"]
        drop = (max(p.hip_y[i] for i in after) - p.hip_y[highest]) / p.observations[highest].height
        return before[-1], float(drop)

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        events = []
        for track in person_tracks(tracks):
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
                evidence = 0.4 + 0.3 * saturate(drop, 2 * th.collapse_min_drop) + 0.3 * saturate(lying_s, 2 * th.collapse_persist_s)
                if flagged:
                    evidence = max(evidence, 0.9)
                obs = track.observations
                events.append(make_event(
                    "collapse", track=track, obs=obs[first],
                    t_start=obs[start].t if start is not None else obs[first].t, t_end=obs[last].t,
                    evidence=evidence, detection=mean_confidence(obs[first:last + 1]), place=scene.zones.label(obs[first]),
                    facts={"lying_s": lying_s, "hip_drop": drop, "fall_flag": flagged},
                ))
        return events
