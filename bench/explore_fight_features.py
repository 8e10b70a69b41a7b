"""Compare candidate fight features and training settings by nested grouped CV (development; writes no model).

The packaged fight model (bench/train_fight_model.py) is the variant `base`. The other variants
add per-frame candidates computed from the same DIS optical flow the product measures (on the
cached small frames, every two consecutive sampled frames), aggregated per window as the frame
descriptor is (mean and max over the window's frames):

- reversal of the flow between two flows (|v - v_before| / (|v| + |v_before|) where either moved),
  over the frame (`rev_all`), around the hottest cell (`rev_hot`) and in the busiest cell
  (`rev_cell_max`); the mean vector change (`dvec_mean`);
- curl and divergence of the flow relative to its speed (`curl_rel`, `div_rel`);
- where the moving pixels are: spread (`spread_x`, `spread_y`), 5-95 % extent (`moving_box_area`),
  moving share around the hottest cell (`hot_moving`);
- against the person detections: share of moving pixels outside every box (`outside_share`), flow
  in the closest pair's union box against the frame's (`pair_contrast`).

Nested selection: in every outer fold of the grouped 5-fold CV (the same folds, groups and
threshold rule as train_fight_model.py), each variant gets its inner grouped 4-fold out-of-fold
scores, its threshold and its inner F1 (-1 where no threshold keeps the inner held-out hard
negatives at <= 5 %); the variant with the best inner F1 is the one tested on the outer fold
(`nested`). Every variant's own outer figures are printed too: comparing them is a choice made
on the CV figure, so the nested row is the honest one.

    .venv/bin/python bench/explore_fight_features.py            # every variant (about 20 minutes on 2 cores)
    .venv/bin/python bench/explore_fight_features.py --variants base top3_w1

Deterministic (fixed seeds). Needs the cache of bench/extract_behaviour_tracks.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import train_fight_model as fight_training  # noqa: E402
from bench.extract_behaviour_tracks import CACHE, load_clip  # noqa: E402
from gpu_jobs.behaviours.kinematics import profile_track  # noqa: E402
from gpu_jobs.behaviours.models.fight import FIGHT_FEATURES, WINDOW_S, fight_windows  # noqa: E402
from gpu_jobs.vision.motion import FRAME_MOVING, GRID, MAX_DT, _cells  # noqa: E402
from settings import BehaviourThresholds  # noqa: E402

CANDIDATES = ("rev_all", "rev_hot", "rev_cell_max", "dvec_mean", "curl_rel", "div_rel", "spread_x", "spread_y",
              "moving_box_area", "outside_share", "pair_contrast", "hot_moving")
TOP3 = ("rev_all", "rev_hot", "dvec_mean")
FLOW8 = ("rev_all", "rev_hot", "dvec_mean", "rev_cell_max", "spread_x", "spread_y", "moving_box_area", "hot_moving")
REGULARISED = {"max_depth": 2, "min_samples_leaf": 30, "max_iter": 150, "l2_regularization": 3.0}
# name: (candidate features added, hard-negative weight, histogram boosting parameters changed)
VARIANTS = {
    "base": ((), 1.0, {}),
    "all12_w1": (CANDIDATES, 1.0, {}),
    "top3_w1": (TOP3, 1.0, {}),
    "top3_w3": (TOP3, 3.0, {}),
    "flow8_w1": (FLOW8, 1.0, {}),
    "flow8_w3": (FLOW8, 3.0, {}),
    "base_reg": ((), 1.0, REGULARISED),
    "base_mined": ((), 1.0, {}),  # each training clip's 2 top windows refit at 5x (MINED)
    "flow8_w1_reg": (FLOW8, 1.0, REGULARISED),
    "flow8_w3_reg": (FLOW8, 3.0, REGULARISED),
}
THRESHOLDS = np.round(np.arange(0.2, 0.991, 0.025), 3)  # up to 0.975: a quiet threshold exists more often
MINED = (2, 5.0)  # base_mined: each training clip's this many top windows refit at this weight


def frame_candidates(v: np.ndarray, before: np.ndarray | None, boxes: np.ndarray, full_size) -> np.ndarray:
    """CANDIDATES of one flow (v: frame sizes per second, (h, w, 2)); before: the previous flow's v, if consecutive."""
    h, w = v.shape[:2]
    speed = np.hypot(v[..., 0], v[..., 1])
    moving = speed > FRAME_MOVING
    out = dict.fromkeys(CANDIDATES, np.nan)
    gh, gw = GRID
    hot = int(np.argmax(_cells(speed)))
    r, c, ch, cw = hot // gw, hot % gw, h // gh, w // gw
    around = (slice(max(0, (r - 1) * ch), min(h, (r + 2) * ch)), slice(max(0, (c - 1) * cw), min(w, (c + 2) * cw)))
    out["hot_moving"] = float(moving[around].mean())
    if before is not None and before.shape == v.shape:
        turn = np.hypot(*(v - before).transpose(2, 0, 1))
        was = np.hypot(before[..., 0], before[..., 1])
        either = moving | (was > FRAME_MOVING)
        if either.sum() >= 10:
            out["rev_all"] = float(turn[either].mean() / (speed[either].mean() + was[either].mean() + 1e-6))
        out["dvec_mean"] = float(turn.mean())
        near = either[around]
        if near.sum() >= 10:
            out["rev_hot"] = float(turn[around][near].mean()
                                   / (speed[around][near].mean() + was[around][near].mean() + 1e-6))
        moved = _cells(speed + was)
        out["rev_cell_max"] = float((_cells(turn) / (moved + 1e-3))[int(np.argmax(moved))])
    if moving.sum() >= 10:
        gy, gx = np.gradient(v[..., 0]), np.gradient(v[..., 1])
        mean_speed = speed[moving].mean() + 1e-6
        out["curl_rel"] = float(np.abs(gx[1] - gy[0])[moving].mean() / mean_speed)
        out["div_rel"] = float(np.abs(gy[1] + gx[0])[moving].mean() / mean_speed)
        ys, xs = np.nonzero(moving)
        out["spread_x"], out["spread_y"] = float(xs.std() / w), float(ys.std() / h)
        px, py = np.percentile(xs, [5, 95]), np.percentile(ys, [5, 95])
        out["moving_box_area"] = float((px[1] - px[0]) * (py[1] - py[0]) / (w * h))
    scale = w / float(full_size[0])
    if len(boxes):
        inside = np.zeros((h, w), bool)
        for x1, y1, x2, y2 in boxes:
            inside[int(max(0, y1 * scale)):int(min(h, y2 * scale + 1)),
                   int(max(0, x1 * scale)):int(min(w, x2 * scale + 1))] = True
        if moving.sum() >= 10:
            out["outside_share"] = float((moving & ~inside).sum() / moving.sum())
        if len(boxes) >= 2:
            b = np.asarray(boxes, np.float64)
            centre = (b[:, :2] + b[:, 2:]) / 2
            size = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1])
            d = np.linalg.norm(centre[:, None] - centre[None], axis=2) / ((size[:, None] + size[None]) / 2)
            np.fill_diagonal(d, np.inf)
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            u = np.concatenate([np.minimum(b[i, :2], b[j, :2]), np.maximum(b[i, 2:], b[j, 2:])]) * scale
            region = speed[int(max(0, u[1])):int(min(h, u[3] + 1)), int(max(0, u[0])):int(min(w, u[2] + 1))]
            if region.size:
                out["pair_contrast"] = float(region.mean() / (speed.mean() + 1e-3))
    return np.array([out[k] for k in CANDIDATES], np.float64)


