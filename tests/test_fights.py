"""Fights (violent) from the packaged fight model, on by default: the frame's flow, the model interface, real clips.

The real clips (tests/data, see its README: the Surveillance Camera Fight Dataset, MIT) and an
excerpt of vtest.avi (people walking past each other) run through the real analysis (decode, SSD,
ByteTrack, MoveNet, optical flow, rules) with the default settings.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpu_jobs.behaviours import BehaviourRules
from gpu_jobs.behaviours.models.evaluator import FORMAT, WindowModel
from gpu_jobs.behaviours.models.fight import FIGHT_FEATURES, MODEL_PATH, fight_windows, load_fight_model
from gpu_jobs.types import FrameSignal
from gpu_jobs.vision.motion import FLOW_FIELDS, MotionField, MotionQueue, frame_flow
from settings import BehaviourThresholds
from tests.conftest import VTEST, vtest_excerpt

DATA = Path(__file__).parent / "data"
TH = BehaviourThresholds(_env_file=None)


# --------------------------------------------------------------------------- the frame's flow descriptor


def field(h: int = 120, w: int = 160, value=(0.0, 0.0)) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.float32), (h, w, 2)).copy()


def test_frame_flow_tells_one_way_motion_from_a_tangle_in_one_place():
    rng = np.random.default_rng(0)
    walk = field(value=(4.0, 0.0))  # the whole frame slides one way
    tangle = field()
    tangle[40:80, 60:100] = rng.normal(0, 6, (40, 40, 2))  # one place moves every way
    d_walk, speed = frame_flow(walk, 0.2)
    d_tangle, _ = frame_flow(tangle, 0.2)
    f = {name: k for k, name in enumerate(FLOW_FIELDS)}
    assert d_walk.shape == d_tangle.shape == (len(FLOW_FIELDS),) and speed.shape == (120, 160)
    assert d_walk[f["direction_entropy"]] < 0.05 < 0.8 < d_tangle[f["direction_entropy"]]
    assert d_tangle[f["cell_concentration"]] > 5 * d_walk[f["cell_concentration"]]
    assert d_tangle[f["hot_incoherence"]] > 0.5 > d_walk[f["hot_incoherence"]]
    assert np.isnan(d_walk[f["change_mean"]])  # no previous flow to compare with
    again, _ = frame_flow(tangle, 0.2, previous=speed)
    assert again[f["change_mean"]] > 0 and np.isfinite(again[f["flicker_cell_max"]])


def test_motion_field_describes_every_flow_it_computes():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (240, 320), np.uint8)
    motion = MotionField()
    motion.update(image, 0.0)
    assert motion.box_features(np.array([[0, 0, 320, 240]], np.float32), (320, 240)) is None
    assert motion.frame_flow is None
    motion.update(np.roll(image, 4, axis=1), 0.2)
    assert motion.box_features(np.array([[0, 0, 320, 240]], np.float32), (320, 240)) is not None
    assert motion.frame_flow.shape == (len(FLOW_FIELDS),)


def test_a_window_nobody_was_detected_in_is_judged_from_the_frames_flow():
    rng = np.random.default_rng(2)
    signals = [FrameSignal(t=k / 5, frame=k, boxes=np.zeros((0, 4), np.float32), confidence=np.zeros(0, np.float32),
                           flow=rng.random(len(FLOW_FIELDS)).astype(np.float32)) for k in range(11)]
    windows = fight_windows([], signals, (320, 240), 5.0)
    assert windows and all(w.actor is None for w in windows)
    row = dict(zip(FIGHT_FEATURES, windows[0].features))
    assert row["people_max"] == 0 and np.isfinite(row["flow_direction_entropy_mean"])
    x0, y0, x1, y1 = windows[0].bbox
    assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 240
    without_flow = [FrameSignal(s.t, s.frame, s.boxes, s.confidence) for s in signals]
    assert fight_windows([], without_flow, (320, 240), 5.0) == []


def test_motion_queue_hands_back_every_frame_in_order_and_raises_the_threads_failure():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 255, (240, 320), np.uint8)
    box = np.array([[0, 0, 320, 240]], np.float32)
    got = []
    with MotionQueue(depth=2) as queue:
        for k in range(6):
            queue.submit(np.roll(image, 4 * k, axis=1), k / 5, box, lambda found, flow, k=k: got.append((k, found)))
        queue.drain()
    assert [k for k, _ in got] == list(range(6))
    assert got[0][1] is None and all(found is not None and found.shape == (1, 5) for _, found in got[1:])
    with pytest.raises(ValueError), MotionQueue() as queue:
        queue.submit(image, 0.0, box, lambda *_: None)
        queue.submit(image, 0.2, np.zeros((1, 3), np.float32), lambda *_: None)  # not xyxy: fails in the thread
        queue.drain()


# --------------------------------------------------------------------------- the model interface


def test_evaluator_routes_missing_values_as_histogram_boosting_learned():
    tree = {"feature": [0, -2, -2], "threshold": [1.0, 0, 0], "left": [1, -1, -1], "right": [2, -1, -1],
            "value": [0.0, -1.0, 1.0], "missing_left": [True, False, False]}
    data = {"format": FORMAT, "kind": "hgbt", "features": ["a", "b"], "fill": [5.0, 0.0], "threshold": 0.5,
            "hgbt": {"baseline": 0.5, "trees": [tree, {**tree, "missing_left": [False, False, False]}]}}
    model = WindowModel.from_dict(data)
    p = model.probability(np.array([[0.5, 0.0], [3.0, 0.0], [np.nan, 0.0]]))
    # NaN: left (-1) in the first tree, right (+1) in the second; never the fill value
    assert p == pytest.approx(1 / (1 + np.exp(-np.array([-1.5, 2.5, 0.5]))))


def test_packaged_fight_model_is_on_by_default_and_reads_the_frames_flow():
    assert TH.violent_model
    model = load_fight_model()
    assert model is not None and model.kind == "hgbt" and model.features == FIGHT_FEATURES
    assert any(name.startswith("flow_") for name in model.features)
    meta = json.loads(MODEL_PATH.read_text())["trained"]
    assert meta["script"] == "bench/train_fight_model.py" and meta["seed"] == 0
    assert {"fight set", "fall rooms", "store clips", "vtest"} <= set(meta["clips_by_source"])
    cv = meta["cv"]["hgbt"]
    assert {"precision", "recall", "f1", "folds", "held_out_false_alarms"} <= set(cv)


# --------------------------------------------------------------------------- real clips, default settings


@pytest.fixture(scope="module")
def analyzer():
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    return Analyzer(get_settings())


def scan_clip(analyzer, path: Path, *, motion_thread: bool = True):
    from core.runtime.media import probe
    from gpu_jobs.analysis import FrameScan

    info = probe(path)
    fps = min(analyzer.settings.analysis_fps, info.fps)
    scan = FrameScan(analyzer, fps, (info.width, info.height), [], expected=1, report=lambda p: None,
                     motion_thread=motion_thread)
    scan.run(path, None)
    return scan, fps, (info.width, info.height)


def analyse(analyzer, path: Path):
    """The default rules' events of a clip through the real per-frame analysis, and its frame signals."""
    scan, fps, size = scan_clip(analyzer, path)
    events = BehaviourRules(analyzer.settings.rules).run(scan.finished_tracks(), [], size, fps, signals=scan.signals)
    return events, scan.signals


