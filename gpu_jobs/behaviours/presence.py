"""Presence: loitering (one person staying in place, or in a zone past its own limit) and crowding."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from core.counts import visits
from core.vocabulary import FIXTURE_KINDS
from gpu_jobs.behaviours.events import lasts, make_event, mean_confidence, runs_where, saturate, union_box
from gpu_jobs.behaviours.rule import ThresholdRule, customer_tracks, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.behaviours.zones import observed_path
from gpu_jobs.types import Event, Observation, Track


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


class LoiteringRule(ThresholdRule):
    """loitering: the foot point staying within loitering_radius body heights for loitering_s or longer
    (loitering_fixture_s when the stay is mostly at a shelf or checkout, where standing is shopping), or
    staying in a zone with its own limit (loiter_s) that long, however much the person moves there."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        in_zones = self._in_zones(tracks, scene)
        # a stay already judged by its zone's own limit is one event, not two
        return in_zones + [e for e in self._in_place(tracks, scene) if not any(
            z.track_number == e.track_number and z.t_start <= e.t_end and e.t_start <= z.t_end for z in in_zones)]

    def _in_zones(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        limited = [z for z in scene.zones.zones if z.loiter_s]
        events = []
        for track in customer_tracks(tracks, scene) if limited else ():
            obs = track.observations
            path = observed_path(track.number, obs)
            for zone in limited:
                for visit in visits([path], [zone]):
                    if not lasts(visit.dwell_s, zone.loiter_s):
                        continue
                    span = [o for o in obs if visit.t_enter <= o.t <= visit.t_exit]
                    events.append(make_event(
                        "loitering", track=track, obs=span[len(span) // 2], t_start=visit.t_enter,
                        t_end=visit.t_exit, evidence=0.5 + 0.5 * saturate(visit.dwell_s - zone.loiter_s, zone.loiter_s),
                        detection=mean_confidence(span), place=(zone.name, zone.kind),
                        facts={"dwell_s": visit.dwell_s, "zone_limit_s": float(zone.loiter_s)},
                    ))
        return events

    def _in_place(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        events = []
        for track in customer_tracks(tracks, scene):
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
                if self._shopping(span, scene) and not lasts(dwell, th.loitering_fixture_s):
                    i = j + 1
                    continue
                spread = float(np.max(np.linalg.norm(p.foot[i:j + 1] - p.foot[i], axis=1)) / p.median_body)
                events.append(make_event(
                    "loitering", track=track, obs=span[len(span) // 2], t_start=p.t[i], t_end=p.t[j],
                    evidence=0.5 + 0.5 * saturate(dwell - th.loitering_s, th.loitering_s),
                    detection=mean_confidence(span), place=scene.zones.dominant_label(span),
                    facts={"dwell_s": dwell, "radius": spread},
                ))
                i = j + 1
        return events

    @staticmethod
    def _shopping(span: Sequence[Observation], scene: Scene) -> bool:
        """Whether a stay is mostly at a shelf or checkout (where standing still is shopping)."""
        at = sum(any(scene.zones.kind(n) in FIXTURE_KINDS for n in scene.zones.at_foot(o)) for o in span)
        return at >= 0.5 * len(span)


class CrowdingRule(ThresholdRule):
    """crowding: at least crowding_people in the frame, or crowding_region_people in one third, persisting."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        by_frame: dict[int, list[tuple[Track, Observation]]] = defaultdict(list)
        for track in person_tracks(tracks):
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
                evidence=0.5 + 0.5 * saturate(duration, 3 * th.crowding_persist_s), detection=mean_confidence(everyone),
                place=(region, "region"), bbox=union_box([o.bbox for _, o in people], scene.frame_size),
                related=(tr.number for f in members for tr, _ in by_frame[f]),
                facts={"people": len(people), "people_in_region": in_region, "duration_s": duration,
                       "scope": "frame" if len(people) >= th.crowding_people else "region"},
            ))
        return events