def clip_candidates(stem: Path, signals, frame_size) -> tuple[np.ndarray, np.ndarray]:
    """(times, (n, len(CANDIDATES))) of every sampled frame with a flow, from the cached small frames."""
    import cv2

    data = np.load(stem.with_suffix(".npz"))
    greys, times, frames = data["grey"], data["t"], data["frame"]
    boxes = {s.frame: s.boxes for s in signals}
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    at, rows, before, before_k = [], [], None, None
    for k in range(1, len(greys)):
        dt = float(times[k] - times[k - 1])
        if not (0 < dt <= MAX_DT and greys[k].shape == greys[k - 1].shape):
            continue
        flow = dis.calc(greys[k - 1], greys[k], None)
        v = flow.astype(np.float64) / (max(flow.shape[:2]) * dt)
        rows.append(frame_candidates(v, before if before_k == k - 1 else None,
                                     boxes.get(int(frames[k]), np.zeros((0, 4))), frame_size))
        at.append(float(times[k]))
        before, before_k = v, k
    return np.array(at), np.array(rows, np.float64).reshape(-1, len(CANDIDATES))


def window_candidates(times: np.ndarray, per_frame: np.ndarray, starts: np.ndarray, window_s: float) -> np.ndarray:
    """(windows, 2 * len(CANDIDATES)): mean then max of each candidate over the window's frames (NaN if unseen)."""
    out = np.full((len(starts), 2 * len(CANDIDATES)), np.nan)
    for n, t0 in enumerate(starts):
        inside = per_frame[(times >= t0 - 1e-6) & (times < t0 + window_s - 1e-6)]
        for j in range(len(CANDIDATES)):
            col = inside[:, j][np.isfinite(inside[:, j])]
            if col.size:
                out[n, j], out[n, len(CANDIDATES) + j] = col.mean(), col.max()
    return out


