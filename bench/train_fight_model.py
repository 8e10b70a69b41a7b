"""Train the fight model (gpu_jobs/behaviours/models/fight.json) and report its cross-validated figures.

Data: the Surveillance Camera Fight Dataset (Akti et al., IPTA 2019; MIT): 100 fight and 100
no-fight clips of about two seconds from real surveillance cameras, in
../shared/datasets/behaviour/fights. Each clip goes through the real per-frame analysis once
(bench/extract_behaviour_tracks.py caches tracks and per-frame motion signals); every two-second
window of a clip is a row of FIGHT_FEATURES with the clip's label, and a clip scores the maximum
of its windows (as the rule fires on any window).

Honest figures: many clips of this dataset share a camera (fights and non-fights from one
scene), so clips are grouped by scene (thumbnails of their median frames that correlate) and the
folds are split by group (GroupKFold): no scene is in both the training and the test fold. The
decision threshold is chosen inside each training fold (inner grouped CV), never on the test fold.
The figures are development results on this dataset, not a held-out test.

    .venv/bin/python bench/train_fight_model.py            # CV report + write fight.json
    .venv/bin/python bench/train_fight_model.py --no-write # CV report only

Deterministic (fixed seeds), a minute or two on a CPU core.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract_behaviour_tracks import CACHE, load_clip  # noqa: E402
from gpu_jobs.behaviours.kinematics import profile_track  # noqa: E402
from gpu_jobs.behaviours.models.evaluator import FORMAT, WindowModel  # noqa: E402
from gpu_jobs.behaviours.models.fight import FIGHT_FEATURES, MODEL_PATH, fight_windows  # noqa: E402
from settings import BehaviourThresholds  # noqa: E402

SEED = 0
FOLDS = 5
SCENE_CORRELATION = 0.8  # median-frame thumbnails correlating at least this much are one camera
# cached clips where nobody fights (fall rooms' falls and daily activities, store shoplifting clips)
EXTRA_NEGATIVES = ("falls__*.json.gz", "category__shoplifting*.json.gz", "category__stealing*.json.gz",
                   "category__dcsass_*.json.gz")


def clip_rows(stem: Path, th: BehaviourThresholds):
    """(windows' feature rows, metadata, thumbnail) of one cached clip."""
    tracks, signals, meta = load_clip(stem)
    profiles = [profile_track(tr, th, meta["fps_sampled"]) for tr in tracks if tr.class_name == "person"]
    windows = fight_windows(profiles, signals, tuple(meta["frame_size"]), meta["fps_sampled"],
                            min_score=th.keypoint_min_score, max_gap_s=th.max_gap_s)
    grey = np.load(stem.with_suffix(".npz"))["grey"]
    thumb = None
    if len(grey):
        import cv2

        med = np.median(grey, axis=0).astype(np.float32)
        thumb = cv2.resize(med, (32, 24), interpolation=cv2.INTER_AREA).reshape(-1)
        thumb = (thumb - thumb.mean()) / (thumb.std() + 1e-6)
    rows = np.array([w.features for w in windows]).reshape(-1, len(FIGHT_FEATURES))
    return rows, meta, thumb


def scene_groups(thumbs: list[np.ndarray | None]) -> np.ndarray:
    """Connected components of clips whose thumbnails correlate >= SCENE_CORRELATION."""
    n = len(thumbs)
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if thumbs[i] is None or thumbs[j] is None:
                continue
            if float(np.dot(thumbs[i], thumbs[j]) / len(thumbs[i])) >= SCENE_CORRELATION:
                parent[find(i)] = find(j)
    roots = {r: k for k, r in enumerate(sorted({find(i) for i in range(n)}))}
    return np.array([roots[find(i)] for i in range(n)])


def make_model(kind: str):
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    if kind == "logistic":
        return LogisticRegression(C=0.3, max_iter=2000)
    return GradientBoostingClassifier(n_estimators=150, max_depth=2, learning_rate=0.05, subsample=0.8,
                                      min_samples_leaf=5, random_state=SEED)


class Fitted:
    """A fitted model with the preprocessing the JSON evaluator repeats (NaN fill, standardising)."""

    def __init__(self, kind: str, x: np.ndarray, y: np.ndarray):
        self.kind = kind
        self.fill = np.nan_to_num(np.nanmedian(np.where(np.isfinite(x), x, np.nan), axis=0), nan=0.0)
        xf = np.where(np.isfinite(x), x, self.fill)
        self.mean, self.scale = xf.mean(axis=0), xf.std(axis=0) + 1e-9
        self.model = make_model(kind)
        self.model.fit((xf - self.mean) / self.scale if kind == "logistic" else xf, y)

    def score(self, x: np.ndarray) -> np.ndarray:
        xf = np.where(np.isfinite(x), x, self.fill)
        return self.model.predict_proba((xf - self.mean) / self.scale if self.kind == "logistic" else xf)[:, 1]

    def export(self, threshold: float, trained: dict) -> dict:
        out = {"format": FORMAT, "name": f"fight-{self.kind}", "kind": self.kind, "features": list(FIGHT_FEATURES),
               "fill": self.fill.tolist(), "threshold": threshold, "trained": trained}
        if self.kind == "logistic":
            out["logistic"] = {"mean": self.mean.tolist(), "scale": self.scale.tolist(),
                               "coef": self.model.coef_[0].tolist(), "intercept": float(self.model.intercept_[0])}
        else:
            from scipy.special import logit

            prior = float(np.clip(self.model.init_.class_prior_[1], 1e-9, 1 - 1e-9))
            trees = []
            for est in self.model.estimators_[:, 0]:
                t = est.tree_
                trees.append({"feature": t.feature.tolist(), "threshold": [round(float(v), 9) for v in t.threshold],
                              "left": t.children_left.tolist(), "right": t.children_right.tolist(),
                              "value": [round(float(v), 9) for v in t.value[:, 0, 0]]})
            out["gbdt"] = {"init": float(logit(prior)), "learning_rate": float(self.model.learning_rate),
                           "trees": trees}
        return out


def clip_scores(fitted: Fitted, rows: list[np.ndarray], idx) -> np.ndarray:
    return np.array([fitted.score(rows[i]).max() if len(rows[i]) else 0.0 for i in idx])


def window_xy(rows, labels, idx):
    x = np.concatenate([rows[i] for i in idx if len(rows[i])])
    y = np.concatenate([np.full(len(rows[i]), labels[i]) for i in idx if len(rows[i])])
    return x, y


def best_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    best, best_f1 = 0.5, -1.0
    for thr in np.arange(0.2, 0.81, 0.025):
        f1 = prf(scores >= thr, labels)[2]
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(thr), f1
    return round(best, 3)


def prf(pred: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    tp = int((pred & (labels == 1)).sum())
    fp = int((pred & (labels == 0)).sum())
    fn = int((~pred & (labels == 1)).sum())
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def cross_validate(kind: str, rows, labels, groups, scored) -> dict:
    """Grouped CV; figures over the `scored` clips (the fight set), false alarms over the others (extra negatives)."""
    from sklearn.model_selection import GroupKFold

    outer = GroupKFold(n_splits=FOLDS)
    scores = np.zeros(len(labels))
    preds = np.zeros(len(labels), bool)
    thresholds = []
    all_idx = np.arange(len(labels))
    for train, test in outer.split(all_idx, labels, groups):
        # the threshold comes from inner grouped folds of the training part only
        inner = GroupKFold(n_splits=4)
        inner_scores = np.zeros(len(train))
        for itr, ite in inner.split(train, labels[train], groups[train]):
            fitted = Fitted(kind, *window_xy(rows, labels, train[itr]))
            inner_scores[ite] = clip_scores(fitted, rows, train[ite])
        thr = best_threshold(inner_scores, labels[train])
        thresholds.append(thr)
        fitted = Fitted(kind, *window_xy(rows, labels, train))
        scores[test] = clip_scores(fitted, rows, test)
        preds[test] = scores[test] >= thr
    p, r, f1 = prf(preds[scored], labels[scored])
    from sklearn.metrics import roc_auc_score

    extra = ~scored
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f1, 3),
            "auc": round(float(roc_auc_score(labels[scored], scores[scored])), 3), "thresholds": thresholds,
            "tp": int((preds & scored & (labels == 1)).sum()), "fp": int((preds & scored & (labels == 0)).sum()),
            "fn": int((~preds & scored & (labels == 1)).sum()),
            "extra_clips": int(extra.sum()), "extra_false": int((preds & extra).sum()), "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--kind", choices=["gbdt", "logistic"], default="gbdt", help="the model that is written")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    parser.add_argument("--extra-negatives", action="store_true",
                        help="also train on the cached fall-room and store clips (nobody fights there) as negatives; "
                             "vtest.avi never is (it is the regression check)")
    args = parser.parse_args()
    started = time.monotonic()
    th = BehaviourThresholds(_env_file=None)
    stems = sorted({p.with_suffix("").with_suffix("") for p in args.cache.glob("fights__*.json.gz")})
    if not stems:
        raise SystemExit(f"no cached fight clips in {args.cache}: run bench/extract_behaviour_tracks.py first")
    extra = [] if not args.extra_negatives else sorted(
        {p.with_suffix("").with_suffix("") for pattern in EXTRA_NEGATIVES for p in args.cache.glob(pattern)})
    rows, labels, thumbs, names = [], [], [], []
    for stem in stems + extra:
        r, meta, thumb = clip_rows(stem, th)
        rows.append(r)
        labels.append(int(meta["positive"]) if meta["kind"] == "fight" else 0)
        thumbs.append(thumb)
        names.append(meta["path"])
    labels = np.array(labels)
    scored = np.array([i < len(stems) for i in range(len(names))])
    groups = scene_groups(thumbs)
    # the extra negatives are grouped by room (one Le2i room, one GMDCSA-24 subject) or by clip
    for i, name in enumerate(names):
        if not scored[i]:
            room = "_".join(Path(name).stem.split("_")[:3]) if "falls/" in name else name
            groups[i] = 10_000 + sorted({("_".join(Path(n).stem.split("_")[:3]) if "falls/" in n else n)
                                          for k, n in enumerate(names) if not scored[k]}).index(room)
    sizes = np.unique(groups, return_counts=True)[1]
    print(f"{len(stems)} fight-set clips ({labels.sum()} fights) + {len(extra)} extra negatives, "
          f"{sum(len(r) for r in rows)} windows, "
          f"{sum(len(r) == 0 for r in rows)} clips with no judged window; {len(sizes)} scene groups "
          f"(largest {sizes.max()}, {int((sizes > 1).sum())} with more than one clip)")
    results = {}
    for kind in ("logistic", "gbdt"):
        results[kind] = cross_validate(kind, rows, labels, groups, scored)
        res = results[kind]
        print(f"{kind:9s} grouped {FOLDS}-fold CV, fight-set clips: P {res['precision']:.3f} R {res['recall']:.3f} "
              f"F1 {res['f1']:.3f} AUC {res['auc']:.3f} (tp {res['tp']} fp {res['fp']} fn {res['fn']}); "
              f"extra negatives firing {res['extra_false']}/{res['extra_clips']}; thresholds {res['thresholds']}")
    chosen = results[args.kind]
    missed = [names[i] for i in np.flatnonzero(labels == 1) if chosen["scores"][i] < np.median(chosen["thresholds"])]
    print(f"{args.kind}: out-of-fold scores of the extra negatives: "
          f"{np.round(np.sort(chosen['scores'][~scored])[-8:], 2).tolist()} (highest)")
    print(f"{args.kind}: fights scored below the median threshold: {len(missed)}")
    if args.no_write:
        return
    x, y = window_xy(rows, labels, np.arange(len(labels)))
    fitted = Fitted(args.kind, x, y)
    # the deployed threshold: chosen the same way, by grouped CV over all the clips
    oof = np.zeros(len(labels))
    from sklearn.model_selection import GroupKFold

    for train, test in GroupKFold(n_splits=FOLDS).split(np.arange(len(labels)), labels, groups):
        oof[test] = clip_scores(Fitted(args.kind, *window_xy(rows, labels, train)), rows, test)
    threshold = best_threshold(oof, labels)
    trained = {
        "data": "Surveillance Camera Fight Dataset (Akti et al., IPTA 2019; MIT), 100 fight + 100 no-fight clips"
                + ("" if not extra else f"; {len(extra)} fall-room and store clips as extra negatives"),
        "script": "bench/train_fight_model.py", "seed": SEED, "windows": int(len(y)), "clips": int(len(labels)),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "cv": {k: {m: v for m, v in r.items() if m != "scores"} for k, r in results.items()},
        "cv_note": f"GroupKFold({FOLDS}) by scene group ({len(sizes)} groups), threshold from inner folds",
    }
    data = fitted.export(threshold, trained)
    check = WindowModel.from_dict(json.loads(json.dumps(data)), expected_features=FIGHT_FEATURES)
    gap = float(np.abs(check.probability(x) - fitted.score(x)).max())
    if gap > 1e-5:
        raise SystemExit(f"the JSON evaluator disagrees with scikit-learn by {gap:.2e}")
    args.out.write_text(json.dumps(data, separators=(",", ":")) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KB, threshold {threshold}, evaluator parity "
          f"{gap:.1e}) in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
