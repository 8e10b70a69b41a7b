"""Point-in-polygon for many points at once: what zones, counts and rules share."""

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
