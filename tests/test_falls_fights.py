"""Falls (collapse) and fights (violent): synthetic edge cases for the rules, the model evaluator, and real clips.

The real clips (tests/data, see its README: GMDCSA-24 and the Surveillance Camera Fight Dataset,
both MIT) run through the real analysis (decode, SSD, ByteTrack, MoveNet, optical flow, rules).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from gpu_jobs.behaviours import BehaviourRules, CollapseRule, Scene, ViolenceRule
from gpu_jobs.behaviours.models.evaluator import FORMAT, ModelError, WindowModel
from gpu_jobs.behaviours.models.fight import FIGHT_FEATURES, MODEL_PATH, fight_windows, load_fight_model
from gpu_jobs.types import FrameSignal, Observation, Track
from settings import BehaviourThresholds

DATA = Path(__file__).parent / "data"
W, H = 1280, 720
FPS = 5.0
TH = BehaviourThresholds(_env_file=None)


def times(t0: float, t1: float) -> list[float]:
    return [round(t0 + k / FPS, 3) for k in range(int(round((t1 - t0) * FPS)) + 1)]


def person(number: int, t0: float, t1: float, box_at, keypoints_at=None) -> Track:
    """A person track whose box (x1, y1, x2, y2) is box_at(t); keypoints_at(t, box) may add a pose."""
    obs = []
    for t in times(t0, t1):
        box = tuple(float(v) for v in box_at(t))
        obs.append(Observation(t=t, frame=int(round(t * FPS)), bbox=box, confidence=0.9,
                               keypoints=keypoints_at(t, box) if keypoints_at else None))
    return Track(number, "person", obs)


def standing_then(shape_after, t_change: float, x: float = 640, foot: float = 600, height: float = 300):
    """Standing (height x height/3) until t_change, then shape_after(t - t_change) -> (width, height, foot)."""
    def box(t):
        if t < t_change:
            w, h, f = height / 3, height, foot
        else:
            w, h, f = shape_after(t - t_change)
        return (x - w / 2, f - h, x + w / 2, f)
    return box


def signals_for(tracks: list[Track], until: float) -> list[FrameSignal]:
    """Frame signals as the analysis records them: every sampled frame, the person boxes in it."""
    out = []
    for t in times(0, until):
        boxes = [o.bbox for tr in tracks for o in tr.observations if abs(o.t - t) < 1e-6]
        out.append(FrameSignal(t, int(round(t * FPS)), np.array(boxes, np.float32).reshape(-1, 4),
                               np.full(len(boxes), 0.9, np.float32)))
    return out


def collapses(tracks, until, th=TH):
    scene = Scene.build((), (W, H), FPS, signals=signals_for(tracks, until))
    return CollapseRule(th).detect(tracks, scene)


# --------------------------------------------------------------------------- collapse: edge cases


def test_fall_then_lying_is_a_collapse():
    fall = standing_then(lambda dt: (200, 200, 600) if dt < 0.4 else (300, 80, 600), 2.0)
    events = collapses([person(1, 0, 6, fall)], 6)
    assert [e.type for e in events] == ["collapse"]
    assert events[0].t_start == pytest.approx(1.8, abs=0.3) and events[0].attributes["seen"] == "lying"


def test_fast_sit_down_on_a_chair_is_not_a_collapse():
    # the head drops a third of the height in 0.4 s, then they sit on (box 0.7 of the standing height)
    sit = standing_then(lambda dt: (180, 210, 600), 2.0)
    assert collapses([person(1, 0, 8, sit)], 8) == []


def test_lying_down_slowly_on_purpose_is_not_a_collapse():
    # from standing to lying over 4 s (onto a sofa or a bed): never a fast drop
    def slow(dt):
        k = min(1.0, dt / 4.0)
        return (100 + 200 * k, 300 - 220 * k, 600)
    assert collapses([person(1, 0, 10, standing_then(slow, 2.0))], 10) == []


def test_walking_out_of_the_frame_at_the_side_is_not_a_collapse():
    # the box is cut by the left edge (narrows, squat at the end) and the track ends there
    def leaving(t):
        x = 300 - 120 * t
        return (max(0.0, x - 50), 300, x + 50, 600)
    assert collapses([person(1, 0, 3, leaving)], 6) == []


def test_fall_with_the_feet_out_of_the_frame_is_found():
    # close to the camera: the feet are below the frame's edge the whole time; the head falls to the floor
    fall = standing_then(lambda dt: (420, 260, H), 2.0, foot=H, height=600)
    events = collapses([person(1, 0, 6, fall)], 6)
    assert [e.type for e in events] == ["collapse"]


def test_fall_lost_by_the_detector_where_it_happened_is_found_unless_they_stand_up_there():
    # the detector loses people lying on a floor: the drop, then nothing where they fell, while the scene goes on
    fall = standing_then(lambda dt: (150, 150, 600), 2.0)
    lost = person(1, 0, 2.4, fall)
    events = collapses([lost], 8)
    assert [(e.type, e.attributes["seen"]) for e in events] == [("collapse", "lost")]
    # someone standing right there a moment later: they got up (the tracker gave them a new id)
    up = person(2, 3.0, 8, lambda t: (590, 300, 690, 600))
    assert collapses([lost, up], 8) == []


def test_partly_occluded_fall_behind_furniture_is_found():
    # only the upper body shows after the fall (the box stays tallish), the head falls far and fast, and stays down
    fall = standing_then(lambda dt: (90, 90, 540), 2.0, foot=600)  # the head from y 300 to 450
    events = collapses([person(1, 0, 7, fall)], 7)
    assert [e.type for e in events] == ["collapse"]


def test_detector_fall_flag_on_the_observation_counts():
    lying = person(1, 0, 4, lambda t: (500, 520, 800, 600))
    assert collapses([lying], 4) == []  # already lying when first seen: could be anything
    for o in lying.observations[:3]:
        o.fall = True  # what gpu_jobs.analysis copies from the ultralytics fall checkpoint's per-box flag
    events = collapses([lying], 4)
    assert [(e.type, e.attributes["fall_flag"]) for e in events] == [("collapse", True)]


# a store under a high camera: a customer standing at the counter, another one leaning over it in front of them
CUSTOMER = (590.0, 300.0, 690.0, 600.0)  # standing, 300 px tall
LEANER = (540.0, 490.0, 780.0, 650.0)  # bent over the counter, squat (h/w 0.67), nearer the camera


def switched(t_switch: float = 3.0):
    """The customer's track until t_switch, then the tracker moves their id onto the leaner."""
    return person(1, 0, 8, lambda t: CUSTOMER if t < t_switch else LEANER)


