"""Motion inside person boxes: dense optical flow (OpenCV DIS, ultrafast preset) on a small grey frame.

One flow field per sampled frame (against the previous sampled frame), computed on the frame
downscaled so its long side is SIDE pixels (about 1 ms on a CPU core), and only where there are
people. Each person box gets a few numbers, in body sizes per second so they do not depend on the
camera's distance:

    MOTION_FIELDS = (energy, p90, residual, incoherence, moving_share)

- energy: mean flow magnitude inside the box;
- p90: the 90th percentile of the magnitude (a swinging arm moves fast over a small area);
- residual: mean magnitude after removing the box's median flow (motion of limbs relative to
  the body: walking moves the whole box the same way, a punch does not);
- incoherence: 1 - |mean flow| / mean |flow| (0: everything moves one way, 1: every way);
- moving_share: share of the box's pixels moving faster than MOVING_SPEED.

The same flow also gets a per-frame scene descriptor, FLOW_FIELDS (frame sizes per second), that
a fight model reads next to the boxes': how much of the frame moves how fast (HOF_SPEEDS), how
many directions the moving pixels take, how concentrated the motion is in one place (a 6 x 8
grid) and how the flow there behaves, and how abruptly the magnitude changed since the previous
flow (a "violent flows" cue: a brawl flickers, a walking crowd does not).

Example:
    >>> field = MotionField()
    >>> field.update(frame_a); field.update(frame_b)  # BGR images, sampled 0.2 s apart
    >>> field.box_features(people_xyxy, dt=0.2)  # (n, 5) or None for the first frame
    >>> field.frame_flow  # (len(FLOW_FIELDS),) descriptor of that flow, or None
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

SIDE = 320  # the flow's frame: long side in pixels
MOVING_SPEED = 0.5  # body sizes per second: a pixel faster than this counts as moving
MOTION_FIELDS = ("energy", "p90", "residual", "incoherence", "moving_share")
MAX_DT = 0.5  # seconds: frames further apart than this are not compared
MAX_SAMPLES = 1024  # flow vectors measured per box at most (a regular grid)
HOF_SPEEDS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8)  # frame sizes per second: shares of pixels faster than each
FRAME_MOVING = 0.05  # frame sizes per second: a pixel this fast counts as moving in the frame descriptor
GRID = (6, 8)  # rows, columns of the cells that locate the motion
FLOW_FIELDS = (*(f"hof_{k}" for k in range(len(HOF_SPEEDS))), "p99", "direction_entropy", "cell_max", "cell_top3",
               "cell_concentration", "cell_entropy", "hot_direction_entropy", "hot_incoherence", "hot_residual",
               "hot_energy", "hot_cell", "change_mean", "change_cell_max", "change_concentration", "flicker_cell_max")


def small_grey(image: np.ndarray) -> np.ndarray:
    """The frame as grey, downscaled so its long side is SIDE pixels (never upscaled)."""
    import cv2

    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    scale = SIDE / max(grey.shape[:2])
    if scale >= 1.0:
        return np.ascontiguousarray(grey)
    return cv2.resize(grey, (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)


def box_motion(flow: np.ndarray, boxes: np.ndarray, scale: float, dt: float) -> np.ndarray:
    """(n, 5) MOTION_FIELDS for boxes (full-frame pixels) in a flow field of the frame downscaled by scale."""
    n = len(boxes)
    out = np.zeros((n, len(MOTION_FIELDS)), np.float32)
    h, w = flow.shape[:2]
    for k, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float64).reshape(-1, 4)):
        body = max(x2 - x1, y2 - y1, 1.0) * scale  # in flow pixels
        a, b = int(max(0, np.floor(x1 * scale))), int(min(w, np.ceil(x2 * scale)))
        c, d = int(max(0, np.floor(y1 * scale))), int(min(h, np.ceil(y2 * scale)))
        if b - a < 2 or d - c < 2:
            continue
        step = max(1, int(np.sqrt((b - a) * (d - c) / MAX_SAMPLES)))  # a regular subsample keeps it cheap
        v = flow[c:d:step, a:b:step].reshape(-1, 2).astype(np.float64) / (body * dt)  # body sizes per second
        mag = np.hypot(v[:, 0], v[:, 1])
        mean_mag = float(mag.mean())
        rel = v - np.median(v, axis=0)
        p90 = float(np.partition(mag, int(0.9 * (len(mag) - 1)))[int(0.9 * (len(mag) - 1))])
        out[k] = (mean_mag, p90, float(np.hypot(rel[:, 0], rel[:, 1]).mean()),
                  1.0 - float(np.hypot(*v.mean(axis=0))) / mean_mag if mean_mag > 1e-6 else 0.0,
                  float((mag > MOVING_SPEED).mean()))
    return out


def _cells(values: np.ndarray) -> np.ndarray:
    """Mean of a (h, w) map over the GRID cells, flattened row by row."""
    gh, gw = GRID
    h, w = values.shape[0] // gh * gh, values.shape[1] // gw * gw
    return values[:h, :w].reshape(gh, h // gh, gw, w // gw).mean(axis=(1, 3)).reshape(-1)


def _percentile(values: np.ndarray, q: float) -> float:
    """np.percentile's linear interpolation by partial sort (the full sort cost most of the descriptor)."""
    pos = q / 100 * (len(values) - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, len(values) - 1)
    part = np.partition(values, (lo, hi))
    return float(part[lo] + (part[hi] - part[lo]) * (pos - lo))


