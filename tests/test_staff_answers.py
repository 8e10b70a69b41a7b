"""Questions about staff and customers: once a staff area is drawn, the staff's events say so, and searches,
counts and answers keep the two apart; before one is drawn, the answer says what to draw."""

from __future__ import annotations

import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app

from core.counts import CountZone, PersonPath, staff_area, staff_tracks
from rag.query import QueryFilters, match_filters, parse_question
from services import zones as zone_service
from services.ask import ask
from services.summaries import generate_summary
from tests.conftest import analysed_from_tracks, AUTH, TOKEN, run_cli, write_clip
from tests.synthetic import line, person
from tests.test_ui_pages import open_page

# the clerk's chest (650, 290) is behind the counter, their foot (650, 500) in front of it
BEHIND = {"name": "behind the counter", "kind": "staff", "polygon": [[500, 150], [800, 150], [800, 330], [500, 330]]}


def _clerk_and_customer():
    clerk = person(3, 0.0, 20.0, (650.0, 500.0), height=300.0, attributes={"gender": "male"})
    customer = person(5, 0.0, 20.0, line((0.0, 100.0, 650.0), (20.0, 1200.0, 650.0)), height=200.0,
                      attributes={"gender": "female"})
    return [clerk, customer]


@pytest.fixture()
def shop(app, clean_db, tmp_path) -> dict:
    """A completed 1280x720 video whose stored rule inputs hold a clerk standing behind the counter and a
    customer walking across the floor."""
    clip = write_clip(tmp_path / "shop.mp4", seconds=20.5, fps=5, size=(1280, 720), moving_box=False)
    tracks = _clerk_and_customer()
    return analysed_from_tracks(app, clip, tracks)


def _events(app, video) -> list[dict]:
    with app.db.connection() as conn:
        return conn.execute("SELECT e.* FROM events e JOIN videos v ON v.current_run_id = e.run_id "
                            "WHERE e.video_id = %s ORDER BY e.t_start, e.type", (video["id"],)).fetchall()


def test_whoever_is_in_the_staff_area_at_least_half_the_time_is_staff():
    t = np.arange(0.0, 10.0, 0.5)
    zone = CountZone("behind", "staff", [(0, 0), (100, 0), (100, 100), (0, 100)])
    half = PersonPath(1, t, np.stack([np.where(t < 5.0, 50.0, 300.0), np.full_like(t, 50.0)], axis=1))
    less = PersonPath(2, t, np.stack([np.where(t < 4.5, 50.0, 300.0), np.full_like(t, 50.0)], axis=1))
    assert (staff_area(half, [zone]), staff_area(less, [zone])) == ("behind", None)
    assert staff_tracks([half, less], [zone]) == {1: "behind"}
    assert staff_tracks([half], [CountZone("behind", "custom", zone.polygon)]) == {}, "only a staff area says staff"


@pytest.mark.parametrize("question, role, zones", [
    ("what did the staff do?", "staff", []),
    ("did any employee or shop assistant take something?", "staff", []),
    ("how many customers were there?", "customer", []),
    ("what happened in the staff area?", None, ["staff"]),
    ("any theft behind the counter?", None, ["staff"]),
    ("any theft at the counter?", None, ["checkout"]),
    ("did staff or customers fall?", None, []),
    ("who was at the cashier?", None, ["checkout"]),
])
def test_the_parser_reads_who_and_the_staff_area(question, role, zones):
    filters = parse_question(question)
    assert (filters.role, filters.zones) == (role, zones)


def test_an_event_of_staff_meets_a_staff_question_and_contradicts_a_customer_one():
    staff = {"type": "standing", "attributes": {"staff_area": "behind the counter", "zone_kind": "shelf"}}
    other = {"type": "standing", "attributes": {"zone_kind": "shelf"}}
    assert [match_filters(QueryFilters(role="staff"), m)["role"] for m in (staff, other)] == [True, False]
    assert [match_filters(QueryFilters(role="customer"), m)["role"] for m in (staff, other)] == [False, True]
    assert [match_filters(QueryFilters(zones=["staff"]), m)["zone"] for m in (staff, other)] == [True, False]


