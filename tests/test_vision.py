"""The vision adapters with the real packaged weights on real footage (vtest.avi = PETS09-S2L1)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpu_jobs.types import KEYPOINTS
from gpu_jobs.vision.attributes import aggregate, colour_name, dominant_colour, orientation, torso_box
from gpu_jobs.vision.detectors import CLASSES_OF_INTEREST, merge_views, tile_views
from gpu_jobs.vision.models import available_models, fall_yolo

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
MESSI = VTEST.with_name("messi5.jpg")  # OpenCV's sample photo with one clear face, same package
# PETS09-S2L1 ground truth (MOTChallenge gt.txt, frame 21) for video frame 20: x1, y1, x2, y2
GT_FRAME_20 = np.array([[407, 178, 438, 253], [694, 276, 730, 386], [364, 191, 393, 274], [444, 231, 476, 316]],
                       np.float32)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None]
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (union - inter)


@pytest.fixture(scope="module")
def frames():
    """The first 25 frames sampled at 5 fps (every second frame of the 10 fps file)."""
    if not VTEST.exists():
        pytest.skip(f"{VTEST} is missing: the README set-up installs it (apt-get install opencv-doc).")
    from core.runtime.media import sample_frames

    out = []
    for frame in sample_frames(VTEST, fps=5):
        out.append(frame)
        if len(out) == 25:
            break
    return out


@pytest.fixture(scope="module")
def ssd(tmp_path_factory):
    from gpu_jobs.vision.detectors import SSDMobileNetDetector

    return SSDMobileNetDetector(cache_dir=tmp_path_factory.mktemp("models"))


def test_every_packaged_model_is_found():
    assert all(available_models().values()), available_models()


def test_ssd_finds_the_annotated_people_on_a_real_frame(ssd, frames):
    frame = frames[10]
    assert frame.index == 20
    (dets,) = ssd.detect([frame.image])
    # one of the four is half hidden behind a sign: SSD sees only his head and shoulders
    people = dets[(dets.data["class_name"] == "person") & (dets.confidence >= 0.3)]
    found = (_iou(GT_FRAME_20, people.xyxy) >= 0.5).any(axis=1)
    assert found.sum() >= 3, (people.xyxy, people.confidence)
    assert len(people) <= 5  # no crowd of duplicates from the two overlapping tiles
    h, w = frame.image.shape[:2]
    assert (dets.xyxy >= 0).all() and (dets.xyxy[:, [0, 2]] <= w).all() and (dets.xyxy[:, [1, 3]] <= h).all()
    assert dets.class_id.dtype.kind == "i" and (dets.class_id[dets.data["class_name"] == "person"] == 0).all()
    assert set(dets.data["class_name"]) <= CLASSES_OF_INTEREST  # no cars, benches or traffic lights


def test_ssd_batches_give_the_same_answer_as_single_frames(ssd, frames):
    batch = ssd.detect([f.image for f in frames[:3]])
    single = [ssd.detect([f.image])[0] for f in frames[:3]]
    assert [len(b) for b in batch] == [len(s) for s in single]
    for b, s in zip(batch, single):
        np.testing.assert_allclose(b.xyxy, s.xyxy, atol=1.0)
    assert ssd.detect([]) == []


def test_openvino_and_opencv_engines_agree_on_a_real_frame(ssd, frames, tmp_path):
    from gpu_jobs.vision.detectors import SSDMobileNetDetector
    from gpu_jobs.vision.ssd_engines import OpenCvSsd, OpenVinoSsd, make_engine

    assert isinstance(ssd.engine, OpenVinoSsd)  # auto picks OpenVINO: it is a dependency
    opencv = SSDMobileNetDetector(backend="opencv")
    assert isinstance(opencv.engine, OpenCvSsd) and len(opencv.engine.nets) >= 1
    for frame in frames[10:13]:
        (a,), (b,) = ssd.detect([frame.image]), opencv.detect([frame.image])
        a, b = a[a.confidence >= 0.45], b[b.confidence >= 0.45]
        assert len(a) == len(b) > 0, (a.xyxy, b.xyxy)
        assert (_iou(a.xyxy, b.xyxy).max(axis=1) >= 0.9).all()  # bf16 on AMX moves boxes by a pixel or two
    with pytest.raises(ValueError, match="unknown SSD backend"):
        make_engine("tensorrt")


def test_openvino_converts_the_graph_once_and_reuses_it(tmp_path, frames):
    from gpu_jobs.vision.ssd_engines import OpenVinoSsd

    first = OpenVinoSsd(tmp_path)
    [xml] = tmp_path.glob("ssd_mobilenet_v2_coco-*.xml")
    assert xml.with_suffix(".bin").stat().st_size > 10_000_000 and not list(tmp_path.glob("tmp*"))
    stamp = xml.stat().st_mtime_ns
    second = OpenVinoSsd(tmp_path)
    assert xml.stat().st_mtime_ns == stamp and list((tmp_path / "openvino").iterdir())  # compiled blob cached
    views = [frames[10].image[:, :430], frames[10].image[:, 340:]]
    rows_a, rows_b = first.forward(views), second.forward(views)
    np.testing.assert_allclose(rows_a, rows_b, atol=1e-5)
    assert set(rows_a[:, 0]) == {0.0, 1.0} and ((rows_a[:, 3:] >= -0.01) & (rows_a[:, 3:] <= 1.01)).all()
    assert first.forward([]).shape == (0, 7)


def test_the_graph_without_its_loops_gives_the_whole_graphs_rows_on_real_frames(ssd, frames):
    """Cutting the resize and NMS loops off (half the inference) must not change one row, nor its order."""
    import cv2
    import openvino as ov

    from gpu_jobs.vision.ssd_engines import INPUT, _weights

    core = ov.Core()
    whole = core.read_model(str(_weights()[0]))
    whole.reshape({whole.inputs[0].get_any_name(): [1, INPUT, INPUT, 3]})
    compiled = core.compile_model(whole, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    images = [f.image for f in frames[::3]]
    for clip in ("scfd_fi003.mp4", "gmdcsa24_s1_fall_13.mp4"):  # a fight and a fall: other cameras, other scenes
        cap = cv2.VideoCapture(str(Path(__file__).parent / "data" / clip))
        for k in range(40):
            ok, image = cap.read()
            if ok and k % 8 == 0:
                images.append(image)
        cap.release()
    checked, labels = 0, set()
    for image in images:
        w = image.shape[1]
        for view in (image, image[:, : w * 56 // 100], image[:, w * 44 // 100:]):
            request.infer({0: cv2.cvtColor(cv2.resize(view, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)[None]})
            scores = request.get_tensor(compiled.output("detection_scores:0")).data[0]
            keep = scores > 0
            expected = np.zeros((int(keep.sum()), 7), np.float32)
            expected[:, 1] = request.get_tensor(compiled.output("detection_classes:0")).data[0][keep]
            expected[:, 2] = scores[keep]
            expected[:, 3:] = request.get_tensor(compiled.output("detection_boxes:0")).data[0][keep][:, [1, 0, 3, 2]]
            np.testing.assert_array_equal(ssd.engine.forward([view]), expected)
            checked += len(expected)
            labels |= set(expected[:, 1].astype(int).tolist())
    assert checked > 100 and len(labels) >= 2, (checked, labels)  # rows of several classes, not empty views


def test_numpy_nms_keeps_the_graphs_rules():
    from gpu_jobs.vision.ssd_engines import multiclass_nms

    boxes = np.array([[0.1, 0.1, 0.5, 0.3],  # class 0, best
                      [0.12, 0.1, 0.52, 0.3],  # class 0, IoU ~0.9 with the first: suppressed
                      [0.1, 0.2, 0.5, 0.4],  # class 0, IoU 1/3 with the first: kept
                      [1.2, 0.1, 1.5, 0.3],  # below the image: nothing left after clipping
                      [-0.2, 0.6, 0.3, 1.4],  # partly outside: clipped to the image
                      [0.6, 0.6, 0.9, 0.9]], np.float32)  # at the floor exactly: not above it
    scores = np.zeros((6, 3), np.float32)
    scores[:, 0] = [0.9, 0.8, 0.7, 0.95, 0.0, 0.3]
    scores[1, 2] = 0.85  # the suppressed box stays as another class
    scores[4, 1] = 0.6
    rows = multiclass_nms(boxes, scores, view=3)
    assert (rows[:, 0] == 3).all()
    assert rows[:, 1].tolist() == [1, 3, 1, 2]  # TF labels count from 1; best score first across classes
    np.testing.assert_allclose(rows[:, 2], [0.9, 0.85, 0.7, 0.6])
    np.testing.assert_allclose(rows[3, 3:], [0.6, 0.0, 1.0, 0.3])  # x1, y1, x2, y2 clipped
    assert multiclass_nms(boxes, np.zeros((6, 3), np.float32)).shape == (0, 7)


def test_tiles_overlap_and_cover_the_frame():
    views = tile_views(768, 576, 2)
    assert views[0][0] == 0 and views[-1][2] == 768 and views[0][2] > views[1][0]  # overlapping halves
    assert all(v[1] == 0 and v[3] == 576 for v in views)
    assert tile_views(576, 768, 2)[-1][3] == 768  # portrait frames split top and bottom
    assert tile_views(768, 576, 1) == [(0, 0, 768, 576)]


def test_merge_keeps_the_whole_person_over_a_duplicate_and_a_cut_half():
    boxes = np.array([[100, 100, 130, 180], [101, 99, 131, 182], [100, 100, 130, 140], [300, 100, 330, 180]],
                     np.float32)
    scores = np.array([0.7, 0.6, 0.9, 0.5], np.float32)
    cut = np.array([False, False, True, False])
    assert sorted(merge_views(boxes, scores, cut)) == [0, 3]


def test_yolo_adapter_runs_the_packaged_ultralytics_checkpoint(frames):
    from gpu_jobs.vision.detectors import YoloDetector, make_detector
    from settings import Settings

    detector = make_detector(Settings(SENTINEL_DETECTOR="yolo"))
    assert isinstance(detector, YoloDetector) and detector.weights == str(fall_yolo())
    batch = detector.detect([frames[10].image, frames[11].image])
    assert len(batch) == 2
    dets = batch[0]
    assert set(dets.data["class_name"]) == {"person"}  # Normal and Fall both map to person
    assert dets.data["fall"].dtype == bool and dets.xyxy.shape == (len(dets), 4)
    # the fall checkpoint draws loose boxes, but it does find the annotated walkers
    assert ((_iou(GT_FRAME_20, dets.xyxy) >= 0.3).any(axis=1)).sum() >= 2, dets.xyxy
    # bf16 autocast (auto on AMX CPUs) finds the same people as float32
    detector.precision = "fp32"
    exact = detector.detect([frames[10].image])[0]
    sure, sure_exact = dets[dets.confidence >= 0.5], exact[exact.confidence >= 0.5]
    assert len(sure_exact) and (_iou(sure_exact.xyxy, sure.xyxy).max(axis=1) >= 0.8).all(), (exact.xyxy, dets.xyxy)


def test_make_detector_defaults_to_ssd():
    from gpu_jobs.vision.detectors import SSDMobileNetDetector, make_detector
    from settings import Settings

    detector = make_detector(Settings(SENTINEL_DETECTOR="auto", SENTINEL_DETECT_CONFIDENCE=0.3,
                                      SENTINEL_DETECT_TILES=1, SENTINEL_SSD_BACKEND="opencv"))
    assert isinstance(detector, SSDMobileNetDetector) and detector.confidence == 0.3 and detector.tiles == 1
    assert detector.engine.name == "opencv-dnn"


def test_tracker_keeps_ids_stable_over_consecutive_frames(ssd, frames):
    from gpu_jobs.vision.tracking import ObjectTracker

    tracker = ObjectTracker(frame_rate=5)
    seen = []
    for frame in frames[:20]:
        tracked = tracker.update(ssd.detect([frame.image])[0])
        assert (tracked.tracker_id >= 0).all()  # unconfirmed tracks are dropped
        assert len(tracked.data["class_name"]) == len(tracked)
        seen.append(set(tracked.tracker_id[tracked.data["class_name"] == "person"].tolist()))
    # the three walkers seen from the start keep their ids until they meet behind the lamp post
    # (at 2.0 s, sample 10, one of them is already hidden for the OpenVINO engine)
    assert len(seen[1]) == 3 and all(seen[1] <= s for s in seen[1:10]), seen
    # someone keeps one id the whole 4 seconds, through the crossing
    assert set.intersection(*seen[1:]), seen
    # from one sample to the next at most one person changes id (people also enter and leave)
    assert all(len(a & b) >= min(len(a), len(b)) - 1 for a, b in zip(seen[1:], seen[2:])), seen


def test_movenet_gives_17_keypoints_inside_the_person(ssd, frames):
    from gpu_jobs.vision.pose import MoveNetPose, make_pose
    from settings import Settings

    assert isinstance(make_pose(Settings()), MoveNetPose)
    (dets,) = ssd.detect([frames[5].image])
    people = dets[(dets.data["class_name"] == "person") & (dets.confidence >= 0.5)]
    kps = MoveNetPose().estimate(frames[5].image, people.xyxy)
    assert kps.shape == (len(people), 17, 3) and len(people) >= 3
    assert ((kps[..., 2] >= 0) & (kps[..., 2] <= 1)).all()
    for box, kp in zip(people.xyxy, kps):
        good = kp[kp[:, 2] > 0.3]
        assert len(good) >= 5
        x1, y1, x2, y2 = box
        pad = 0.25 * (y2 - y1)
        inside = (good[:, 0] > x1 - pad) & (good[:, 0] < x2 + pad) & (good[:, 1] > y1 - pad) & (good[:, 1] < y2 + pad)
        assert inside.mean() > 0.8
        assert kp[KEYPOINTS.index("nose"), 1] < kp[KEYPOINTS.index("left_ankle"), 1]  # head above feet
    assert MoveNetPose().estimate(frames[10].image, np.zeros((0, 4))).shape == (0, 17, 3)


def test_yolo_pose_refuses_a_detection_checkpoint():
    from gpu_jobs.vision.pose import YoloPose

    with pytest.raises(RuntimeError, match="not a pose"):
        YoloPose(fall_yolo())


@pytest.mark.parametrize("bgr,name", [
    ((0, 0, 0), "black"), ((255, 255, 255), "white"), ((128, 128, 128), "grey"), ((0, 0, 220), "red"),
    ((0, 140, 255), "orange"), ((0, 220, 230), "yellow"), ((0, 200, 0), "green"), ((220, 60, 0), "blue"),
    ((150, 30, 120), "purple"), ((180, 105, 255), "pink"), ((30, 60, 110), "brown"),
])
def test_colour_names(bgr, name):
    assert colour_name(np.array(bgr, np.uint8)) == name
    patch = np.full((20, 10, 3), bgr, np.uint8)
    patch[:3] = (255, 255, 255) if name != "white" else (0, 0, 0)  # a little glare does not change the answer
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
    to_left = _pose(nose=(30, 10), left_shoulder=(52, 30), right_shoulder=(48, 30), left_hip=(50, 80))
    to_right = _pose(nose=(70, 10), left_shoulder=(48, 30), right_shoulder=(52, 30), left_hip=(50, 80))
    ear_only = _pose(left_ear=(50, 10))
    assert orientation(facing) == "facing camera"
    assert orientation(away) == "away from camera"
    assert orientation(to_left) == "left" and orientation(to_right) == "right"
    assert orientation(ear_only) == "right"
    assert orientation(None) == orientation(np.zeros((17, 3), np.float32)) == "unknown"


def test_torso_colour_comes_from_the_keypoints_when_seen():
    image = np.full((200, 100, 3), (0, 200, 0), np.uint8)  # green background
    image[60:120, 30:70] = (220, 60, 0)  # a blue shirt
    kp = _pose(left_shoulder=(68, 58), right_shoulder=(32, 58), left_hip=(66, 122), right_hip=(34, 122))
    box = torso_box((0, 0, 100, 200), kp)
    assert 30 <= box[0] < box[2] <= 70 and 58 <= box[1] < box[3] <= 122
    from gpu_jobs.vision.attributes import AttributeEstimator

    attrs = AttributeEstimator().estimate(image, (0, 0, 100, 200), kp)
    assert attrs["clothing_colour"] == "blue" and attrs["orientation"] == "away from camera"


def test_small_people_get_unknown_face_attributes(frames):
    from gpu_jobs.vision.attributes import AttributeEstimator

    attrs = AttributeEstimator().estimate(frames[10].image, tuple(GT_FRAME_20[1]), None)
    assert attrs["age_group"] == attrs["gender"] == attrs["emotion"] == "unknown"
    assert attrs["clothing_colour"] != "unknown"


def test_a_large_clear_face_gets_age_and_gender():
    if not MESSI.exists():
        pytest.skip(f"{MESSI} is missing: the README set-up installs it (apt-get install opencv-doc).")
    import cv2

    from gpu_jobs.vision.attributes import AttributeEstimator

    image = cv2.resize(cv2.imread(str(MESSI)), None, fx=2, fy=2)  # his face becomes about 74 px
    attrs = AttributeEstimator().estimate(image, (400, 160, 560, 684), None)
    assert attrs["gender"] == "male" and attrs["age_group"] in ("young", "middle-aged")
    assert attrs["emotion"] in ("unknown", "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def test_aggregate_votes_and_ignores_unknown():
    samples = [{"gender": "male", "clothing_colour": "red"}, {"gender": "unknown", "clothing_colour": "red"},
               {"gender": "male", "clothing_colour": "blue"}, {"gender": "female", "clothing_colour": "unknown"}]
    assert aggregate(samples) == {"clothing_colour": "red", "gender": "male"}
    assert aggregate([{"age_group": "unknown"}]) == {"age_group": "unknown"}
    assert aggregate([]) == {}


def test_colour_naming_balances_a_camera_cast_and_lets_a_pale_hue_outvote_grey():
    from gpu_jobs.vision.attributes import ColourNaming

    cast = np.full((20, 10, 3), (170, 120, 120), np.uint8)  # a grey top under a blue-tinted camera
    assert ColourNaming().dominant(cast) == "blue"
    assert ColourNaming().dominant(cast, frame_bgr=(150, 105, 105)) == "grey"  # the frame carries the same tint
    pale = np.full((20, 10, 3), (128, 128, 128), np.uint8)
    pale[:7] = (120, 190, 200)  # a third of the pixels a pale yellow, the rest shade
    assert ColourNaming().dominant(pale) == "grey"
    assert ColourNaming(chroma_share=0.3).dominant(pale) == "yellow"