def _direction_entropy(angle: np.ndarray, weight: np.ndarray) -> float:
    """Entropy of 8 direction bins weighted by speed, 0 (one way) .. 1 (every way); NaN for too few pixels."""
    if angle.size < 10:
        return float("nan")
    hist = np.bincount(((angle + np.pi) / (2 * np.pi) * 8).astype(int) % 8, weights=weight, minlength=8)
    p = hist[hist > 0] / max(float(hist.sum()), 1e-12)
    return float(-(p * np.log(p)).sum() / np.log(8))


def frame_flow(flow: np.ndarray, dt: float, previous: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(FLOW_FIELDS descriptor, speed map) of a flow field; previous: the last flow's speed map (for the change)."""
    h, w = flow.shape[:2]
    k = max(h, w) * dt
    vx, vy = flow[..., 0].astype(np.float64), flow[..., 1].astype(np.float64)  # contiguous, not strided
    vx /= k
    vy /= k
    speed = vx * vx
    speed += vy * vy
    np.sqrt(speed, out=speed)  # in place: the full-frame temporaries were most of the descriptor's time
    moving = speed > FRAME_MOVING
    cells = _cells(speed)
    ranked = np.sort(cells)[::-1]
    share = cells / (cells.sum() + 1e-9)
    hot = int(np.argmax(cells))
    gh, gw = GRID
    r, c, ch, cw = hot // gw, hot % gw, h // gh, w // gw
    around = (slice(max(0, (r - 1) * ch), min(h, (r + 2) * ch)), slice(max(0, (c - 1) * cw), min(w, (c + 2) * cw)))
    hx, hy = vx[around].reshape(-1), vy[around].reshape(-1)
    hs = np.hypot(hx, hy)
    hm = moving[around].reshape(-1)
    change = [float("nan")] * 4
    if previous is not None and previous.shape == speed.shape:
        diff = np.abs(speed - previous)
        dc = _cells(diff)
        mean_diff = diff.mean()
        change = [float(mean_diff), float(dc.max()), float(dc.max() / (dc.mean() + 1e-9)),
                  float(_cells((diff > mean_diff).astype(np.float64)).max())]
    n = speed.size
    hot_mean = float(hs.mean())
    out = [*(np.count_nonzero(speed > s) / n for s in HOF_SPEEDS), _percentile(speed.reshape(-1), 99),
           _direction_entropy(np.arctan2(vy[moving], vx[moving]), speed[moving]), float(ranked[0]),
           float(ranked[:3].mean()), float(ranked[0] / (cells.mean() + 1e-9)),
           float(-(share * np.log(share + 1e-12)).sum() / np.log(len(share))),
           _direction_entropy(np.arctan2(hy[hm], hx[hm]), speed[around].reshape(-1)[hm]),
           1.0 - float(np.hypot(hx.mean(), hy.mean())) / (hot_mean + 1e-9),
           float(np.hypot(hx - np.median(hx), hy - np.median(hy)).mean()), hot_mean, float(hot), *change]
    return np.array(out, np.float32), speed.astype(np.float32)


class MotionField:
    """Keeps the previous sampled frame; flow to the next one only when there are boxes to measure."""

    def __init__(self) -> None:
        import cv2

        self._dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._prev: np.ndarray | None = None
        self._prev_t: float | None = None
        self._grey: np.ndarray | None = None
        self._t: float | None = None
        self.scale = 1.0
        self.frame_flow: np.ndarray | None = None  # FLOW_FIELDS of the last flow box_features computed
        self._speed: np.ndarray | None = None
        self._speed_t: float | None = None

    def update(self, image: np.ndarray, t: float) -> None:
        """The next sampled frame (BGR or already small_grey) at time t."""
        self._prev, self._prev_t = self._grey, self._t
        self._grey, self._t = (image if image.ndim == 2 and max(image.shape) <= SIDE else small_grey(image)), t
        self.scale = 1.0  # set by box_features from the full frame's size
        self.frame_flow = None

    def box_features(self, boxes: np.ndarray, full_size: tuple[int, int]) -> np.ndarray | None:
        """(n, 5) motion per box (full-frame xyxy) since the previous frame; None without a usable one."""
        if self._prev is None or self._grey is None or len(boxes) == 0 or self._prev.shape != self._grey.shape:
            return None
        dt = float(self._t - self._prev_t)
        if not 0 < dt <= MAX_DT:
            return None
        flow = self._dis.calc(self._prev, self._grey, None)
        # the change is only meaningful against the flow that ended where this one starts
        previous = self._speed if self._speed_t == self._prev_t else None
        self.frame_flow, self._speed = frame_flow(flow, dt, previous)
        self._speed_t = self._t
        scale = self._grey.shape[1] / float(full_size[0])
        return box_motion(flow, boxes, scale, dt)


MeasuredFn = Callable[[np.ndarray | None, np.ndarray | None], None]


class MotionQueue:
    """A MotionField fed from one background thread, so the flow overlaps detection and pose.

    Each frame's measurement (box features, frame flow) comes back to its `on_done` in the caller's
    thread and in frame order: at a later `submit` once `depth` frames wait, or at `drain`.

    Args:
        background: False measures in the caller's thread at once (the same numbers, no overlap).
        depth: frames measured ahead of their results at most (each holds its image).

    Example:
        >>> with MotionQueue() as queue:
        ...     queue.submit(image, t, people_xyxy, lambda features, flow: ...)
        ...     queue.drain()
    """

    def __init__(self, *, background: bool = True, depth: int = 4) -> None:
        self.field = MotionField()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="motion") if background else None
        self._pending: deque[tuple[Future, MeasuredFn]] = deque()
        self.depth = depth

    def _measure(self, image: np.ndarray, t: float, boxes: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        self.field.update(image, t)
        found = self.field.box_features(boxes, (image.shape[1], image.shape[0]))
        return found, self.field.frame_flow

    def submit(self, image: np.ndarray, t: float, boxes: np.ndarray, on_done: MeasuredFn) -> None:
        """Measure boxes (full-frame xyxy) in the flow from the previous submitted frame to this one."""
        if self._pool is None:
            on_done(*self._measure(image, t, boxes))
            return
        self._pending.append((self._pool.submit(self._measure, image, t, boxes), on_done))
        while len(self._pending) > self.depth:
            self._resolve_oldest()

    def _resolve_oldest(self) -> None:
        future, on_done = self._pending.popleft()
        on_done(*future.result())  # a failure in the thread is raised here, in the caller's

    def drain(self) -> None:
        """Wait for every submitted frame and hand each its result, in order."""
        while self._pending:
            self._resolve_oldest()

    def close(self) -> None:
        """Stop the thread; measurements not yet handed back are dropped."""
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> MotionQueue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