def load(cache: Path):
    """Per clip: its base rows (FIGHT_FEATURES), candidate rows, window starts, metadata and thumbnail."""
    import cv2

    th = BehaviourThresholds(_env_file=None)
    stems = sorted({p.with_suffix("").with_suffix("") for p in cache.glob("fights__*.json.gz")})
    stems += sorted({p.with_suffix("").with_suffix("") for pattern in fight_training.HARD_NEGATIVES
                     for p in cache.glob(pattern)})
    clips = []
    for stem in stems:
        tracks, signals, meta = load_clip(stem)
        if meta["kind"] == "fight" and not meta["path"].startswith("fights/"):
            continue  # a store fighting clip: unlabelled in time (as train_fight_model.py)
        profiles = [profile_track(tr, th, meta["fps_sampled"]) for tr in tracks if tr.class_name == "person"]
        windows = fight_windows(profiles, signals, tuple(meta["frame_size"]), meta["fps_sampled"],
                                min_score=th.keypoint_min_score, max_gap_s=th.max_gap_s)
        starts = np.array([w.t0 for w in windows])
        times, per_frame = clip_candidates(stem, signals, tuple(meta["frame_size"]))
        grey = np.load(stem.with_suffix(".npz"))["grey"]
        thumb = None
        if len(grey):
            thumb = cv2.resize(np.median(grey, axis=0).astype(np.float32), (32, 24),
                               interpolation=cv2.INTER_AREA).reshape(-1)
            thumb = (thumb - thumb.mean()) / (thumb.std() + 1e-6)
        clips.append({"meta": meta, "starts": starts, "thumb": thumb,
                      "rows": np.array([w.features for w in windows]).reshape(-1, len(FIGHT_FEATURES)),
                      "candidates": window_candidates(times, per_frame, starts, WINDOW_S)})
    return clips


def build(clips: list[dict], keys: tuple[str, ...] | None) -> fight_training.Clips:
    """train_fight_model's Clips (same labels, parts, groups) with these candidates' mean and max appended."""
    cols = (slice(None) if keys is None  # None: every column of c["candidates"] (bench/explore_fast_flow.py)
            else [CANDIDATES.index(k) for k in keys] + [len(CANDIDATES) + CANDIDATES.index(k) for k in keys])
    rows, labels, thumbs, sources, names, group_keys = [], [], [], [], [], []
    for c in clips:
        meta = c["meta"]
        r = np.concatenate([c["rows"], c["candidates"][:, cols]], axis=1)
        parts = [(r, meta["path"])]
        if fight_training.source_of(meta) == "vtest":
            cut = np.floor(c["starts"] / fight_training.VTEST_PART_S)
            parts = [(r[cut == k], f"{meta['path']}@{int(k * fight_training.VTEST_PART_S)}s") for k in np.unique(cut)]
        for part_rows, name in parts:
            rows.append(part_rows)
            labels.append(int(bool(meta["positive"]) and meta["kind"] == "fight"))
            thumbs.append(c["thumb"])
            sources.append(fight_training.source_of(meta))
            names.append(name)
            group_keys.append(fight_training.group_key(meta) if name == meta["path"] else name)
    fight = [i for i, s in enumerate(sources) if s == "fight set"]
    groups = np.zeros(len(names), int)
    groups[fight] = fight_training.scene_groups([thumbs[i] for i in fight])
    others = sorted({group_keys[i] for i in range(len(names)) if sources[i] != "fight set"})
    for i in range(len(names)):
        if sources[i] != "fight set":
            groups[i] = 10_000 + others.index(group_keys[i])
    return fight_training.Clips(rows, labels, groups, sources, names)


