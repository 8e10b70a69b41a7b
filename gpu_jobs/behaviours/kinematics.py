"""Track kinematics: posture, smoothed speed, hip height, hands and limb speed per observation.

Distances and speeds are in body sizes (the larger side of the person's box, so a lying person
keeps their length), which makes the thresholds independent of the camera's distance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gpu_jobs.types import KEYPOINT_INDEX, KEYPOINTS, Observation, Track
from settings import BehaviourThresholds

# optional track attribute: frames an external fall detector flagged (the detector also sets Observation.fall)
FALL_FRAMES_KEY = "fall_frames"

_KP = KEYPOINT_INDEX
_WRISTS = (_KP["left_wrist"], _KP["right_wrist"])
_REACH_HEIGHT = 0.3  # without keypoints, hands are looked for at this height of the box (shoulders)


def _thigh_shares(keypoints: np.ndarray, min_score: float) -> np.ndarray:
    """Per observation: hip-to-knee height as a share of the torso (mean of visible sides), NaN if not measurable."""
    shares = []
    for side in ("left", "right"):
        s, h, k = (keypoints[:, _KP[f"{side}_{part}"]] for part in ("shoulder", "hip", "knee"))
        torso = h[:, 1] - s[:, 1]
        # a torso that is not upright (or unseen joints) makes the thigh test meaningless
        ok = (np.minimum(np.minimum(s[:, 2], h[:, 2]), k[:, 2]) >= min_score) & (torso > 1.0)
        shares.append(np.where(ok, (k[:, 1] - h[:, 1]) / np.where(ok, torso, 1.0), np.nan))
    both = np.stack(shares, axis=1)
    counts = np.isfinite(both).sum(axis=1)
    return np.where(counts > 0, np.nansum(both, axis=1) / np.maximum(counts, 1), np.nan)


def postures(aspect: np.ndarray, keypoints: np.ndarray, fall_flag: np.ndarray, th: BehaviourThresholds) -> list[str]:
    """upright, sitting or lying per observation, from the box aspect (h / w) and, when visible, hips and knees.

    keypoints is (n, 17, 3) with zero scores where there is no pose.
    """
    thigh = _thigh_shares(keypoints, th.keypoint_min_score)
    sitting = np.where(np.isfinite(thigh), thigh < th.sitting_thigh_ratio, aspect < th.sitting_aspect)
    lying = fall_flag | (aspect < th.lying_aspect)
    return np.where(lying, "lying", np.where(sitting, "sitting", "upright")).tolist()


def classify_posture(obs: Observation, th: BehaviourThresholds, fall_flag: bool = False) -> str:
    """upright, sitting or lying for one observation (see postures)."""
    kp = obs.keypoints if obs.keypoints is not None else np.zeros((len(KEYPOINTS), 3))
    return postures(np.array([obs.height / obs.width]), kp[None], np.array([fall_flag]), th)[0]


def hand_points(obs: Observation, min_score: float) -> tuple[list[tuple[float, float]], str]:
    """Where the hands are: visible wrists, else the box's sides at shoulder height."""
    kp = obs.keypoints
    if kp is not None:
        pts = [(float(kp[i, 0]), float(kp[i, 1])) for i in _WRISTS if kp[i, 2] >= min_score]
        if pts:
            return pts, "wrist"
    x1, y1, x2, y2 = obs.bbox
    y = y1 + _REACH_HEIGHT * (y2 - y1)
    return [(x1, y), (x2, y)], "box"


@dataclass(slots=True)
class TrackProfile:
    """Per-observation measurements of one track, computed once and shared by the rules."""

    track: Track
    t: np.ndarray
    frames: np.ndarray
    boxes: np.ndarray  # (n, 4) pixels
    foot: np.ndarray  # (n, 2) pixels
    centre: np.ndarray  # (n, 2) pixels
    body: np.ndarray  # body size in pixels: max(h, w)
    wrists: np.ndarray  # (n, 2, 3) left and right wrist x, y, score; score 0 without keypoints
    velocity: np.ndarray  # (n, 2) foot velocity in body sizes per second, over speed_window_s
    speed: np.ndarray
    posture: list[str]  # upright | sitting | lying
    hip_y: np.ndarray  # hips from keypoints, else the box centre
    limb_speed: np.ndarray  # wrist speed relative to the body centre, body sizes per second
    limb_from_wrists: np.ndarray  # False where limb_speed comes from the box shape instead
    fall_flag: np.ndarray
    by_frame: dict[int, int]  # frame number -> observation index

    @property
    def observations(self) -> list[Observation]:
        return self.track.observations

    @property
    def median_body(self) -> float:
        return float(np.median(self.body))


