"""Behaviour rules on synthetic tracks: for every rule, a scenario where it fires and a near miss."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpu_jobs.behaviours import (
    AnomalyRule, BehaviourRules, CollapseRule, CrowdingRule, LoiteringRule, PickingRule,
    PostureSegments, TheftRule, ViolenceRule, classify_posture, default_regions, points_in_polygon, region_of,
)
from gpu_jobs.types import Observation, Track, Zone
from tests.synthetic import (
    DT, EXIT, FPS, KP, SHELF, STORE, TH, TOL, H, W, detect, item, line, of_type, person, skeleton,
)

# --------------------------------------------------------------------------- zones and posture


def test_default_regions_are_thirds_of_the_frame():
    left, centre, right = default_regions(W, H)
    assert [z.name for z in (left, centre, right)] == ["left", "centre", "right"]
    assert all(z.kind == "region" for z in (left, centre, right))
    assert left.contains(100, 300) and centre.contains(640, 300) and right.contains(1200, 700)
    assert not left.contains(500, 300)
    assert region_of(100, W) == "left" and region_of(640, W) == "centre" and region_of(1279, W) == "right"


def test_vectorised_polygon_test_agrees_with_zone_contains():
    concave = Zone("l-shape", "custom", [(0, 0), (300, 0), (300, 100), (100, 100), (100, 300), (0, 300)])
    points = np.random.default_rng(1).uniform(-20, 320, size=(500, 2))
    for zone in (concave, SHELF, *default_regions(W, H)):
        assert points_in_polygon(points, zone.polygon).tolist() == [zone.contains(x, y) for x, y in points]


def test_posture_uses_knees_when_keypoints_are_visible():
    foot, h = (500.0, 600.0), 140.0
    box = (foot[0] - 50, foot[1] - h, foot[0] + 50, foot[1])  # aspect 1.4: upright by the box alone
    sitting = Observation(0.0, 0, box, 0.9, keypoints=skeleton(foot, h, sitting=True))
    straight = Observation(0.0, 0, box, 0.9, keypoints=skeleton(foot, h))
    assert classify_posture(sitting, TH) == "sitting"
    assert classify_posture(straight, TH) == "upright"
    assert classify_posture(Observation(0.0, 0, box, 0.9), TH) == "upright"
    assert classify_posture(Observation(0.0, 0, (0, 0, 200, 60), 0.9), TH) == "lying"


# --------------------------------------------------------------------------- walking / standing / sitting


def test_walking_segment_fires_with_direction():
    walker = person(1, 0, 8, line((0, 200, 600), (8, 1000, 600)), attributes={"gender": "male"})  # 0.5 h/s
    events = detect(PostureSegments, [walker])
    assert [e.type for e in events] == ["walking"]
    e = events[0]
    assert e.t_start == pytest.approx(0, abs=TOL) and e.t_end == pytest.approx(8, abs=TOL)
    assert e.track_number == 1 and e.zone == "centre"
    assert e.attributes["direction"] == "right" and e.attributes["gender"] == "male"
    assert e.attributes["speed"] == pytest.approx(0.5, abs=0.05)
    assert 0.5 < e.confidence <= 1.0


def test_short_stop_does_not_split_a_walk():
    # walks 4 s, pauses 0.4 s, walks 4 s: one walking segment
    path = line((0, 100, 600), (4, 500, 600), (4.4, 500, 600), (8.4, 900, 600))
    events = detect(PostureSegments, [person(1, 0, 8.4, path)])
    assert [e.type for e in events] == ["walking"]


def test_drifting_just_under_walking_speed_stays_standing():
    # stands 2 s, then drifts at 0.2 h/s: below walking_speed, so never walking
    path = line((0, 300, 600), (2, 300, 600), (6, 460, 600))
    events = detect(PostureSegments, [person(1, 0, 6, path)])
    assert [e.type for e in events] == ["standing"]


def test_standing_segment_fires_in_its_region():
    events = detect(PostureSegments, [person(3, 1, 4, (200, 600))])
    assert [(e.type, e.track_number, e.zone) for e in events] == [("standing", 3, "left")]
    assert events[0].t_start == pytest.approx(1) and events[0].t_end == pytest.approx(4)


def test_standing_shorter_than_min_segment_is_silent():
    # 0.6 s of standing before walking away is absorbed by the walk
    path = line((0, 300, 600), (0.6, 300, 600), (5, 800, 600))
    events = detect(PostureSegments, [person(1, 0, 5, path)])
    assert [e.type for e in events] == ["walking"]


def test_sitting_from_bent_knees():
    sitter = person(2, 0, 4, (640, 600), height=140, aspect=1.4,
                    keypoints=lambda t, foot, h: skeleton(foot, h, sitting=True))
    events = detect(PostureSegments, [sitter])
    assert [(e.type, e.track_number, e.zone) for e in events] == [("sitting", 2, "centre")]
    assert events[0].t_end - events[0].t_start == pytest.approx(4)


def test_sitting_from_box_aspect_without_keypoints():
    events = detect(PostureSegments, [person(2, 0, 3, (640, 600), height=120, aspect=1.0)])
    assert [e.type for e in events] == ["sitting"]


def test_box_just_above_sitting_aspect_is_not_sitting():
    events = detect(PostureSegments, [person(2, 0, 3, (640, 600), height=130, aspect=TH.sitting_aspect + 0.15)])
    assert [e.type for e in events] == ["standing"]


# --------------------------------------------------------------------------- collapse


def falling(t_fall: float, t_up: float | None = None):
    """Height and aspect of someone upright until t_fall, falling for 0.4 s, lying (until t_up)."""
    def shape(t):
        if t < t_fall or (t_up is not None and t >= t_up):
            return 200.0, 3.0
        if t < t_fall + 0.4:
            return 130.0, 1.3
        return 60.0, 0.3
    return (lambda t: shape(t)[0]), (lambda t: shape(t)[1])


def test_collapse_fires_after_a_fast_fall_and_lying():
    height, aspect = falling(2.0)
    track = person(4, 0, 7, (640, 600), height=height, aspect=aspect)
    events = detect(CollapseRule, [track])
    assert len(events) == 1
    e = events[0]
    assert (e.type, e.track_number, e.zone) == ("collapse", 4, "centre")
    assert e.t_start == pytest.approx(2.0, abs=TOL) and e.t_end == pytest.approx(7.0)
    assert e.attributes["hip_drop"] >= TH.collapse_min_drop and e.attributes["fall_flag"] is False
    assert e.frame == int(round(2.4 * FPS))  # the first frame on the floor


def test_stumble_and_get_up_is_not_a_collapse():
    height, aspect = falling(2.0, t_up=2.4 + TH.collapse_persist_s - 0.6)
    assert detect(CollapseRule, [person(4, 0, 7, (640, 600), height=height, aspect=aspect)]) == []


def test_lying_down_slowly_from_sitting_is_not_a_collapse():
    # sits for 3 s (aspect 1.0), then lies down: no upright posture just before lying
    def height(t):
        return 200.0 if t < 2 else 120.0 if t < 5 else 60.0

    def aspect(t):
        return 3.0 if t < 2 else 1.0 if t < 5 else 0.3

    assert detect(CollapseRule, [person(4, 0, 9, (640, 600), height=height, aspect=aspect)]) == []


def test_fall_flag_from_a_fall_detector_is_honoured():
    lying_from_start = dict(height=60.0, aspect=0.3)
    silent = person(5, 0, 4, (300, 600), **lying_from_start)
    assert detect(CollapseRule, [silent]) == []  # lying when first seen: could be anything
    flagged = person(5, 0, 4, (300, 600), **lying_from_start, attributes={"fall_frames": [0, 1, 2], "gender": "female"})
    events = detect(CollapseRule, [flagged])
    assert [(e.type, e.zone) for e in events] == [("collapse", "left")]
    assert events[0].attributes["fall_flag"] is True and events[0].confidence >= 0.8
    assert "fall_frames" not in events[0].attributes and events[0].attributes["gender"] == "female"


# --------------------------------------------------------------------------- picking


def reaching(t_from: float, t_to: float, target=(200.0, 420.0)):
    """Keypoints whose left wrist is at target (pixels) between t_from and t_to."""
    def kp(t, foot, h):
        points = skeleton(foot, h)
        if t_from - 1e-6 <= t <= t_to + 1e-6:
            points[KP["left_wrist"], :2] = target
        return points
    return kp


def test_wrist_dwelling_in_a_shelf_is_picking():
    shopper = person(6, 0, 4, (330, 600), height=300, keypoints=reaching(2.0, 2.0 + TH.picking_dwell_s))
    events = detect(PickingRule, [shopper], [SHELF])
    assert [(e.type, e.zone, e.track_number) for e in events] == [("picking", "drinks shelf", 6)]
    # from the hand leaving the body (pose) to its return; in the shelf from 2.0 to 2.4
    assert events[0].t_start == pytest.approx(1.8) and events[0].t_end == pytest.approx(2.6)
    assert events[0].attributes["hand"] == "wrist" and events[0].object_class is None
    assert events[0].attributes["dwell_s"] == pytest.approx(0.4) and events[0].attributes["wrist"] == "left"


def test_wrist_in_shelf_for_one_sample_is_not_picking():
    shopper = person(6, 0, 4, (330, 600), height=300, keypoints=reaching(2.0, 2.0 + TH.picking_dwell_s - DT))
    assert detect(PickingRule, [shopper], [SHELF]) == []


def test_hands_by_the_body_in_front_of_a_shelf_are_not_picking():
    # standing close enough that the resting left wrist overlaps the shelf polygon in the image
    shopper = person(6, 0, 4, line((0, 600, 600), (2, 270, 600)), height=300,
                     keypoints=lambda t, foot, h: skeleton(foot, h))
    assert shopper.observations[-1].keypoints[KP["left_wrist"], 0] < 250
    assert detect(PickingRule, [shopper], [SHELF]) == []


def test_box_reaching_into_a_shelf_without_keypoints_is_picking():
    shopper = person(6, 0, 4, (330, 600), height=300, aspect=lambda t: 1.6 if 2.0 <= t <= 3.0 else 3.0)
    events = detect(PickingRule, [shopper], [SHELF])  # the widened box reaches x < 250 at shoulder height
    assert [(e.type, e.zone) for e in events] == [("picking", "drinks shelf")]
    assert events[0].attributes["hand"] == "box"
    assert events[0].t_start == pytest.approx(2.0, abs=TOL)


SHOPPER_AT_SHELF = (3.0, 330, 600)


def shopper(path_after, t_end, number=7):
    """Walks to the shelf (0-2 s), reaches for the bottle (2.6-3 s), then follows path_after."""
    path = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *path_after)
    return person(number, 0, t_end, path, height=300, keypoints=reaching(2.6, 3.0), attributes={"age_group": "young"})


def bottle(foot_path, t_end, put_back_at: float | None = None, number=20):
    """On the shelf until 3 s, then in the shopper's hand (following foot_path), optionally put back."""
    def centre(t):
        if t <= 3.0 or (put_back_at is not None and t >= put_back_at):
            return 200.0, 350.0
        x, _ = foot_path(t)
        return x, 450.0
    return item(number, "bottle", 0, t_end, centre)


