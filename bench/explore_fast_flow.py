"""Does flow at the source frame rate (or pose) help the fight model? Nested grouped CV (development; writes no model).

Reads bench/cache/fast_flow (bench/extract_fast_flow.py: per sampled frame, DIS flow to the next
decoded frame and the one after). Per window it adds the mean and max over the window's frames of
FAST (the frame descriptor of that 0.04 s flow, its flicker against the next one, the person
boxes' motion in it, and its hottest place against the 0.2 s flow's). `gated` variants keep them
only on frames where two detections are within PAIR_GATE body sizes (what the product would
compute, to keep the cost down); elsewhere they are missing. `pose` variants add the keypoint
candidates of bench/explore_pose_features.py.

Same folds, groups, threshold rule and nested pick as bench/explore_fight_features.py. The
windows' rows are cached in bench/cache/explore_fast_flow.pkl (delete it after re-extracting).

    .venv/bin/python bench/explore_fast_flow.py [--variants base fast_w1 ...]  # ~30 min on a loaded machine
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import explore_fight_features as explore  # noqa: E402
from bench import train_fight_model as fight_training  # noqa: E402
from bench.extract_behaviour_tracks import load_signals  # noqa: E402
from bench.extract_fast_flow import OUT as FAST_CACHE  # noqa: E402
from gpu_jobs.behaviours.models.fight import FIGHT_FEATURES, WINDOW_S  # noqa: E402
from gpu_jobs.vision.motion import FLOW_FIELDS  # noqa: E402

PAIR_GATE = 1.5  # body sizes between two detections' centres: the gated variants measure only such frames
_F = {n: k for k, n in enumerate(FLOW_FIELDS)}
FRAME_KEYS = ("hof_0", "hof_1", "hof_2", "hof_3", "hof_4", "hof_5", "p99", "direction_entropy", "cell_max",
              "cell_concentration", "hot_incoherence", "hot_residual", "hot_energy")
CHANGE_KEYS = ("change_mean", "change_cell_max", "change_concentration", "flicker_cell_max")
FAST = (*(f"fast_{k}" for k in FRAME_KEYS), *(f"fast_{k}" for k in CHANGE_KEYS),
        "fast_box_energy_max", "fast_box_residual_max", "fast_box_p90_max", "fast_box_moving_top",
        "fast_hot_over_slow", "fast_pair_energy")
SMALL = ("fast_hof_3", "fast_hof_4", "fast_p99", "fast_hot_energy", "fast_hot_residual", "fast_change_mean",
         "fast_change_cell_max", "fast_flicker_cell_max", "fast_box_energy_max", "fast_box_residual_max",
         "fast_hot_over_slow", "fast_pair_energy")
VARIANTS = {  # name: (fast features added, gated, hard-negative weight[, pose candidates added])
    "base": ((), False, 1.0),
    "pose_w1": ((), False, 1.0, True),
    "pose_small_w1": (SMALL, False, 1.0, True),
    "fast_pose_w1": (FAST, False, 1.0, True),
    "fast_w1": (FAST, False, 1.0),
    "small_w1": (SMALL, False, 1.0),
    "gated_w1": (FAST, True, 1.0),
    "fast_w3": (FAST, False, 3.0),
    "small_w3": (SMALL, False, 3.0),
}


def closest_pair(boxes: np.ndarray) -> tuple[float, int, int]:
    if len(boxes) < 2:
        return float("inf"), -1, -1
    c = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    d = np.linalg.norm(c[:, None] - c[None], axis=2) / ((size[:, None] + size[None]) / 2)
    np.fill_diagonal(d, np.inf)
    a, b = np.unravel_index(int(np.argmin(d)), d.shape)
    return float(d[a, b]), int(a), int(b)


def frame_fast(stem: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, (n, len(FAST)) per sampled frame, gate per frame) from the fast-flow cache of one clip."""
    d = np.load(FAST_CACHE / (stem.name + ".npz"))
    signals = {s.frame: s for s in load_signals(stem.with_suffix(".npz"))}
    n = len(d["frame"])
    out = np.full((n, len(FAST)), np.nan)
    gate = np.zeros(n, bool)
    at = 0
    for k in range(n):
        cnt = int(d["count"][k])
        motion = d["motion"][at:at + cnt]
        at += cnt
        f1, f2 = d["flow1"][k], d["flow2"][k]
        if np.isnan(f1).all():
            continue
        row = [f1[_F[key]] for key in FRAME_KEYS] + [f2[_F[key]] for key in CHANGE_KEYS]
        s = signals.get(int(d["frame"][k]))
        boxes = s.boxes if s is not None else np.zeros((0, 4))
        if cnt and np.isfinite(motion).any():
            j = int(np.nanargmax(motion[:, 0]))
            row += [float(np.nanmax(motion[:, 0])), float(np.nanmax(motion[:, 2])), float(np.nanmax(motion[:, 1])),
                    float(motion[j, 4])]
        else:
            row += [np.nan] * 4
        row.append(np.nan)  # fast_hot_over_slow: per window, against the 0.2 s flow's (build)
        dist, a, b = closest_pair(np.asarray(boxes, np.float64).reshape(-1, 4))
        row.append(float(motion[a, 0] + motion[b, 0]) if a >= 0 and len(motion) == len(boxes) else np.nan)
        gate[k] = dist <= PAIR_GATE
        out[k] = row
    return np.asarray(d["t"], np.float64), out, gate


