"""Retail counts: people in and out at an entrance, dwell per zone, per-zone loitering, and count questions."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from core.cameras import recorded_at
from core.counts import CountZone, PersonPath, tally, visits
from gpu_jobs.behaviours import LoiteringRule
from gpu_jobs.types import Zone
from services import zones as zone_service
from services.ask import ask
from services.counts import people_counts, people_per_hour
from services.events import events_per_day
from tests.conftest import AUTH, TOKEN, add_tracked_video, run_cli
from tests.synthetic import DOOR_ZONE as DOOR, TILL_ZONE as TILL, detect, line, of_type, person, store_day

def _paths(tracks) -> list[PersonPath]:
    return [PersonPath(t.number, np.array([o.t for o in t.observations]), np.array([o.foot for o in t.observations]))
            for t in tracks]


def _count_zone(z: dict) -> CountZone:
    return CountZone(z["name"], z["kind"], z["polygon"], z.get("loiter_s"))


def test_people_in_and_out_at_an_entrance_match_the_known_crossings():
    result = tally(_paths(store_day()), [_count_zone(DOOR), _count_zone(TILL)])
    assert (result.people, result.people_in, result.people_out) == (11, 5, 3)
    assert result.entrances == ["front door"]
    till = result.zones["till"]
    assert till["visits"] == 1 and till["people"] == 1 and till["max_dwell_s"] == pytest.approx(45, abs=1)
    # a window counts only the crossings inside it: the first two arrivals step in at 14 s and 44 s
    early = tally(_paths(store_day()), [_count_zone(DOOR)], t_from=0, t_to=50)
    assert (early.people_in, early.people_out) == (2, 0)


def test_a_foot_point_flickering_out_of_a_zone_is_one_visit_and_hours_follow_the_clock():
    t = np.arange(0, 20, 0.2)
    x = np.where((t > 5) & (t < 5.5), 200.0, 50.0)  # out of the zone for half a second
    path = PersonPath(1, t, np.stack([x, np.full_like(t, 50.0)], axis=1))
    zone = CountZone("aisle", "custom", [(0, 0), (100, 0), (100, 100), (0, 100)])
    (visit,) = visits([path], [zone])
    assert visit.t_enter == 0 and visit.t_exit == pytest.approx(19.8)
    # footage from 10:59:50: its first ten seconds fall in the 10:00 hour, the rest in 11:00
    hours = tally([path], [zone], clock_offset_s=59 * 60 + 50).hours
    assert [h["hour"] for h in hours] == [0, 1] and all(h["people"] == 1 for h in hours)


def test_a_zone_with_its_own_limit_judges_loitering_there_however_the_person_moves():
    till = Zone("till", "checkout", [(500, 500), (800, 500), (800, 720), (500, 720)], loiter_s=20.0)
    pacing = person(1, 0.0, 30.0, lambda t: (520 + 250 * abs(np.sin(t / 3)), 600), height=100.0)  # paces, 30 s
    brief = person(2, 0.0, 10.0, lambda t: (600, 600))  # 10 s: under the till's limit
    events = of_type(detect(LoiteringRule, [pacing, brief], [till]), "loitering")
    assert [(e.track_number, e.zone) for e in events] == [(1, "till")]
    assert events[0].attributes["zone_limit_s"] == 20.0 and events[0].attributes["dwell_s"] >= 20.0
    # without its own limit the same pacing is not loitering: the global rule wants someone staying put
    plain = Zone("till", "checkout", till.polygon)
    assert of_type(detect(LoiteringRule, [pacing], [plain]), "loitering") == []


# a shelf or till is drawn over the fixture, so who stands against it has their feet just outside it
COUNTER = {"name": "counter", "kind": "shelf", "polygon": [[500, 200], [800, 200], [800, 500], [500, 500]]}


def _tall_paths(tracks) -> list[PersonPath]:
    return [PersonPath(t.number, np.array([o.t for o in t.observations]), np.array([o.foot for o in t.observations]),
                       np.array([o.height for o in t.observations])) for t in tracks]


def test_standing_against_a_shelf_is_a_visit_and_walking_past_it_is_not():
    tracks = [
        person(1, 0.0, 20.0, (650.0, 540.0), height=200.0),  # feet 40 px in front of the counter: within reach
        person(2, 0.0, 10.0, line((0.0, 100.0, 540.0), (10.0, 1200.0, 540.0)), height=200.0),  # walks along it
        person(3, 0.0, 20.0, (650.0, 640.0), height=200.0),  # 0.7 body heights in front of it
        person(4, 0.0, 20.0, line((0.0, 300.0, 540.0), (5.0, 650.0, 540.0), (8.0, 650.0, 540.0),
                                  (12.0, 1200.0, 540.0)), height=200.0),  # walks up, stops 3 s, walks on
    ]
    found = visits(_tall_paths(tracks), [_count_zone(COUNTER)])
    assert [(v.track, v.t_exit - v.t_enter >= 3.0) for v in found] == [(1, True), (4, True)]
    assert found[0].t_enter == 0.0 and found[0].t_exit == pytest.approx(20.0, abs=0.3)
    # floor at the same place (an aisle, a door) counts feet inside only
    aisle = CountZone("aisle", "custom", COUNTER["polygon"])
    assert visits(_tall_paths(tracks), [aisle]) == []


def test_how_many_went_to_a_shelf_drawn_over_the_fixture_counts_who_stood_at_it(api_app):
    video = add_tracked_video(api_app, [
        person(1, 0.0, 20.0, (650.0, 540.0), height=200.0),
        person(2, 0.0, 10.0, line((0.0, 100.0, 540.0), (10.0, 1200.0, 540.0)), height=200.0),
    ])
    zone_service.set_video_zones(api_app, video_id=video["id"], zones=[COUNTER])
    assert _answer(api_app, "how many people went to the counter?").startswith(
        "1 distinct person was seen at the counter")
    dwell = _answer(api_app, "how long did people stay at the counter?")
    assert "- counter (shelf): 00:20 on average, longest 00:20, 1 visit by 1 person." in dwell, dwell


@pytest.mark.parametrize("name, expected", [
    ("store_cam2_20261201_100000.mp4", (2026, 12, 1, 10, 0, 0)),
    ("door 2026-12-01 10-30-15.mkv", (2026, 12, 1, 10, 30, 15)),
    ("vtest.avi", None),
    ("cam_20261301_100000.mp4", None),  # month 13: not a time stamp
])
def test_the_footage_start_comes_from_the_file_name_when_it_has_one(name, expected):
    got = recorded_at(name)
    assert (got.timetuple()[:6] if got else None) == expected


# ---- stored: API, CLI, ask, dashboard -----------------------------------------------------------

def _answer(app, question: str) -> str:
    return ask(app, question=question).answer


@pytest.fixture()
def client(api_app):
    with TestClient(create_app(api_app, token=TOKEN), raise_server_exceptions=False) as c:
        yield c


def test_counts_over_the_api_follow_the_zones_drawn_later(client, api_app):
    video = add_tracked_video(api_app, store_day())
    url = f"/v1/videos/{video['id']}/counts"
    before = client.get(url, headers=AUTH).json()
    assert before["people"] == 11 and before["entrances"] == [] and before["people_in"] == 0

    put = client.put(f"/v1/videos/{video['id']}/zones", headers=AUTH,
                     json={"zones": [DOOR, {**TILL, "loiter_s": 30}]})
    assert put.status_code == 200, put.text
    assert {z["name"]: z.get("loiter_s") for z in put.json()["zones"]} == {"front door": None, "till": 30.0}
    after = client.get(url, headers=AUTH).json()
    assert (after["people_in"], after["people_out"], after["entrances"]) == (5, 3, ["front door"])
    assert after["zones"]["till"]["loitering"] == 1 and after["zones"]["till"]["loiter_s"] == 30.0
    assert after["starts_at"] == "2026-12-01T10:00:00" and after["starts_at_from"] == "file name"
    assert [(h["starts_at"], h["in"], h["out"]) for h in after["hours"]] == [("2026-12-01T10:00:00", 5, 3)]
    assert sum(v["direction"] == "in" for v in after["visits"]) == 5

    window = client.get(url, params={"t_from": 0, "t_to": 50}, headers=AUTH).json()
    assert window["people_in"] == 2
    bad = client.get(url, params={"t_from": 50, "t_to": 10}, headers=AUTH)
    assert bad.status_code == 422 and "before" in bad.json()["error"]["message"]
    assert client.get(f"/v1/videos/{uuid.uuid4()}/counts", headers=AUTH).status_code == 404
    refused = client.put(f"/v1/videos/{video['id']}/zones", headers=AUTH, json={"zones": [{**TILL, "loiter_s": -5}]})
    assert refused.status_code == 422 and "loiter_s" in refused.json()["error"]["message"]
    assert client.get(f"/v1/videos/{video['id']}/zones", headers=AUTH).json()["zones"][1]["loiter_s"] == 30.0


def test_count_questions_are_answered_from_the_counts(api_app):
    video = add_tracked_video(api_app, store_day())
    no_door = _answer(api_app, "how many people came in?")
    assert no_door.startswith("No entrance zone is drawn") and "11 distinct people were seen" in no_door
    assert _answer(api_app, "how many people went to the checkout?") == (
        "No checkout zone is drawn in front_20261201_100000.mp4, so who went there cannot be counted; draw one on "
        "the video page.")

    zone_service.set_video_zones(api_app, video_id=video["id"], zones=[DOOR, TILL])
    assert _answer(api_app, "how many people came in?").startswith("5 people came in, counted at the entrance")
    assert _answer(api_app, "how many people left the store?").startswith("3 people went out")
    assert _answer(api_app, "how many people came in during the first 50 seconds?").startswith("2 people came in")
    # the file name says the footage starts at 10:00: clock times count the footage they fall in
    clock = _answer(api_app, "how many people came in between 10:00 and 10:01?")
    assert clock.startswith("2 people came in between 10:00 and 10:01 by the clock"), clock
    # a time with seconds is a time of the footage, not of the clock (stepping in at 14, 44 and 74 s)
    assert _answer(api_app, "how many people came in between 00:00:00 and 00:01:40?").startswith("3 people came in")
    dwell = _answer(api_app, "how long did people stay at the checkout?")
    # within reach of the till from 21.4 s to 68.8 s; those who walk past its corner made no visit
    assert "- till (checkout): 00:47 on average" in dwell and "1 visit by 1 person" in dwell
    # who stayed the longest is the longest visit, told with its person, not the longest event
    assert _answer(api_app, "who stayed the longest at the checkout?") == (
        "The longest stay at the till was 00:47, by a person whose looks were not recognised, 00:21–01:08 in "
        "front_20261201_100000.mp4.")
    # "the door" is any exit or entrance zone, and a zone's own name asks for that zone alone
    assert _answer(api_app, "how long did people stay at the door?").splitlines()[1].startswith(
        "- front door (entrance): ")
    assert _answer(api_app, "how long did people wait at the till?").splitlines()[1:] == [dwell.splitlines()[1]]
    # people at a zone are those who stood at it: the one at the till, the ten who crossed the door's
    assert _answer(api_app, "how many people went to the till?") == (
        "1 distinct person was seen at the till in front_20261201_100000.mp4 (person tracks after identity linking).")
    assert _answer(api_app, "how many people were at the door in the first 50 seconds?").startswith(
        "2 distinct people were seen at the door between 00:00 and 00:50 in")  # any exit or entrance, as asked
    assert _answer(api_app, "how many people went to the cash register?").startswith(
        "1 distinct person was seen at the register in")  # the till drawn, told in the question's own word
    counted = ask(api_app, question="how many people came in?")
    assert counted.search_method == "counts" and counted.citations == []  # no event search for a count
    people = _answer(api_app, "how many people were there?")
    assert people.startswith("11 distinct people were seen")

    flow = people_per_hour(api_app, days=3650)
    assert [(h["in"], h["out"], h["with_entrance"]) for h in flow.hours] == [(5, 3, 1)]
    assert flow.people == 11
    assert people_counts(api_app, video_id=video["id"])["people_in"] == 5


def test_the_dashboard_counts_a_person_seen_in_two_hours_once(api_app):
    # footage starting 10:59:30 (its file name): one shopper walks from 0 to 60 s, across 11:00
    add_tracked_video(api_app, [person(1, 0.0, 60.0, lambda t: (100.0 + 10 * t, 600.0))],
                      name="front_20261201_105930.mp4")
    flow = people_per_hour(api_app, days=3650)
    assert [(h["hour"].hour, h["people"]) for h in flow.hours] == [(10, 1), (11, 1)]
    assert flow.people == 1  # not the 2 the hours add up to


def test_count_questions_keep_to_the_day_asked(api_app):
    video = add_tracked_video(api_app, store_day())  # front_20261201_100000.mp4: 1 December from 10:00
    zone_service.set_video_zones(api_app, video_id=video["id"], zones=[DOOR])
    assert _answer(api_app, "how many people came in on 1 December 2026?").startswith(
        "5 people came in on 2026-12-01, counted at")
    assert _answer(api_app, "how many people came in on 2026-11-30?") == (
        "No analysed footage was recorded on 2026-11-30, so there is nothing to count.")


def test_the_busiest_moment_comes_from_the_frames_and_the_hour_from_the_tracks(api_app):
    from core.counts import busiest_frame

    # footage from 10:59:50: three shoppers, all on screen at 8 s (10:59:58); two of them into 11:00
    tracks = [person(1, 0.0, 10.0, (200.0, 600.0)), person(2, 5.0, 20.0, (600.0, 600.0)),
              person(3, 8.0, 9.0, (900.0, 600.0))]
    seen: dict[float, int] = {}
    for track in tracks:
        for o in track.observations:
            seen[o.t] = seen.get(o.t, 0) + 1
    stats = [{"t": t, "frame": int(round(t * 5)), "counts": {"person": n}} for t, n in sorted(seen.items())]
    assert busiest_frame(stats) == (8.0, 3) and busiest_frame(stats, t_from=9.5) == (9.6, 2)
    assert busiest_frame([]) == (None, 0)
    add_tracked_video(api_app, tracks, name="front_20261201_105950.mp4", frame_stats=stats)
    assert _answer(api_app, "when was the store busiest?") == (
        "The busiest moment was 00:08 in front_20261201_105950.mp4 (2026-12-01 10:59 by its file name), with 3 "
        "people on screen at once; the busiest hour was 2026-12-01 10:00-11:00, with 3 distinct people.")
    assert _answer(api_app, "what was the peak time after 12 seconds?").startswith(
        "The busiest moment after 00:12 was 00:12 in front_20261201_105950.mp4")
    assert ask(api_app, question="when was it busiest?").search_method == "counts"
    # on the wall clock: from 11:00:00, 10 s in, only two of them were left
    assert _answer(api_app, "when was the store busiest after 11 am?") == (
        "The busiest moment after 11:00 by the clock was 00:10 in front_20261201_105950.mp4 (2026-12-01 11:00 by its "
        "file name), with 2 people on screen at once.")


def test_footage_known_only_by_its_upload_time_is_read_on_the_stores_clock(api_app):
    from core.cameras import footage_start
    from services.counts import people_counts

    # uploaded at 23:59:50 UTC on 1 December: 00:59:50 on the 2nd in Berlin, where the store is
    api_app.settings = api_app.settings.model_copy(update={"timezone": "Europe/Berlin"})
    tracks = [person(1, 0.0, 20.0, (200.0, 600.0)), person(2, 2.0, 20.0, (600.0, 600.0))]
    stats = [{"t": float(t), "frame": t * 5, "counts": {"person": 2}} for t in range(3, 20)]
    video = add_tracked_video(api_app, tracks, name="front.mp4", frame_stats=stats, events=[
        {"type": "standing", "t_start": 3.0, "t_end": 9.0, "description": "Two people stand."}])
    with api_app.db.connection() as conn:
        conn.execute("UPDATE videos SET created_at = '2026-12-01 23:59:50+00' WHERE id = %s", (video["id"],))
        video = conn.execute("SELECT * FROM videos WHERE id = %s", (video["id"],)).fetchone()
    assert footage_start(video) == (datetime(2026, 12, 1, 23, 59, 50), "upload time")  # UTC without a zone
    assert footage_start(video, api_app.settings.zone) == (datetime(2026, 12, 2, 0, 59, 50), "upload time")
    assert people_counts(api_app, video_id=video["id"])["starts_at"] == "2026-12-02T00:59:50"
    days = events_per_day(api_app, days=100_000)
    assert [(d["day"].date().isoformat(), d["type"], d["n"]) for d in days] == [("2026-12-02", "standing", 1)]
    assert _answer(api_app, "when was the store busiest?") == (
        "The busiest moment was 00:03 in front.mp4 (2026-12-02 00:59 by its upload time), with 2 people on screen "
        "at once; the busiest hour was 2026-12-02 00:00-01:00, with 2 distinct people.")
    assert _answer(api_app, "how many people were seen on 2026-12-02?").startswith("2 distinct people were seen on")
    assert _answer(api_app, "how many people were seen on 2026-12-01?").startswith("No analysed footage")



def test_events_per_day_fall_on_the_footage_days_not_the_upload_day(api_app):
    # footage from 23:59:50 on 25 November (its file name), uploaded today: one event before midnight, two after
    add_tracked_video(api_app, [person(1, 0.0, 30.0, (200.0, 600.0))], name="front_20261125_235950.mp4", events=[
        {"type": "standing", "t_start": 3.0, "t_end": 6.0, "description": "A person stands."},
        {"type": "walking", "t_start": 12.0, "t_end": 20.0, "description": "A person walks."},
        {"type": "standing", "t_start": 21.0, "t_end": 25.0, "description": "A person stands."}])
    days = [(d["day"].date().isoformat(), d["type"], d["n"]) for d in events_per_day(api_app, days=30)]
    assert days == [("2026-11-25", "standing", 1), ("2026-11-26", "standing", 1), ("2026-11-26", "walking", 1)]
    assert events_per_day(api_app, days=0) == []  # uploaded before the period began


def test_a_count_of_who_keeps_the_people_who_may_fit_and_says_how_many_were_not_recognised(api_app):
    tracks = [person(n, 0.0, 20.0, (200.0 + 200 * n, 600.0)) for n in (1, 2, 3, 4)]
    video = add_tracked_video(api_app, tracks, name="front.mp4")
    looks = {1: {"gender": "female", "clothing_colour": "red"}, 2: {"gender": "male", "clothing_colour": "red"},
             3: {"gender": "unknown"}, 4: {"gender": "female", "clothing_colour": "black"}}
    with api_app.db.connection() as conn:
        for number, attributes in looks.items():
            conn.execute("UPDATE tracks SET attributes = %s WHERE video_id = %s AND track_number = %s",
                         (json.dumps(attributes), video["id"], number))
    assert _answer(api_app, "how many women were seen?") == (
        "3 distinct people were seen in front.mp4 (person tracks after identity linking). Only women were counted, "
        "with the 1 of them whose looks were not recognised.")
    assert _answer(api_app, "how many people in red were seen?").startswith("3 distinct people were seen")
    assert _answer(api_app, "how many men in black were seen?").endswith(
        "None was recognised as men in black: the people counted are those whose looks were not recognised.")
    assert _answer(api_app, "how many people were seen?") == (
        "4 distinct people were seen in front.mp4 (person tracks after identity linking).")
    # yes or no: known to be there, perhaps (only unrecognised people), or nobody at all
    assert _answer(api_app, "were there any women?").startswith("Yes. 3 distinct people were seen in front.mp4")
    assert _answer(api_app, "were there any men in black?").startswith("Possibly. 1 distinct person was seen")
    assert _answer(api_app, "were there any kids after 00:30?").startswith("No. 0 distinct people were seen")
    assert ask(api_app, question="were there any kids?").search_method == "counts"


def test_a_count_after_an_event_counts_the_minute_after_it_in_its_video(api_app):
    tracks = [person(1, 0.0, 10.0, (200.0, 600.0)), person(2, 30.0, 40.0, (400.0, 600.0)),
              person(3, 50.0, 60.0, (600.0, 600.0)), person(4, 200.0, 210.0, (800.0, 600.0))]
    video = add_tracked_video(api_app, tracks, name="front.mp4", events=[
        {"track_number": 1, "type": "theft", "t_start": 5.0, "t_end": 8.0, "description": "A man hides a bottle."}])
    with api_app.db.connection() as conn:
        theft = conn.execute("SELECT id FROM events WHERE video_id = %s", (video["id"],)).fetchone()["id"]
    result = ask(api_app, question="how many people were seen after the theft?")
    # the thief until 00:10 and the two who came after, within the minute after 00:08; not the one at 03:20
    assert result.answer == (f"After the theft at 00:05–00:08 in front.mp4 [E{theft}]: 3 distinct people were seen "
                             "between 00:08 and 01:08 in front.mp4 (person tracks after identity linking).")
    assert [c["event_id"] for c in result.citations] == [theft]
    assert _answer(api_app, "how many people were seen after the fight?") == (
        "No violent events match, so there is nothing to count after.")


def test_cli_counts(api_app):
    video = add_tracked_video(api_app, store_day())
    zone_service.set_video_zones(api_app, video_id=video["id"], zones=[DOOR])
    shown = run_cli("counts", str(video["id"]), "--to", "0:50", "--json", timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["people_in"] == 2
    text = run_cli("counts", str(video["id"]), timeout=120)
    assert "5 in, 3 out at front door" in text.stdout
    wrong = run_cli("counts", str(video["id"]), "--from", "1:00", "--to", "0:10", timeout=120)
    assert wrong.returncode != 0 and "--to must not be before --from" in wrong.stderr


def test_a_recording_start_given_for_the_video_drives_its_hours_and_clock_questions(client, api_app):
    from core.cameras import parse_recorded_at

    video = add_tracked_video(api_app, store_day(), name="front.mp4")  # no time in the name
    zone_service.set_video_zones(api_app, video_id=video["id"], zones=[DOOR])
    url = f"/v1/videos/{video['id']}/recorded-at"
    assert client.get(f"/v1/videos/{video['id']}/counts", headers=AUTH).json()["starts_at_from"] == "upload time"
    assert "by the clock" not in _answer(api_app, "how many people came in between 14:30 and 14:31?")

    put = client.put(url, headers=AUTH, json={"recorded_at": "2026-12-01 14:30"})
    assert put.status_code == 200 and put.json()["recorded_at"] == "2026-12-01T14:30:00", put.text
    counted = client.get(f"/v1/videos/{video['id']}/counts", headers=AUTH).json()
    assert (counted["starts_at"], counted["starts_at_from"]) == ("2026-12-01T14:30:00", "set at upload")
    clock = _answer(api_app, "how many people came in between 14:30 and 14:31?")
    assert clock.startswith("2 people came in between 14:30 and 14:31 by the clock"), clock

    for bad, says in [("half past two", "is not a date and time"), ("2026-12-01", "has no time of day"),
                      ("1800-01-01 10:00", "between the years")]:
        refused = client.put(url, headers=AUTH, json={"recorded_at": bad})
        assert refused.status_code == 422 and says in refused.json()["error"]["message"], refused.text
    assert client.get(f"/v1/videos/{video['id']}", headers=AUTH).json()["recorded_at"] == "2026-12-01T14:30:00"
    assert client.put(f"/v1/videos/{uuid.uuid4()}/recorded-at", headers=AUTH,
                      json={"recorded_at": "2026-12-01 14:30"}).status_code == 404
    forgot = client.put(url, headers=AUTH, json={"recorded_at": None})
    assert forgot.status_code == 200 and forgot.json()["recorded_at"] is None
    # the camera's wall clock as written: an offset is not applied
    assert parse_recorded_at("2026-12-01T10:00:05+01:00").isoformat() == "2026-12-01T10:00:05"


def test_an_upload_field_sets_the_recording_start_and_a_bad_one_stores_nothing(client, api_app, tmp_path):
    from db.repos import videos
    from tests.conftest import write_clip

    clip = write_clip(tmp_path / "till.mp4", seconds=2)

    def post(fields: dict, path=clip):
        with open(path, "rb") as f:
            return client.post("/v1/videos", headers=AUTH, data=fields, files={"file": (path.name, f, "video/mp4")})

    with api_app.db.connection() as conn:
        before = len(videos.list_videos(conn))
    bad = post({"recorded_at": "tomorrow"})
    assert bad.status_code == 422 and "is not a date and time" in bad.json()["error"]["message"]
    with api_app.db.connection() as conn:
        assert len(videos.list_videos(conn)) == before  # refused before the file was stored
    good = post({"recorded_at": "2026-12-01 09:15"})
    assert good.status_code == 202, good.text
    shown = client.get(f"/v1/videos/{good.json()['video_id']}", headers=AUTH).json()
    assert shown["recorded_at"] == "2026-12-01T09:15:00"

    wrong = run_cli("analyze", str(clip), "--recorded-at", "noon", timeout=120)
    assert wrong.returncode == 2 and "argument --recorded-at" in wrong.stderr and "is not a date" in wrong.stderr


def test_the_first_to_arrive_and_the_last_to_leave_are_read_on_the_wall_clock(api_app):
    # the till footage starts at 10:00, the door's at 09:59:30 (file names): its walker arrives first on the clock
    till = [person(1, 0.0, 30.0, (200.0, 600.0)), person(2, 12.0, 80.0, (600.0, 600.0))]
    video = add_tracked_video(api_app, till, name="till_20261201_100000.mp4")
    with api_app.db.connection() as conn:
        conn.execute("UPDATE tracks SET attributes = %s WHERE video_id = %s AND track_number = 2",
                     (json.dumps({"gender": "female", "clothing_colour": "red"}), video["id"]))
    add_tracked_video(api_app, [person(1, 20.0, 40.0, (200.0, 600.0))], name="door_20261201_095930.mp4")
    assert _answer(api_app, "who came in first?") == (
        "Across 2 videos, the first person to arrive arrived at 00:20 in door_20261201_095930.mp4 "
        "(2026-12-01 09:59:50 by its file name): a person whose looks were not recognised (seen 00:20–00:40).")
    assert _answer(api_app, "when did the last person leave?") == (
        "Across 2 videos, the last person to leave left at 01:20 in till_20261201_100000.mp4 "
        "(2026-12-01 10:01:20 by its file name): a female in red (seen 00:12–01:20).")
    assert _answer(api_app, "who arrived first in till_20261201_100000?") == (
        "The first person to arrive was already on screen when the footage starts in till_20261201_100000.mp4 "
        "(2026-12-01 10:00:00 by its file name): a person whose looks were not recognised (seen 00:00–00:30).")
    assert ask(api_app, question="when did the last theft happen?").search_method != "counts"  # an event's question


def test_counts_at_a_24_hour_time_keep_to_the_footage_the_clock_puts_there(api_app):
    # till footage from 10:00 (file name): one shopper 00:00-00:30, one 00:12-01:20; the door's from 09:59:30
    add_tracked_video(api_app, [person(1, 0.0, 30.0, (200.0, 600.0)), person(2, 12.0, 80.0, (600.0, 600.0))],
                      name="till_20261201_100000.mp4")
    add_tracked_video(api_app, [person(1, 20.0, 40.0, (200.0, 600.0))], name="door_20261201_095930.mp4")
    # "after 10:01" was 10 min 1 s into each footage, and nobody was counted
    assert _answer(api_app, "how many people were seen after 10:01?") == (
        "1 distinct person was seen after 10:01 by the clock across 2 videos (person tracks after identity linking).")
    # someone still on screen at 10:01 did not leave before it; the last to do so left the till at 10:00:30
    assert _answer(api_app, "who was the last person to leave before 10:01?") == (
        "Across 2 videos, the last person to leave before 10:01 by the clock left at 00:30 in "
        "till_20261201_100000.mp4 (2026-12-01 10:00:30 by its file name): a person whose looks were not recognised "
        "(seen 00:00–00:30).")
    assert _answer(api_app, "who was the first to arrive after 10:00?").startswith(
        "Across 2 videos, the first person to arrive after 10:00 by the clock was already on screen when the footage "
        "starts in till_20261201_100000.mp4 (2026-12-01 10:00:00 by its file name)")  # the door's came at 09:59:50
    # time on camera counts only the minutes asked: 01:00-01:20 of the second shopper
    assert _answer(api_app, "how long did people stay after 10:01?") == (
        "People stayed in view 00:20 on average (longest 00:20, 1 person) after 10:01 by the clock across 2 videos; "
        "no zones are drawn, so this is time on camera.")
    assert _answer(api_app, "how long did people stay?").startswith(
        "People stayed in view 00:39 on average (longest 01:08, 3 people)")  # (30 + 68 + 20) / 3


def test_a_count_at_hours_no_clock_known_footage_covers_says_none_was_recorded(api_app):
    # the file name says 10:00-10:10: 14:30 is no time of this footage on the clock, nor 14 h 30 min into it
    add_tracked_video(api_app, [person(1, 0.0, 30.0, (200.0, 600.0))], name="till_20261201_100000.mp4")
    assert _answer(api_app, "how many people were seen between 14:30 and 14:45?") == (
        "No analysed footage was recorded between 14:30 and 14:45 by the clock, so there is nothing to count.")
