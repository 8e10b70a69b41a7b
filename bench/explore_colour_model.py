"""Does a small learned colour model beat the product's colour words? Grouped 5-fold CV (development; writes no model).

Per tracklet, the mean over its torso patches of: the share of each colour word (the product's
naming, before and after grey-world balance on the frame) and the patch's Lab median and
interquartile range. Trained on the first word of each label of bench/labels/colours.json, scored
as bench/bench_colour.py scores (right when the word is one the label accepts), folds grouped by
camera (`bench_colour.group_of`).

    .venv/bin/python bench/explore_colour_model.py    # ~20 s; needs bench/colour_crops.py's cache
"""

import sys
from pathlib import Path

import cv2
import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_colour import labelled, product_colour  # noqa: E402
from gpu_jobs.vision.attributes import COLOURS, NAMING  # noqa: E402


def shares(pixels: np.ndarray) -> np.ndarray:
    words = NAMING.words(cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV).reshape(-1, 3))
    return np.array([np.mean(words == c) for c in COLOURS])


def features(row: dict) -> np.ndarray:
    out = []
    for patch, mean in zip(row["patches"], row["frame_bgr"]):
        pixels = patch.reshape(-1, 1, 3)
        gains = np.clip(np.maximum(mean, 1).mean() / np.maximum(mean, 1), 0.75, 1.33)
        balanced = np.clip(pixels * gains, 0, 255).astype(np.uint8)
        lab = cv2.cvtColor(balanced, cv2.COLOR_BGR2LAB).reshape(-1, 3).astype(float)
        q1, q3 = np.percentile(lab, [25, 75], axis=0)
        out.append(np.concatenate([shares(pixels), shares(balanced), np.median(lab, 0) / 255, (q3 - q1) / 255]))
    return np.mean(out, 0)


def main() -> None:
    rows = labelled()
    x = np.array([features(r) for r in rows])
    y = np.array([COLOURS.index(r["first"]) for r in rows])
    groups = np.array([r["group"] for r in rows])
    models = {"logistic regression": lambda: LogisticRegression(C=1, max_iter=3000),
              "gradient boosting": lambda: GradientBoostingClassifier(n_estimators=100, max_depth=2, random_state=0)}
    for name, make in models.items():
        right = []
        for train, test in GroupKFold(5).split(x, y, groups):
            predicted = make().fit(x[train], y[train]).predict(x[test])
            right += [COLOURS[k] in rows[i]["words"] for k, i in zip(predicted, test)]
        print(f"{name}: {np.mean(right):.2f} of {len(right)} tracklets right (grouped 5-fold)")
    print(f"the product as it stands: {np.mean([product_colour(r) in r['words'] for r in rows]):.2f}")


if __name__ == "__main__":
    main()
