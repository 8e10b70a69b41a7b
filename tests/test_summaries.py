"""Per-video summaries: structured text, background status transitions, cache, regenerate, failure."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableLambda

from tests.conftest import run_cli

PEOPLE = {
    1: {"gender": "male", "age_group": "young", "clothing_colour": "red"},
    2: {"gender": "female", "age_group": "young", "clothing_colour": "unknown"},
    3: {"gender": "male", "age_group": "old"},
}
EVENTS = [
    (1, "walking", 2.0, 9.0, "left", "A young man in red walks in on the left."),
    (2, "walking", 5.0, 12.0, "centre", "A young woman walks through the centre."),
    (3, "standing", 20.0, 31.0, "right", "An old man stands still on the right."),
    (1, "picking", 40.0, 42.0, "shelf", "A young man in red picks up a bottle from the shelf."),
    (1, "theft", 44.5, 50.0, "shelf", "A young man in red hides a bottle in his jacket."),
    (2, "walking", 70.0, 80.0, "exit", "A young woman walks to the exit."),
]


def _seed(app, name: str = "shop.mp4", *, analysed: bool = True) -> str:
    from db.repos import runs, videos

    with app.db.connection() as conn:
        video = videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=None, size_bytes=0,
                              meta={"duration_s": 95.0, "fps": 25.0, "width": 768, "height": 576})
        if analysed:
            runs.write_run(
                conn, video_id=video["id"], run_id=uuid.uuid4(),
                tracks=[{"track_number": n, "class_name": "person", "t_first": 0.0, "t_last": 90.0, "attributes": a}
                        for n, a in PEOPLE.items()] + [
                       {"track_number": 9, "class_name": "bottle", "t_first": 0.0, "t_last": 44.0, "attributes": {}}],
                events=[{"track_number": n, "type": k, "t_start": a, "t_end": b, "zone": z, "confidence": 0.8,
                         "description": d} for n, k, a, b, z, d in EVENTS],
                # two people on screen, three at 00:21
                frame_stats=[{"t": float(t), "frame": t * 25, "counts": {"person": 3 if t == 21 else 2}}
                             for t in range(0, 95)],
            )
    return str(video["id"])


def _wait_for(app, video_id: str, statuses: set[str], timeout: float = 30.0) -> dict:
    from rag.summaries import get_summary

    deadline = time.time() + timeout
    while time.time() < deadline:
        row = get_summary(app, video_id)
        if row and row["status"] in statuses:
            return row
        time.sleep(0.05)
    raise AssertionError(f"summary never reached {statuses}: {get_summary(app, video_id)}")


def test_structured_summary_has_duration_people_events_and_timeline(app, clean_db):
    from rag.summaries import generate_summary, get_summary

    video_id = _seed(app)
    assert get_summary(app, video_id) is None

    row = generate_summary(app, video_id)

    assert row["status"] == "completed" and row["model"] == "structured" and row["error"] is None
    assert row["text"].splitlines() == [
        "shop.mp4: 01:35 of video (768x576, 25 fps).",
        "Incidents: 1 theft (00:44).",
        "People: 3 people tracked (2 male, 1 female; 2 young, 1 old; 1 in red); at most 3 on screen at once (00:21).",
        "Objects: 1 bottle.",
        "Events: 3 walking, 1 picking, 1 standing, 1 theft.",
        "Timeline:",
        "- 00:02–00:09 first walking: A young man in red walks in on the left",
        "- 00:20–00:31 first standing: An old man stands still on the right",
        "- 00:21 busiest moment: 3 people on screen",
        "- 00:40–00:42 first picking: A young man in red picks up a bottle from the shelf",
        "- 00:44–00:50 theft: A young man in red hides a bottle in his jacket",
    ]
    assert get_summary(app, video_id) == row  # cached


def test_background_summary_goes_pending_processing_completed(app, clean_db):
    from rag.summaries import request_summary, summary_thread

    video_id = _seed(app)
    release = threading.Event()

    def slow_model(prompt):
        release.wait(30)  # hold the writer so the test can see 'processing'
        return AIMessage("An LLM summary: a young man hid a bottle at 00:44.")

    row = request_summary(app, video_id, chat_model=RunnableLambda(slow_model))
    assert row["status"] == "pending"
    processing = _wait_for(app, video_id, {"processing"})
    assert processing["text"] is None
    # a second request while one is being written starts no second writer
    thread = summary_thread(video_id)
    assert thread is not None
    assert request_summary(app, video_id)["status"] == "processing"
    assert summary_thread(video_id) is thread

    release.set()
    thread.join(30)
    done = _wait_for(app, video_id, {"completed"})
    assert done["text"] == "An LLM summary: a young man hid a bottle at 00:44."
    assert done["model"] not in (None, "structured")
    assert summary_thread(video_id) is None


def test_regenerate_replaces_the_text_and_a_failing_model_falls_back(app, clean_db):
    from rag.summaries import generate_summary

    video_id = _seed(app)
    first = generate_summary(app, video_id, chat_model=RunnableLambda(lambda p: AIMessage("First version.")))
    assert first["text"] == "First version."

    def broken(prompt):
        raise ConnectionError("model unreachable")

    again = generate_summary(app, video_id, chat_model=RunnableLambda(broken))
    assert again["status"] == "completed" and again["model"] == "structured"
    assert again["text"].startswith("shop.mp4: 01:35 of video")
    assert again["updated_at"] > first["updated_at"]


def test_a_new_analysis_run_makes_the_summary_stale_until_it_is_rewritten(app, clean_db):
    from api import SummaryOut
    from db.repos import runs, videos
    from rag.summaries import generate_summary, get_summary, request_summary

    video_id = _seed(app)
    first = generate_summary(app, video_id)
    with app.db.connection() as conn:
        first_run = videos.get(conn, video_id)["current_run_id"]
    assert first["run_id"] == first_run and first["stale"] is False
    assert "1 theft" in first["text"]

    new_run = uuid.uuid4()
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=uuid.UUID(video_id), run_id=new_run,
                       tracks=[{"track_number": 1, "class_name": "person", "t_first": 0.0, "t_last": 60.0,
                                "attributes": {"gender": "female"}}],
                       events=[{"track_number": 1, "type": "collapse", "t_start": 30.0, "t_end": 41.0,
                                "zone": "centre", "confidence": 0.9, "description": "A woman collapses."}],
                       frame_stats=[])

    stale = get_summary(app, video_id)
    assert stale["stale"] is True and stale["run_id"] == first_run
    assert stale["text"] == first["text"]  # still readable, but flagged
    assert SummaryOut.model_validate(stale).stale is True  # what GET /v1/videos/{id}/summary answers

    # what the video page does on seeing a stale summary
    request_summary(app, video_id)
    fresh = _wait_for(app, video_id, {"completed", "failed"})
    assert fresh["status"] == "completed" and fresh["stale"] is False and fresh["run_id"] == new_run
    assert "Events: 1 collapse." in fresh["text"] and "theft" not in fresh["text"]
    assert "People: 1 person tracked (1 female)" in fresh["text"]
    assert SummaryOut.model_validate(fresh).stale is False


def test_a_summary_from_before_run_ids_were_recorded_reads_as_stale(app, clean_db):
    from db.repos import summaries
    from rag.summaries import get_summary

    video_id = _seed(app)
    with app.db.connection() as conn:
        summaries.set_status(conn, uuid.UUID(video_id), "completed", text="Old text.", model="structured")
    assert get_summary(app, video_id)["stale"] is True


def test_cli_summary_rewrites_a_stale_summary(app, clean_db):
    from db.repos import runs

    video_id = _seed(app)
    first = json.loads(run_cli("summary", video_id, "--json").stdout)
    assert "1 theft" in first["text"]
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=uuid.UUID(video_id), run_id=uuid.uuid4(), tracks=[], frame_stats=[],
                       events=[{"type": "crowding", "t_start": 5.0, "t_end": 9.0, "confidence": 0.7,
                                "description": "Five people crowd the till."}])
    again = json.loads(run_cli("summary", video_id, "--json").stdout)
    assert again["updated_at"] > first["updated_at"]
    assert "Events: 1 crowding." in again["text"] and "theft" not in again["text"]


def test_failure_is_recorded_as_failed(app, clean_db):
    from rag.summaries import SummaryUnavailable, generate_summary, request_summary

    video_id = _seed(app, "not-yet.mp4", analysed=False)
    assert request_summary(app, video_id)["status"] == "pending"
    failed = _wait_for(app, video_id, {"failed"})
    assert failed["error"] == "Video not-yet.mp4 has not been analysed yet; analyse it before asking for a summary."

    with pytest.raises(SummaryUnavailable, match="has not been analysed yet"):
        generate_summary(app, video_id)
    with pytest.raises(LookupError, match="No video"):
        request_summary(app, str(uuid.uuid4()))


def test_cli_summary_caches_and_regenerates(app, clean_db):
    video_id = _seed(app)

    first = run_cli("summary", video_id, "--json")
    assert first.returncode == 0, first.stderr
    payload = json.loads(first.stdout)
    assert payload["status"] == "completed" and payload["video_name"] == "shop.mp4"
    assert "Events: 3 walking" in payload["text"]

    cached = json.loads(run_cli("summary", "shop.mp4", "--json").stdout)
    assert cached["updated_at"] == payload["updated_at"]
    fresh = json.loads(run_cli("summary", video_id, "--regenerate", "--json").stdout)
    assert fresh["updated_at"] > payload["updated_at"]

    text = run_cli("summary", video_id)
    assert text.stdout.startswith("shop.mp4: 01:35 of video")

    _seed(app, "not-yet.mp4", analysed=False)
    failed = run_cli("summary", "not-yet.mp4")
    assert failed.returncode == 1
    assert failed.stderr.strip() == ("sentinel: Video not-yet.mp4 has not been analysed yet; "
                                     "analyse it before asking for a summary.")


def test_the_summary_says_its_incidents_second_or_that_none_were_seen():
    from rag.summaries import SummaryFacts, notable_moments, structured_summary

    def event(n: int, kind: str, t: float) -> dict:
        return {"event_id": n, "type": kind, "t_start": t, "t_end": t + 2, "zone": None,
                "description": f"A {kind}.", "confidence": 0.9}

    events = [event(1, "violent", 41.0), event(2, "collapse", 46.0), event(3, "violent", 67.0),
              event(4, "concealment", 70.0), *(event(10 + n, "theft", 100.0 + 10 * n) for n in range(4)),
              event(20, "walking", 5.0)]
    facts = SummaryFacts(name="till.mp4", duration_s=300.0, events=events)
    assert structured_summary(facts).splitlines()[1] == (
        "Incidents: 4 theft (01:40, 01:50, 02:00, ...), 1 concealment (01:10), 1 collapse (00:46), "
        "2 violent (00:41, 01:07).")
    assert "01:10–01:12 concealment: A concealment" in [m["text"] for m in notable_moments(facts)]
    quiet = SummaryFacts(name="quiet.mp4", duration_s=60.0, events=[event(1, "walking", 5.0)])
    assert structured_summary(quiet).splitlines()[1] == "Incidents: none seen."


def test_asking_for_a_summary_answers_with_it_and_cites_its_moments(api_app):
    from services.ask import ask
    from tests.conftest import add_tracked_video
    from tests.synthetic import person

    shopper = [person(1, 0.0, 60.0, (200.0, 600.0))]
    till = add_tracked_video(api_app, shopper, name="till_20261201_100000.mp4", events=[
        {"type": "standing", "t_start": 2.0, "t_end": 8.0, "description": "A person stands."},
        {"type": "theft", "t_start": 30.0, "t_end": 36.0, "description": "A person takes an item and hides it."}])
    add_tracked_video(api_app, shopper, name="door_20261130_090000.mp4", events=[
        {"type": "collapse", "t_start": 12.0, "t_end": 20.0, "description": "A person collapses."}])
    one = ask(api_app, question="summarise till_20261201_100000")
    assert one.answer.splitlines()[:2] == ["till_20261201_100000.mp4: 10:00 of video (1280x720, 5 fps).",
                                           "Incidents: 1 theft (00:30)."]
    assert "- 00:30–00:36 theft: A person takes an item and hides it" in one.answer
    assert [c["type"] for c in one.citations] == ["standing", "theft"] and one.search_method == "summary"
    assert {c["video_id"] for c in one.citations} == {str(till["id"])}

    every = ask(api_app, question="give me an overview")
    assert every.answer == "\n".join([
        "2 analysed videos. Incidents: 1 theft, 1 collapse.",
        "- door_20261130_090000.mp4: 10:00, 1 person tracked; incidents: 1 collapse (00:12).",
        "- till_20261201_100000.mp4: 10:00, 1 person tracked; incidents: 1 theft (00:30)."])
    assert [c["type"] for c in every.citations] == ["collapse", "theft"]
    # the asked day keeps to its footage; a day without any is said so
    assert ask(api_app, question="summary of 2026-11-30").answer.startswith("door_20261130_090000.mp4: 10:00 of video")
    assert ask(api_app, question="recap of 2026-11-29").answer == (
        "No analysed footage on 2026-11-29, so there is nothing to summarise.")
    # a summary of an event type is still a search for that type
    assert ask(api_app, question="summarise all the thefts").answer.startswith("Found 1 theft event")
