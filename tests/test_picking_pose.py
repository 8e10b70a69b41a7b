"""Picking from pose: what a hand out is not (standing up, sitting down, lying), on synthetic keypoint sequences.

A person stands (or sits) still at (600, 600). The right wrist rests by the body and, from 2.0 to
2.8 s, is held out 1.43 torso lengths from the torso's centre line at shoulder-to-hip height, then
comes back: a pick, unless the body's height before the reach and after it differ by
picking_height_change (the hands push off a chair or swing while sitting down), or the person is
lying (a lying-shaped box whose torso is far from upright).
"""

from __future__ import annotations

import numpy as np
import pytest

from gpu_jobs.behaviours import PickingRule, Scene
from tests.synthetic import FPS, KP, TH, H, W, person, skeleton

FOOT = (600.0, 600.0)
TALL = 300.0


def reaching(t: float, f, h) -> np.ndarray:
    """An upright skeleton whose right wrist is held out from 2.0 to 2.8 s, in proportion to the box."""
    kp = skeleton(f, h)
    if 2.0 - 1e-6 <= t <= 2.8 + 1e-6:
        kp[KP["right_wrist"], :2] = (f[0] + 0.43 * h, f[1] - 0.67 * h)
    return kp


def height_from(before: float, after: float):
    """A box height that changes from before to after while the hand is out (2.2 to 2.6 s)."""
    return lambda t: before if t < 2.2 else after if t > 2.6 else before + (after - before) * (t - 2.2) / 0.4


def picks(track) -> list:
    return PickingRule(TH).detect([track], Scene.build((), (W, H), FPS))


def test_the_same_reach_at_a_steady_height_is_a_pick():
    # the control for every case below: without the change of height or the lying body it fires
    assert len(picks(person(7, 0, 6, FOOT, height=TALL, keypoints=reaching))) == 1


@pytest.mark.parametrize("before, after", [(0.7 * TALL, TALL), (TALL, 0.7 * TALL)], ids=["stands up", "sits down"])
def test_a_hand_out_while_standing_up_or_sitting_down_is_no_pick(before, after):
    assert picks(person(7, 0, 6, FOOT, height=height_from(before, after), keypoints=reaching)) == []


def test_a_height_change_under_the_threshold_is_still_a_pick():
    # box jitter and a lean over the counter stay well under a quarter of the height
    factor = TH.picking_height_change * 0.9
    assert len(picks(person(7, 0, 6, FOOT, height=height_from(TALL, TALL * factor), keypoints=reaching))) == 1


def test_bending_to_a_low_shelf_and_back_up_is_a_pick():
    # only the heights before the hand leaves and after it is back are compared, not the dip while it is out
    def bending(t):
        return 0.6 * TALL if 2.0 <= t <= 2.8 else TALL
    assert len(picks(person(7, 0, 6, FOOT, height=bending, keypoints=reaching))) == 1


def lying(t: float, f, h) -> np.ndarray:
    """A person lying along the floor (torso horizontal, 100 px); the right wrist is raised from 2.0 to 2.8 s."""
    kp = skeleton(f, h)
    x, y = f
    for side, dy in (("left", -8.0), ("right", 8.0)):
        kp[KP[f"{side}_shoulder"], :2] = (x - 100.0, y - 60.0 + dy)
        kp[KP[f"{side}_hip"], :2] = (x, y - 60.0 + dy)
        kp[KP[f"{side}_elbow"], :2] = (x - 80.0, y - 40.0 + dy)
    kp[KP["left_wrist"], :2] = (x - 60.0, y - 45.0)
    kp[KP["right_wrist"], :2] = (x - 50.0, y - 200.0) if 2.0 - 1e-6 <= t <= 2.8 + 1e-6 else (x - 50.0, y - 45.0)
    return kp


def test_a_lying_person_raising_a_hand_is_no_pick():
    assert picks(person(7, 0, 6, FOOT, height=120.0, aspect=0.4, keypoints=lying)) == []


def test_a_wide_box_with_an_upright_torso_still_picks():
    # a seated customer leaning both arms on a counter has a lying-shaped box; the torso says upright
    track = person(7, 0, 6, FOOT, height=TALL, aspect=0.7, keypoints=reaching)
    assert all(o.height / o.width < TH.lying_aspect for o in track.observations)
    assert len(picks(track)) == 1


def test_a_torso_estimate_that_jumps_away_from_a_still_hand_is_no_pick():
    # the shoulders and hips jump 0.45 box heights to the left for a moment (a keypoint swap, a box
    # that grew): the wrist reads as far from the torso although it never moved in the picture
    def jumping(t, f, h):
        kp = skeleton(f, h)
        if 2.0 - 1e-6 <= t <= 2.8 + 1e-6:
            for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_elbow", "right_elbow"):
                kp[KP[name], 0] -= 0.45 * h
        return kp
    assert picks(person(7, 0, 6, FOOT, height=TALL, keypoints=jumping)) == []


def test_a_hand_that_stays_on_the_counter_while_the_body_leans_back_is_a_pick():
    # the hand travels on the way back only (it held the item on the counter, then lifts it to the body)
    def lean_back(t, f, h):
        kp = reaching(t, f, h)
        if 1.0 - 1e-6 <= t < 2.0 - 1e-6:
            kp[KP["right_wrist"], :2] = (f[0] + 0.43 * h, f[1] - 0.67 * h)
            for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip"):
                kp[KP[name], 0] += 0.3 * h  # the body leans over the hand: the wrist is near the torso
        return kp
    assert len(picks(person(7, 0, 6, FOOT, height=TALL, keypoints=lean_back))) == 1


def test_a_wide_box_whose_hips_are_hidden_still_picks():
    # at a counter the hips are often hidden: a lying-shaped box alone does not make a person lie
    def hips_hidden(t, f, h):
        kp = reaching(t, f, h)
        kp[[KP["left_hip"], KP["right_hip"]], 2] = 0.0
        return kp
    track = person(7, 0, 6, FOOT, height=TALL, aspect=0.7, keypoints=hips_hidden)
    assert len(picks(track)) == 1