def test_item_taken_from_shelf_is_picking_with_the_object():
    after = [(7, 900, 600)]
    person_track = shopper(after, 8)
    items = bottle(line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after), 8)
    events = detect(PickingRule, [person_track, items], STORE)
    assert len(events) == 1  # the wrist dwell is the same picking, told once
    e = events[0]
    assert (e.type, e.track_number, e.object_class, e.zone) == ("picking", 7, "bottle", "drinks shelf")
    assert e.related_tracks == (20,) and e.attributes["item"] == "bottle" and e.attributes["age_group"] == "young"
    assert e.t_start == pytest.approx(3.0, abs=TOL) and e.t_end == pytest.approx(3.2, abs=TOL)
    assert e.confidence > 0.7


def test_item_left_on_the_shelf_is_not_picking():
    # the shopper stands at the shelf but never reaches; the bottle never moves
    events = detect(PickingRule, [person(7, 0, 6, (330, 600), height=300), item(20, "bottle", 0, 6, (200, 350))], STORE)
    assert events == []


def test_own_bag_moving_with_a_person_is_not_picking():
    path = line((0, 500, 600), (6, 1000, 600))
    bag = item(21, "handbag", 0, 6, lambda t: (path(t)[0] + 40, 480))
    events = detect(PickingRule, [person(7, 0, 6, path, height=300), bag], STORE)
    assert events == []


