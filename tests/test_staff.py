"""Staff areas: whoever is seen in one most of the time is staff, whose reaches and stays are no picking,
theft or loitering; a customer stepping in stays a customer."""

from __future__ import annotations

import numpy as np

from core.geometry import standing_at
from core.vocabulary import ZONE_KINDS
from core.zone_drawing import ZONE_COLOURS
from gpu_jobs.behaviours import BehaviourRules, ConcealmentRule, LoiteringRule, PickingRule, Scene, TheftRule
from gpu_jobs.behaviours.zones import ZoneMap
from gpu_jobs.types import Zone
from tests.synthetic import FPS, TH, H, W, person
from tests.test_concealment import FOOT, lifted_item, shopper
from ui.zone_editor import DRAWING_HINT, KIND_BADGES

# behind the counter: the shopper's chest (600, 390) is inside, their foot (600, 600) is not
BEHIND = Zone("behind the counter", "staff", [(540, 330), (680, 330), (680, 450), (540, 450)])
COUNTER = Zone("counter shelf", "shelf", [(690, 350), (800, 350), (800, 450), (690, 450)])


def run(rule_cls, tracks, zones=()):
    return rule_cls(TH).detect(tracks, Scene.build(zones, (W, H), FPS))


def test_a_staff_area_holds_whoever_s_chest_is_in_it_and_floor_zones_only_feet():
    feet = np.array([[600.0, 600.0], [600.0, 600.0], [600.0, 400.0]])
    heights = np.array([300.0, 100.0, 300.0])
    # the chest of a tall person behind the counter is in it; a short one's chest (530) and a foot inside are
    assert standing_at(feet, heights, BEHIND.polygon, "staff").tolist() == [True, False, True]
    assert standing_at(feet, heights, BEHIND.polygon, "custom").tolist() == [False, False, True]
    assert standing_at(feet, None, BEHIND.polygon, "staff").tolist() == [False, False, True]


def test_staff_are_those_seen_in_their_area_at_least_half_the_time():
    clerk = shopper(hide=None, t_end=8.0)
    assert ZoneMap([BEHIND]).staff_area(clerk.observations) == "behind the counter"
    assert ZoneMap([COUNTER]).staff_area(clerk.observations) is None
    # in the area for 8 s of 20 s, then walking away: a customer
    leaves = shopper(hide=None, t_end=20.0, foot=lambda t: FOOT if t <= 8.0 else (600.0 - 60 * (t - 8.0), 600.0))
    assert ZoneMap([BEHIND]).staff_area(leaves.observations) is None


def test_staff_taking_and_putting_away_stock_is_no_pick_concealment_or_theft():
    tracks = [shopper(hide="out of sight"), lifted_item()]
    # the control: a customer doing the same is picking, concealment and theft
    assert [len(run(rule, tracks)) for rule in (PickingRule, ConcealmentRule, TheftRule)] == [1, 1, 1]
    assert [len(run(rule, tracks, [BEHIND])) for rule in (PickingRule, ConcealmentRule, TheftRule)] == [0, 0, 0]
    # staff still walk, stand and may fall: only the store rules leave them out
    types = {e.type for e in BehaviourRules(TH).run(tracks, [BEHIND], (W, H), FPS)}
    assert "standing" in types and not types & {"picking", "concealment", "theft"}


def test_a_customer_who_steps_into_the_staff_area_for_a_moment_is_still_judged():
    walks_off = shopper(hide="out of sight", t_end=20.0,
                        foot=lambda t: FOOT if t <= 8.0 else (600.0 - 60 * (t - 8.0), 600.0))
    thefts = run(TheftRule, [walks_off, lifted_item()], [BEHIND])
    assert [(e.type, e.track_number, e.object_class) for e in thefts] == [("theft", 7, "book")]


def test_staff_waiting_behind_the_counter_are_not_loitering():
    still = person(5, 0, TH.loitering_s + 30, FOOT, height=300.0)
    assert len(run(LoiteringRule, [still])) == 1
    assert run(LoiteringRule, [still], [BEHIND]) == []
    limited = Zone("behind the counter", "staff", BEHIND.polygon, loiter_s=10.0)
    assert run(LoiteringRule, [still], [limited]) == []


def test_every_zone_kind_has_a_colour_a_badge_and_the_editor_names_the_staff_area():
    assert set(ZONE_COLOURS) == set(ZONE_KINDS) and set(KIND_BADGES) == set(ZONE_KINDS)
    assert "staff area" in DRAWING_HINT


def test_what_staff_do_is_told_in_the_staff_area():
    from gpu_jobs.describe import describe

    clerk = person(5, 0, 4, FOOT, height=300.0, attributes={"clothing_colour": "yellow"})
    standing = [e for e in BehaviourRules(TH).run([clerk], [BEHIND], (W, H), FPS) if e.type == "standing"]
    assert [describe(e, {})[0] for e in standing] == [
        "A member of staff (a person in yellow) stands still in the staff area (behind the counter) "
        "from 00:00 to 00:04."]
    room = Zone("staff room door", "staff", BEHIND.polygon)
    standing = [e for e in BehaviourRules(TH).run([clerk], [room], (W, H), FPS) if e.type == "standing"]
    assert describe(standing[0], {})[0].endswith("stands still in the staff room door from 00:00 to 00:04.")
