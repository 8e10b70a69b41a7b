"""Fight features over short windows of tracks, and the learned fight model that scores them.

A fight has to be recognised within about two seconds (the Surveillance Camera Fight Dataset's
clips are two seconds long), so nothing here needs persistence: every WINDOW_S window of the
run (sliding by STEP_S) where people or the frame's flow were seen long enough becomes one row of
FIGHT_FEATURES (NaN where a part was not seen: the model routes missing values as it learned):

- optical flow inside the person boxes (Observation.motion, gpu_jobs.vision.motion): energy,
  motion relative to the box's own (limbs against the body), incoherence, share of moving pixels;
- pose: wrist and ankle speeds relative to the body centre, keypoint confidence (blurred,
  tangled bodies score low);
- boxes: jitter of size and aspect, foot speed, people knocked down (lying), crowding;
- pairs: the closest two people's distance, overlap and how fast they close in;
- the whole frame's flow (FrameSignal.flow, gpu_jobs.vision.motion.FLOW_FIELDS): speed histogram,
  direction entropy, how concentrated the motion is in one place and how it behaves there, how
  abruptly it changes (mean and max over the window's frames) and whether the hottest place stays.

Speeds and distances are in body sizes (per second), as everywhere in the behaviour rules.
`load_fight_model` gives the packaged model (histogram gradient-boosted trees trained by
bench/train_fight_model.py, weights and its threshold in fight.json next to this file); any
`WindowScorer` with the same features can replace it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.models.evaluator import WindowModel
from gpu_jobs.types import KEYPOINT_INDEX, FrameSignal
from gpu_jobs.vision.motion import FLOW_FIELDS, GRID

WINDOW_S = 2.0
STEP_S = 1.0
MIN_COVER_S = 0.8  # a window needs people seen over at least this long to be judged
CLOSE = 0.8  # two people this close (centre distance in body sizes) are in contact range
FAR = 5.0  # the distance feature of a window with one person
MODEL_PATH = Path(__file__).with_name("fight.json")

_KP = KEYPOINT_INDEX
_ANKLES = [_KP["left_ankle"], _KP["right_ankle"]]

FIGHT_FEATURES = (
    # person detections (tracked or not) and the optical flow inside their boxes
    "people_max", "people_mean", "area_share", "coverage", "detection_score",
    "energy_max", "energy_top", "energy_median", "residual_top", "residual_max", "p90_top",
    "incoherence_top", "moving_top", "energy_change",
    # the whole frame's flow, and how much of it the people carry
    "frame_energy", "frame_p90", "frame_moving", "frame_change", "person_contrast",
    # pairs of detections
    "pair_distance", "pair_close_share", "pair_iou", "pair_energy",
    # tracks: pose and box dynamics
    "limb_top", "limb_max", "ankle_top", "keypoint_score", "aspect_jitter", "size_jitter", "speed_max",
    "lying_share", "pair_closing",
    # the whole frame's flow descriptor over the window's frames, and whether the hottest cell stays put
    *(f"flow_{name}_{agg}" for name in FLOW_FIELDS if name != "hot_cell" for agg in ("mean", "max")),
    "flow_hot_cell_stays",
)
_FLOW_AGG = [k for k, name in enumerate(FLOW_FIELDS) if name != "hot_cell"]
_HOT_CELL = FLOW_FIELDS.index("hot_cell")
_HOT_ENERGY = FLOW_FIELDS.index("hot_energy")
_FLOW_NAMES = [n for n in FIGHT_FEATURES if n.startswith("flow_")]
_DETECTION_NAMES = FIGHT_FEATURES[:FIGHT_FEATURES.index("limb_top")]


@dataclass(slots=True)
class Window:
    """One judged window: its span, its feature row, who moved most in it, and where."""

    t0: float
    t1: float
    features: np.ndarray
    actor: int | None  # index into the profiles: the tracked person who moved most, if any was tracked
    other: int | None  # the tracked person closest to the actor, if any
    frame: int  # the frame with the most motion in a person box (for the highlight)
    bbox: tuple[float, float, float, float]  # the moving people's boxes in that frame


def _ankle_speed(p: TrackProfile, min_score: float, max_gap_s: float) -> np.ndarray:
    """Ankle speed relative to the box centre (body sizes per second); NaN where the ankles are not seen."""
    n = len(p.t)
    out = np.full(n, np.nan)
    if n < 2:
        return out
    kp = np.array([o.keypoints[_ANKLES] if o.keypoints is not None else np.zeros((2, 3)) for o in p.observations])
    rel = (kp[:, :, :2] - p.centre[:, None, :]) / p.body[:, None, None]
    seen = kp[:, :, 2] >= min_score
    dt = np.diff(p.t)
    ok = (dt > 0) & (dt <= max_gap_s)
    both = seen[1:] & seen[:-1] & ok[:, None]
    moves = np.linalg.norm(rel[1:] - rel[:-1], axis=2) / np.where(dt > 0, dt, 1.0)[:, None]
    speed = np.where(both, moves, -1.0).max(axis=1)
    out[1:] = np.where(speed >= 0, speed, np.nan)
    return out


class _Cache:
    """Per-profile arrays the windows share (computed once per run)."""

    def __init__(self, profiles: Sequence[TrackProfile], signals: Sequence[FrameSignal], min_score: float,
                 max_gap_s: float) -> None:
        self.ankle = [_ankle_speed(p, min_score, max_gap_s) for p in profiles]
        self.kp_score = [np.array([float(o.keypoints[:, 2].mean()) if o.keypoints is not None else np.nan
                                   for o in p.observations]) for p in profiles]
        self.limb = [np.where(p.limb_from_wrists, p.limb_speed, np.nan) for p in profiles]
        self.lying = [np.array([s == "lying" for s in p.posture]) for p in profiles]
        self.signals = sorted(signals, key=lambda s: s.t)
        self.signal_t = np.array([s.t for s in self.signals], np.float64)


def _finite(a) -> np.ndarray:
    a = np.asarray(a, np.float64).reshape(-1)
    return a[np.isfinite(a)]


def _mean(a) -> float:
    a = _finite(a)
    return float(a.mean()) if a.size else float("nan")


def _max(a) -> float:
    a = _finite(a)
    return float(a.max()) if a.size else float("nan")


def _change(a) -> float:
    """Mean absolute change between consecutive values (how abruptly motion starts and stops)."""
    a = _finite(a)
    return float(np.abs(np.diff(a)).mean()) if a.size >= 2 else float("nan")


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _detection_features(signals: Sequence[FrameSignal], t0: float, t1: float, frame_size: tuple[int, int],
                        fps: float) -> tuple[dict, int, tuple] | None:
    frames = [s for s in signals if len(s.boxes)]
    if not frames or frames[-1].t - frames[0].t < MIN_COVER_S - 1e-6:
        return None
    frame_area = float(frame_size[0] * frame_size[1]) or 1.0
    people = [len(s.boxes) for s in frames]
    area = [float(((s.boxes[:, 2] - s.boxes[:, 0]) * (s.boxes[:, 3] - s.boxes[:, 1])).sum()) / frame_area
            for s in frames]
    top = {name: [] for name in ("energy", "residual", "p90", "incoherence", "moving")}
    energy_all, frame_m, pair_d, pair_iou, pair_e = [], [], [], [], []
    best = (-1.0, frames[0].frame, tuple(float(v) for v in frames[0].boxes[0]))
    for s in frames:
        if s.frame_motion is not None:
            frame_m.append(s.frame_motion)
        if s.motion is None or not len(s.motion):
            top["energy"].append(np.nan)
            continue
        m = np.asarray(s.motion, np.float64)
        energy_all += m[:, 0].tolist()
        j = int(np.argmax(m[:, 0]))
        for name, col in (("energy", 0), ("p90", 1), ("incoherence", 3), ("moving", 4)):
            top[name].append(m[j, col])
        top["residual"].append(float(m[:, 2].max()))
        if m[j, 0] > best[0]:
            body = s.boxes[j]
            near = [b for b in s.boxes if np.linalg.norm((b[:2] + b[2:]) / 2 - (body[:2] + body[2:]) / 2)
                    <= CLOSE * max(body[2] - body[0], body[3] - body[1])]
            arr = np.array(near)
            best = (float(m[j, 0]), s.frame, (float(arr[:, 0].min()), float(arr[:, 1].min()),
                                              float(arr[:, 2].max()), float(arr[:, 3].max())))
        if len(s.boxes) >= 2:
            c = (s.boxes[:, :2] + s.boxes[:, 2:]) / 2
            size = np.maximum(s.boxes[:, 2] - s.boxes[:, 0], s.boxes[:, 3] - s.boxes[:, 1])
            d = np.linalg.norm(c[:, None] - c[None], axis=2) / ((size[:, None] + size[None]) / 2)
            np.fill_diagonal(d, np.inf)
            a, b = np.unravel_index(int(np.argmin(d)), d.shape)
            pair_d.append(float(d[a, b]))
            pair_iou.append(_iou(s.boxes[a], s.boxes[b]))
            pair_e.append(float(m[a, 0] + m[b, 0]))
    fm = np.array(frame_m, np.float64).reshape(-1, 5)
    frame_energy = _mean(fm[:, 0])
    feats = {
        "people_max": float(max(people)), "people_mean": float(np.mean(people)), "area_share": float(np.mean(area)),
        "coverage": min(1.0, len(frames) / max(1.0, (t1 - t0) * fps)),
        "detection_score": float(np.mean(np.concatenate([s.confidence for s in frames]))),
        "energy_max": _max(energy_all), "energy_top": _mean(top["energy"]),
        "energy_median": float(np.median(energy_all)) if energy_all else float("nan"),
        "residual_top": _mean(top["residual"]), "residual_max": _max(top["residual"]), "p90_top": _mean(top["p90"]),
        "incoherence_top": _mean(top["incoherence"]), "moving_top": _mean(top["moving"]),
        "energy_change": _change(top["energy"]),
        "frame_energy": frame_energy, "frame_p90": _mean(fm[:, 1]), "frame_moving": _mean(fm[:, 4]),
        "frame_change": _change(fm[:, 0]),
        "person_contrast": float("nan"),
        "pair_distance": float(np.median(pair_d)) if pair_d else FAR,
        "pair_close_share": float(np.mean(np.array(pair_d) <= CLOSE)) if pair_d else 0.0,
        "pair_iou": float(np.mean(pair_iou)) if pair_iou else 0.0,
        "pair_energy": _mean(pair_e) if pair_e else 0.0,
    }
    # the people's motion against the whole frame's: both in frame sizes per second
    if energy_all and np.isfinite(frame_energy):
        sizes = np.concatenate([np.maximum(s.boxes[:, 2] - s.boxes[:, 0], s.boxes[:, 3] - s.boxes[:, 1])
                                for s in frames])
        long_side = float(max(frame_size))
        feats["person_contrast"] = _mean(top["energy"]) * float(np.median(sizes)) / long_side / (frame_energy + 1e-3)
    return feats, best[1], best[2]


def _flow_features(signals: Sequence[FrameSignal], frame_size: tuple[int, int]) -> tuple[dict, int, tuple] | None:
    """The whole frame's flow over the window (people seen or not), the frame where it peaked and that place."""
    frames = [s for s in signals if s.flow is not None]
    if not frames or frames[-1].t - frames[0].t < MIN_COVER_S - 1e-6:
        return None
    flow = np.array([s.flow for s in frames], np.float64).reshape(-1, len(FLOW_FIELDS))
    feats = {}
    for k in _FLOW_AGG:
        feats[f"flow_{FLOW_FIELDS[k]}_mean"], feats[f"flow_{FLOW_FIELDS[k]}_max"] = _mean(flow[:, k]), _max(flow[:, k])
    hot = flow[:, _HOT_CELL]
    feats["flow_hot_cell_stays"] = float(np.mean(hot[1:] == hot[:-1])) if len(hot) >= 2 else float("nan")
    peak = int(np.nanargmax(np.nan_to_num(flow[:, _HOT_ENERGY], nan=-1.0)))
    rows, cols = GRID
    r, c = divmod(int(hot[peak]), cols)
    w, h = frame_size
    bbox = (max(0.0, (c - 1) * w / cols), max(0.0, (r - 1) * h / rows), min(float(w), (c + 2) * w / cols),
            min(float(h), (r + 2) * h / rows))
    return feats, frames[peak].frame, bbox


