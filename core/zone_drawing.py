"""Zones drawn on a frame: one look (colour per kind, a light fill, a named label) for highlights and the editor."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

# BGR, one per kind, apart from the event colours' reds and greys so a zone never reads as a box
ZONE_COLOURS = {
    "shelf": (0, 165, 255),
    "checkout": (90, 180, 60),
    "exit": (80, 60, 220),
    "entrance": (220, 150, 40),
    "staff": (120, 120, 60),
    "custom": (190, 110, 190),
}
OTHER_ZONE_COLOUR = (200, 200, 200)

ZoneShape = tuple[str, str, Sequence[Sequence[float]]]  # name, kind, polygon in the frame's pixels


def zone_colour_bgr(kind: str) -> tuple[int, int, int]:
    return ZONE_COLOURS.get(kind, OTHER_ZONE_COLOUR)


def zone_colour_hex(kind: str) -> str:
    b, g, r = zone_colour_bgr(kind)
    return f"#{r:02x}{g:02x}{b:02x}"


def draw_zones(image: np.ndarray, zones: Iterable[ZoneShape], *, scale: float = 1.0, fill_alpha: float = 0.15,
               thickness: int = 2, font_scale: float = 0.5) -> np.ndarray:
    """The image with each zone's outline, a light fill and a 'name (kind)' label; draws on the image in place.

    `scale` maps the polygon's pixels to the image's (the image may be a resized frame).
    """
    import cv2

    zones = [(name, kind, np.round(np.asarray(points, float) * scale).astype(np.int32))
             for name, kind, points in zones if len(points) >= 3]
    if not zones:
        return image
    if fill_alpha > 0:
        overlay = image.copy()
        for _, kind, pts in zones:
            cv2.fillPoly(overlay, [pts], zone_colour_bgr(kind))
        cv2.addWeighted(overlay, fill_alpha, image, 1 - fill_alpha, 0, dst=image)
    for name, kind, pts in zones:
        colour = zone_colour_bgr(kind)
        cv2.polylines(image, [pts], True, colour, thickness, cv2.LINE_AA)
        label = f"{name} ({kind})"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        # the top-most corner, kept inside the frame, so the label never covers the zone's middle
        x, y = (int(v) for v in pts[np.argmin(pts[:, 1] * 10_000 + pts[:, 0])])
        x = int(np.clip(x, 0, max(0, image.shape[1] - tw - 6)))
        y = int(np.clip(y, th + base + 4, image.shape[0]))
        cv2.rectangle(image, (x, y - th - base - 4), (x + tw + 6, y), (30, 30, 30), -1)
        cv2.putText(image, label, (x + 3, y - base - 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale, colour, 1,
                    cv2.LINE_AA)
    return image
