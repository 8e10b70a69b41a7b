"""The vision adapters with the real packaged weights on real footage (vtest.avi)."""

from __future__ import annotations

import numpy as np
import pytest

from gpu_jobs.types import KEYPOINTS
from gpu_jobs.vision.attributes import aggregate, colour_name, dominant_colour, orientation
from gpu_jobs.vision.models import available_models, fall_yolo


@pytest.fixture(scope="module")
def frames(vtest_path):
    from gpu_jobs.media import sample_frames

    out = []
    for frame in sample_frames(vtest_path, fps=5):
        out.append(frame)
        if len(out) == 25:
            break
    return out


@pytest.fixture(scope="module")
def ssd():
    from gpu_jobs.vision.detectors import SSDMobileNetDetector

    return SSDMobileNetDetector(confidence=0.45)


def test_every_packaged_model_is_found():
    assert all(available_models().values()), available_models()


def test_ssd_finds_the_people_on_a_real_frame(ssd, frames):
    (dets,) = ssd.detect([frames[5].image])
    people = dets[dets.data["class_name"] == "person"]
    assert len(people) >= 3  # PETS09-S2L1 shows 3-4 people at the start
    w, h = frames[5].image.shape[1], frames[5].image.shape[0]
    assert (people.xyxy[:, 2] <= w + 1).all() and (people.xyxy[:, 3] <= h + 1).all()
    heights = people.xyxy[:, 3] - people.xyxy[:, 1]
    assert ((heights > 40) & (heights < 200)).all()  # pedestrians at this camera distance


def test_ssd_batches_give_the_same_answer_as_single_frames(ssd, frames):
    batch = ssd.detect([f.image for f in frames[:4]])
    single = [ssd.detect([f.image])[0] for f in frames[:4]]
    assert [len(b) for b in batch] == [len(s) for s in single]
    np.testing.assert_allclose(batch[2].xyxy, single[2].xyxy, atol=1.0)


def test_yolo_adapter_runs_the_packaged_ultralytics_checkpoint(frames):
    from gpu_jobs.vision.detectors import YoloDetector, make_detector
    from settings import Settings

    detector = make_detector(Settings(SENTINEL_DETECTOR="yolo"))
    assert isinstance(detector, YoloDetector) and detector.weights == str(fall_yolo())
    (dets,) = detector.detect([frames[5].image])
    assert len(dets) >= 2
    assert set(dets.data["class_name"]) == {"person"}  # Normal and Fall both map to person
    assert dets.data["fall"].dtype == bool and dets.xyxy.shape == (len(dets), 4)


def test_tracker_keeps_ids_stable_over_consecutive_frames(ssd, frames):
    from gpu_jobs.vision.tracking import ObjectTracker

    tracker = ObjectTracker(frame_rate=5)
    seen = []
    for frame in frames[:20]:
        tracked = tracker.update(ssd.detect([frame.image])[0])
        assert (tracked.tracker_id >= 0).all()
        seen.append(set(tracked.tracker_id.tolist()))
    # someone visible from the start keeps one id the whole 4 seconds
    assert set.intersection(*seen[1:]), seen
    # from one sample to the next at most one person changes id (people also enter and leave)
    assert all(len(a & b) >= min(len(a), len(b)) - 1 for a, b in zip(seen[1:], seen[2:])), seen


def test_movenet_gives_17_keypoints_inside_the_person(ssd, frames):
    from gpu_jobs.vision.pose import MoveNetPose

    (dets,) = ssd.detect([frames[5].image])
    people = dets[dets.data["class_name"] == "person"]
    kps = MoveNetPose().estimate(frames[5].image, people.xyxy)
    assert kps.shape == (len(people), 17, 3)
    for box, kp in zip(people.xyxy, kps):
        good = kp[kp[:, 2] > 0.3]
        assert len(good) >= 5
        x1, y1, x2, y2 = box
        pad = 0.25 * (y2 - y1)
        assert ((good[:, 0] > x1 - pad) & (good[:, 0] < x2 + pad) & (good[:, 1] > y1 - pad) & (good[:, 1] < y2 + pad)).mean() > 0.8
        # the head is above the ankles
        assert kp[KEYPOINTS.index("nose"), 1] < kp[KEYPOINTS.index("left_ankle"), 1]


@pytest.mark.parametrize("bgr,name", [
    ((0, 0, 0), "black"), ((255, 255, 255), "white"), ((128, 128, 128), "grey"), ((0, 0, 220), "red"),
    ((0, 200, 0), "green"), ((220, 60, 0), "blue"), ((0, 220, 230), "yellow"), ((150, 30, 120), "purple"),
])
def test_colour_names(bgr, name):
    assert colour_name(np.array(bgr, np.uint8)) == name
    patch = np.full((20, 10, 3), bgr, np.uint8)
    patch[:3] = (255, 255, 255)  # a little glare does not change the dominant colour
    assert dominant_colour(patch) == name


def _pose(**points):
    kp = np.zeros((17, 3), np.float32)
    for name, (x, y) in points.items():
        kp[KEYPOINTS.index(name)] = (x, y, 0.9)
    return kp


def test_orientation_from_keypoints():
    facing = _pose(nose=(50, 10), left_eye=(55, 8), right_eye=(45, 8), left_shoulder=(70, 30),
                   right_shoulder=(30, 30), left_hip=(65, 80), right_hip=(35, 80))
    away = _pose(left_shoulder=(30, 30), right_shoulder=(70, 30), left_hip=(35, 80), right_hip=(65, 80))
    side = _pose(nose=(30, 10), left_shoulder=(52, 30), right_shoulder=(48, 30), left_hip=(50, 80))
    assert orientation(facing) == "facing camera"
    assert orientation(away) == "away from camera"
    assert orientation(side) in ("left", "right")
    assert orientation(None) == "unknown"


def test_small_people_get_unknown_face_attributes(frames):
    from gpu_jobs.vision.attributes import AttributeEstimator

    attrs = AttributeEstimator().estimate(frames[5].image, (360, 200, 395, 280), None)
    assert attrs["age_group"] == attrs["gender"] == attrs["emotion"] == "unknown"
    assert attrs["clothing_colour"] != "unknown"


def test_aggregate_votes_and_ignores_unknown():
    samples = [{"gender": "male", "clothing_colour": "red"}, {"gender": "unknown", "clothing_colour": "red"},
               {"gender": "male", "clothing_colour": "blue"}, {"gender": "female", "clothing_colour": "unknown"}]
    assert aggregate(samples) == {"clothing_colour": "red", "gender": "male"}
    assert aggregate([{"age_group": "unknown"}]) == {"age_group": "unknown"}