def test_bending_over_a_counter_and_back_up_within_two_seconds_is_not_a_collapse():
    # behind a counter only the upper body shows; the head drops half of it, the box turns squat, 1.6 s later up again
    upper = (600.0, 300.0, 700.0, 500.0)
    bent = (580.0, 400.0, 740.0, 500.0)
    assert collapses([person(1, 0, 8, lambda t: bent if 3.0 <= t < 4.6 else upper)], 8) == []


def test_fall_and_lying_on_with_a_bystander_beside_is_a_collapse():
    # the head comes down over 0.8 s (slower than a free fall), they lie for 4 s; someone stands a body width away
    def fall(dt):
        k = min(1.0, dt / 0.8)
        return (100 + 200 * k, 300 - 220 * k, 600)
    bystander = person(2, 0, 8, lambda t: (730, 300, 830, 600))
    events = collapses([person(1, 0, 8, standing_then(fall, 3.0)), bystander], 8)
    assert [(e.type, e.track_number) for e in events] == [("collapse", 1)]


def test_track_jumping_from_a_standing_customer_to_someone_leaning_is_not_a_collapse():
    # the customer's id lands on the leaner in front of them; the customer is still seen standing there (a new id)
    assert [e.type for e in collapses([switched()], 8)] == ["collapse"]  # alone, it reads as a fall
    still_there = person(2, 3.2, 8, lambda t: CUSTOMER)
    assert collapses([switched(), still_there], 8) == []


def test_track_jumping_onto_someone_already_leaning_there_is_not_a_collapse():
    # the leaner was seen bent over the counter there for seconds before the customer's id jumped onto them
    leaner = person(3, 0, 8, lambda t: LEANER)
    assert collapses([switched(), leaner], 8) == []


def test_head_falling_faster_than_free_fall_is_another_person():
    # a person 150 px tall far back, then the track's box is someone near the camera: the top "falls" 2 heights in 0.2 s
    far = (615.0, 250.0, 665.0, 400.0)
    near = (450.0, 550.0, 830.0, 710.0)
    assert collapses([person(1, 0, 8, lambda t: far if t < 3.0 else near)], 8) == []


def test_fall_flag_on_someone_leaning_there_all_along_is_not_a_collapse():
    # the fall checkpoint calls the leaner Fall for a few seconds, but they were bent over the counter there before
    leaner = person(3, 0, 8, lambda t: LEANER)
    for o in leaner.observations:
        o.fall = o.t >= 4.0
    assert collapses([leaner], 8) == []


# --------------------------------------------------------------------------- violent: edge cases


def walker(number, x0, x1, t1=4.0, y=600, height=250):
    return person(number, 0, t1, lambda t: (x0 + (x1 - x0) * t / t1 - height / 6, y - height,
                                            x0 + (x1 - x0) * t / t1 + height / 6, y))