def test_before_a_staff_area_is_drawn_a_question_about_staff_says_to_draw_one(app, shop):
    assert ask(app, question="what did the staff do?", video=shop["id"]).answer == (
        "No staff area is drawn for this video, so staff cannot be told from customers and nothing was searched; "
        "draw one around where the staff work on the video page.")
    assert not any(e["attributes"].get("staff_area") for e in _events(app, shop))
    assert "of them staff" not in generate_summary(app, video_id=shop["id"])["text"]


def test_the_staff_s_events_say_so_and_answers_keep_staff_and_customers_apart(app, shop):
    zone_service.set_video_zones(app, video_id=shop["id"], zones=[BEHIND])
    zone_service.rederive_events(app, video_id=shop["id"])
    events = _events(app, shop)
    clerk = [e for e in events if e["track_number"] == 3]
    walker = [e for e in events if e["track_number"] == 5]
    assert clerk and walker
    assert all(e["attributes"]["staff_area"] == "behind the counter" for e in clerk)
    assert clerk[0]["description"].startswith("A member of staff (a man"), clerk[0]["description"]
    assert not any("staff_area" in e["attributes"] for e in walker)
    assert walker[0]["description"].startswith("A woman")

    clerk_ids, walker_ids = {e["id"] for e in clerk}, {e["id"] for e in walker}
    for question, wanted in (("what did the staff do?", clerk_ids), ("what happened in the staff area?", clerk_ids),
                             ("what did the customers do?", walker_ids)):
        cited = {c["event_id"] for c in ask(app, question=question, video=shop["id"]).citations}
        assert cited and cited <= wanted, (question, cited)

    name = shop["name"]
    assert ask(app, question="how many customers were there?", video=shop["id"]).answer == (
        f"1 customer was seen in {name} (person tracks after identity linking). 1 member of staff (seen in a staff "
        "area most of the time) is not counted.")
    assert ask(app, question="how many staff were there?", video=shop["id"]).answer == (
        f"1 member of staff was seen in {name} (person tracks after identity linking).")
    assert ask(app, question="did any employee steal anything?", video=shop["id"]).answer == (
        "No theft events by staff match. Staff are not judged for theft: handling stock is their job.")
    summary = generate_summary(app, video_id=shop["id"])["text"]
    assert "People: 2 people tracked, 1 of them staff (seen in the staff area most of the time)" in summary, summary


def test_the_api_and_the_events_page_show_the_staff_or_the_customers(app, shop):
    zone_service.set_video_zones(app, video_id=shop["id"], zones=[BEHIND])
    zone_service.rederive_events(app, video_id=shop["id"])
    tracks = {e["id"]: e["track_number"] for e in _events(app, shop)}
    url = f"/v1/videos/{shop['id']}/events"
    with TestClient(create_app(app, token=TOKEN)) as client:
        def who(**params) -> set[int]:
            reply = client.get(url, params=params, headers=AUTH)
            assert reply.status_code == 200, reply.text
            return {tracks[e["id"]] for e in reply.json()["items"]}

        assert (who(), who(staff="true"), who(staff="false")) == ({3, 5}, {3}, {5})
        assert who(zone="behind the counter") == {3}, "a member of staff's events are in their area"
        assert client.get(url, params={"staff": "maybe"}, headers=AUTH).status_code == 422

    listed = run_cli("events", "--video", str(shop["id"]), "--people", "staff", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {e["track_number"] for e in json.loads(listed.stdout)} == {3}

    at = open_page("pages/events.py")

    def staff_rows() -> list[bool]:
        return [d.startswith("A member of staff") for d in at.dataframe[0].value["description"]]

    assert sorted(set(staff_rows())) == [False, True]
    at.selectbox(key="ev_people").set_value("Staff").run()
    assert staff_rows() and all(staff_rows())
    at.selectbox(key="ev_people").set_value("Customers").run()
    assert staff_rows() and not any(staff_rows())