# --------------------------------------------------------------------------- theft


def test_item_concealed_away_from_the_shelf_is_theft():
    after = [(8, 800, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    events = detect(TheftRule, [shopper(after, 8), bottle(foot, 5.0)], STORE)
    assert len(events) == 1
    e = events[0]
    assert (e.type, e.track_number, e.object_class, e.related_tracks) == ("theft", 7, "bottle", (20,))
    # taken when the hand left the body for the bottle (2.4 s), gone at 5.0 s
    assert e.t_start == pytest.approx(2.4) and e.t_end == pytest.approx(5.0)
    assert e.zone == "centre" and e.attributes["concealed"] and not e.attributes["carried_out"]


def test_item_put_back_on_the_shelf_is_not_theft():
    after = [(5, 600, 600), (7, 330, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    tracks = [shopper(after, 9), bottle(foot, 9, put_back_at=7.2)]
    assert detect(TheftRule, tracks, STORE) == []
    picking = detect(PickingRule, tracks, STORE)
    assert [e.type for e in picking] == ["picking"] and picking[0].attributes["put_back"] is True


def test_item_carried_out_of_the_exit_without_paying_is_theft():
    after = [(8, 1200, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    events = detect(TheftRule, [shopper(after, 8.4), bottle(foot, 8.4)], STORE)
    assert [(e.type, e.zone, e.attributes["carried_out"]) for e in events] == [("theft", "door", True)]
    assert events[0].t_end == pytest.approx(7.2, abs=TOL)  # foot enters the door zone at x >= 1100
    assert events[0].attributes["zone_kind"] == "exit"


def test_item_carried_out_after_the_checkout_is_not_theft():
    after = [(5, 700, 680), (6, 700, 680), (8, 1200, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    assert detect(TheftRule, [shopper(after, 8.4), bottle(foot, 8.4)], STORE) == []


def test_stopping_at_a_till_drawn_over_the_counter_is_paying_and_walking_past_it_is_not():
    # the till drawn over the counter top: a shopper paying there has their feet 40 px in front of it
    till = Zone("till", "checkout", [(600, 480), (800, 480), (800, 560), (600, 560)])
    zones = [SHELF, till, EXIT]
    pays = [(5, 700, 600), (7, 700, 600), (9, 1200, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *pays)
    assert detect(TheftRule, [shopper(pays, 9.4), bottle(foot, 9.4)], zones) == []
    (paid,) = detect(PickingRule, [shopper(pays, 9.4), bottle(foot, 9.4)], zones)
    assert paid.attributes["paid"] is True and paid.attributes["checkout"] == "till"
    walks_past = [(6, 1200, 600)]  # along the counter's front to the door at a walk, never stopping
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *walks_past)
    events = detect(TheftRule, [shopper(walks_past, 6.4), bottle(foot, 6.4)], zones)
    assert [(e.type, e.zone, e.attributes["carried_out"]) for e in events] == [("theft", "door", True)]


def test_a_pick_says_whether_the_picker_then_paid_at_a_checkout():
    to_till = [(5, 700, 680), (6, 700, 680), (8, 1200, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *to_till)
    (paid,) = detect(PickingRule, [shopper(to_till, 8.4), bottle(foot, 8.4)], STORE)
    assert paid.attributes["paid"] is True and paid.attributes["checkout"] == "till"
    from gpu_jobs.describe import describe

    assert "picks up a bottle from the drinks shelf and pays at the till checkout" in describe(paid, {})[0]
    away = [(8, 900, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *away)
    (unpaid,) = detect(PickingRule, [shopper(away, 8.4), bottle(foot, 8.4)], STORE)
    assert unpaid.attributes["paid"] is False and "checkout" not in unpaid.attributes
    no_till = [z for z in STORE if z.kind != "checkout"]  # without a checkout zone nothing can be said
    (unknown,) = detect(PickingRule, [shopper(away, 8.4), bottle(foot, 8.4)], no_till)
    assert "paid" not in unknown.attributes


def test_item_and_person_leaving_view_together_is_not_theft():
    after = [(6, 800, 600)]
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    assert detect(TheftRule, [shopper(after, 6), bottle(foot, 5.8)], STORE) == []


# --------------------------------------------------------------------------- violence


def flailing(fast_times: set[float]):
    """Keypoints whose right wrist jumps 0.6 body sizes out at each of fast_times."""
    def kp(t, foot, h):
        out = round(t, 3) in fast_times
        return skeleton(foot, h, wrists=((-0.15, 0.0), (0.6 if out else 0.0, -0.1)))
    return kp


def test_fast_wrists_at_close_range_are_violent():
    swings = {round(2.0 + 0.4 * k, 3) for k in range(4)}  # out every other sample from 2.0 to 3.2
    a = person(8, 0, 5, (600, 600), height=250, keypoints=flailing(swings), attributes={"gender": "male"})
    b = person(9, 0, 5, (680, 600), height=250, keypoints=flailing(set()))
    events = detect(ViolenceRule, [a, b])
    assert len(events) == 1
    e = events[0]
    assert (e.type, e.track_number, e.related_tracks, e.zone) == ("violent", 8, (9,), "centre")
    assert e.t_start == pytest.approx(2.0, abs=TOL) and e.t_end == pytest.approx(3.4, abs=TOL)
    assert e.attributes["limb_speed"] >= TH.violent_limb_speed and e.attributes["limb_source"] == "wrist"
    assert e.bbox[0] < 600 - 40 and e.bbox[2] > 680 + 40  # covers both people


def test_one_fast_wrist_frame_is_not_violent():
    a = person(8, 0, 5, (600, 600), height=250, keypoints=flailing({2.0}))
    b = person(9, 0, 5, (680, 600), height=250, keypoints=flailing(set()))
    assert detect(ViolenceRule, [a, b]) == []


def test_fast_wrists_far_apart_are_not_violent():
    swings = {round(2.0 + 0.4 * k, 3) for k in range(4)}
    a = person(8, 0, 5, (300, 600), height=250, keypoints=flailing(swings))
    b = person(9, 0, 5, (1000, 600), height=250, keypoints=flailing(set()))
    assert detect(ViolenceRule, [a, b]) == []


# --------------------------------------------------------------------------- loitering


def jitter(x, y, amplitude=20.0):
    return lambda t: (x + amplitude * np.sin(t), y + amplitude / 2 * np.cos(1.3 * t))


def test_dwelling_past_loitering_s_is_loitering():
    lingerer = person(10, 0, TH.loitering_s + 2, jitter(1150, 600))
    events = detect(LoiteringRule, [lingerer], STORE)
    assert [(e.type, e.track_number, e.zone) for e in events] == [("loitering", 10, "door")]
    assert events[0].t_start == pytest.approx(0) and events[0].t_end == pytest.approx(TH.loitering_s + 2)
    assert events[0].attributes["dwell_s"] == pytest.approx(TH.loitering_s + 2)


def test_standing_at_a_shelf_is_shopping_and_loitering_there_takes_loitering_fixture_s():
    # feet 40 px in front of the drinks shelf (0-250 x 200-500): within reach, so at it
    browsing = person(10, 0, TH.loitering_s + 30, jitter(200, 540))
    assert detect(LoiteringRule, [browsing], STORE) == []
    camped = person(11, 0, TH.loitering_fixture_s + 2, jitter(200, 540))
    events = detect(LoiteringRule, [camped], STORE)
    assert [(e.type, e.track_number, e.zone) for e in events] == [("loitering", 11, "drinks shelf")]
    # the same stay away from any shelf or till is loitering after loitering_s
    assert len(detect(LoiteringRule, [person(12, 0, TH.loitering_s + 30, jitter(700, 300))], STORE)) == 1


def test_dwelling_just_under_loitering_s_is_silent():
    assert detect(LoiteringRule, [person(10, 0, TH.loitering_s - 1, jitter(1150, 600))], STORE) == []


def test_slow_wandering_beyond_the_radius_is_not_loitering():
    radius_px = TH.loitering_radius * 200
    wander = line((0, 100, 600), (TH.loitering_s + 5, 100 + 3 * radius_px, 600))
    assert detect(LoiteringRule, [person(10, 0, TH.loitering_s + 5, wander)]) == []


# --------------------------------------------------------------------------- crowding


def group(xs, t0=0.0, t1=3.0, first_number=30):
    return [person(first_number + k, t0, t1, (x, 600)) for k, x in enumerate(xs)]


def test_people_in_frame_persisting_is_crowding():
    tracks = group([100, 500, 600, 700, 1200])
    events = detect(CrowdingRule, tracks)
    assert len(events) == 1
    e = events[0]
    assert (e.type, e.zone, e.track_number) == ("crowding", "centre", None)
    assert e.t_start == pytest.approx(0) and e.t_end == pytest.approx(3)
    assert e.attributes["people"] == 5 and e.attributes["scope"] == "frame"
    assert e.related_tracks == (30, 31, 32, 33, 34)


def test_crowd_in_one_region_is_crowding():
    events = detect(CrowdingRule, group([60, 150, 250, 350]))
    assert [(e.type, e.zone, e.attributes["scope"]) for e in events] == [("crowding", "left", "region")]


def test_crowd_shorter_than_persist_is_silent():
    tracks = group([100, 500, 600, 700], t1=3.0) + group([1200], t1=TH.crowding_persist_s - 0.4, first_number=40)
    assert detect(CrowdingRule, tracks) == []


def test_four_people_spread_over_the_frame_is_not_crowding():
    assert detect(CrowdingRule, group([100, 300, 900, 1200])) == []


# --------------------------------------------------------------------------- anomaly


def test_sustained_running_is_an_anomaly():
    runner = person(11, 0, 4, line((0, 100, 600), (1, 100, 600), (3, 900, 600), (4, 900, 600)))  # 2 h/s
    events = detect(AnomalyRule, [runner])
    assert [(e.type, e.attributes["kind"], e.track_number) for e in events] == [("anomaly", "running", 11)]
    assert events[0].t_start == pytest.approx(1.0, abs=TOL) and events[0].t_end == pytest.approx(3.0, abs=TOL)
    assert events[0].attributes["speed"] >= TH.anomaly_speed and events[0].attributes["direction"] == "right"


def test_brisk_walk_and_a_short_dash_are_not_anomalies():
    brisk = person(11, 0, 4, line((0, 100, 600), (4, 100 + 4 * 1.4 * 200, 600)))  # 1.4 h/s
    # walks at 0.5 h/s with a 0.4 s dash at 2 h/s
    dash = person(12, 0, 6, line((0, 100, 300), (2, 300, 300), (2.4, 460, 300), (6, 820, 300)))
    assert detect(AnomalyRule, [brisk, dash]) == []


def walkers(directions, t1=4.0):
    """One walker per row; +1 walks right, -1 walks left, at 0.5 h/s."""
    tracks = []
    for k, d in enumerate(directions):
        x0 = 300 if d > 0 else 1000
        tracks.append(person(50 + k, 0, t1, line((0, x0, 250 + 100 * k), (t1, x0 + d * 100 * t1, 250 + 100 * k))))
    return tracks


def test_walking_against_the_flow_is_an_anomaly():
    events = detect(AnomalyRule, walkers([1, 1, 1, 1, -1]))
    assert [(e.type, e.attributes["kind"], e.track_number) for e in events] == [("anomaly", "against_flow", 54)]
    assert events[0].attributes["flow_direction"] == "right" and events[0].attributes["direction"] == "left"
    assert events[0].t_end - events[0].t_start >= TH.against_flow_s


def test_no_typical_flow_no_against_flow_anomaly():
    assert detect(AnomalyRule, walkers([1, 1, -1, -1, -1])) == []


# --------------------------------------------------------------------------- all rules together


def test_behaviour_rules_on_a_mixed_scene():
    after = [(8, 900, 450)]  # away from the till: standing at it would be paying
    foot = line((0, 700, 600), (2, 330, 600), SHOPPER_AT_SHELF, *after)
    height, aspect = falling(3.0)
    tracks = [
        shopper(after, 10),
        bottle(foot, 5.0),
        person(12, 0, 8, (1000, 500), height=height, aspect=aspect, attributes={"age_group": "(60-100)"}),
        person(13, 0, 6, line((0, 100, 700), (6, 700, 700))),
        Track(99, "person", []),  # an empty track is ignored
    ]
    zones = STORE + default_regions(W, H)
    events = BehaviourRules(TH).run(tracks, zones, (W, H), FPS)
    types = {e.type for e in events}
    assert {"picking", "theft", "collapse", "walking", "standing"} <= types
    assert not types & {"violent", "crowding", "loitering"}
    assert [e.t_start for e in events] == sorted(e.t_start for e in events)
    assert all(0.0 <= e.confidence <= 1.0 for e in events)
    theft = of_type(events, "theft")[0]
    assert (theft.track_number, theft.object_class, theft.related_tracks) == (7, "bottle", (20,))
    collapse = of_type(events, "collapse")[0]
    assert collapse.track_number == 12 and collapse.zone == "right" and collapse.attributes["age_group"] == "(60-100)"
    assert all(isinstance(v, float) for e in events for v in e.bbox)
    json.dumps([e.attributes for e in events])  # attributes go to a jsonb column as they are


def test_behaviour_rules_leave_unordered_input_untouched_and_infer_fps():
    walker = person(1, 0, 4, line((0, 200, 600), (4, 600, 600)))
    shuffled = Track(1, "person", list(reversed(walker.observations)))
    events = BehaviourRules(TH).run([shuffled], [], (W, H), 0)
    assert [e.type for e in events] == ["walking"]
    assert shuffled.observations[0].t == 4
