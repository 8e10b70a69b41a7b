"""Where the picture lies in the frame: letterboxed or pillarboxed exports frame it with black bars.

A CCTV export resized to another aspect often keeps the camera's picture in the middle and fills
the rest with black. The rules treat a box cut by the frame's edge as partly unseen; with bars,
that edge is the picture's, not the frame's. `picture_bounds` finds it on a few frames: the rows
and columns at the edges that stay near-black in every one of them.

Example:
    >>> picture_bounds([frame_a, frame_b])          # (x1, y1, x2, y2), x2 and y2 exclusive
    (0, 0, 320, 210)
    >>> find_picture(path, info.duration_s)         # reads SAMPLES frames spread over the video
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

import numpy as np

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]

BLACK = 24  # a bar pixel stays at or below this (of 255): compression noise in a bar reaches about 16
STRAY = 0.01  # share of a bar line's pixels allowed above BLACK (ringing where the bar meets the picture)
MIN_SHARE = 0.5  # the picture keeps at least this share of each side; less is a black frame, not bars
SAMPLES = 5  # frames read per video, spread over it: one frame may be a dark moment of the scene


def picture_bounds(frames: Sequence[np.ndarray]) -> Box | None:
    """The picture's (x1, y1, x2, y2) inside frames of one video (BGR or grey), bars cut off; None without frames."""
    frames = [np.asarray(f) for f in frames if f is not None and np.asarray(f).size]
    if not frames:
        return None
    h, w = frames[0].shape[:2]
    frames = [f for f in frames if f.shape[:2] == (h, w)]
    # a pixel is lit when any channel in any sampled frame is above BLACK
    lit = np.zeros((h, w), bool)
    for f in frames:
        lit |= (f.max(axis=2) if f.ndim == 3 else f) > BLACK
    rows = lit.mean(axis=1) > STRAY
    cols = lit.mean(axis=0) > STRAY
    if not rows.any() or not cols.any():
        return (0, 0, w, h)  # black throughout: nothing says where a picture would be
    y1, y2 = int(np.argmax(rows)), h - int(np.argmax(rows[::-1]))
    x1, x2 = int(np.argmax(cols)), w - int(np.argmax(cols[::-1]))
    if y2 - y1 < MIN_SHARE * h:
        y1, y2 = 0, h
    if x2 - x1 < MIN_SHARE * w:
        x1, x2 = 0, w
    return (x1, y1, x2, y2)


def find_picture(path: Path | str, duration_s: float, samples: int = SAMPLES) -> Box | None:
    """The picture's bounds from `samples` keyframes spread over the video; None when they cannot be read."""
    from core.runtime.media import read_keyframes_near

    times = [(i + 0.5) / samples * max(0.0, duration_s) for i in range(samples)]
    try:
        frames = read_keyframes_near(path, times)
    except Exception as exc:  # an unreadable video has no bars to find; its analysis reports why
        log.debug("picture: no frames of %s (%s)", path, exc)
        return None
    return picture_bounds(frames)
