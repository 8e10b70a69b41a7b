"""Question parsing: the rule parser on many phrasings, and the LLM parser with fake models."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from langchain_core.language_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from pydantic import ValidationError

from rag.query import (
    LLMQueryParser,
    QueryFilters,
    contradicts,
    format_mmss,
    match_filters,
    parse_mmss,
    parse_question,
)

UUID = "3f1c2b9e-0d4a-4c55-9b7e-2a1f0e6d8c11"

# question -> every non-default field the parse must have (text included when listed)
PHRASINGS: list[tuple[str, dict]] = [
    # time ranges
    ("any theft between minute 3 and 5?",
     {"t_from": 180.0, "t_to": 300.0, "event_types": ["theft"], "is_yes_no": True, "text": "any theft"}),
    ("Between 3 and 5 minutes, did anyone steal?",
     {"t_from": 180.0, "t_to": 300.0, "event_types": ["theft"], "is_yes_no": True, "text": "did anyone steal"}),
    ("between 3 and 5 minutes", {"t_from": 180.0, "t_to": 300.0}),
    ("between minutes 3 and 5", {"t_from": 180.0, "t_to": 300.0}),
    ("between 00:30 and 01:00", {"t_from": 30.0, "t_to": 60.0}),
    ("from 2:30 to 4:00", {"t_from": 150.0, "t_to": 240.0}),
    ("from minute 2 to minute 4", {"t_from": 120.0, "t_to": 240.0}),
    ("between 30 seconds and 2 minutes", {"t_from": 30.0, "t_to": 120.0}),
    ("between 1:30 and 2", {"t_from": 90.0, "t_to": 120.0}),
    ("any fight between 5 and 3 minutes",
     {"t_from": 180.0, "t_to": 300.0, "event_types": ["violent"], "is_yes_no": True, "text": "any fight"}),
    ("minutes 3-5", {"t_from": 180.0, "t_to": 300.0}),
    ("3 to 5 minutes", {"t_from": 180.0, "t_to": 300.0}),
    ("after 90 seconds", {"t_from": 90.0}),
    ("after 1:30", {"t_from": 90.0}),
    ("since minute 2", {"t_from": 120.0}),
    ("before 1 minute", {"t_to": 60.0}),
    ("until 4:00", {"t_to": 240.0}),
    ("who left the store after 1 minute and before 2:30",
     {"t_from": 60.0, "t_to": 150.0, "zones": ["exit"], "text": "who left the store"}),
    ("in the first minute", {"t_from": 0.0, "t_to": 60.0}),
    ("in the first 30 seconds", {"t_from": 0.0, "t_to": 30.0}),
    ("first two minutes", {"t_from": 0.0, "t_to": 120.0}),
    ("a person passed out in the first half a minute",
     {"t_from": 0.0, "t_to": 30.0, "event_types": ["collapse"], "text": "a person passed out"}),
    ("last 30 seconds", {"last_s": 30.0}),
    ("in the last minute", {"last_s": 60.0}),
    ("during the final 2 minutes", {"last_s": 120.0}),
    ("at 01:12", {"t_from": 67.0, "t_to": 77.0}),
    ("at minute 2", {"t_from": 115.0, "t_to": 125.0}),
    ("what happened 2 minutes in?", {"t_from": 115.0, "t_to": 125.0, "text": "what happened"}),
    ("what happened 1:12?", {"t_from": 67.0, "t_to": 77.0, "text": "what happened"}),
    ("around 2 minutes", {"t_from": 105.0, "t_to": 135.0}),
    ("at about 1:30", {"t_from": 75.0, "t_to": 105.0}),
    ("during minute 3", {"t_from": 180.0, "t_to": 240.0}),
    # events
    ("did anyone collapse?", {"event_types": ["collapse"], "is_yes_no": True, "text": "did anyone collapse"}),
    ("did someone faint near the exit?", {"event_types": ["collapse"], "zones": ["exit"], "is_yes_no": True}),
    ("someone fell?", {"event_types": ["collapse"], "is_yes_no": True}),
    ("any shoplifting?", {"event_types": ["theft"], "is_yes_no": True}),
    ("did anyone conceal an item on the left side",
     {"event_types": ["concealment", "theft"], "zones": ["left"], "is_yes_no": True}),
    # hiding what was taken: concealment, and the thefts it makes (the take itself is told by both)
    ("when did someone take an item and hide it?", {"event_types": ["concealment", "theft"]}),
    ("did anyone pocket something?", {"event_types": ["concealment", "theft"], "is_yes_no": True}),
    ("she put it in her bag", {"event_types": ["concealment", "theft"]}),
    ("a man slipped a phone into his jacket", {"event_types": ["concealment", "theft"], "genders": ["male"],
                                              "items": ["cell phone"]}),
    ("he hid a bottle under his coat without paying", {"event_types": ["theft", "concealment"], "items": ["bottle"]}),
    # a pocket something comes out of, a basket, a coat put on: no concealment
    ("a man took a wallet out of his pocket", {"event_types": ["picking"], "genders": ["male"]}),
    ("did anyone put something in the basket?", {"is_yes_no": True}),
    ("the woman put on her coat", {"genders": ["female"]}),
    ("who stole a bottle", {"event_types": ["theft"], "items": ["bottle"], "text": "who stole a bottle"}),
    ("did anyone take something without paying?", {"event_types": ["theft"], "is_yes_no": True}),
    ("was there a fight at the checkout", {"event_types": ["violent"], "zones": ["checkout"], "is_yes_no": True}),
    ("a customer punched another customer", {"event_types": ["violent"], "role": "customer"}),
    ("find young men picking up items",
     {"event_types": ["picking"], "age_groups": ["young"], "genders": ["male"],
      "text": "find young men picking up items"}),
    ("a man grabbed a bottle from the shelf", {"event_types": ["picking"], "genders": ["male"], "zones": ["shelf"],
                                              "items": ["bottle"]}),
    ("how many people walked by?", {"event_types": ["walking"], "is_count": True, "text": "how many people walked by"}),
    ("how many people walked by in the last minute?",
     {"last_s": 60.0, "event_types": ["walking"], "is_count": True, "text": "how many people walked by"}),
    ("people passing by in the centre", {"event_types": ["walking"], "zones": ["centre"]}),
    ("who sat down", {"event_types": ["sitting"]}),
    ("is anyone loitering or hanging around the door",
     {"event_types": ["loitering"], "zones": ["exit"], "place_words": {"exit": "door"}, "is_yes_no": True}),
    ("was there a crowd at the checkout", {"event_types": ["crowding"], "zones": ["checkout"], "is_yes_no": True}),
    ("anything unusual in the last 30 seconds",
     {"last_s": 30.0, "event_types": ["anomaly"], "is_yes_no": True, "text": "anything unusual"}),
    ("someone running", {"event_types": ["anomaly"], "text": "someone running"}),
    ("anything suspicious?", {"event_types": ["theft", "concealment", "loitering", "anomaly"], "is_yes_no": True}),
    ("any incidents?", {"event_types": ["theft", "concealment", "collapse", "violent"], "is_yes_no": True}),
    ("were there security issues?", {"event_types": ["theft", "concealment", "collapse", "violent"],
                                     "is_yes_no": True}),
    ("did anybody get hurt?", {"event_types": ["collapse", "violent"], "is_yes_no": True}),
    ("is anyone sleeping?", {"event_types": ["collapse"], "is_yes_no": True}),
    ("someone lying still by the door", {"event_types": ["collapse"], "zones": ["exit"],
                                         "place_words": {"exit": "door"}}),
    ("was anyone injured in a fight?", {"event_types": ["violent", "collapse"], "is_yes_no": True}),
    ("any suspicious running near the exit?", {"event_types": ["theft", "concealment", "loitering", "anomaly"],
                                               "zones": ["exit"], "is_yes_no": True}),
    # not yes or no (is_yes_no stays False): they ask who
    ("who loitered the longest?", {"event_types": ["loitering"], "rank_by": "longest"}),
    ("did anyone stand still for the longest time?", {"event_types": ["standing"], "rank_by": "longest"}),
    ("what was the shortest visit to the checkout?", {"zones": ["checkout"], "rank_by": "shortest"}),
    ("was anyone shot?", {"event_types": ["violent"], "is_yes_no": True}),
    ("a man beat the cashier", {"event_types": ["violent"], "genders": ["male"], "zones": ["checkout"],
                                "place_words": {"checkout": "cashier"}}),
    ("was there a fire in the first minute", {"t_from": 0.0, "t_to": 60.0, "event_types": ["anomaly"],
                                              "is_yes_no": True}),
    ("did anyone break into the store", {"event_types": ["theft"], "is_yes_no": True}),
    ("a robber snatched a phone", {"event_types": ["theft"], "items": ["cell phone"]}),
    ("a man with a water gun", {"genders": ["male"]}),  # a gun alone is no violence
    # an item narrows takes only; a phone someone looks at is a word to search for
    ("did anyone take a bottle of water?", {"event_types": ["picking"], "items": ["bottle"], "is_yes_no": True}),
    ("did anyone steal mobile phones or a laptop?", {"event_types": ["theft"], "items": ["cell phone", "laptop"],
                                                     "is_yes_no": True}),
    ("did anyone use a phone?", {"is_yes_no": True}),
    ("a woman in orange took a cup", {"event_types": ["picking"], "genders": ["female"], "colours": ["orange"],
                                      "items": ["cup"]}),
    ("when was the biggest crowd?", {"event_types": ["crowding"], "rank_by": "largest"}),
    # after or before an event: its types are the anchor's, "he" and "the thief" follow its person
    ("what did the thief do after the theft?", {"relation": "after", "anchor_types": ["theft"],
                                                "same_person": True, "text": "what did do"}),
    ("what happened just before she fell?", {"relation": "before", "anchor_types": ["collapse"],
                                             "relation_s": 20.0, "text": "what happened"}),
    ("did anyone walk by after the first crowd?", {"relation": "after", "anchor_types": ["crowding"],
                                                   "anchor_pick": "first", "event_types": ["walking"],
                                                   "is_yes_no": True}),
    ("did anyone walk by after minute 2?", {"t_from": 120.0, "event_types": ["walking"], "is_yes_no": True}),
    ("what happened before and after the fall?", {"relation": "around", "anchor_types": ["collapse"],
                                                  "text": "what happened"}),
    ("who was there during the fight?", {"relation": "around", "anchor_types": ["violent"], "text": "who was there"}),
    ("anything around 2 minutes?", {"t_from": 105.0, "t_to": 135.0, "is_yes_no": True, "text": "anything"}),
    # how long after or before: "the 5 minutes after", "30 seconds before", "within 2 minutes of"
    ("what did he do in the 5 minutes after the theft?", {"relation": "after", "anchor_types": ["theft"],
                                                          "same_person": True, "relation_s": 300.0,
                                                          "text": "what did do"}),
    ("what happened 30 seconds before the fall?", {"relation": "before", "anchor_types": ["collapse"],
                                                   "relation_s": 30.0, "text": "what happened"}),
    ("what happened within 2 minutes of the fight?", {"relation": "around", "anchor_types": ["violent"],
                                                      "relation_s": 120.0, "text": "what happened"}),
    ("anything in the first minute after the fall?", {"relation": "after", "anchor_types": ["collapse"],
                                                      "is_yes_no": True, "text": "anything"}),
    ("what happened after the theft between minute 1 and 2?", {"relation": "after", "anchor_types": ["theft"],
                                                               "t_from": 60.0, "t_to": 120.0,
                                                               "text": "what happened"}),
    ("show me a video of the theft", {"event_types": ["theft"], "text": "show me a video of the theft"}),
    ("what happened before leaving?", {"text": "what happened before leaving"}),  # no event to hold on to
    ("the largest group of people at the checkout", {"event_types": ["crowding"], "zones": ["checkout"],
                                                     "rank_by": "largest"}),
    ("anyone near the fire exit?", {"zones": ["exit"], "is_yes_no": True, "text": "anyone near the fire exit"}),
    # people and places
    ("a woman in red", {"genders": ["female"], "colours": ["red"]}),
    ("elderly woman in a grey coat", {"age_groups": ["old"], "genders": ["female"], "colours": ["grey"]}),
    ("man in a gray hoodie", {"genders": ["male"], "colours": ["grey"]}),
    ("teenage girls", {"age_groups": ["young"], "genders": ["female"]}),
    ("a boy", {"age_groups": ["child"], "genders": ["male"]}),
    ("middle-aged man in black and white",
     {"age_groups": ["middle-aged"], "genders": ["male"], "colours": ["black", "white"]}),
    ("how old was the man at the exit", {"genders": ["male"], "zones": ["exit"]}),
    ("the left shelf", {"zones": ["shelf", "left"]}),
    # videos
    ("how many thefts in video cam1",
     {"event_types": ["theft"], "video": "cam1", "is_count": True, "text": "how many thefts"}),
    ("show events in store_a.mp4 at about 1:30",
     {"t_from": 75.0, "t_to": 105.0, "video": "store_a.mp4", "text": "show events"}),
    ('in video "front door" did anyone fall', {"event_types": ["collapse"], "video": "front door", "is_yes_no": True}),
    (f"what happened in {UUID}", {"video": UUID, "text": "what happened"}),
    # no filters, nonsense
    ("what happened?", {"text": "what happened"}),
    ("show me everything", {"text": "show me everything", "list_all": True}),
    ("list all thefts", {"event_types": ["theft"], "list_all": True}),
    # a heading after a movement verb, not a place; "the left shelf" and "the left side" stay places
    ("how many people walked to the left?", {"event_types": ["walking"], "directions": ["left"], "is_count": True}),
    ("who walked to the left shelf?", {"event_types": ["walking"], "zones": ["shelf", "left"]}),
    ("anyone walking away from the camera on the right?", {"event_types": ["walking"], "directions": ["away"],
                                                           "zones": ["right"], "is_yes_no": True}),
    ("who went towards the camera?", {"directions": ["towards"]}),
    ("did anyone steal at all?", {"event_types": ["theft"], "is_yes_no": True}),
    ("asdfgh qwerty", {"text": "asdfgh qwerty"}),
    ("2 to 3 people", {"text": "2 to 3 people"}),
    ("!!!", {}),
    ("", {}),
]


@pytest.mark.parametrize(("question", "expected"), PHRASINGS, ids=[q or "<empty>" for q, _ in PHRASINGS])
def test_parse_question_phrasings(question: str, expected: dict) -> None:
    got = parse_question(question).model_dump(exclude_defaults=True)
    if "text" not in expected:
        got.pop("text", None)  # the listed fields are the point; text is checked where listed
    assert got == expected


def test_table_is_large_enough() -> None:
    assert len(PHRASINGS) >= 40


def test_resolve_last_seconds_against_duration() -> None:
    filters = parse_question("anything unusual in the last 30 seconds")
    resolved = filters.resolve(200.0)
    assert (resolved.t_from, resolved.t_to, resolved.last_s) == (170.0, 200.0, None)
    assert resolved.event_types == ["anomaly"]
    # a short video: the window starts at 0, not before
    assert parse_question("last 2 minutes").resolve(45.0).t_from == 0.0
    # no duration known: unchanged
    assert parse_question("last 2 minutes").resolve(None).last_s == 120.0


def test_resolve_intersects_an_explicit_bound() -> None:
    filters = QueryFilters(t_to=100.0, last_s=60.0)
    resolved = filters.resolve(120.0)
    assert (resolved.t_from, resolved.t_to) == (60.0, 100.0)


WEDNESDAY = date(2026, 12, 2)


@pytest.mark.parametrize(("question", "days", "text"), [
    ("any theft yesterday?", ("2026-12-01", "2026-12-02"), "any theft"),
    ("what happened today between minute 1 and 2?", ("2026-12-02", "2026-12-03"), "what happened"),
    ("falls this week", ("2026-11-30", "2026-12-03"), "falls"),
    ("any fights last week?", ("2026-11-23", "2026-11-30"), "any fights"),
    ("thefts in the last 3 days", ("2026-11-30", "2026-12-03"), "thefts"),
    ("did anyone fall on Monday?", ("2026-11-30", "2026-12-01"), "did anyone fall"),
    ("any theft last wednesday?", ("2026-11-25", "2026-11-26"), "any theft"),  # asked on a Wednesday
    ("any theft on 2026-11-30?", ("2026-11-30", "2026-12-01"), "any theft"),
    ("on the 1st of December, did anyone steal?", ("2026-12-01", "2026-12-02"), "did anyone steal"),
    ("theft on December 25", ("2025-12-25", "2025-12-26"), "theft"),  # not yet this year: last year's
    ("may I see the thefts?", None, "may I see the thefts"),
    ("theft on 2026-02-30", None, "theft on 2026-02-30"),  # no such day
])
def test_day_phrases_become_a_wall_clock_range(question: str, days, text: str) -> None:
    filters = parse_question(question, today=WEDNESDAY)
    got = (filters.day_from.date().isoformat(), filters.day_to.date().isoformat()) if filters.day_from else None
    assert (got, filters.text) == (days, text)


@pytest.mark.parametrize(("question", "seconds", "label"), [
    ("did anyone stand still for more than 30 seconds?", 30.0, "lasting at least 30 s"),
    ("loitering longer than 2 minutes between minute 1 and 5", 120.0, "lasting at least 2 min between 01:00 and 05:00"),
    ("anyone at the till for at least a minute?", 60.0, "lasting at least 1 min"),
    ("more than 3 people", None, ""),
])
def test_how_long_is_a_least_duration_not_a_time(question: str, seconds, label: str) -> None:
    filters = parse_question(question)
    assert (filters.min_duration_s, filters.window_label()) == (seconds, label)


def test_window_label_names_the_days_and_the_footage_window() -> None:
    assert parse_question("any theft yesterday?", today=WEDNESDAY).window_label() == "on 2026-12-01"
    assert (parse_question("falls this week between minute 1 and 2", today=WEDNESDAY).window_label()
            == "from 2026-11-30 to 2026-12-02 between 01:00 and 02:00")


def test_window_labels_and_mmss() -> None:
    assert parse_question("between minute 3 and 5").window_label() == "between 03:00 and 05:00"
    assert parse_question("after 90 seconds").window_label() == "after 01:30"
    assert parse_question("before 1 minute").window_label() == "before 01:00"
    assert parse_question("last 30 seconds").window_label() == "in the last 30 seconds"
    assert parse_question("what happened").window_label() == ""
    assert format_mmss(72.9) == "01:12"
    assert format_mmss(3725) == "1:02:05"
    assert format_mmss(-3) == "00:00"


def test_read_facets_reads_what_the_question_parser_reads() -> None:
    from rag.query import read_facets

    facets = ("event_types", "age_groups", "genders", "colours", "zones")
    for question, _ in PHRASINGS:
        parsed = parse_question(question)
        if parsed.t_from is None and parsed.t_to is None and parsed.last_s is None and parsed.video is None \
                and "suspicious" not in question and not parsed.directions and not parsed.relation \
                and not re.search(r"incident|security|hurt|injured|sleeping|lying still", question):
            assert read_facets(question) == {k: getattr(parsed, k) for k in facets}, question
    # the planned differences: a question's heading ("walked to the left") is no zone, and an annotation's
    # "suspicious" is odd movement where an owner's question means more
    assert read_facets("how many people walked to the left?")["zones"] == ["left"]
    assert parse_question("how many people walked to the left?").zones == []
    assert read_facets("a suspicious man by the shelf")["event_types"] == ["anomaly"]
    assert parse_question("a suspicious man by the shelf").event_types == ["theft", "concealment", "loitering",
                                                                          "anomaly"]
    # an owner's "any incidents?" asks for the alert types; an annotation's "incident" types nothing
    assert read_facets("an incident at the counter")["event_types"] == []
    assert parse_question("an incident at the counter").event_types == ["theft", "concealment", "collapse", "violent"]
    # "did anybody get hurt?" asks for falls and fights; an annotation's "hurt" types nothing
    assert read_facets("a man is hurt")["event_types"] == []
    assert parse_question("a man is hurt").event_types == ["collapse", "violent"]
    # "after the theft" is when, in a question; an annotation that says it describes the theft too
    assert read_facets("a man walks out after the theft")["event_types"] == ["theft", "walking"]
    parsed = parse_question("a man walks out after the theft")
    assert (parsed.event_types, parsed.anchor_types, parsed.same_person) == (["walking"], ["theft"], False)
    assert read_facets("An old woman in a red coat stole a bottle near the exit") == {
        "event_types": ["theft"], "age_groups": ["old"], "genders": ["female"], "colours": ["red"],
        "zones": ["exit"]}
    assert read_facets("") == {k: [] for k in facets}


@pytest.mark.parametrize("text, seconds", [
    ("0", 0.0), ("75", 75.0), ("75.5", 75.5), (" 42 ", 42.0),
    ("1:15", 75.0), ("01:15", 75.0), ("1:5", 65.0), ("1:02.5", 62.5), ("12:59.25", 779.25),
    ("1:59.75", 119.75), ("75:00", 4500.0), ("1:02:03", 3723.0), ("01:00:05.5", 3605.5), ("0:00", 0.0),
])
def test_parse_mmss_reads_player_times(text, seconds) -> None:
    assert parse_mmss(text) == seconds
    assert isinstance(parse_mmss(text), float)


@pytest.mark.parametrize("text, says", [
    ("", "not a time"), ("soon", "not a time"), ("1:2:3:4", "not a time"), ("1:", "not a time"),
    (":30", "not a time"), ("1.5:00", "not a time"), ("1:30pm", "not a time"), ("1,5", "not a time"),
    ("-5", "negative"), ("-1:00", "negative"),
    ("1:60", "seconds after a colon must be below 60"), ("0:75", "below 60"),
    ("1:60:00", "minutes in h:mm:ss must be below 60"), ("2:00:60", "seconds after a colon"),
])
def test_parse_mmss_rejects_anything_else_with_a_clear_message(text, says) -> None:
    with pytest.raises(ValueError, match=says) as raised:
        parse_mmss(text)
    assert repr(text) in str(raised.value)


def test_parse_mmss_reads_what_format_mmss_writes() -> None:
    for seconds in (0, 59, 60, 72, 599, 3599, 3600, 3725, 86399):
        assert parse_mmss(format_mmss(seconds)) == seconds


def test_filters_reject_unknown_values_and_normalise_aliases() -> None:
    assert QueryFilters(colours=["Gray"], zones="center", genders=["Women"]).model_dump(
        include={"colours", "zones", "genders"}
    ) == {"colours": ["grey"], "zones": ["centre"], "genders": ["female"]}
    with pytest.raises(ValidationError):
        QueryFilters(event_types=["DROP TABLE events"])
    with pytest.raises(ValidationError):
        QueryFilters(t_from=-5)


def test_match_filters_reports_met_missed_and_unknown() -> None:
    filters = parse_question("young men stealing at the shelf between minute 3 and 5")
    event = {"type": "theft", "zone": "shelf", "t_start": 190.0, "t_end": 200.0,
             "attributes": {"age_group": "young", "gender": "unknown"}}
    assert match_filters(filters, event) == {
        "type": True, "age_group": True, "gender": None, "zone": True, "time": True,
    }
    assert not contradicts(filters, event)
    assert contradicts(filters, {**event, "t_start": 20.0, "t_end": 30.0})
    assert contradicts(filters, {**event, "type": "walking"})


# ---------------------------------------------------------------------------
# LLM parser
# ---------------------------------------------------------------------------

def _fake(reply: str) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))


def test_llm_parser_uses_valid_json() -> None:
    reply = json.dumps({
        "t_from": 180, "t_to": 300, "event_types": ["theft"], "genders": ["male"],
        "text": "man stealing", "is_yes_no": True,
    })
    filters = LLMQueryParser(_fake(reply)).parse("did a man steal between minute 3 and 5?")
    assert filters.model_dump(exclude_defaults=True) == {
        "t_from": 180.0, "t_to": 300.0, "event_types": ["theft"], "genders": ["male"],
        "text": "man stealing", "is_yes_no": True,
    }


def test_llm_parser_reads_json_in_a_code_fence_from_a_list_model() -> None:
    reply = '```json\n{"event_types": ["collapse"], "last_s": 60, "text": "fell"}\n```'
    filters = LLMQueryParser(FakeListChatModel(responses=[reply])).parse("did anyone fall in the last minute?")
    assert (filters.event_types, filters.last_s, filters.text) == (["collapse"], 60.0, "fell")


def test_llm_parser_fills_missing_text_from_rules() -> None:
    filters = LLMQueryParser(_fake('{"event_types": ["theft"]}')).parse("any theft after 90 seconds?")
    assert filters.event_types == ["theft"] and filters.text == "any theft"


def test_llm_parser_takes_after_or_before_an_event_from_rules() -> None:
    # the model, not told of anchors, reads the theft as a type to search for
    filters = LLMQueryParser(_fake('{"event_types": ["theft"], "genders": ["male"], "text": "what did he do"}')).parse(
        "what did the man do after the theft?")
    assert (filters.relation, filters.anchor_types, filters.same_person, filters.event_types) == (
        "after", ["theft"], True, [])
    assert filters.genders == ["male"] and filters.text == "what did he do"


@pytest.mark.parametrize(
    "reply",
    [
        "Sure! The user wants thefts between minutes three and five.",  # not JSON
        '{"event_types": ["theft"], "t_from": 180',  # truncated JSON
        '{"event_types": ["burglary"]}',  # not an allowed value
        '{"t_from": -10}',  # invalid time
        '["theft"]',  # wrong shape
    ],
)
def test_llm_parser_falls_back_on_bad_output(reply: str) -> None:
    question = "any theft between minute 3 and 5?"
    assert LLMQueryParser(_fake(reply)).parse(question) == parse_question(question)


def test_llm_parser_falls_back_when_the_model_fails() -> None:
    class Broken(FakeListChatModel):
        def _call(self, *args, **kwargs):  # noqa: ANN002, ANN003
            raise ConnectionError("model endpoint unreachable")

    question = "did anyone collapse?"
    assert LLMQueryParser(Broken(responses=["unused"])).parse(question) == parse_question(question)


def test_llm_parser_keeps_sql_injection_as_inert_text() -> None:
    injected = "x'; DROP TABLE events; --"
    reply = json.dumps({"event_types": ["theft"], "text": injected, "video": "cam1' OR '1'='1"})
    filters = LLMQueryParser(_fake(reply)).parse("any theft?")
    # stays plain data for parameterised queries: nothing here builds or runs SQL
    assert filters.text == injected
    assert filters.video == "cam1' OR '1'='1"
    assert filters.event_types == ["theft"]


def test_llm_parser_rejects_sql_in_a_closed_field() -> None:
    reply = json.dumps({"event_types": ["theft'; DELETE FROM events; --"], "text": "x"})
    question = "any theft?"
    assert LLMQueryParser(_fake(reply)).parse(question) == parse_question(question)


def test_llm_parser_uses_structured_output_when_the_model_offers_it() -> None:
    class Structured(FakeListChatModel):
        def with_structured_output(self, schema, **kwargs):  # noqa: ANN001, ANN003
            from langchain_core.runnables import RunnableLambda

            assert schema is QueryFilters
            return RunnableLambda(lambda _: {"event_types": ["sitting"], "text": "sat"})

    filters = LLMQueryParser(Structured(responses=["unused"])).parse("who sat down?")
    assert (filters.event_types, filters.text) == (["sitting"], "sat")


@pytest.mark.parametrize("question, video", [
    ('did anyone fall in video "exit camera"?', "exit camera"),
    ("any theft in exit_cam2.mp4", "exit_cam2.mp4"),
    ("who ran in the red_door.avi", "red_door.avi"),
])
def test_words_of_a_video_name_are_not_filters(question, video):
    parsed = parse_question(question)
    assert parsed.video == video
    assert parsed.zones == [] and parsed.colours == []  # "exit" and "red" belong to the name


def test_a_stored_video_is_named_by_its_name_without_the_extension() -> None:
    from rag.terms import video_mention

    fights = {"id": 1, "name": "fighting1.mp4", "stem": "fighting1"}
    theft = {"id": 2, "name": "theft.mp4", "stem": "theft"}
    door = {"id": 3, "name": "front_door", "stem": "front_door"}
    assert video_mention("what happened in fighting1?", [fights]) == (fights, "what happened?")
    assert video_mention("Did anyone fall in the video FIGHTING1.MP4", [fights]) == (fights, "Did anyone fall")
    assert video_mention("anything in fighting10?", [fights]) is None  # another name
    # a plain word names the video only with its extension or after "video"
    assert video_mention("any theft?", [theft]) is None
    assert video_mention("any fight in theft.mp4?", [theft]) == (theft, "any fight?")
    assert video_mention("any fight in clip theft?", [theft]) == (theft, "any fight?")
    assert video_mention("who stood at the till in front_door?", [door]) == (door, "who stood at the till?")
    # right after "in", a plain word the parser reads nothing in names it; a word it reads, or a place, does not
    vtest = {"id": 4, "name": "vtest.avi", "stem": "vtest"}
    store = {"id": 5, "name": "store.mp4", "stem": "store"}
    assert video_mention("how many people were there at 00:30 in vtest?", [vtest]) == (
        vtest, "how many people were there at 00:30?")
    assert video_mention("is vtest any good?", [vtest]) is None
    assert video_mention("anything in theft?", [theft]) is None
    assert video_mention("was anyone in store after 22:00?", [store]) is None
    assert video_mention("what happened in the vtest?", [vtest]) is None  # "the" makes it a thing, not a name


def test_a_camera_is_named_by_its_name_and_a_plain_word_only_beside_camera() -> None:
    from rag.terms import camera_mention

    cameras = ["Front door", "till_2", "front"]
    assert camera_mention("any theft on the front door camera?", cameras) == ("Front door", "any theft?")
    assert camera_mention("any theft on camera Front Door today?", cameras) == ("Front door", "any theft today?")
    assert camera_mention("who picked something up at till_2?", cameras) == ("till_2", "who picked something up?")
    # plain words without "camera": a place, not a camera
    assert camera_mention("was there a fight in front of the door?", cameras) is None
    assert camera_mention("anything at till_20?", cameras) is None


@pytest.mark.parametrize(("question", "camera"), [
    ("any theft on camera till_3?", "till_3"), ("thefts on cam 2 today", "2"),
    ("on the back-door camera?", "back-door"), ("on camera 4b", "4b"),
    # counts, clock times, ordinals and plain words beside "camera" name no camera
    ("who walked towards the camera 3 times?", None), ("camera 3 minutes in", None), ("on camera 12:30", None),
    ("on the 2nd camera", None), ("on the front camera", None), ("which camera had the most thefts?", None)])
def test_a_camera_name_beside_camera_is_read_known_or_not(question, camera) -> None:
    from rag.terms import camera_asked

    assert camera_asked(question) == camera


DRAWN = [("Counter", "shelf"), ("door", "entrance"), ("drinks_fridge", "shelf"), ("front door", "entrance"),
         ("till", "checkout"), ("kids corner", "custom"), ("red shelf", "shelf"), ("1", "shelf"), ("A", "custom"),
         ("in", "exit")]


@pytest.mark.parametrize(("question", "names", "kinds", "rest"), [
    # a shelf named "counter" is that shelf, not a checkout
    ("any picking at the counter?", ["counter"], [], "any picking at the?"),
    ("thefts at the Drinks-Fridge?", ["drinks_fridge"], [], "thefts at the?"),
    # the longer name first; "the checkout" is still asked for
    ("loitering at the front door or at the checkout?", ["front door"], [], "loitering at the or at the checkout?"),
    # a bare place word that is the zone's own kind asks for every zone of the kind too
    ("anyone at the door?", ["door"], ["exit"], "anyone at the?"),
    ("what happened at the till?", ["till"], ["checkout"], "what happened at the?"),
    ("picking at the shelf?", [], [], "picking at the shelf?"),
    ("did the doorman steal?", [], [], "did the doorman steal?"),
    # names of a digit, a letter or a plain small word name nothing: "1 minute in" stays a time
    ("any theft in a shop 1 minute in?", [], [], "any theft in a shop 1 minute in?")])
def test_a_drawn_zone_is_named_by_its_name_and_cut_out_of_what_is_parsed(question, names, kinds, rest) -> None:
    from rag.terms import zones_asked

    assert zones_asked(question, DRAWN) == (names, kinds, rest)


@pytest.mark.parametrize(("question", "zone"), [
    ("how many people visited the kids corner?", "kids corner"), ("any theft at the red shelf?", "red shelf")])
def test_the_words_of_a_zones_name_are_no_filters(api_app, question, zone) -> None:
    from db.repos import zones
    from services.ask import ask

    with api_app.db.connection() as conn:
        zones.replace(conn, [{"name": n, "kind": k, "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]} for n, k in DRAWN],
                      camera="front")
    asked = ask(api_app, question=question).filters
    assert (asked["zone_names"], asked["age_groups"], asked["colours"]) == ([zone], [], [])


def test_a_zones_name_is_read_only_for_the_footage_it_is_drawn_on(api_app) -> None:
    from db.repos import zones
    from services.ask import ask
    from tests.conftest import add_tracked_video

    shop = add_tracked_video(api_app, [], name="shop.mp4", camera="shop")
    till = add_tracked_video(api_app, [], name="till.mp4", camera="till")
    with api_app.db.connection() as conn:
        zones.replace(conn, [{"name": "Counter", "kind": "shelf", "polygon": [[0, 0], [0.5, 0], [0.5, 0.5]]}],
                      camera="shop")

    def places(**scope):
        asked = ask(api_app, question="anyone standing at the counter?", **scope).filters
        return asked["zone_names"], asked["zones"]

    assert places(video=shop["id"]) == (["counter"], [])
    assert places() == (["counter"], [])  # every camera: the shop's counter is one of them
    # the till camera has no zone of that name: its counter is the plain word, a checkout
    assert places(video=till["id"]) == ([], ["checkout"])
    assert ask(api_app, question="anyone standing at the counter on the till camera?").filters["zone_names"] == []


@pytest.mark.parametrize(("zone", "attributes", "places"), [
    ("counter", {"zone_kind": "shelf"}, {"counter", "shelf"}),  # not a checkout, whatever its name says
    ("front door", {"zone_kind": "entrance"}, {"front door", "exit"}),
    ("left", {"zone_kind": "region", "shelf": "Drinks"}, {"left", "drinks", "shelf"}),  # the hand was in the shelf
    ("counter", {"zone_kind": "shelf", "region": "right"}, {"counter", "shelf", "right"}),  # a named zone's third
    ("till", {}, {"till", "checkout"}),  # imported: only its name says where
    (None, {}, set())])
def test_an_events_places_are_its_zones_name_and_kind_and_the_shelf_reached_into(zone, attributes, places) -> None:
    from rag.query import event_places

    assert event_places(zone, attributes) == places


def test_a_place_and_a_third_of_the_frame_are_both_asked_for() -> None:
    from rag.query import QueryFilters, match_filters

    asked = QueryFilters(zones=["left"], zone_names=["counter"])  # "at the counter on the left"

    def check(zone, **attributes):
        return match_filters(asked, {"zone": zone, "attributes": attributes})["zone"]

    assert check("counter", zone_kind="shelf", region="left") is True
    assert check("counter", zone_kind="shelf", region="right") is False
    assert check("counter", zone_kind="shelf") is None  # analysed before events kept their third: it does not say
    assert check("left", zone_kind="region") is False  # the left third, but not at the counter
    assert check("left", zone_kind="region", shelf="counter") is True  # the hand was in the counter
