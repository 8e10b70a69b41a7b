"""Behaviour rules over tracks: each rule is a small, explainable unit that turns tracks into events.

The rules work on observations at the sampled rate (default 5 fps). Distances and speeds are
measured in body sizes (the larger side of the person's box, so a lying person keeps their
length), which makes the thresholds independent of the camera's distance.

- `zones`: `ZoneMap`, `default_regions`, `region_of` (and `core.geometry.points_in_polygon`).
- `kinematics`: `TrackProfile`, `profile_track`, `postures`, `classify_posture`, `hand_points`.
- `scene`: `Scene`, what every rule gets besides the tracks (zones, frame size, fps, per-run caches).
- `events`: `make_event`, `confidence`, `runs_where`, `lasts` and the evidence helpers.
- `rule`: the `Rule` protocol and the `ThresholdRule` base every rule derives from.
- `arms`: `ArmProfile`, `arm_profile`: each wrist's reach from the torso and closeness to the waist.
- one module per rule family: `posture`, `collapse`, `items` (item takes), `picking` (picks), `concealment`, `theft`,
  `violence`, `presence` (loitering, crowding), `anomaly`.
- `engine`: `BehaviourRules`, which runs every rule in `RULES`; a new rule module adds its class there.

Example:
    >>> events = BehaviourRules(get_settings().rules).run(tracks, zones, (1280, 720), 5.0)
"""

from __future__ import annotations

from gpu_jobs.behaviours.anomaly import AnomalyRule
from gpu_jobs.behaviours.collapse import CollapseRule
from gpu_jobs.behaviours.concealment import ConcealmentRule
from gpu_jobs.behaviours.engine import RULES, BehaviourRules
from gpu_jobs.behaviours.kinematics import classify_posture
from gpu_jobs.behaviours.picking import PickingRule
from gpu_jobs.behaviours.posture import PostureSegments
from gpu_jobs.behaviours.presence import CrowdingRule, LoiteringRule
from gpu_jobs.behaviours.rule import Rule, ThresholdRule
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.behaviours.theft import TheftRule
from gpu_jobs.behaviours.violence import ViolenceRule
from core.geometry import points_in_polygon
from gpu_jobs.behaviours.zones import default_regions, region_of

__all__ = [
    "RULES", "AnomalyRule", "BehaviourRules", "CollapseRule", "ConcealmentRule", "CrowdingRule", "LoiteringRule",
    "PickingRule",
    "PostureSegments", "Rule", "Scene", "TheftRule", "ThresholdRule", "ViolenceRule",
    "classify_posture", "default_regions", "points_in_polygon", "region_of",
]
