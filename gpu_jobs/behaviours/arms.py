"""Arms from pose: where each wrist is relative to the person's own torso, per observation.

Reach is measured in torso lengths (shoulders to hips), so it does not depend on the camera's
distance and stays meaningful when a counter hides the legs (the box is then the upper body only).
Where shoulders or hips are not seen, they are estimated from the box; where a wrist is not seen,
its values are NaN and the rules treat that moment as unknown, never as a reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.types import KEYPOINT_INDEX, KEYPOINTS
from settings import BehaviourThresholds

_KP = KEYPOINT_INDEX
SIDES = ("left", "right")
_SHOULDER = (_KP["left_shoulder"], _KP["right_shoulder"])
_ELBOW = (_KP["left_elbow"], _KP["right_elbow"])
_WRIST = (_KP["left_wrist"], _KP["right_wrist"])
_HIP = (_KP["left_hip"], _KP["right_hip"])
# without keypoints, shoulders and hips of an upright person sit at these heights of the box
_SHOULDER_AT, _HIP_AT = 0.2, 0.5
_TORSO_OF_HEIGHT = 0.3  # torso length as a share of the box height, when it was never measured


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance of points p (n, 2) to segments a-b (n, 2), and where along them (0 at a, 1 at b)."""
    ab = b - a
    u = np.clip(((p - a) * ab).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-9), 0.0, 1.0)
    return np.linalg.norm(p - (a + u[:, None] * ab), axis=-1), u


@dataclass(slots=True)
class ArmProfile:
    """Per observation and wrist (left, right): reach from the torso and closeness to the waist.

    All distances are in torso lengths; NaN where the wrist is not seen.
    """

    t: np.ndarray  # (n,)
    wrist: np.ndarray  # (n, 2, 2) pixels
    seen: np.ndarray  # (n, 2) the wrist is seen
    side_seen: np.ndarray  # (n, 2) that side's shoulder, elbow or hip is seen (the body is there, the hand is not)
    arm_seen: np.ndarray  # (n, 2) that side's shoulder, elbow and wrist are all seen: the whole arm
    reach: np.ndarray  # (n, 2) distance from the shoulder-hip segment of the torso
    waist: np.ndarray  # (n, 2) distance from the waist point (that side's hip, or the box's estimate)
    along: np.ndarray  # (n, 2) where the wrist projects on the torso: 0 shoulders, 1 hips
    torso: np.ndarray  # (n,) torso length in pixels
    shoulder_mid: np.ndarray  # (n, 2)
    hip_mid: np.ndarray  # (n, 2)
    still: np.ndarray  # (n,) the person is not walking (foot speed below walking_speed)
    torso_tilt: np.ndarray  # (n,) degrees of the shoulders-to-hips line from upright (180: head down); NaN unmeasured

    @property
    def n(self) -> int:
        return len(self.t)


def arm_profile(prof: TrackProfile, th: BehaviourThresholds) -> ArmProfile:
    """Measure both arms of a profiled track (see ArmProfile)."""
    obs = prof.observations
    n = len(obs)
    kp = np.zeros((n, len(KEYPOINTS), 3))
    for i, o in enumerate(obs):
        if o.keypoints is not None:
            kp[i] = o.keypoints
    ok = kp[:, :, 2] >= th.keypoint_min_score
    x1, y1, x2, y2 = (prof.boxes[:, k] for k in range(4))
    h = np.maximum(1.0, y2 - y1)
    cx = (x1 + x2) / 2
    box_shoulder = np.column_stack((cx, y1 + _SHOULDER_AT * h))
    box_hip = np.column_stack((cx, y1 + _HIP_AT * h))

    def midpoint(pair: tuple[int, int], fallback: np.ndarray) -> np.ndarray:
        seen = ok[:, list(pair)]
        count = seen.sum(axis=1)
        pts = (kp[:, list(pair), :2] * seen[:, :, None]).sum(axis=1) / np.maximum(count, 1)[:, None]
        return np.where((count > 0)[:, None], pts, fallback)

    shoulder_mid = midpoint(_SHOULDER, box_shoulder)
    hip_mid = midpoint(_HIP, box_hip)
    measured = ok[:, list(_SHOULDER)].any(axis=1) & ok[:, list(_HIP)].any(axis=1)
    lengths = np.linalg.norm(shoulder_mid - hip_mid, axis=1)
    # one torso length per track: the median of the measured ones, else a share of the box
    if measured.any():
        ratio = float(np.median(lengths[measured] / h[measured]))
    else:
        ratio = _TORSO_OF_HEIGHT
    torso = np.maximum(4.0, np.clip(ratio, 0.15, 0.6) * h)
    down = hip_mid - shoulder_mid
    tilt = np.where(measured, np.degrees(np.arctan2(np.abs(down[:, 0]), down[:, 1])), np.nan)

    wrist = kp[:, list(_WRIST), :2]
    seen = ok[:, list(_WRIST)]
    side_seen = ok[:, list(_SHOULDER)] | ok[:, list(_HIP)] | ok[:, list(_ELBOW)]
    arm_seen = ok[:, list(_SHOULDER)] & ok[:, list(_ELBOW)] & seen
    reach = np.full((n, 2), np.nan)
    waist = np.full((n, 2), np.nan)
    along = np.full((n, 2), np.nan)
    for s in range(2):
        d, u = _segment_distance(wrist[:, s], shoulder_mid, hip_mid)
        hip = np.where(ok[:, _HIP[s], None], kp[:, _HIP[s], :2], hip_mid)
        w = np.linalg.norm(wrist[:, s] - hip, axis=1)
        reach[:, s] = np.where(seen[:, s], d / torso, np.nan)
        waist[:, s] = np.where(seen[:, s], w / torso, np.nan)
        along[:, s] = np.where(seen[:, s], u, np.nan)
    return ArmProfile(
        t=prof.t, wrist=wrist, seen=seen, side_seen=side_seen, arm_seen=arm_seen, reach=reach, waist=waist, along=along,
        torso=torso, shoulder_mid=shoulder_mid, hip_mid=hip_mid, still=prof.speed < th.walking_speed,
        torso_tilt=tilt,
    )
