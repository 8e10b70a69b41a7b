"""Clock times in questions: "any theft after 22:00?" read on each footage's wall clock when it says so."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from core.cameras import clock_windows
from rag.query import parse_question
from rag.time_phrases import clock_reading
from services.ask import ask
from tests.conftest import add_tracked_video
from tests.synthetic import person


@pytest.mark.parametrize(("question", "reading"), [
    ("any theft after 22:00?", (79200.0, None)),
    ("anyone between 22:00 and 06:00?", (79200.0, 21600.0)),  # in the written order: past midnight
    ("was anyone here at 22:15?", (79800.0, 80400.0)),  # the minutes' +-5 s become +-5 min
    ("before 08:00", (0.0, 28800.0)),
    ("between 00:01:30 and 00:02:00", None),  # seconds: a time of the footage
    ("after 90 seconds", None),
    ("any theft between minute 3 and 5?", None),
])
def test_an_hh_mm_window_has_a_reading_on_the_clock(question, reading):
    filters = parse_question(question)
    assert clock_reading(question, filters.t_from, filters.t_to) == reading


def test_the_clock_reading_comes_from_the_written_time_whatever_the_parser_made_of_it():
    # a chat model may give "after 22:00" as 79200 s or as 1320 s: the written 22:00 decides
    assert clock_reading("any theft after 22:00?", 79200.0, None) == (79200.0, None)
    assert clock_reading("any theft after 22:00?", 1320.0, None) == (79200.0, None)


def test_clock_windows_are_the_footage_at_those_hours_on_each_day_it_covers():
    evening = {"recorded_at": datetime(2026, 12, 1, 21, 0), "duration_s": 3 * 3600.0}  # 21:00 to midnight
    assert clock_windows(evening, 22 * 3600.0, None) == [(3600.0, 10800.0)]
    assert clock_windows(evening, 8 * 3600.0, 9 * 3600.0) == []
    early = {"recorded_at": datetime(2026, 12, 2, 5, 0), "duration_s": 2 * 3600.0}  # 05:00 to 07:00
    assert clock_windows(early, 22 * 3600.0, 6 * 3600.0) == [(0.0, 3600.0)]  # the night before reaches 06:00
    two_days = {"recorded_at": datetime(2026, 12, 1, 12, 0), "duration_s": 36 * 3600.0}  # noon to midnight next day
    assert clock_windows(two_days, 22 * 3600.0, 23 * 3600.0) == [(36000.0, 39600.0), (122400.0, 126000.0)]


def _theft(t: float) -> dict:
    return {"type": "theft", "t_start": t, "t_end": t + 5.0, "description": "A person takes an item and hides it."}


@pytest.fixture()
def evening(api_app):
    """Till footage from 21:00 (file name, 10 min: thefts at 21:01:40 and 21:08:20); door footage over midnight."""
    shopper = [person(1, 0.0, 600.0, (200.0, 600.0))]
    till = add_tracked_video(api_app, shopper, name="till_20261201_210000.mp4", events=[_theft(100.0), _theft(500.0)])
    door = add_tracked_video(api_app, shopper, name="door_20261201_235500.mp4", camera="door",
                             events=[_theft(400.0)])  # 00:01:40 on 2 December
    return till, door


def test_a_clock_time_the_footage_shows_is_read_on_its_clock(api_app, evening):
    after = ask(api_app, question="any theft after 21:05?")
    # "after 21:05" runs to midnight: the door's theft at 00:01:40 is the next day's
    assert after.answer.splitlines()[0] == "Yes. 1 theft event after 21:05 by the clock:"
    assert [(c["video_name"], c["t_start"]) for c in after.citations] == [("till_20261201_210000.mp4", 500.0)]
    assert (after.filters["clock_from_s"], after.filters["t_from"]) == (75900.0, None)
    early = ask(api_app, question="any theft between 21:00 and 21:02?")
    assert [(c["video_name"], c["t_start"]) for c in early.citations] == [("till_20261201_210000.mp4", 100.0)]
    # past midnight, in the written order: the door's theft at 00:01:40, not the till's at 21:0x
    night = ask(api_app, question="was there a theft between 23:00 and 01:00?")
    assert [(c["video_name"], c["t_start"]) for c in night.citations] == [("door_20261201_235500.mp4", 400.0)]
    assert night.answer.startswith("Yes. 1 theft event between 23:00 and 01:00 by the clock")
    counted = ask(api_app, question="how many thefts after 21:05?").answer
    assert counted.startswith("1 person was flagged for theft after 21:05 by the clock:")


def test_a_time_to_the_second_is_the_clocks_only_when_no_footage_is_that_long(api_app, evening):
    # read off the on-screen clock: 21:01:42 is 21 hours into no footage, and the till's shows it
    exact = ask(api_app, question="any theft at 21:01:42?")
    assert exact.answer.splitlines()[0] == "Yes. 1 theft event between 21:01:37 and 21:01:47 by the clock:"
    assert [(c["video_name"], c["t_start"]) for c in exact.citations] == [("till_20261201_210000.mp4", 100.0)]
    assert ask(api_app, question="how many thefts after 21:08:00?").answer.startswith(
        "1 person was flagged for theft after 21:08 by the clock:")
    # 00:08:20 fits in the footage: 8 min 20 s in, the till's second theft
    into = ask(api_app, question="any theft at 00:08:20?")
    assert (into.filters["t_from"], into.filters["clock_from_s"]) == (495.0, None)
    assert [c["t_start"] for c in into.citations] == [500.0]


def test_am_and_pm_are_clock_times_whatever_the_footage(api_app, evening):
    parsed = parse_question("anyone after 10 pm last night?", today=date(2026, 12, 2))
    assert (parsed.t_from, parsed.day_from, parsed.text) == (1320.0, datetime(2026, 12, 1), "anyone")
    assert ask(api_app, question="any theft after 9:05 pm?").answer.startswith("Yes. 1 theft event after 21:05 by")
    # 2 am is on no clock and 120 s fits in the footage, but "am" says the clock
    early = ask(api_app, question="any theft between 2 am and 3 am?")
    assert (early.filters["clock_from_s"], early.filters["t_from"]) == (7200.0, None)
    assert early.answer == "No analysed footage was recorded between 02:00 and 03:00 by the clock, so nothing " \
                           "could be seen then."


def test_a_time_no_footage_shows_stays_a_time_into_the_footage(api_app, evening):
    # 02:30 is not on either clock (21:00-21:10, 23:55-00:05): 2 min 30 s in
    minutes = ask(api_app, question="any theft after 2:30?")
    assert minutes.filters["t_from"] == 150.0 and minutes.filters["clock_from_s"] is None
    assert sorted(c["t_start"] for c in minutes.citations) == [400.0, 500.0]
    assert minutes.answer.startswith("Yes. 2 theft events after 02:30:")


def test_hours_without_footage_say_so_instead_of_nothing_happened(api_app, evening):
    # 22:00 is on no clock, and no video is 22 minutes long: the clock, with no footage then
    assert ask(api_app, question="was anyone in the store between 22:00 and 23:00?").answer == (
        "No analysed footage was recorded between 22:00 and 23:00 by the clock, so nothing could be seen then.")
    assert ask(api_app, question="any theft on 2026-11-29?").answer == (
        "No analysed footage was recorded on 2026-11-29, so nothing could be seen then.")
    # footage at those hours with nothing in it is a plain no
    assert ask(api_app, question="any fall between 21:00 and 21:05?").answer == (
        "No collapse events match between 21:00 and 21:05 by the clock.")


def test_the_search_keeps_to_each_videos_own_clock_window(clean_db):
    from core.runtime.embeddings import get_embeddings
    from db.repos.search import SearchFilters, hybrid_search
    from tests.test_retriever import add_video

    events = [{"description": "A man hides a bottle in his jacket.", "type": "theft", "t_start": t}
              for t in (10.0, 200.0, 400.0)]
    one, two = (add_video(clean_db, name, events) for name in ("a.mp4", "b.mp4"))
    vector = get_embeddings().embed_query("man hides a bottle")
    for exact in (True, False):
        with clean_db.connection() as conn:
            rows = hybrid_search(conn, query_embedding=vector, query_text="bottle", k=30, exact=exact,
                                 filters=SearchFilters(windows=[(one, 150.0, 250.0), (two, 0.0, 50.0),
                                                                (two, 390.0, 410.0)]))
        assert sorted((str(r["video_id"]), r["t_start"]) for r in rows) == sorted(
            [(str(one), 200.0), (str(two), 10.0), (str(two), 400.0)])


@pytest.mark.parametrize(("question", "rank"), [
    ("when was the last theft?", "latest"),
    ("the most recent fall", "latest"),
    ("when was the first fight?", "earliest"),
    ("any theft in the last 3 days?", None),  # a window, not an order
    ("what happened in the last minute?", None),
    ("what did he do after the last theft?", None),  # the anchor is picked, nothing is ranked
    ("who stayed the longest?", "longest"),
])
def test_the_last_or_first_event_is_an_order_and_the_last_minutes_a_window(question, rank):
    assert parse_question(question, today=date(2026, 12, 2)).rank_by == rank


def test_the_last_theft_is_the_latest_on_the_wall_clock_not_in_the_footage(api_app, evening):
    # the door's theft is 400 s in, the till's last at 500 s; on the clock the door's (00:01:40 on the 2nd) is later
    till, door = evening
    last = ask(api_app, question="when was the last theft?")
    assert last.answer.splitlines()[0] == (
        "The latest of 3 theft events was in door_20261201_235500.mp4, 2026-12-02 00:01:40 by its file name "
        f"(06:40–06:45) [E{last.citations[0]['event_id']}]; latest first:")
    assert [c["t_start"] for c in last.citations] == [400.0, 500.0, 100.0]
    first = ask(api_app, question="when was the first theft on camera door?").answer
    assert first.splitlines()[0].startswith("The only theft event on camera door was in door_20261201_235500.mp4, "
                                            "2026-12-02 00:01:40 by its file name (06:40–06:45)")


def test_a_count_at_pm_hours_keeps_to_the_footage_at_those_hours(api_app, evening):
    assert ask(api_app, question="how many people were seen after 9:05 pm?").answer == (
        "2 distinct people were seen after 21:05 by the clock across 2 videos (person tracks after identity linking).")
    assert ask(api_app, question="how many people were seen between 9 pm and 9:30 pm?").answer == (
        "1 distinct person was seen between 21:00 and 21:30 by the clock in till_20261201_210000.mp4 (person tracks "
        "after identity linking).")
    assert ask(api_app, question="how many people were seen between 2 am and 3 am?").answer == (
        "No analysed footage was recorded between 02:00 and 03:00 by the clock, so there is nothing to count.")
