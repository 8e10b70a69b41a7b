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

Example:
    >>> field = MotionField()
    >>> field.update(frame_a); field.update(frame_b)  # BGR images, sampled 0.2 s apart
    >>> field.box_features(people_xyxy, dt=0.2)  # (n, 5) or None for the first frame
"""

from __future__ import annotations

import numpy as np

SIDE = 320  # the flow's frame: long side in pixels
MOVING_SPEED = 0.5  # body sizes per second: a pixel faster than this counts as moving
MOTION_FIELDS = ("energy", "p90", "residual", "incoherence", "moving_share")
MAX_DT = 0.5  # seconds: frames further apart than this are not compared
MAX_SAMPLES = 1024  # flow vectors measured per box at most (a regular grid)


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

    def update(self, image: np.ndarray, t: float) -> None:
        """The next sampled frame (BGR or already small_grey) at time t."""
        self._prev, self._prev_t = self._grey, self._t
        self._grey, self._t = (image if image.ndim == 2 and max(image.shape) <= SIDE else small_grey(image)), t
        self.scale = 1.0  # set by box_features from the full frame's size

    def box_features(self, boxes: np.ndarray, full_size: tuple[int, int]) -> np.ndarray | None:
        """(n, 5) motion per box (full-frame xyxy) since the previous frame; None without a usable one."""
        if self._prev is None or self._grey is None or len(boxes) == 0 or self._prev.shape != self._grey.shape:
            return None
        dt = float(self._t - self._prev_t)
        if not 0 < dt <= MAX_DT:
            return None
        flow = self._dis.calc(self._prev, self._grey, None)
        scale = self._grey.shape[1] / float(full_size[0])
        return box_motion(flow, boxes, scale, dt)
