"""violent: a fight within two seconds (learned model over motion and pose), or fast limbs at close range.

Two ways to fire, both explainable:
- the fight model (gpu_jobs/behaviours/models/fight.py): every two-second window of the run is
  described by optical flow in and between the person boxes (tracked or only detected), wrist and
  ankle speeds, box jitter, closing distance and people knocked down, and scored by a small model
  trained on real surveillance fights (bench/train_fight_model.py); a window at or above
  violent_model_threshold (by default the model's own, chosen by grouped CV) is violent. Windows
  in a row make one event.
- fast wrists relative to the body between two tracked people at close range, over
  violent_persist_s (needs pose on both; it does not depend on the model).
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.events import EPS, lasts, make_event, saturate, union_box
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.models.evaluator import WindowScorer
from gpu_jobs.behaviours.models.fight import Window, fight_windows, load_fight_model
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.behaviours.zones import region_of
from gpu_jobs.types import Event, Observation, Track


class ViolenceRule(ThresholdRule):
    """violent: the fight model's windows at or above violent_model_threshold, or fast wrists at close range.

    model: any WindowScorer over FIGHT_FEATURES; by default the packaged fight.json (None when
    violent_model is off or the file is missing: then only the wrist rule runs). A scorer brings
    its own threshold; violent_model_threshold overrides it.
    """

    def __init__(self, thresholds, model: WindowScorer | None = None):
        super().__init__(thresholds)
        self.model = model if model is not None else (load_fight_model() if thresholds.violent_model else None)
        override = thresholds.violent_model_threshold
        self.threshold = float(override if override is not None else getattr(self.model, "threshold", 0.5))

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        profiles = [scene.profile(tr, self.th) for tr in person_tracks(tracks)]
        events = []
        for a, b in combinations(profiles, 2):
            events.extend(self._pair(a, b, scene))
        for event in self._model_events(profiles, scene):
            if not any(event.t_start <= e.t_end and e.t_start <= event.t_end for e in events):
                events.append(event)
        return events

    def _model_events(self, profiles: list[TrackProfile], scene: Scene) -> list[Event]:
        """Windows the fight model scores at or above the threshold; consecutive ones are one event."""
        if self.model is None or not scene.signals:
            return []
        th = self.th
        windows = fight_windows(profiles, scene.signals, scene.frame_size, scene.fps,
                                min_score=th.keypoint_min_score, max_gap_s=th.max_gap_s)
        if not windows:
            return []
        prob = self.model.probability(np.array([w.features for w in windows]))
        episodes: list[list[tuple[Window, float]]] = []
        for w, pr in zip(windows, prob):
            if pr < self.threshold:
                continue
            if episodes and w.t0 <= episodes[-1][-1][0].t1 + EPS:
                episodes[-1].append((w, float(pr)))
            else:
                episodes.append([(w, float(pr))])
        return [self._episode_event(ep, profiles, scene) for ep in episodes]

    def _episode_event(self, ep: list[tuple[Window, float]], profiles: list[TrackProfile], scene: Scene) -> Event:
        peak, peak_p = max(ep, key=lambda x: x[1])
        t_start, t_end = ep[0][0].t0, ep[-1][0].t1
        actor = profiles[peak.actor] if peak.actor is not None else None
        other = profiles[peak.other] if peak.other is not None else None
        seen = [o for p in profiles for o in p.observations if t_start - EPS <= o.t <= t_end + EPS]
        if seen:  # the event spans what was seen, not the window's edges
            t_start, t_end = max(t_start, min(o.t for o in seen)), min(t_end, max(o.t for o in seen))
        if actor is not None:
            obs = min(actor.observations, key=lambda o: abs(o.frame - peak.frame))
            boxes = [obs.bbox, peak.bbox]
            if other is not None:
                boxes.append(min(other.observations, key=lambda o: abs(o.frame - peak.frame)).bbox)
            bbox = union_box(boxes, scene.frame_size)
        else:  # nobody tracked: the detections that moved
            bbox = peak.bbox
            obs = Observation(t=t_start, frame=peak.frame, bbox=bbox, confidence=0.5,
                              region=region_of((bbox[0] + bbox[2]) / 2, scene.frame_size[0]))
        evidence = 0.5 + 0.5 * saturate(peak_p - self.threshold, 1.0 - self.threshold)
        return make_event(
            "violent", track=actor.track if actor is not None else None, obs=obs, t_start=t_start, t_end=t_end,
            evidence=evidence, detection=obs.confidence, place=scene.zones.label(obs),
            related=(other.track.number,) if other is not None else (), bbox=bbox,
            facts={"duration_s": t_end - t_start, "fight_probability": peak_p, "windows": len(ep),
                   "limb_source": "model"},
        )

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
            evidence = (0.4 + 0.3 * saturate(span, 2 * th.violent_persist_s)
                        + 0.3 * saturate(peak_speed, 2 * th.violent_limb_speed))
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
