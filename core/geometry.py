"""Point-in-polygon, distance to a zone's outline, who stands at a zone, and box overlap: what zones, counts, rules
and stitching share."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from core.vocabulary import FIXTURE_KINDS, STAFF_KIND

FIXTURE_REACH = 0.25  # within a quarter of one's height (about an arm's length) of a shelf or till is standing at it
STAFF_CHEST = 0.7  # the chest lies this share of one's box height above the foot point


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


def distance_to_outline(points: np.ndarray, polygon: Sequence[Sequence[float]]) -> np.ndarray:
    """Each (x, y) point's distance in pixels to the nearest edge of a polygon, whether the point is inside or out."""
    points = np.asarray(points, float).reshape(-1, 2)
    pts = np.asarray(polygon, float).reshape(-1, 2)
    best = np.full(len(points), np.inf)
    for a, b in zip(pts, np.roll(pts, 1, axis=0)):
        ab = b - a
        denom = float(ab @ ab)
        u = np.zeros(len(points)) if denom == 0 else np.clip((points - a) @ ab / denom, 0.0, 1.0)
        best = np.minimum(best, np.linalg.norm(points - (a + u[:, None] * ab), axis=1))
    return best


def standing_at(feet: np.ndarray, heights: np.ndarray | None, polygon: Sequence[Sequence[float]],
                kind: str) -> np.ndarray:
    """Which people are at a zone: their foot point is inside it, or, at a shelf or checkout, within reach of it.

    A shelf or till is drawn over the fixture, so the feet of someone standing against it are just outside;
    exits, entrances and custom zones are floor, so only the foot inside counts. A staff area also holds
    whoever's chest is inside it: a counter hides the legs of the staff behind it. heights: each person's box
    height in pixels (None: the foot point alone decides).
    """
    feet = np.asarray(feet, float).reshape(-1, 2)
    inside = points_in_polygon(feet, polygon)
    if kind == STAFF_KIND and heights is not None and len(feet):
        chest = feet - np.outer(STAFF_CHEST * np.asarray(heights, float).reshape(-1), [0.0, 1.0])
        return inside | points_in_polygon(chest, polygon)
    if kind not in FIXTURE_KINDS or heights is None or len(polygon) < 2 or not len(feet):
        return inside
    reach = FIXTURE_REACH * np.asarray(heights, float).reshape(-1)
    return inside | (distance_to_outline(feet, polygon) <= reach)


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two xyxy boxes (0 when they do not overlap or have no area)."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0
