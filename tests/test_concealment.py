"""Picking from pose, concealment and theft without zones, on synthetic keypoint sequences.

One shopper stands still at (600, 600), 300 px tall (torso 90 px from shoulders to hips). The
right wrist rests at (645, 450), reaches out to (730, 400) from 2.0 to 2.8 s (1.44 torso lengths
from the torso's centre line) and comes back; then, depending on the scenario, it goes to the
right hip (612, 440) at 4.0 s and out of sight, or it simply rests again.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gpu_jobs.behaviours import RULES, BehaviourRules, ConcealmentRule, PickingRule, Scene, TheftRule
from gpu_jobs.describe import describe
from gpu_jobs.types import Event, Track, Zone
from rag.answer import GroundedComposer
from rag.query import parse_question
from tests.synthetic import FPS, KP, TH, H, W, item, line, person, skeleton

FOOT = (600.0, 600.0)
HEIGHT = 300.0
REST = (645.0, 450.0)  # the right wrist hanging by the hip
OUT = (730.0, 400.0)  # the right wrist held out over the counter
HIP = (612.0, 440.0)  # the right wrist at the right hip: a pocket or the waistband
BACK = (660.0, 440.0)  # coming back from the reach
SHELF = Zone("counter shelf", "shelf", [(690, 350), (800, 350), (800, 450), (690, 450)])
CHECKOUT = Zone("till", "checkout", [(900, 560), (1100, 560), (1100, 720), (900, 720)])


def right_wrist(t: float, *, hide: str | None) -> tuple[tuple[float, float] | None, float]:
    """Where the right wrist is at t, and its score (0: out of sight)."""
    if 2.0 - 1e-6 <= t <= 2.8 + 1e-6:
        return OUT, 0.9
    if 2.8 < t < 4.0 - 1e-6:
        return BACK, 0.9
    if hide and 4.0 - 1e-6 <= t <= 4.4 + 1e-6:
        return HIP, 0.9
    if hide == "out of sight" and 4.4 < t <= 5.6 + 1e-6:
        return HIP, 0.0  # the hand went into the pocket: the wrist is not seen, the arm still is
    if hide == "in sight" and 4.4 < t <= 5.6 + 1e-6:
        return HIP, 0.9  # the hand rests at the hip, in sight
    return REST, 0.9


def shopper(*, hide: str | None, t_end: float = 8.0, foot=FOOT, number: int = 7) -> Track:
    def keypoints(t, f, h):
        kp = skeleton(f, h)
        (x, y), score = right_wrist(t, hide=hide)
        dx, dy = f[0] - FOOT[0], f[1] - FOOT[1]  # the arm moves with the body when it walks off
        kp[KP["right_wrist"]] = (x + dx, y + dy, score)
        return kp
    return person(number, 0, t_end, foot, height=HEIGHT, keypoints=keypoints, attributes={"gender": "female"})


def lifted_item(vanish_at: float = 4.2, number: int = 20) -> Track:
    """A box of razor blades lying free on the counter, lifted by the right hand and carried to the hip."""
    def centre(t):
        if t < 2.0 - 1e-6:
            return OUT
        (x, y), _ = right_wrist(t, hide="out of sight")
        return x, y
    return item(number, "book", 0, vanish_at, centre)


def run(rule_cls, tracks, zones=()):
    return rule_cls(TH).detect(tracks, Scene.build(zones, (W, H), FPS))


def all_events(tracks, zones=()):
    return BehaviourRules(TH).run(tracks, list(zones), (W, H), FPS)


def inside(point, bbox) -> bool:
    x, y = point
    return bbox[0] <= x <= bbox[2] and bbox[1] <= y <= bbox[3]


# --------------------------------------------------------------------------- picking from pose


def test_reach_and_return_without_zones_or_item_is_a_pick():
    events = run(PickingRule, [shopper(hide=None)])
    assert len(events) == 1
    e = events[0]
    assert (e.type, e.track_number, e.object_class) == ("picking", 7, None)
    assert e.attributes["evidence"] == "pose_reach" and e.attributes["wrist"] == "right"
    assert e.attributes["reach"] == pytest.approx(130 / 90, abs=0.01)
    # from the hand leaving the body to its return
    assert e.t_start == pytest.approx(1.8) and e.t_end == pytest.approx(3.0)
    # the highlight box shows the reaching hand, not only the person
    assert inside(OUT, e.bbox) and e.bbox[2] > 650
    assert e.attributes["reach_point"] == [730.0, 400.0]
    assert 0.4 < e.confidence < 0.7  # pose alone: a pick worth a look, not a certainty
    assert run(ConcealmentRule, [shopper(hide=None)]) == [] and run(TheftRule, [shopper(hide=None)]) == []


def test_hand_seen_far_for_a_moment_is_no_pick():
    # one sample far out (a keypoint's jitter) is not a reach
    def jitter(t, f, h):
        kp = skeleton(f, h)
        if abs(t - 2.0) < 1e-6:
            kp[KP["right_wrist"], :2] = OUT
        return kp
    assert run(PickingRule, [person(7, 0, 6, FOOT, height=HEIGHT, keypoints=jitter)]) == []


def test_arm_held_out_for_long_leans_on_the_counter():
    def leaning(t, f, h):
        kp = skeleton(f, h)
        if 1.0 <= t <= 1.0 + TH.picking_reach_max_s + 1.0:
            kp[KP["right_wrist"], :2] = OUT
        return kp
    assert run(PickingRule, [person(7, 0, 12, FOOT, height=HEIGHT, keypoints=leaning)]) == []


def swinging(amplitude: float):
    """Wrists swinging forward and back in anti-phase once a second, amplitude in body heights."""
    def kp(t, f, h):
        points = skeleton(f, h)
        swing = amplitude * np.sin(2 * np.pi * t)
        cy = f[1] - h / 2
        points[KP["left_wrist"], :2] = (f[0] + swing * h - 0.1 * h, cy + 0.1 * h * abs(swing) / max(amplitude, 1e-6))
        points[KP["right_wrist"], :2] = (f[0] - swing * h + 0.1 * h, cy + 0.1 * h * abs(swing) / max(amplitude, 1e-6))
        return points
    return kp


@pytest.mark.parametrize("amplitude", [0.2, 0.45])
def test_arms_swinging_while_walking_are_no_pick(amplitude):
    # 0.2: an ordinary swing (under picking_reach); 0.45: a wild one that reaches as far as a pick
    walker = person(3, 0, 10, line((0, 100, 600), (10, 1100, 600)), height=200, keypoints=swinging(amplitude))
    assert run(PickingRule, [walker]) == []
    assert not [e for e in all_events([walker]) if e.type in ("picking", "concealment", "theft")]


def test_standing_with_hands_by_the_body_is_no_pick():
    still = person(3, 0, 10, FOOT, height=HEIGHT, keypoints=lambda t, f, h: skeleton(f, h))
    assert run(PickingRule, [still]) == []


# --------------------------------------------------------------------------- concealment and theft


def test_pick_then_hand_to_waist_with_the_item_vanishing_is_concealment_and_theft():
    tracks = [shopper(hide="out of sight"), lifted_item()]
    picks = run(PickingRule, tracks)
    assert [(e.type, e.object_class, e.attributes["evidence"]) for e in picks] == [("picking", "book", "item_track")]
    assert picks[0].attributes["wrist"] == "right" and "pose_reach" in picks[0].attributes["also"]

    concealed = run(ConcealmentRule, tracks)
    assert len(concealed) == 1
    c = concealed[0]
    assert (c.type, c.track_number, c.object_class, c.related_tracks) == ("concealment", 7, "book", (20,))
    assert c.attributes["item_vanished"] is True and c.attributes["evidence"] == "item_vanished"
    assert c.attributes["hidden_at"] == "waist" and c.attributes["wrist"] == "right"
    # the item vanishes at 4.2 s; the hand, last seen at the hip at 4.4 s, is out of sight from 4.6 s
    assert c.t_start == pytest.approx(4.2) and c.confidence > 0.75
    assert inside(HIP, c.bbox) and inside(OUT, c.bbox)  # the box shows the reach and the hiding hand

    thefts = run(TheftRule, tracks)
    assert len(thefts) == 1
    t = thefts[0]
    assert (t.type, t.track_number, t.object_class) == ("theft", 7, "book")
    assert t.attributes["concealed"] is True and t.attributes["carried_out"] is False
    assert t.attributes["hidden_at"] == "waist" and t.attributes["checkout_visited"] is False
    assert t.t_start == pytest.approx(picks[0].t_start) and t.t_end >= c.t_start
    assert t.confidence > 0.75


def test_item_taken_from_a_drawn_shelf_and_hidden_at_the_waist_beside_it_is_theft():
    # the hip where it vanishes is within the shelf's margin: in hand to the last, so not put back
    tracks = [shopper(hide="out of sight"), lifted_item()]
    (pick,) = run(PickingRule, tracks, [SHELF])
    assert (pick.zone, pick.object_class, pick.attributes["put_back"]) == ("counter shelf", "book", False)
    assert [e.type for e in run(ConcealmentRule, tracks, [SHELF])] == ["concealment"]
    (theft,) = run(TheftRule, tracks, [SHELF])
    assert theft.attributes["concealed"] is True and theft.object_class == "book"


def test_item_set_down_on_the_shelf_beside_the_hand_is_put_back():
    # the same lift, but the book is last seen lying on the shelf again, out of hand, from 5 s
    def centre(t):
        if t < 2.0 - 1e-6 or t >= 5.0 - 1e-6:
            return OUT
        return right_wrist(t, hide=None)[0]
    tracks = [shopper(hide=None), item(20, "book", 0, 7.0, centre)]
    (pick,) = run(PickingRule, tracks, [SHELF])
    assert pick.attributes["put_back"] is True
    assert run(ConcealmentRule, tracks, [SHELF]) == [] and run(TheftRule, tracks, [SHELF]) == []


def test_pick_then_hand_into_a_pocket_by_pose_alone_is_a_weaker_concealment():
    tracks = [shopper(hide="out of sight")]
    concealed = run(ConcealmentRule, tracks)
    assert len(concealed) == 1
    c = concealed[0]
    assert c.attributes["evidence"] == "hand_to_body" and c.attributes["item_vanished"] is False
    assert c.attributes["hidden_at"] == "waist" and c.attributes["pick_evidence"] == "pose_reach"
    assert c.attributes["pick_wrist"] == "right" and c.attributes["picked_at"] == pytest.approx(1.8)
    with_item = run(ConcealmentRule, [shopper(hide="out of sight"), lifted_item()])[0]
    assert 0.4 < c.confidence < with_item.confidence
    assert [e.type for e in run(TheftRule, tracks)] == ["theft"]


@pytest.mark.parametrize("hide", [None, "in sight"])
def test_pick_then_hand_resting_in_sight_is_no_concealment(hide):
    # the hand comes back and hangs where it always hangs, or rests at the hip: in sight all along
    tracks = [shopper(hide=hide)]
    assert run(ConcealmentRule, tracks) == [] and run(TheftRule, tracks) == []


def test_seated_person_with_a_hand_out_of_sight_in_the_lap_is_no_concealment():
    # a customer seated at a counter: the pick counts, a hand gone under the counter top does not
    seated = shopper(hide="out of sight")
    for o in seated.observations:
        x1, y1, x2, y2 = o.bbox
        o.keypoints[KP["left_knee"], 1] = o.keypoints[KP["right_knee"], 1] = o.keypoints[KP["left_hip"], 1] + 5
    assert [e.type for e in run(PickingRule, [seated])] == ["picking"]
    assert run(ConcealmentRule, [seated]) == [] and run(TheftRule, [seated]) == []


def test_pick_then_hand_into_a_bag_is_concealment():
    def bag_centre(t):
        return 560.0, 470.0  # a handbag hanging at her left side
    def keypoints(t, f, h):
        kp = skeleton(f, h)
        (x, y), score = right_wrist(t, hide=None)
        if 4.0 - 1e-6 <= t <= 4.6 + 1e-6:
            x, y = 575.0, 460.0  # the right hand crosses to the bag
        kp[KP["right_wrist"]] = (x, y, score)
        return kp
    bag = item(30, "handbag", 0, 8, bag_centre, size=(40, 50))
    tracks = [person(7, 0, 8, FOOT, height=HEIGHT, keypoints=keypoints), bag]
    concealed = run(ConcealmentRule, tracks)
    shown = [(e.attributes["hidden_at"], e.attributes["bag"], e.attributes["wrist"]) for e in concealed]
    assert shown == [("bag", "handbag", "right")]
    assert run(PickingRule, tracks)[0].object_class is None  # her own bag is never the item taken
    sentence, _ = describe(concealed[0], {"gender": "female"})
    assert sentence.startswith("A woman hides an item in a bag")


def test_item_still_in_hand_after_the_pick_is_no_concealment():
    # the item is carried in the hand to the end of the track: nothing hidden
    in_hand = item(20, "book", 0, 8.0, lambda t: OUT if t < 2.0 else right_wrist(t, hide=None)[0])
    tracks = [shopper(hide=None, t_end=8.0), in_hand]
    assert run(ConcealmentRule, tracks) == [] and run(TheftRule, tracks) == []


def test_pick_and_concealment_then_checkout_is_no_theft():
    walks_to_till = line((0, *FOOT), (6.0, *FOOT), (7.5, 1000, 640), (9.0, 1000, 640))
    tracks = [shopper(hide="out of sight", foot=walks_to_till, t_end=9.0), lifted_item()]
    assert [e.type for e in run(ConcealmentRule, tracks, [CHECKOUT])] == ["concealment"]
    assert run(TheftRule, tracks, [CHECKOUT]) == []
    # the same without the checkout zone: nothing could be paid, and the event says payment was not checked
    unchecked = run(TheftRule, tracks)
    assert [e.type for e in unchecked] == ["theft"] and unchecked[0].attributes["payment_checked"] is False
    # a checkout zone the shopper never reaches: payment was looked for and not seen
    stays = run(TheftRule, [shopper(hide="out of sight"), lifted_item()], [CHECKOUT])
    assert [e.attributes["payment_checked"] for e in stays] == [True]


def test_zone_evidence_raises_confidence():
    tracks = [shopper(hide="out of sight")]
    bare = {e.type: e for e in all_events(tracks)}
    zoned = {e.type: e for e in all_events(tracks, [SHELF])}
    for kind in ("picking", "concealment", "theft"):
        assert zoned[kind].confidence > bare[kind].confidence, kind
    assert zoned["picking"].zone == "counter shelf" and zoned["picking"].attributes["zone_kind"] == "shelf"
    signals = {zoned["picking"].attributes["evidence"], *zoned["picking"].attributes["also"]}
    assert signals == {"pose_reach", "hand_in_shelf"} and zoned["picking"].attributes["wrist"] == "right"
    assert zoned["theft"].attributes["shelf"] == "counter shelf"
    assert bare["picking"].zone == "centre" and bare["picking"].attributes["zone_kind"] == "region"


def test_carried_out_of_the_exit_after_a_shelf_reach_is_theft():
    door = Zone("door", "exit", [(1100, 450), (1280, 450), (1280, 720), (1100, 720)])
    leaves = line((0, *FOOT), (5.0, *FOOT), (7.0, 1200, 600))
    tracks = [shopper(hide=None, foot=leaves, t_end=7.4)]
    thefts = run(TheftRule, tracks, [SHELF, door])
    assert [(e.zone, e.attributes["carried_out"], e.attributes["concealed"]) for e in thefts] == [("door", True, False)]
    assert thefts[0].confidence < 0.7  # the item itself was never seen
    assert run(TheftRule, tracks, [door]) == []  # a reach at no shelf, then leaving, is no theft


# --------------------------------------------------------------------------- the engine and the words


def test_engine_runs_concealment_and_its_events_are_json():
    assert ConcealmentRule in RULES
    assert RULES.index(PickingRule) < RULES.index(ConcealmentRule) < RULES.index(TheftRule)
    events = all_events([shopper(hide="out of sight"), lifted_item()])
    kinds = [e.type for e in events if e.type in ("picking", "concealment", "theft")]
    assert sorted(kinds) == ["concealment", "picking", "theft"]
    json.dumps([e.attributes for e in events])


def test_questions_about_hiding_ask_for_concealment():
    took_and_hid = parse_question("when did someone take an item and hide it?")
    assert "concealment" in took_and_hid.event_types and "theft" in took_and_hid.event_types
    assert "concealment" in parse_question("did anyone pocket something?").event_types
    assert parse_question("did anyone pocket something?").is_yes_no
    for q in ("she put it in her bag", "a man concealed a bottle", "who hid a phone?"):
        assert "concealment" in parse_question(q).event_types, q
    assert parse_question("did anyone steal something?").event_types == ["theft"]
    assert "concealment" not in parse_question("he took his wallet out of his pocket").event_types


def _concealment_event(**facts) -> Event:
    return Event(type="concealment", t_start=54.4, t_end=54.8, frame=272, bbox=(80, 70, 180, 210), confidence=0.6,
                 track_number=10, zone="left", attributes={"zone_kind": "region", **facts})


def test_concealment_sentence_and_keywords():
    sentence, keywords = describe(_concealment_event(hidden_at="waist", wrist="right"), {"gender": "male"})
    assert sentence == ("A man hides an item at the waist (a pocket or the waistband) on the left side of the frame"
                        " at 00:54.")
    assert {"concealment", "hide", "pocket", "waist", "man"} <= set(keywords)
    bag, _ = describe(Event(type="concealment", t_start=10, t_end=11, frame=50, bbox=(0, 0, 1, 1), confidence=0.9,
                            track_number=2, zone="centre", attributes={"zone_kind": "region", "hidden_at": "bag"},
                            object_class="bottle"), {})
    assert bag == "A person hides a bottle in a bag in the centre of the frame at 00:10."


def test_pose_pick_sentence_names_the_hand():
    pick = run(PickingRule, [shopper(hide=None)])[0]
    sentence, keywords = describe(pick, {"gender": "female"})
    assert sentence == "A woman reaches out with the right hand to take something in the centre of the frame at 00:01."
    assert "picking" in keywords


def test_answers_about_concealment():
    from langchain_core.documents import Document

    doc = Document(page_content="A man hides an item at the waist.", metadata={
        "event_id": 5, "type": "concealment", "t_start": 54.4, "t_end": 54.8, "track_number": 10,
        "video_id": "v", "confidence": 0.6, "attributes": {}})
    filters = parse_question("how many people hid something?")
    answer = GroundedComposer().answer("how many people hid something?", filters, [doc], [doc])
    assert answer.text.splitlines()[0] == "1 person hid an item:" and answer.cited_event_ids == [5]
    question = "did anyone pocket something?"
    nothing = GroundedComposer().answer(question, parse_question(question), [], [])
    assert nothing.text == "No concealment or theft events match."
