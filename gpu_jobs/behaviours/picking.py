"""picking: an item taken from a shelf, or an outstretched hand dwelling in a shelf zone."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.events import lasts, make_event, mean_confidence, runs_where, saturate
from gpu_jobs.behaviours.items import ItemTake, find_item_takes
from gpu_jobs.behaviours.kinematics import hand_points
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Observation, Track

_REACH_EXTENSION = 0.25  # a hand this far (body sizes) from the box centre is held out; hanging arms are ~0.15
_GRAB_WINDOW_S = 2.0  # a picking event starts at most this long before the item moves


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


class PickingRule(ThresholdRule):
    """picking: an item track taken from a shelf by a person, or an outstretched hand dwelling in a shelf zone."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = [self._take_event(take, scene) for take in find_item_takes(tracks, scene, self.th)]
        taken = defaultdict(list)
        for e in events:
            taken[e.track_number].append((e.t_start, e.t_end))
        for track in person_tracks(tracks):
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
            evidence = (0.4 + 0.3 * saturate(dwell, 3 * th.picking_dwell_s)) * (1.0 if by_wrist else 0.85)
            events.append(make_event(
                "picking", track=track, obs=obs[(first + last) // 2], t_start=t[first], t_end=t[last],
                evidence=evidence, detection=mean_confidence(obs[first:last + 1]), place=(shelf, "shelf"),
                facts={"evidence": "hand_in_shelf", "dwell_s": dwell, "hand": "wrist" if by_wrist else "box"},
            ))
        return events