def test_motion_measured_in_its_thread_equals_motion_measured_inline(analyzer):
    threaded, _, _ = scan_clip(analyzer, DATA / "scfd_fi003.mp4")
    inline, _, _ = scan_clip(analyzer, DATA / "scfd_fi003.mp4", motion_thread=False)
    assert [s.t for s in threaded.signals] == [s.t for s in inline.signals]
    assert sum(s.flow is not None for s in threaded.signals) >= len(threaded.signals) - 1
    for a, b in zip(threaded.signals, inline.signals):
        for name in ("motion", "frame_motion", "flow"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None and y is None) or np.array_equal(x, y, equal_nan=True), name
    moved = [(o.motion, p.motion) for t, u in zip(threaded.finished_tracks(), inline.finished_tracks())
             for o, p in zip(t.observations, u.observations)]
    assert sum(m is not None for m, _ in moved) > 10
    assert all((m is None and n is None) or np.array_equal(m, n) for m, n in moved)


def test_real_fight_gets_a_violent_event_by_default(analyzer):
    # Surveillance Camera Fight Dataset fi003 (a training clip of the packaged model: this checks the wiring)
    events, signals = analyse(analyzer, DATA / "scfd_fi003.mp4")
    violent = [e for e in events if e.type == "violent"]
    assert violent and violent[0].attributes["limb_source"] == "model"
    assert violent[0].attributes["fight_probability"] >= load_fight_model().threshold
    assert sum(s.flow is not None for s in signals) >= len(signals) - 1  # every frame but the first


def test_real_people_walking_on_a_street_get_no_violent_event_by_default(analyzer):
    # Surveillance Camera Fight Dataset nofi026: people walking along a street
    assert analyzer.settings.rules.violent_model
    events, _ = analyse(analyzer, DATA / "scfd_nofi026.mp4")
    assert not [e for e in events if e.type == "violent"]


@pytest.mark.skipif(not VTEST.exists(), reason="vtest.avi (opencv-doc) is not installed")
def test_a_crowd_walking_past_each_other_gets_no_violent_event_by_default(analyzer, tmp_path):
    assert analyzer.settings.rules.violent_model
    events, signals = analyse(analyzer, vtest_excerpt(tmp_path / "crowd.mp4", start_s=20.0, seconds=10.0))
    assert sum(s.flow is not None for s in signals) >= len(signals) - 1
    assert not [e for e in events if e.type == "violent"]