def _track_features(profiles: Sequence[TrackProfile], cache: _Cache, t0: float, t1: float) -> tuple[dict, dict]:
    limb_top_by_t: dict[float, float] = {}
    ankle_top_by_t: dict[float, float] = {}
    kp, aspect_j, size_j, speed, lying, limb_all, spans, mover = [], [], [], [], [], [], {}, {}
    for k, p in enumerate(profiles):
        lo, hi = int(np.searchsorted(p.t, t0 - 1e-6)), int(np.searchsorted(p.t, t1 - 1e-6))
        if hi <= lo:
            continue
        spans[k] = (lo, hi)
        for i in range(lo, hi):
            key = round(float(p.t[i]), 3)
            for store, value in ((limb_top_by_t, cache.limb[k][i]), (ankle_top_by_t, cache.ankle[k][i])):
                if np.isfinite(value):
                    store[key] = max(store.get(key, 0.0), float(value))
        kp += cache.kp_score[k][lo:hi].tolist()
        speed.append(float(p.speed[lo:hi].max()))
        lying += cache.lying[k][lo:hi].tolist()
        limbs = _finite(cache.limb[k][lo:hi])
        limb_all += limbs.tolist()
        energy = _finite([o.motion[0] for o in p.observations[lo:hi] if o.motion is not None])
        mover[k] = float(energy.sum()) + float(limbs.sum())
        if hi - lo >= 3:
            dt = np.diff(p.t[lo:hi])
            ok = dt > 0
            w = p.boxes[lo:hi, 2] - p.boxes[lo:hi, 0]
            h = p.boxes[lo:hi, 3] - p.boxes[lo:hi, 1]
            if ok.any():
                aspect_j.append(float(np.mean(np.abs(np.diff(np.log(h / w)))[ok] / dt[ok])))
                size_j.append(float(np.mean(np.abs(np.diff(np.log(h)))[ok] / dt[ok])))
    closing, nearest = [], {}
    keys = sorted(spans)
    for x in range(len(keys)):
        for y in range(x + 1, len(keys)):
            pa, pb = profiles[keys[x]], profiles[keys[y]]
            (la, ha), (lb, hb) = spans[keys[x]], spans[keys[y]]
            _, ia, ib = np.intersect1d(pa.frames[la:ha], pb.frames[lb:hb], return_indices=True)
            if not len(ia):
                continue
            ia, ib = ia + la, ib + lb
            d = np.linalg.norm(pa.centre[ia] - pb.centre[ib], axis=1) / ((pa.body[ia] + pb.body[ib]) / 2)
            nearest[(keys[x], keys[y])] = float(d.min())
            dt = pa.t[ia[-1]] - pa.t[ia[0]]
            if len(ia) >= 2 and dt > 0 and d.min() <= 2 * CLOSE:
                closing.append(float((d[0] - d.min()) / dt))
    feats = {
        "limb_top": _mean(list(limb_top_by_t.values())), "limb_max": _max(limb_all),
        "ankle_top": _mean(list(ankle_top_by_t.values())), "keypoint_score": _mean(kp),
        "aspect_jitter": _max(aspect_j), "size_jitter": _max(size_j), "speed_max": _max(speed),
        "lying_share": float(np.mean(lying)) if lying else 0.0, "pair_closing": max(closing) if closing else 0.0,
    }
    actor = max(mover, key=mover.get) if mover else None
    other = None
    if actor is not None:
        pairs = {(b if a == actor else a): d for (a, b), d in nearest.items() if actor in (a, b)}
        other = min(pairs, key=pairs.get) if pairs else None
    return feats, {"actor": actor, "other": other}


