"""The engine: runs every behaviour rule over the tracks of one video (or chunk), events in time order.

Example:
    >>> events = BehaviourRules(get_settings().rules).run(tracks, zones, (1280, 720), 5.0)
"""

from __future__ import annotations

import logging
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.anomaly import AnomalyRule
from gpu_jobs.behaviours.collapse import CollapseRule
from gpu_jobs.behaviours.concealment import ConcealmentRule
from gpu_jobs.behaviours.picking import PickingRule
from gpu_jobs.behaviours.posture import PostureSegments
from gpu_jobs.behaviours.presence import CrowdingRule, LoiteringRule
from gpu_jobs.behaviours.rule import Rule, ThresholdRule, person_tracks, staff_area_of
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.behaviours.theft import TheftRule
from gpu_jobs.behaviours.violence import ViolenceRule
from gpu_jobs.types import Event, FrameSignal, Track, Zone
from settings import BehaviourThresholds

log = logging.getLogger(__name__)

# every rule the engine runs, in this order; a new rule module adds its class here
RULES: tuple[type[ThresholdRule], ...] = (
    PostureSegments, CollapseRule, PickingRule, ConcealmentRule, TheftRule,
    ViolenceRule, LoiteringRule, CrowdingRule, AnomalyRule,
)


class BehaviourRules:
    """Runs every behaviour rule over the tracks of one video (or chunk) and returns their events."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.thresholds = thresholds
        self.rules: list[Rule] = [rule(thresholds) for rule in RULES]

    def run(self, tracks: list[Track], zones: list[Zone], frame_size: tuple[int, int], fps_sampled: float, *,
            signals: Sequence[FrameSignal] | None = None,
            picture: Sequence[int] | None = None) -> list[Event]:
        """Events of all rules, ordered by start time.

        Args:
            tracks: person and item tracks with observations at the sampled rate.
            zones: the video's shelf, checkout, exit and custom zones (regions optional).
            frame_size: (width, height) in pixels.
            fps_sampled: the analysis rate, used for smoothing windows.
            signals: per sampled frame, motion where the people are (gpu_jobs.analysis); optional.
            picture: (x1, y1, x2, y2) of the picture inside black bars (gpu_jobs.vision.picture); None: the frame.
        """
        usable = [_in_time_order(tr) for tr in tracks if tr.observations]
        scene = Scene.build(zones, frame_size, fps_sampled if fps_sampled > 0 else _infer_fps(usable), signals=signals,
                            picture=picture)
        events: list[Event] = []
        for rule in self.rules:
            found = rule.detect(usable, scene)
            log.debug("%s found %d events", type(rule).__name__, len(found))
            events.extend(found)
        _mark_staff(events, usable, scene)
        events.sort(key=lambda e: (e.t_start, e.type, e.track_number if e.track_number is not None else -1))
        return events


def _mark_staff(events: list[Event], tracks: Sequence[Track], scene: Scene) -> None:
    """Each event of a member of staff says their staff area (`staff_area`): the answers tell staff from customers."""
    staff = {tr.number: area for tr in person_tracks(tracks) if (area := staff_area_of(tr, scene)) is not None}
    for event in events:
        if event.track_number in staff:
            event.attributes["staff_area"] = staff[event.track_number]


def _in_time_order(track: Track) -> Track:
    obs = track.observations
    if all(a.t <= b.t for a, b in zip(obs, obs[1:])):
        return track
    # a copy, so the caller's track is left as it was
    return Track(track.number, track.class_name, sorted(obs, key=lambda o: o.t), track.attributes)


def _infer_fps(tracks: Sequence[Track]) -> float:
    steps = [b.t - a.t for tr in tracks for a, b in zip(tr.observations, tr.observations[1:]) if b.t > a.t]
    return 1.0 / float(np.median(steps)) if steps else 5.0
