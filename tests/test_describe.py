"""Event sentences and keywords."""

from __future__ import annotations

import pytest

from core.clock import format_mmss
from core.phrasing import subject_phrase
from gpu_jobs.describe import describe
from gpu_jobs.types import Event

YOUNG_MAN = {"age_group": "young", "gender": "male", "clothing_colour": "black", "clothing": "jacket"}


def event(type_, t_start=72.0, t_end=73.0, zone="centre", zone_kind="region", object_class=None, **facts) -> Event:
    return Event(type=type_, t_start=t_start, t_end=t_end, frame=360, bbox=(0, 0, 10, 10), confidence=0.8,
                 track_number=1, zone=zone, attributes={"zone_kind": zone_kind, **facts}, object_class=object_class)


@pytest.mark.parametrize("seconds, text", [(0, "00:00"), (5.4, "00:05"), (72.9, "01:12"), (599, "09:59"),
                                           (3725, "1:02:05"), (-3, "00:00")])
def test_format_mmss(seconds, text):
    assert format_mmss(seconds) == text


def test_picking_sentence_names_person_item_shelf_and_time():
    picking = event("picking", zone="left shelf", zone_kind="shelf", object_class="bottle", item="bottle")
    sentence, keywords = describe(picking, YOUNG_MAN)
    assert sentence == "A young man in a black jacket picks up a bottle from the left shelf at 01:12."
    assert keywords[0] == "picking"
    assert {"pick up", "bottle", "young", "man", "male", "black", "jacket", "left shelf", "shelf"} <= set(keywords)


def test_unknown_person_is_a_person():
    sentence, _ = describe(event("standing"), {"gender": "unknown", "age_group": None})
    assert sentence == "A person stands still in the centre of the frame at 01:12."


def test_subject_uses_age_buckets_orientation_and_emotion():
    assert subject_phrase({"age_group": "(60-100)", "gender": "female"}) == "An elderly woman"
    assert subject_phrase({"age_group": "(25-32)", "gender": "M"}) == "A young man"
    assert subject_phrase({"age_group": "(4-6)", "gender": "female", "clothing_colour": "red"}) == "A girl in red"
    assert (subject_phrase({"gender": "male", "orientation": "back", "emotion": "angry"})
            == "A man, seen from behind and looking angry,")
    assert subject_phrase({"emotion": "neutral", "orientation": "unknown"}) == "A person"


def test_track_attributes_win_over_the_event_copy():
    sentence, _ = describe(event("sitting", gender="female"), {"gender": "male"})
    assert sentence.startswith("A man sits")


def test_theft_keywords_carry_synonyms_and_object():
    theft = event("theft", t_start=72, t_end=110, zone="door", zone_kind="exit", object_class="cell phone",
                  item="cell phone", shelf="electronics", concealed=True, carried_out=True)
    sentence, keywords = describe(theft, {"gender": "female", "clothing_colour": "blue"})
    assert sentence == ("A woman in blue takes a cell phone from the electronics shelf, hides it and leaves "
                        "through the door exit without paying from 01:12 to 01:50.")
    assert {"theft", "stealing", "shoplifting", "cell phone", "concealed", "woman", "blue", "door"} <= set(keywords)


def test_concealment_sentence():
    theft = event("theft", zone="centre", object_class="bottle", shelf="drinks shelf", concealed=True,
                  carried_out=False)
    sentence, _ = describe(theft, {})
    assert sentence == ("A person takes a bottle from the drinks shelf and conceals it in the centre of the frame "
                        "without paying at 01:12.")


def test_a_theft_with_no_checkout_zone_says_payment_was_not_checked():
    hidden = event("theft", zone="right", hidden_at="waist", concealed=True, carried_out=False, payment_checked=False)
    sentence, _ = describe(hidden, {})
    assert sentence == ("A person takes an item and hides it at the waist (a pocket or the waistband) on the right "
                        "side of the frame, with no checkout zone drawn to tell whether it was paid for, at 01:12.")
    checked = event("theft", zone="right", hidden_at="waist", concealed=True, carried_out=False, payment_checked=True)
    assert describe(checked, {})[0].endswith("side of the frame without paying at 01:12.")
    at_the_shelf = event("theft", zone="counter", zone_kind="shelf", shelf="counter", hidden_at="waist",
                         concealed=True, carried_out=False, payment_checked=False)
    assert describe(at_the_shelf, {})[0] == (
        "A person takes an item from the counter shelf and hides it at the waist (a pocket or the waistband), "
        "with no checkout zone drawn to tell whether it was paid for, at 01:12.")


def test_collapse_and_violent_keywords():
    sentence, keywords = describe(event("collapse", t_end=80, zone="right", lying_s=7.6), {"age_group": "senior"})
    assert sentence == ("An elderly person collapses to the floor on the right side of the frame and stays down "
                        "for 8 s from 01:12 to 01:20.")
    assert {"collapse", "fall", "fainted", "elderly"} <= set(keywords)
    _, keywords = describe(event("violent"), {})
    assert {"violent", "fight", "assault"} <= set(keywords)


def test_crowding_and_anomaly_sentences():
    sentence, keywords = describe(event("crowding", t_start=10, t_end=20, zone="left", people=6), {})
    assert sentence == "A crowd of 6 people gathers on the left side of the frame from 00:10 to 00:20."
    assert "crowd" in keywords
    sentence, keywords = describe(event("anomaly", kind="running"), {"gender": "male"})
    assert sentence == "A man runs through the store in the centre of the frame at 01:12."
    assert {"anomaly", "running", "unusual"} <= set(keywords)
    sentence, keywords = describe(event("anomaly", t_end=80, kind="against_flow"), {})
    assert "against the usual flow" in sentence and "wrong way" in keywords


def test_every_type_reads_as_one_sentence():
    for type_ in ("walking", "standing", "sitting", "picking", "theft", "collapse", "violent", "loitering", "crowding",
                  "anomaly"):
        sentence, keywords = describe(event(type_, zone="till", zone_kind="checkout", direction="left", dwell_s=31.2),
                                      {})
        assert sentence[0].isupper() and sentence.endswith(".") and sentence.count(".") == 1, sentence
        assert "  " not in sentence and "None" not in sentence, sentence
        assert keywords[0] == type_ and len(keywords) == len(set(keywords))
    assert describe(event("loitering", zone="till", zone_kind="checkout", dwell_s=31.2), {})[0] == (
        "A person loiters near the till checkout for 31 s at 01:12.")
    assert describe(event("walking", zone="till", zone_kind="checkout", direction="left"), {})[0] == (
        "A person walks to the left by the till checkout at 01:12.")
    assert describe(event("walking", zone="door", zone_kind="exit", direction="left"), {})[0] == (
        "A person walks to the left at the door exit at 01:12.")


def test_describe_events_from_the_rules():
    from gpu_jobs.behaviours import BehaviourRules
    from gpu_jobs.types import Observation, Track
    from settings import BehaviourThresholds

    obs = [Observation(t=k * 0.2, frame=k, bbox=(100 + 20 * k, 400, 170 + 20 * k, 600), confidence=0.9, region="left")
           for k in range(20)]
    events = BehaviourRules(BehaviourThresholds(_env_file=None)).run(
        [Track(1, "person", obs, {"gender": "female"})], [], (1280, 720), 5.0)
    sentence, keywords = describe(events[0], {"gender": "female"})
    assert sentence == "A woman walks to the right on the left side of the frame from 00:00 to 00:03."
    assert {"walking", "woman", "left"} <= set(keywords)