def window_fast(times, per_frame, gate, starts, gated: bool) -> np.ndarray:
    """(windows, 2 * len(FAST)): mean then max over the window's frames (only gated frames if gated)."""
    out = np.full((len(starts), 2 * len(FAST)), np.nan)
    for n, t0 in enumerate(starts):
        sel = (times >= t0 - 1e-6) & (times < t0 + WINDOW_S - 1e-6)
        if gated:
            sel &= gate
        inside = per_frame[sel]
        if not len(inside):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a feature missing on every frame stays NaN
            out[n, :len(FAST)] = np.nanmean(inside, axis=0)
            out[n, len(FAST):] = np.nanmax(inside, axis=0)
    return out


def load(cache: Path) -> list[dict]:
    pickled = cache.parent / "explore_fast_flow.pkl"
    if pickled.exists():
        return pickle.loads(pickled.read_bytes())
    clips = explore.load(cache)
    for c in clips:
        stem = cache / Path(c["meta"]["path"]).with_suffix("").as_posix().replace("/", "__")
        c["fast_frames"] = frame_fast(stem)
    pickled.write_bytes(pickle.dumps(clips))
    return clips


def add_pose(clips: list[dict], cache: Path) -> None:
    """c["pose"]: the pose candidates' window rows (bench/explore_pose_features.py) of every clip."""
    from bench.explore_pose_features import window_pose
    from bench.extract_behaviour_tracks import load_tracks
    from gpu_jobs.behaviours.kinematics import profile_track
    from settings import BehaviourThresholds

    th = BehaviourThresholds(_env_file=None)
    for c in clips:
        stem = cache / Path(c["meta"]["path"]).with_suffix("").as_posix().replace("/", "__")
        tracks, meta = load_tracks(stem.with_suffix(".json.gz"))
        profiles = [profile_track(tr, th, meta["fps_sampled"]) for tr in tracks if tr.class_name == "person"]
        c["pose"] = window_pose(profiles, load_signals(stem.with_suffix(".npz")), c["starts"],
                                th.keypoint_min_score, th.max_gap_s)


def build(clips: list[dict], keys: tuple[str, ...], gated: bool, pose: bool = False) -> fight_training.Clips:
    cols = [FAST.index(k) for k in keys] + [len(FAST) + FAST.index(k) for k in keys]
    prepared = []
    for c in clips:
        extra = window_fast(*c["fast_frames"], c["starts"], gated)
        slow = c["rows"][:, FIGHT_FEATURES.index("flow_hot_energy_mean")]
        extra[:, FAST.index("fast_hot_over_slow")] = extra[:, FAST.index("fast_hot_energy")] / (slow + 1e-3)
        extra[:, len(FAST) + FAST.index("fast_hot_over_slow")] = (
            extra[:, len(FAST) + FAST.index("fast_hot_energy")]
            / (c["rows"][:, FIGHT_FEATURES.index("flow_hot_energy_max")] + 1e-3))
        extra = extra[:, cols]
        if pose:
            extra = np.concatenate([extra, c["pose"]], axis=1)
        prepared.append({**c, "candidates": extra})
    return explore.build(prepared, None)


def main() -> None:
    args, started = explore.start(__doc__, list(VARIANTS))
    clips = load(args.cache)
    if any(len(VARIANTS[v]) > 3 for v in args.variants):
        add_pose(clips, args.cache)
    print(f"{len(clips)} clips loaded in {time.monotonic() - started:.0f} s; variants {args.variants}", flush=True)
    explore.compare({v: (build(clips, *VARIANTS[v][:2], *VARIANTS[v][3:]), VARIANTS[v][2], {})
                     for v in args.variants}, started)

if __name__ == "__main__":
    main()