def window_features(profiles: Sequence[TrackProfile], cache: _Cache, t0: float, t1: float,
                    frame_size: tuple[int, int], fps: float) -> Window | None:
    """The feature row of the window [t0, t1), or None when neither people nor flow were seen long enough in it."""
    lo, hi = np.searchsorted(cache.signal_t, t0 - 1e-6), np.searchsorted(cache.signal_t, t1 - 1e-6)
    found = _detection_features(cache.signals[lo:hi], t0, t1, frame_size, fps)
    flow = _flow_features(cache.signals[lo:hi], frame_size)
    if found is None and flow is None:
        return None
    if found is None:  # a brawl can hide the people from the detector: the frame's flow still counts
        det = {name: float("nan") for name in _DETECTION_NAMES}
        det.update(people_max=0.0, people_mean=0.0, area_share=0.0)
        _, frame, bbox = flow
    else:
        det, frame, bbox = found
    tr, who = _track_features(profiles, cache, t0, t1)
    feats = {**det, **tr, **(flow[0] if flow is not None else dict.fromkeys(_FLOW_NAMES, float("nan")))}
    return Window(t0, t1, np.array([feats[name] for name in FIGHT_FEATURES], np.float64), who["actor"],
                  who["other"], frame, bbox)


def fight_windows(profiles: Sequence[TrackProfile], signals: Sequence[FrameSignal], frame_size: tuple[int, int],
                  fps: float, *, min_score: float = 0.3, max_gap_s: float = 1.0,
                  window_s: float = WINDOW_S, step_s: float = STEP_S) -> list[Window]:
    """Every judged window of the run, in time order (windows start on multiples of step_s)."""
    profiles = [p for p in profiles if len(p.t)]
    cache = _Cache(profiles, signals, min_score, max_gap_s)
    if not len(cache.signal_t):
        return []
    start, end = float(cache.signal_t[0]), float(cache.signal_t[-1])
    windows = []
    t0 = float(np.floor(start / step_s) * step_s)
    while t0 <= end - MIN_COVER_S + 1e-6:
        w = window_features(profiles, cache, t0, t0 + window_s, frame_size, fps)
        if w is not None:
            windows.append(w)
        t0 += step_s
    return windows


@lru_cache(maxsize=4)
def load_fight_model(path: str = str(MODEL_PATH)) -> WindowModel | None:
    """The packaged fight model, or None when the file is absent (the rule then uses pose alone)."""
    if not Path(path).is_file():
        return None
    return WindowModel.load(Path(path), expected_features=FIGHT_FEATURES)