def test_two_people_walking_past_each_other_are_not_violent_with_or_without_the_model():
    tracks = [walker(1, 300, 900), walker(2, 900, 300)]
    signals = signals_for(tracks, 4)
    for s in signals:  # walking: the boxes move as one, little motion relative to the body
        s.motion = np.tile([0.35, 0.5, 0.08, 0.1, 0.2], (len(s.boxes), 1)).astype(np.float32)
        s.frame_motion = np.array([0.01, 0.03, 0.01, 0.5, 0.0], np.float32)
    scene = Scene.build((), (W, H), FPS, signals=signals)
    on = TH.model_copy(update={"violent_model": True})
    assert ViolenceRule(TH).detect(tracks, scene) == []
    assert ViolenceRule(on).detect(tracks, scene) == []


class StubScorer:
    """A WindowScorer that says 'fight' wherever the people's flow is large (the interface a stronger model fills)."""

    features = FIGHT_FEATURES
    threshold = 0.5

    def probability(self, x: np.ndarray) -> np.ndarray:
        return (x[:, FIGHT_FEATURES.index("energy_top")] > 1.0).astype(float)


def test_model_windows_become_one_violent_event_with_the_two_people():
    a, b = walker(1, 600, 600, t1=6), walker(2, 680, 680, t1=6)
    signals = signals_for([a, b], 6)
    for s in signals:
        fighting = 2.0 <= s.t <= 4.0
        s.motion = np.tile([1.6 if fighting else 0.1, 2.0, 1.0, 0.6, 0.5], (len(s.boxes), 1)).astype(np.float32)
    scene = Scene.build((), (W, H), FPS, signals=signals)
    on = TH.model_copy(update={"violent_model": True, "violent_model_threshold": 0.5})
    events = ViolenceRule(on, model=StubScorer()).detect([a, b], scene)
    assert len(events) == 1
    e = events[0]
    assert e.type == "violent" and {e.track_number, *e.related_tracks} == {1, 2}
    assert 1.0 <= e.t_start <= 2.0 and 4.0 <= e.t_end <= 5.0
    assert e.attributes["limb_source"] == "model" and e.bbox[0] < 600 - 40 and e.bbox[2] > 680 + 40


def test_window_features_are_finite_or_nan_and_named():
    a, b = walker(1, 600, 700), walker(2, 700, 600)
    windows = fight_windows([Scene.build().profile(t, TH) for t in (a, b)], signals_for([a, b], 4), (W, H), FPS)
    assert windows and all(w.features.shape == (len(FIGHT_FEATURES),) for w in windows)
    assert all(not np.isinf(w.features).any() for w in windows)


# --------------------------------------------------------------------------- the JSON model and its evaluator


def test_packaged_fight_model_loads_and_scores():
    model = load_fight_model()
    assert model is not None and model.features == FIGHT_FEATURES and model.kind == "hgbt"
    p = model.probability(np.full((2, len(FIGHT_FEATURES)), np.nan))
    assert p.shape == (2,) and np.all((0 <= p) & (p <= 1))
    meta = json.loads(MODEL_PATH.read_text())["trained"]
    assert meta["script"] == "bench/train_fight_model.py" and "cv" in meta


def test_evaluator_matches_a_hand_made_tree_and_refuses_other_features():
    tree = {"feature": [0, -2, -2], "threshold": [1.0, -2, -2], "left": [1, -1, -1], "right": [2, -1, -1],
            "value": [0.0, -1.0, 1.0]}
    data = {"format": FORMAT, "kind": "gbdt", "features": ["a", "b"], "fill": [5.0, 0.0], "threshold": 0.5,
            "gbdt": {"init": 0.0, "learning_rate": 2.0, "trees": [tree]}}
    model = WindowModel.from_dict(data)
    p = model.probability(np.array([[0.5, 0.0], [3.0, 0.0], [np.nan, 0.0]]))
    assert p == pytest.approx(1 / (1 + np.exp(-np.array([-2.0, 2.0, 2.0]))))  # NaN takes the fill (5 > 1)
    with pytest.raises(ModelError):
        WindowModel.from_dict(data, expected_features=("a", "c"))
    with pytest.raises(ModelError):
        WindowModel.from_dict({**data, "format": "pickle"})


def test_modal_ships_the_model_weights():
    import modal.mount as mm

    import modal_app

    shipped = {str(remote) for _, remote in
               mm._MountedPythonModule("gpu_jobs", "/root", modal_app.SHIPPED_FILES).get_files_to_upload()}
    assert "/root/gpu_jobs/behaviours/models/fight.json" in shipped


# --------------------------------------------------------------------------- real clips through the real analysis


@pytest.fixture(scope="module")
def analyzer():
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    return Analyzer(get_settings())


