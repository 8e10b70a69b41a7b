"""Point-in-polygon for many points at once and box overlap: what zones, counts, rules and stitching share."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def points_in_polygon(points: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """Even-odd test of many (x, y) points against one polygon; the same rule as Zone.contains."""
    points = np.asarray(points, float).reshape(-1, 2)
    x, y = points[:, 0], points[:, 1]
    inside = np.zeros(len(points), bool)
    pts = [tuple(map(float, p)) for p in polygon]
    for i in range(len(pts)):
        (xi, yi), (xj, yj) = pts[i], pts[i - 1]
        crosses = (yi > y) != (yj > y)
        x_at = (xj - xi) * (y - yi) / ((yj - yi) or 1e-9) + xi
        inside ^= crosses & (x < x_at)
    return inside


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two xyxy boxes (0 when they do not overlap or have no area)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
