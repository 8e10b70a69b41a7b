"""A tiny, safe evaluator for the small models the rules use: plain JSON in, a probability out.

No pickle and no scikit-learn at run time: a model file is JSON that names its features, so a
model trained on other features is refused instead of silently misread. Two kinds:

- "logistic": standardise (mean, scale), then sigmoid(coef . x + intercept);
- "gbdt": gradient-boosted regression trees on the log-odds (scikit-learn's
  GradientBoostingClassifier exported by bench/train_*.py): sigmoid(init + rate * sum of leaves);
  a sample goes left where x[feature] <= threshold, as in scikit-learn (features as float32);
- "hgbt": scikit-learn's HistGradientBoostingClassifier trees: sigmoid(baseline + sum of leaves);
  left where x[feature] <= threshold (float64), a missing value (NaN) goes where the tree learned.

Example:
    >>> model = WindowModel.load(Path("fight.json"), expected_features=FIGHT_FEATURES)
    >>> model.probability(np.zeros((3, len(FIGHT_FEATURES))))  # (3,) in 0..1
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

FORMAT = "sentinel-window-model/1"


class ModelError(ValueError):
    """A model file that cannot be used: wrong format, other features, broken trees."""


class WindowScorer(Protocol):
    """What a rule needs from a learned model: a probability per row of features (the interface to replace)."""

    features: tuple[str, ...]
    threshold: float

    def probability(self, x: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class _Tree:
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    missing_left: np.ndarray | None = None  # per node: a NaN goes left (hgbt); None: rows have no NaN (gbdt)

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), int)
        rows = np.arange(len(x))
        for _ in range(64):  # deeper than any exported tree
            inner = self.left[node] >= 0
            if not inner.any():
                break
            at = node[inner]
            v = x[rows[inner], self.feature[at]]
            go_left = v <= self.threshold[at]
            if self.missing_left is not None:
                go_left = np.where(np.isnan(v), self.missing_left[at], go_left)
            node[inner] = np.where(go_left, self.left[at], self.right[at])
        return self.value[node]


@dataclass
class WindowModel:
    """A loaded model: features by name, NaN fill values, the decision threshold and the scorer."""

    name: str
    kind: str
    features: tuple[str, ...]
    fill: np.ndarray
    threshold: float
    meta: dict = field(default_factory=dict)
    _logistic: dict | None = None
    _trees: list[_Tree] | None = None
    _init: float = 0.0
    _rate: float = 1.0

    @classmethod
    def load(cls, path: Path, *, expected_features: Sequence[str] | None = None) -> WindowModel:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(f"cannot read the model {path}: {exc}") from None
        return cls.from_dict(data, expected_features=expected_features, source=str(path))

    @classmethod
    def from_dict(cls, data: dict, *, expected_features: Sequence[str] | None = None,
                  source: str = "model") -> WindowModel:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{source} is not a {FORMAT} file")
        features = tuple(data["features"])
        if expected_features is not None and tuple(expected_features) != features:
            raise ModelError(f"{source} was trained on other features ({len(features)} named; "
                             f"this code computes {len(expected_features)}): retrain it")
        fill = np.asarray(data.get("fill", [0.0] * len(features)), np.float64)
        model = cls(name=str(data.get("name", source)), kind=str(data["kind"]), features=features, fill=fill,
                    threshold=float(data.get("threshold", 0.5)), meta=dict(data.get("trained", {})))
        if model.kind == "logistic":
            lg = data["logistic"]
            model._logistic = {k: np.asarray(lg[k], np.float64) for k in ("mean", "scale", "coef")}
            model._logistic["intercept"] = float(lg["intercept"])
        elif model.kind == "gbdt":
            gb = data["gbdt"]
            model._init, model._rate = float(gb["init"]), float(gb["learning_rate"])
            model._trees = [_Tree(np.asarray(t["feature"], int), np.asarray(t["threshold"], np.float64),
                                  np.asarray(t["left"], int), np.asarray(t["right"], int),
                                  np.asarray(t["value"], np.float64)) for t in gb["trees"]]
            n = len(features)
            if any((t.feature[t.left >= 0] >= n).any() for t in model._trees):
                raise ModelError(f"{source}: a tree splits on a feature the model does not name")
        elif model.kind == "hgbt":
            hg = data["hgbt"]
            model._init, model._rate = float(hg["baseline"]), 1.0
            model._trees = [_Tree(np.asarray(t["feature"], int), np.asarray(t["threshold"], np.float64),
                                  np.asarray(t["left"], int), np.asarray(t["right"], int),
                                  np.asarray(t["value"], np.float64), np.asarray(t["missing_left"], bool))
                            for t in hg["trees"]]
            n = len(features)
            if any((t.feature[t.left >= 0] >= n).any() for t in model._trees):
                raise ModelError(f"{source}: a tree splits on a feature the model does not name")
        else:
            raise ModelError(f"{source}: unknown model kind {model.kind!r}")
        return model

    def raw(self, x: np.ndarray) -> np.ndarray:
        """The log-odds per row (NaN features replaced by the model's fill values)."""
        x = np.asarray(x, np.float64).reshape(-1, len(self.features))
        if self.kind == "hgbt":  # the trees route missing values themselves
            x = np.where(np.isinf(x), np.nan, x)
            return self._init + sum((tree.predict(x) for tree in self._trees or []), np.zeros(len(x)))
        x = np.where(np.isfinite(x), x, self.fill)
        if self._logistic is not None:
            lg = self._logistic
            return (x - lg["mean"]) / lg["scale"] @ lg["coef"] + lg["intercept"]
        x32 = x.astype(np.float32)
        total = np.full(len(x), self._init)
        for tree in self._trees or []:
            total += self._rate * tree.predict(x32)
        return total

    def probability(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.raw(x)))