def analyse(analyzer, name: str, **rules):
    """Tracks and signals of a committed clip, and the events of every rule (with these threshold overrides)."""
    from core.runtime.media import probe
    from gpu_jobs.analysis import FrameScan

    path = DATA / name
    info = probe(path)
    fps = min(analyzer.settings.analysis_fps, info.fps)
    scan = FrameScan(analyzer, fps, (info.width, info.height), [], expected=1, report=lambda p: None)
    scan.run(path, None)
    tracks = scan.finished_tracks()
    th = analyzer.settings.rules.model_copy(update=rules)
    return BehaviourRules(th).run(tracks, [], (info.width, info.height), fps, signals=scan.signals)


def test_real_fall_is_found_inside_its_window(analyzer):
    # GMDCSA-24 subject 1, fall 13: "Falling (BW) [0.4 to 4]"
    events = [e for e in analyse(analyzer, "gmdcsa24_s1_fall_13.mp4") if e.type == "collapse"]
    assert events and any(e.t_start <= 4.0 and e.t_end >= 0.4 for e in events)


def test_real_fast_sit_down_is_not_a_collapse(analyzer):
    # GMDCSA-24 subject 3, ADL 18 (first 5 s): walks in and sits down on a chair within a second
    assert not [e for e in analyse(analyzer, "gmdcsa24_s3_adl_18_5s.mp4") if e.type == "collapse"]


def test_real_fight_is_violent_with_the_fight_model(analyzer):
    # Surveillance Camera Fight Dataset fi003 (a training clip of the packaged model: this checks the wiring)
    events = analyse(analyzer, "scfd_fi003.mp4", violent_model=True)
    assert [e for e in events if e.type == "violent"]
    assert not [e for e in events if e.type == "collapse"]


def test_real_people_walking_past_each_other_are_not_violent(analyzer):
    # Surveillance Camera Fight Dataset nofi026: people walking along a street
    for model in (False, True):
        events = analyse(analyzer, "scfd_nofi026.mp4", violent_model=model)
        assert not [e for e in events if e.type in ("violent", "collapse")]


def test_the_detectors_fall_flag_reaches_the_observation_and_frames_get_motion():
    """FrameScan copies data['fall'] (the ultralytics fall checkpoint) to Observation.fall; flow fills motion."""
    from types import SimpleNamespace

    from core.runtime.media import Frame
    from gpu_jobs.analysis import FrameScan
    from gpu_jobs.vision.detectors import make_detections
    from settings import get_settings

    pose = SimpleNamespace(estimate=lambda image, boxes: np.zeros((len(boxes), 17, 3), np.float32))
    attrs = SimpleNamespace(estimate=lambda image, box, kp: {})
    stub = SimpleNamespace(settings=get_settings(), pose=pose, attributes=attrs,
                           new_tracker=lambda fps: None, detector=None)
    scan = FrameScan(stub, 5.0, (320, 240), [], expected=2, report=lambda p: None)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (240, 320, 3), np.uint8)
    boxes = [[100, 60, 160, 200], [200, 150, 300, 200]]
    for k in range(2):
        dets = make_detections(boxes, [0.9, 0.8], ["person", "person"], {"fall": [False, True]})
        dets.tracker_id = np.array([1, 2])
        scan.observe(Frame(k, k * 0.2, np.roll(image, 3 * k, axis=1)), dets, dets)
    with scan.motion:  # the flow is measured in the motion thread; run() drains it, as here
        scan.motion.drain()
    first, second = (scan.tracks[("person", i)].observations for i in (1, 2))
    assert [o.fall for o in first] == [False, False] and [o.fall for o in second] == [True, True]
    assert first[0].motion is None and first[1].motion.shape == (5,) and first[1].motion[0] > 0
    assert len(scan.signals) == 2 and scan.signals[1].motion.shape == (2, 5)
    assert scan.signals[1].frame_motion.shape == (5,)


def test_a_real_collapse_highlight_shows_the_pose_and_why(analyzer):
    """The analysis draws the fallen person's skeleton and the caption on the collapse's picture."""
    import cv2

    from core.vocabulary import colour_bgr
    from gpu_jobs.highlight_evidence import caption, poses_at

    output = analyzer.analyze_file(DATA / "gmdcsa24_s1_fall_13.mp4")
    [i] = [k for k, e in enumerate(output.events) if e.type == "collapse"]
    event = output.events[i]
    pose = poses_at(output.tracks, [event])[0]
    assert pose is not None and (pose[:, 2] >= 0.3).sum() >= 5  # the lying body's keypoints
    assert caption(event).startswith("lying ")
    picture = cv2.imdecode(np.frombuffer(output.highlights[i], np.uint8), cv2.IMREAD_COLOR)
    strip = picture[-4:, :40].reshape(-1, 3).astype(int)
    assert (np.abs(strip - np.array(colour_bgr("collapse"))).max(axis=1) < 40).mean() > 0.9  # the caption's strip
