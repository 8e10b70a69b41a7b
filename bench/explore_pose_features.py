"""Pose candidates for the fight model (development): computed from the keypoints the pipeline already has.

Per tracked person and sampled frame (MoveNet keypoints, score >= keypoint_min_score):
- wrist_accel: change of a wrist's velocity relative to the body between two steps (a punch
  starts and stops; a walking arm swings smoothly), body sizes per second squared;
- wrist_reach: the farthest wrist from its shoulder, body sizes (an arm thrown out);
- wrist_raised: a wrist above its shoulder (a swing, a guard);
- wrist_on_other: a wrist inside another person detection's box (contact);
- torso_tilt_rate: how fast the shoulder-hip line turns (a fall turns the torso to the floor
  once, a scuffle twists it back and forth): mean |change| per second;
- torso_tilt_end: the torso's angle from upright at the window's last pose (a fall ends lying).
Per window: the mean and max over frames (frames: the max over people), as the other features.
"""

from __future__ import annotations

import warnings

import numpy as np

from gpu_jobs.behaviours.models.fight import WINDOW_S
from gpu_jobs.types import KEYPOINTS

_KP = {name: i for i, name in enumerate(KEYPOINTS)}
WRISTS = [_KP["left_wrist"], _KP["right_wrist"]]
SHOULDERS = [_KP["left_shoulder"], _KP["right_shoulder"]]
HIPS = [_KP["left_hip"], _KP["right_hip"]]
POSE = ("wrist_accel", "wrist_reach", "wrist_raised", "wrist_on_other", "torso_tilt_rate", "torso_tilt_end")


def person_frames(profile, signals_by_frame: dict, min_score: float, max_gap_s: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, (n, len(POSE))) per observation of one track (NaN where its keypoints are not seen)."""
    obs = profile.observations
    n = len(obs)
    out = np.full((n, len(POSE)), np.nan)
    kp = np.array([o.keypoints if o.keypoints is not None else np.zeros((17, 3)) for o in obs], np.float64)
    body = profile.body
    rel = (kp[:, WRISTS, :2] - profile.centre[:, None, :]) / body[:, None, None]
    seen = kp[:, WRISTS, 2] >= min_score
    t = profile.t
    for i in range(n):
        sh, hp = kp[i, SHOULDERS], kp[i, HIPS]
        sh_ok, hp_ok = sh[:, 2] >= min_score, hp[:, 2] >= min_score
        if seen[i].any() and sh_ok.any():
            reach = [np.linalg.norm(kp[i, w, :2] - sh[s, :2]) / body[i] for s, w in zip(range(2), WRISTS)
                     if kp[i, w, 2] >= min_score and sh_ok[s]]
            if reach:
                out[i, 1] = max(reach)
            raised = [kp[i, w, 1] < sh[s, 1] for s, w in zip(range(2), WRISTS) if kp[i, w, 2] >= min_score and sh_ok[s]]
            out[i, 2] = float(any(raised)) if raised else np.nan
        if seen[i].any():
            s = signals_by_frame.get(int(profile.frames[i]))
            on = 0.0
            if s is not None and len(s.boxes):
                own = np.asarray(profile.boxes[i])
                for w in range(2):
                    if not seen[i, w]:
                        continue
                    x, y = kp[i, WRISTS[w], :2]
                    for b in s.boxes:
                        if np.abs(np.asarray(b) - own).sum() < 0.1 * body[i]:
                            continue  # its own detection
                        if b[0] <= x <= b[2] and b[1] <= y <= b[3]:
                            on = 1.0
            out[i, 3] = on
        if sh_ok.any() and hp_ok.any():
            top = sh[sh_ok, :2].mean(axis=0)
            bottom = hp[hp_ok, :2].mean(axis=0)
            dx, dy = top - bottom
            out[i, 5] = float(np.degrees(np.arctan2(abs(dx), max(-dy, 1e-6))))  # 0 upright, 90 lying
    for i in range(2, n):
        dt1, dt2 = t[i] - t[i - 1], t[i - 1] - t[i - 2]
        if 0 < dt1 <= max_gap_s and 0 < dt2 <= max_gap_s:
            ok = seen[i] & seen[i - 1] & seen[i - 2]
            if ok.any():
                v1 = (rel[i] - rel[i - 1]) / dt1
                v0 = (rel[i - 1] - rel[i - 2]) / dt2
                out[i, 0] = float(np.max(np.linalg.norm(v1 - v0, axis=1)[ok]) / ((dt1 + dt2) / 2))
    tilt = out[:, 5]
    for i in range(1, n):
        dt = t[i] - t[i - 1]
        if 0 < dt <= max_gap_s and np.isfinite(tilt[i]) and np.isfinite(tilt[i - 1]):
            out[i, 4] = abs(tilt[i] - tilt[i - 1]) / dt
    return t, out


def window_pose(profiles, signals, starts: np.ndarray, min_score: float, max_gap_s: float) -> np.ndarray:
    """(windows, 2 * len(POSE)): mean then max over the window's frames of the per-frame max over people."""
    by_frame = {s.frame: s for s in signals}
    per = [person_frames(p, by_frame, min_score, max_gap_s) for p in profiles if len(p.t)]
    out = np.full((len(starts), 2 * len(POSE)), np.nan)
    for n, t0 in enumerate(starts):
        frames: dict[float, np.ndarray] = {}
        end_tilt, end_t = np.nan, -1.0
        for t, rows in per:
            sel = (t >= t0 - 1e-6) & (t < t0 + WINDOW_S - 1e-6)
            for ti, r in zip(t[sel], rows[sel]):
                key = round(float(ti), 3)
                frames[key] = r if key not in frames else np.fmax(frames[key], r)
                if np.isfinite(r[5]) and ti >= end_t:
                    end_tilt, end_t = r[5], ti
        if not frames:
            continue
        m = np.array(list(frames.values()))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature missing on every frame stays NaN
            out[n, :len(POSE)] = np.nanmean(m, axis=0)
            out[n, len(POSE):] = np.nanmax(m, axis=0)
        out[n, POSE.index("torso_tilt_end")] = end_tilt
        out[n, len(POSE) + POSE.index("torso_tilt_end")] = end_tilt
    return out
