"""Breakdowns ("which camera had the most thefts?", "falls per day") and comparisons of two periods."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from rag.query import parse_question
from services.ask import ask
from tests.conftest import add_tracked_video
from tests.synthetic import person

TODAY = date(2026, 12, 2)


@pytest.mark.parametrize(("question", "group"), [
    ("which camera had the most thefts?", "camera"),
    ("how many falls per camera?", "camera"),
    ("which video shows the fight?", "video"),
    ("thefts by day", "day"),
    ("what day were the most people loitering?", "day"),
    ("what time of day do most thefts happen?", "hour"),
    ("hourly picking events", "hour"),
    ("any theft on the front camera?", None),  # a camera named, not a breakdown
    ("which camera had the longest loitering?", None),  # one event, the longest
    ("did anyone steal something?", None),
])
def test_the_parser_reads_what_a_question_breaks_events_down_by(question, group):
    assert parse_question(question, today=TODAY).group_by == group


def test_the_parser_reads_the_second_period_of_a_comparison():
    filters = parse_question("were there more thefts today than yesterday?", today=TODAY)
    assert (filters.day_from, filters.day_to) == (datetime(2026, 12, 2), datetime(2026, 12, 3))
    assert (filters.compare_from, filters.compare_to) == (datetime(2026, 12, 1), datetime(2026, 12, 2))
    assert filters.event_types == ["theft"]
    week = parse_question("falls this week compared with last week", today=TODAY)
    assert (week.day_from, week.compare_from, week.compare_to) == (
        datetime(2026, 11, 30), datetime(2026, 11, 23), datetime(2026, 11, 30))
    # the period before the comparison word is the one asked, whichever phrase the parser knows first
    later = parse_question("more thefts on 2026-12-01 than this week?", today=TODAY)
    assert (later.day_from, later.compare_from) == (datetime(2026, 12, 1), datetime(2026, 11, 30))
    assert later.text == "more thefts than"
    # two days without a comparison word are no comparison; nor is "more than" without a second day
    assert parse_question("any theft today or yesterday?", today=TODAY).compare_from is None
    assert parse_question("more than 3 people today", today=TODAY).compare_from is None


def test_the_llm_parser_takes_the_breakdown_and_the_second_period_from_rules():
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from rag.query import LLMQueryParser

    def parse(question: str, reply: str):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=reply)]))
        return LLMQueryParser(model, fallback=lambda q: parse_question(q, today=TODAY)).parse(question)

    # the model, not told of either, would answer a list and one day
    grouped = parse("which camera had the most thefts?", '{"event_types": ["theft"], "group_by": "video"}')
    assert (grouped.event_types, grouped.group_by) == (["theft"], "camera")
    compared = parse("were there more falls today than yesterday?", '{"event_types": ["collapse"]}')
    assert (compared.day_from, compared.compare_from) == (datetime(2026, 12, 2), datetime(2026, 12, 1))


def _theft(t: float) -> dict:
    return {"type": "theft", "t_start": t, "t_end": t + 5.0, "description": "A person takes an item and hides it."}


@pytest.fixture()
def two_cameras(api_app):
    """Till footage of 1 December from 10:00 (3 thefts, one after 11:00) and door footage of 30 November (1)."""
    shopper = [person(1, 0.0, 600.0, (200.0, 600.0))]
    till = add_tracked_video(api_app, shopper, name="till_20261201_105800.mp4", camera="till_2",
                             events=[_theft(10.0), _theft(60.0), _theft(150.0)])
    door = add_tracked_video(api_app, shopper, name="door_20261130_090000.mp4", camera="front_door",
                             events=[_theft(30.0), {"type": "standing", "t_start": 40.0, "t_end": 50.0,
                                                    "description": "A person stands."}])
    return till, door


def _ids(api_app, video) -> list[int]:
    from services.events import list_events

    return [e["id"] for e in list_events(api_app, video_id=video["id"], types=["theft"])]


def test_which_camera_had_the_most_thefts_counts_every_theft_by_camera(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    result = ask(api_app, question="which camera had the most thefts?")
    assert result.answer == "\n".join([
        "The most theft events were on camera till_2: 3 of 4.",
        f"- till_2: 3 [E{till[0]}] [E{till[1]}] [E{till[2]}]",
        f"- front_door: 1 [E{door[0]}]"])
    assert [c["event_id"] for c in result.citations] == [*till, *door]
    assert result.filters["group_by"] == "camera" and result.search_method.endswith("+listing")


def test_thefts_per_day_and_per_hour_fall_on_the_footage_clock(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    assert ask(api_app, question="thefts per day").answer == "\n".join([
        "The most theft events were on 2026-12-01: 3 of 4.",
        f"- 2026-11-30: 1 [E{door[0]}]",
        f"- 2026-12-01: 3 [E{till[0]}] [E{till[1]}] [E{till[2]}]"])
    # the till footage starts at 10:58:00: its thefts at 10:58:10, 10:59:00 and 11:00:30
    assert ask(api_app, question="what time of day do thefts happen?").answer == "\n".join([
        "The most theft events were between 10:00 and 11:00: 2 of 4.",
        f"- 09:00-10:00: 1 [E{door[0]}]",
        f"- 10:00-11:00: 2 [E{till[0]}] [E{till[1]}]",
        f"- 11:00-12:00: 1 [E{till[2]}]"])


def test_a_tie_and_a_single_group_are_said_as_such(api_app, two_cameras):
    add_tracked_video(api_app, [person(1, 0.0, 60.0, (200.0, 600.0))], name="door_20261130_120000.mp4",
                      camera="front_door", events=[_theft(5.0), _theft(20.0)])
    tied = ask(api_app, question="which camera had the most thefts?").answer.splitlines()[0]
    assert tied == "The most theft events, 3 each of 6, were on camera front_door and on camera till_2."
    single = ask(api_app, question="which video had the most standing events?").answer.splitlines()[0]
    assert single == "1 standing event was in door_20261130_090000.mp4."
    assert ask(api_app, question="which camera had the most falls?").answer == "No collapse events match."
    # days without any footage are unknown, not a breakdown of nothing
    assert ask(api_app, question="thefts per day on 2026-11-20").answer == (
        "No analysed footage was recorded on 2026-11-20, so nothing could be seen then.")


def test_more_thefts_on_one_day_than_another_is_answered_from_both_counts(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    more = ask(api_app, question="were there more thefts on 2026-12-01 than on 2026-11-30?")
    assert more.answer == "\n".join([
        "Yes. 3 theft events on 2026-12-01, against 1 on 2026-11-30.",
        f"- on 2026-12-01: [E{till[0]}] [E{till[1]}] [E{till[2]}]",
        f"- on 2026-11-30: [E{door[0]}]"])
    assert more.search_method == "compare" and len(more.citations) == 4
    fewer = ask(api_app, question="were there fewer thefts on 2026-12-01 than on 2026-11-30?").answer
    assert fewer.startswith("No. 3 theft events on 2026-12-01, against 1 on 2026-11-30.")
    neutral = ask(api_app, question="thefts on 2026-11-30 compared with 2026-12-01").answer
    assert neutral.startswith("1 theft event on 2026-11-30, against 3 on 2026-12-01.")
    camera = ask(api_app, question="more thefts on till_2 on 2026-12-01 than on 2026-11-30?").answer
    assert camera.startswith("Unknown. 3 theft events on 2026-12-01 on camera till_2, but no footage was "
                             "analysed on 2026-11-30.")


def test_more_thefts_on_one_camera_than_another_counts_both(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    more = ask(api_app, question="were there more thefts on till_2 than on the front_door camera?")
    assert more.answer == "\n".join([
        "Yes. 3 theft events on camera till_2, against 1 on camera front_door.",
        f"- on camera till_2: [E{till[0]}] [E{till[1]}] [E{till[2]}]",
        f"- on camera front_door: [E{door[0]}]"])
    assert more.search_method == "compare" and more.filters["compare_cameras"] == ["front_door"]
    assert ask(api_app, question="fewer thefts on front_door than till_2?").answer.startswith(
        "Yes. 1 theft event on camera front_door, against 3 on camera till_2.")
    # a day asked holds for both cameras; one without footage that day is unknown
    assert ask(api_app, question="more thefts on till_2 than on front_door on 2026-12-01?").answer.startswith(
        "Unknown. 3 theft events on camera till_2 on 2026-12-01, but no footage was analysed on camera "
        "front_door on 2026-12-01.")


def test_a_comparison_of_three_cameras_counts_every_one(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    back = add_tracked_video(api_app, [person(1, 0.0, 60.0, (200.0, 600.0))], name="back_20261201_120000.mp4",
                             camera="back_2", events=[_theft(5.0), _theft(20.0)])
    [b1, b2] = _ids(api_app, back)
    more = ask(api_app, question="were there more thefts on till_2 than on front_door or back_2?")
    assert more.answer == "\n".join([
        "Yes. 3 theft events on camera till_2, against 1 on camera front_door and 2 on camera back_2.",
        f"- on camera till_2: [E{till[0]}] [E{till[1]}] [E{till[2]}]",
        f"- on camera front_door: [E{door[0]}]",
        f"- on camera back_2: [E{b1}] [E{b2}]"])
    assert more.filters["camera"] == "till_2" and more.filters["compare_cameras"] == ["front_door", "back_2"]
    # more than each of the others, not than one of them
    assert ask(api_app, question="more thefts on back_2 than on front_door or till_2?").answer.startswith(
        "No. 2 theft events on camera back_2, against 1 on camera front_door and 3 on camera till_2.")
    assert ask(api_app, question="thefts on front_door vs till_2 vs back_2").answer.startswith(
        "1 theft event on camera front_door, against 3 on camera till_2 and 2 on camera back_2.")
    # a day asked holds for every camera; those without footage that day are unknown
    assert ask(api_app, question="fewer thefts on front_door than on till_2 or back_2 on 2026-11-30?").answer == (
        f"Unknown. 1 theft event on camera front_door on 2026-11-30, but no footage was analysed on camera till_2 "
        f"on 2026-11-30 or on camera back_2 on 2026-11-30.\n- on camera front_door on 2026-11-30: [E{door[0]}]")


def test_more_thefts_in_one_video_than_another_counts_both(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    more = ask(api_app, question="were there more thefts in till_20261201_105800 than in door_20261130_090000.mp4?")
    assert more.answer == "\n".join([
        "Yes. 3 theft events in till_20261201_105800.mp4, against 1 in door_20261130_090000.mp4.",
        f"- in till_20261201_105800.mp4: [E{till[0]}] [E{till[1]}] [E{till[2]}]",
        f"- in door_20261130_090000.mp4: [E{door[0]}]"])
    assert more.search_method == "compare" and more.filters["compare_video"] == str(two_cameras[1]["id"])
    fewer = ask(api_app, question="fewer thefts in door_20261130_090000 than in till_20261201_105800?").answer
    assert fewer.startswith("Yes. 1 theft event in door_20261130_090000.mp4, against 3 in till_20261201_105800.mp4.")
    # one video named is no comparison: its thefts alone
    one = ask(api_app, question="any thefts in door_20261130_090000?")
    assert one.search_method != "compare" and [c["event_id"] for c in one.citations] == door


def test_a_question_naming_several_videos_keeps_to_them_and_reads_none_of_their_names(api_app, two_cameras):
    till, door = (_ids(api_app, v) for v in two_cameras)
    add_tracked_video(api_app, [person(1, 0.0, 60.0, (200.0, 600.0)), person(2, 0.0, 60.0, (600.0, 600.0))],
                      name="fighting1.mp4", camera="back", events=[_theft(12.0)])
    both = ask(api_app, question="any thefts in till_20261201_105800 and door_20261130_090000?")
    assert sorted(c["event_id"] for c in both.citations) == sorted([*till, *door])
    assert both.answer.splitlines()[1].startswith("- till_20261201_105800.mp4 00:10")  # each line names its video
    # "fighting1" is a name here, not a fight asked for; the two videos' people alone are counted
    counted = ask(api_app, question="how many people were in fighting1 and till_20261201_105800?")
    assert counted.filters["event_types"] == [] and len(counted.filters["videos"]) == 2
    assert counted.answer.startswith("3 distinct people were seen across 2 videos"), counted.answer


def test_a_period_without_footage_is_unknown_not_zero(api_app, two_cameras):
    till = _ids(api_app, two_cameras[0])
    assert ask(api_app, question="were there more thefts on 2026-12-01 than on 2026-11-29?").answer == (
        "Unknown. 3 theft events on 2026-12-01, but no footage was analysed on 2026-11-29.\n"
        f"- on 2026-12-01: [E{till[0]}] [E{till[1]}] [E{till[2]}]")
    assert ask(api_app, question="more thefts on 2026-11-28 than on 2026-11-29?").answer == (
        "No footage was analysed on 2026-11-28 or on 2026-11-29, so there is nothing to compare.")
    zero = ask(api_app, question="were there more falls on 2026-12-01 than on 2026-11-30?")
    assert zero.answer == "No. 0 collapse events on 2026-12-01, against 0 on 2026-11-30." and zero.citations == []


def test_event_lines_say_the_wall_clock_where_the_footage_has_one(api_app, two_cameras):
    till = _ids(api_app, two_cameras[0])
    result = ask(api_app, question="any theft on till_2?")
    lines = result.answer.splitlines()

    # till_20261201_105800.mp4 starts at 10:58:00 by its file name: 10 s in is 10:58:10
    assert lines[1:] == [
        f"- 00:10–00:15 (2026-12-01 10:58:10) theft: A person takes an item and hides it [E{till[0]}]",
        f"- 01:00–01:05 (2026-12-01 10:59:00) theft: A person takes an item and hides it [E{till[1]}]",
        f"- 02:30–02:35 (2026-12-01 11:00:30) theft: A person takes an item and hides it [E{till[2]}]"]
    # the cited cards (and the API's citations) carry it too
    assert [c["at"] for c in result.citations] == ["2026-12-01 10:58:10", "2026-12-01 10:59:00", "2026-12-01 11:00:30"]
    assert {c["clock"] for c in result.citations} == {"file name"}


def test_what_happened_after_a_theft_says_both_on_the_wall_clock(api_app, two_cameras):
    till = _ids(api_app, two_cameras[0])
    lines = ask(api_app, question="what happened after the first theft on till_2?").answer.splitlines()

    assert lines[0].startswith(f"After the theft at 00:10–00:15 (2026-12-01 10:58:10) in till_20261201_105800.mp4 "
                               f"[E{till[0]}]")
    assert f"- 01:00–01:05 (2026-12-01 10:59:00) theft: A person takes an item and hides it [E{till[1]}]" in lines