def nested_cv(variants: dict[str, tuple[fight_training.Clips, float, dict]]) -> dict:
    """Every variant's outer grouped-CV predictions, and the nested pick (best inner F1) per outer fold."""
    from sklearn.model_selection import GroupKFold

    make_model = fight_training.make_model
    names = list(variants)
    first = variants[names[0]][0]
    n, labels, groups, fs = len(first.labels), first.labels, first.groups, first.fight_set
    per = {v: {"pred": np.zeros(n, bool), "score": np.zeros(n), "win": [np.zeros(0, bool)] * n}
           for v in [*names, "nested"]}
    for k, (train, test) in enumerate(GroupKFold(n_splits=fight_training.FOLDS).split(np.arange(n), labels, groups)):
        inner = {}
        for v in names:
            clips, weight, params = variants[v]
            fight_training.make_model = lambda kind, p=params: make_model(kind).set_params(**p)
            scores = np.zeros(len(train))
            for itr, ite in GroupKFold(n_splits=fight_training.INNER_FOLDS).split(train, labels[train], groups[train]):
                fitted = clips.fit("hgbt", train[itr], weight)
                scores[ite] = [w.max() if len(w) else 0.0 for w in clips.window_scores(fitted, train[ite])]
            thr = fight_training.best_threshold(scores, labels[train], ~fs[train])
            quiet = (scores[~fs[train]] >= thr).mean() <= fight_training.MAX_HARD_FIRING
            inner[v] = (fight_training.prf(scores[fs[train]] >= thr, labels[train][fs[train]])[2] if quiet else -1.0,
                        thr)
            fitted = clips.fit("hgbt", train, weight)
            for i, w in zip(test, clips.window_scores(fitted, test)):
                per[v]["win"][i], per[v]["score"][i] = w >= thr, (w.max() if len(w) else 0.0)
                per[v]["pred"][i] = per[v]["score"][i] >= thr
            fight_training.make_model = make_model
        best = max(names, key=lambda v: inner[v][0])
        for i in test:
            for key in ("pred", "score", "win"):
                per["nested"][key][i] = per[best][key][i]
        print(f"  fold {k + 1}: " + ", ".join(f"{v} F1 {f1:.3f} @ {thr}" for v, (f1, thr) in inner.items())
              + f" -> {best}", flush=True)
    return per


def summary(name: str, per: dict, clips: fight_training.Clips) -> str:
    from sklearn.metrics import roc_auc_score

    fs, labels, pred = clips.fight_set, clips.labels, per["pred"]
    p, r, f1 = fight_training.prf(pred[fs], labels[fs])
    auc = roc_auc_score(labels[fs], per["score"][fs])
    alarms = []
    for source in sorted(set(clips.sources[~fs])):
        at = np.flatnonzero(clips.sources == source)
        alarms.append(f"{source} {int(pred[at].sum())}/{len(at)} clips "
                      f"{int(sum(per['win'][i].sum() for i in at))}/{int(sum(len(per['win'][i]) for i in at))} windows")
    quiet = fs & (labels == 0)
    return (f"{name:14s} P {p:.3f} R {r:.3f} F1 {f1:.3f} AUC {auc:.3f} no-fight clips firing "
            f"{int((pred & quiet).sum())}/{int(quiet.sum())}; held out: " + ", ".join(alarms))


def start(doc: str, choices: list[str]) -> tuple[argparse.Namespace, float]:
    """The command line (--cache, --variants) of an exploration script, its start time; the wider thresholds set."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--variants", nargs="*", choices=choices, default=choices)
    args = parser.parse_args()
    fight_training.THRESHOLDS = THRESHOLDS
    return args, time.monotonic()


def compare(variants: dict[str, tuple[fight_training.Clips, float, dict]], started: float) -> None:
    """Nested CV of the variants; then every variant's figures and the nested pick's."""
    per = nested_cv(variants)
    names = list(variants)
    for v in [*names, "nested"]:
        print(summary(v, per[v], variants[names[0]][0]))
    print(f"({time.monotonic() - started:.0f} s)")


def main() -> None:
    args, started = start(__doc__, list(VARIANTS))
    clips = load(args.cache)
    print(f"{len(clips)} clips loaded in {time.monotonic() - started:.0f} s; variants {args.variants}", flush=True)
    variants = {v: (build(clips, VARIANTS[v][0]), *VARIANTS[v][1:]) for v in args.variants}
    if "base_mined" in variants:
        variants["base_mined"][0].mine_top, variants["base_mined"][0].mine_weight = MINED
    compare(variants, started)

if __name__ == "__main__":
    main()
