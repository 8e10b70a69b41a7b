"""Empty answers that say why: footage where nobody was detected, and a window after the footage ends.

Real Postgres, real MiniLM embeddings, the real composer. Two seeded videos: `day.mp4` (five minutes,
one person walking) and `night.mp4` (two minutes analysed, nobody tracked, no events).
"""

from __future__ import annotations

import uuid

import pytest

NOBODY = ("Nobody was detected at all in night.mp4: people the detector cannot make out (very dark, very close or "
          "seen from straight above) leave no events.")


def _seed(app, name: str, duration_s: float, walking: bool) -> dict:
    from core.runtime.embeddings import embed_texts
    from db.repos import runs, videos

    description = "A man in black walks through the centre of the store."
    with app.db.connection() as conn:
        video = videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=None, size_bytes=0,
                              meta={"duration_s": duration_s, "fps": 10.0, "width": 900, "height": 600})
        videos.update(conn, video["id"], status="completed", progress=100.0)
        tracks = [{"track_number": 1, "class_name": "person", "t_first": 20.0, "t_last": 30.0,
                   "attributes": {"clothing_colour": "black"}}] if walking else []
        events = [{"track_number": 1, "type": "walking", "t_start": 20.0, "t_end": 30.0, "frame": 200,
                   "bbox": [100.0, 100.0, 200.0, 400.0], "zone": "centre", "confidence": 0.8,
                   "attributes": {"clothing_colour": "black"}, "description": description, "keywords": ["walking"],
                   "embedding": embed_texts([description], app.settings)[0]}] if walking else []
        runs.write_run(conn, video_id=video["id"], run_id=uuid.uuid4(), tracks=tracks, events=events,
                       frame_stats=[])
    return video


@pytest.fixture(scope="module")
def service(app):
    from rag.ask import AskService

    with app.db.connection() as conn:
        conn.execute("TRUNCATE videos, analysis_jobs, tracks, events, frame_stats, zones, summaries, "
                     "chat_sessions, chat_turns RESTART IDENTITY CASCADE")
    _seed(app, "day.mp4", 300.0, walking=True)
    _seed(app, "night.mp4", 120.0, walking=False)
    return AskService(app)


def test_the_video_page_and_the_answers_agree_on_who_saw_nobody(app, service):
    from services.videos import list_videos, nobody_detected

    ids = {v["name"]: v["id"] for v in list_videos(app)}
    assert nobody_detected(app, video_id=ids["night.mp4"]) is True
    assert nobody_detected(app, video_id=ids["day.mp4"]) is False


def test_an_empty_answer_about_footage_where_nobody_was_detected_says_so(service):
    asked = service.ask("what happened in night.mp4?")
    assert asked.answer == f"No events match. {NOBODY}"
    assert asked.citations == []

    theft = service.ask("any theft?", video="night.mp4")
    assert theft.answer == f"No theft events match. {NOBODY}"


def test_over_all_the_footage_an_empty_video_is_no_news(service):
    # day.mp4 saw someone, so an empty night is not worth a word when every video is searched
    assert service.ask("any theft?").answer == "No theft events match."
    walking = service.ask("did anyone walk?")
    assert walking.answer.startswith("Yes. 1 walking event") and NOBODY not in walking.answer


def test_a_window_after_the_footage_ends_names_how_long_the_footage_is(service):
    assert service.ask("any theft in night.mp4 between minute 5 and 6?").answer == (
        "Nothing could be seen between 05:00 and 06:00: night.mp4 is only 02:00 long.")
    assert service.ask("what happened after minute 10?").answer == (
        "Nothing could be seen after 10:00: the longest analysed video, day.mp4, is only 05:00 long.")
    # inside the footage an empty window is a plain no
    assert service.ask("any theft after minute 4?", video="day.mp4").answer == "No theft events match after 04:00."