def _windowed_velocity(t: np.ndarray, foot: np.ndarray, body: np.ndarray, half: int) -> np.ndarray:
    """Foot displacement across +-half samples, per second and body size."""
    n = len(t)
    idx = np.arange(n)
    a, b = np.maximum(0, idx - half), np.minimum(n - 1, idx + half)
    cum = np.concatenate(([0.0], np.cumsum(body)))
    mean_body = (cum[b + 1] - cum[a]) / (b - a + 1)
    dt = t[b] - t[a]
    safe = np.where(dt > 0, dt, 1.0)
    return np.where((dt > 0)[:, None], (foot[b] - foot[a]) / safe[:, None] / mean_body[:, None], 0.0)


def _limb_speeds(t, centre, body, widths, wrists, has_pose, th) -> tuple[np.ndarray, np.ndarray]:
    """Wrist speed relative to the body centre; without any pose, how fast the box changes width."""
    n = len(t)
    limb, from_wrists = np.zeros(n), np.zeros(n, bool)
    if n < 2:
        return limb, from_wrists
    dt = np.diff(t)
    step_ok = (dt > 0) & (dt <= th.max_gap_s)
    safe = np.where(dt > 0, dt, 1.0)
    rel = (wrists[:, :, :2] - centre[:, None, :]) / body[:, None, None]
    seen = wrists[:, :, 2] >= th.keypoint_min_score
    both = seen[1:] & seen[:-1] & step_ok[:, None]
    moves = np.linalg.norm(rel[1:] - rel[:-1], axis=2) / safe[:, None]
    from_wrists[1:] = both.any(axis=1)
    wrist_speed = np.where(both, moves, 0.0).max(axis=1)
    # no pose: a limb flung out shows as the box suddenly widening or narrowing
    no_pose = ~has_pose[1:] & ~has_pose[:-1] & step_ok
    box_speed = np.abs(np.diff(widths)) / safe / body[1:]
    limb[1:] = np.where(from_wrists[1:], wrist_speed, np.where(no_pose, box_speed, 0.0))
    return limb, from_wrists


def profile_track(track: Track, th: BehaviourThresholds, fps: float) -> TrackProfile:
    """Measure a track: posture, smoothed speed, hip height and limb speed per observation."""
    obs = track.observations
    n = len(obs)
    t = np.array([o.t for o in obs], float)
    boxes = np.array([o.bbox for o in obs], float).reshape(n, 4)
    w = np.maximum(1.0, boxes[:, 2] - boxes[:, 0])
    h = np.maximum(1.0, boxes[:, 3] - boxes[:, 1])
    body = np.maximum(h, w)
    foot = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]))
    centre = np.column_stack(((boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2))

    # displacement across a window, not frame-to-frame steps, so box jitter does not read as motion
    velocity = _windowed_velocity(t, foot, body, max(1, int(fps * th.speed_window_s / 2 + 0.5)))

    has_pose = np.array([o.keypoints is not None for o in obs], bool)
    keypoints = np.zeros((n, len(KEYPOINTS), 3))
    for i, o in enumerate(obs):
        if o.keypoints is not None:
            keypoints[i] = o.keypoints
    flagged = set(track.attributes.get(FALL_FRAMES_KEY) or ())
    fall_flag = np.array([o.fall or o.frame in flagged for o in obs], bool)  # the detector's per-box flag, or listed
    posture = postures(h / w, keypoints, fall_flag, th)
    hips = keypoints[:, [_KP["left_hip"], _KP["right_hip"]]]
    hip_seen = hips[:, :, 2] >= th.keypoint_min_score
    hip_count = hip_seen.sum(axis=1)
    hip_y = np.where(hip_count > 0, (hips[:, :, 1] * hip_seen).sum(axis=1) / np.maximum(hip_count, 1), centre[:, 1])

    wrists = keypoints[:, list(_WRISTS)]
    limb, from_wrists = _limb_speeds(t, centre, body, w, wrists, has_pose, th)
    return TrackProfile(
        track=track, t=t, frames=np.array([o.frame for o in obs], int), boxes=boxes, foot=foot, centre=centre,
        body=body, wrists=wrists, velocity=velocity, speed=np.linalg.norm(velocity, axis=1), posture=posture,
        hip_y=hip_y, limb_speed=limb, limb_from_wrists=from_wrists, fall_flag=fall_flag,
        by_frame={o.frame: i for i, o in enumerate(obs)},
    )
