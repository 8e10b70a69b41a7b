"""violent: fast limb motion between two people at close range, persisting."""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.events import EPS, lasts, make_event, saturate, union_box
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track


class ViolenceRule(ThresholdRule):
    """violent: fast wrist motion (relative to the body) between two people at close range, persisting."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        profiles = [scene.profile(tr, self.th) for tr in person_tracks(tracks)]
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
            if episodes and hit[0] - episodes[-1][-1][0] <= th.violent_gap_s + EPS:
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
            evidence = 0.4 + 0.3 * saturate(span, 2 * th.violent_persist_s) + 0.3 * saturate(peak_speed, 2 * th.violent_limb_speed)
            evidence *= 0.7 + 0.3 * wrists  # box-shape motion is a weaker sign than seen wrists
            actor_obs = actor.observations[peak[idx]]
            other_obs = other.observations[peak[3 - idx]]
            events.append(make_event(
                "violent", track=actor.track, obs=actor_obs, t_start=ep[0][0], t_end=ep[-1][0],
                evidence=evidence, detection=(actor_obs.confidence + other_obs.confidence) / 2,
                place=scene.zones.label(actor_obs), related=(other.track.number,),
                bbox=union_box([actor_obs.bbox, other_obs.bbox], scene.frame_size),
                facts={"duration_s": span, "limb_speed": peak_speed, "distance": min(h[3] for h in ep),
                       "hits": len(ep), "limb_source": "wrist" if wrists >= 0.5 else "box"},
            ))
        return events
