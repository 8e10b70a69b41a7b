"""The UI's plain logic, without Streamlit: progress polling, time parsing, formatting, preview copies."""

from __future__ import annotations

from datetime import date

import av
import pytest

from db.repos import videos
from gpu_jobs.ingest import ingest_path
from tests.conftest import write_clip
from ui import data
from ui.format import human_bytes, list_breaks, mmss, span
from gpu_jobs.preview import browser_playable, transcode
from ui.video_panels import parse_time


def test_polling_keeps_going_while_a_video_is_pending_or_processing_and_stops_when_done(app, clean_db, tmp_path):
    video = ingest_path(app, write_clip(tmp_path / "a.mp4", seconds=1.0), submit=False).video
    snap = data.poll_progress(app, video_ids=[video["id"]])
    assert snap.active and not snap.done and snap.rows[0]["job"] is None
    data.submit_analysis(app, video_id=video["id"])
    assert data.poll_progress(app, video_ids=[video["id"]]).rows[0]["job"] == "queued"
    with app.db.connection() as conn:
        videos.update(conn, video["id"], status="processing", progress=42)
    snap = data.poll_progress(app, video_ids=[video["id"]])
    assert snap.active and snap.rows[0]["progress"] == 42
    with app.db.connection() as conn:
        videos.update(conn, video["id"], status="completed", progress=100)
    snap = data.poll_progress(app, video_ids=[video["id"]])
    assert snap.done and not snap.active
    # the list form filters by name and status
    assert data.poll_progress(app, name="a.mp4", statuses=["completed"]).rows
    assert not data.poll_progress(app, name="a.mp4", statuses=["failed"]).rows
    # nothing to watch: nothing active, nothing to poll for
    assert not data.poll_progress(app, video_ids=[]).active


@pytest.mark.parametrize("text, seconds", [("83", 83.0), ("1:23", 83.0), ("01:02:03", 3723.0), ("2.5", 2.5),
                                           ("1:02.5", 62.5), ("", None), ("soon", None), ("1:2:3:4", None),
                                           ("1:75", None), ("-5", None), (None, None)])
def test_parse_time(text, seconds):
    assert parse_time(text) == seconds


def test_formatting():
    assert mmss(83.9) == "01:23" and mmss(3723) == "1:02:03" and mmss(None) == "--:--"
    assert span(1.0, 1.4) == "00:01" and span(1, 12) == "00:01–00:12"
    assert human_bytes(1536) == "1.5 KB" and human_bytes(10) == "10 B"
    # "Happening now:" after the people's list is its own paragraph, not the last person's tail
    assert list_breaks("At 01:00: 2 people.\n- person 1\n- person 2\nHappening now:\n- 00:36 loitering") == (
        "At 01:00: 2 people.\n- person 1\n- person 2\n\nHappening now:\n- 00:36 loitering")


def test_the_event_table_narrows_to_each_zone_shelf_and_third_its_events_name():
    from ui.event_table import zone_choices

    rows = [{"zone": "counter", "attributes": {"region": "left"}},
            {"zone": "right", "attributes": {"shelf": "drinks", "region": None}}, {"zone": None}]
    assert zone_choices(rows) == ["counter", "drinks", "left", "right"]


def test_browser_playable():
    assert browser_playable("videos/a.mp4", "h264")
    assert browser_playable("videos/a.webm", "vp9")
    assert not browser_playable("videos/a.avi", "msmpeg4")
    assert not browser_playable("videos/a.mp4", "mpeg4")


def test_transcode_keeps_every_frame_at_its_time(tmp_path):
    src = write_clip(tmp_path / "in.mp4", seconds=2.0, fps=10)
    out = transcode(src, tmp_path / "out.mp4")
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(c.decode(stream))
    assert len(frames) == 20
    assert abs(float(frames[10].time) - 1.0) < 0.05


def test_attribute_values_keep_their_json_type_for_containment_filters():
    rows = [{"attributes": {"gender": "male", "people": 7, "related_tracks": [1, 2], "speed": 0.4}},
            {"attributes": {"gender": "unknown", "people": 5, "carrying": True}}]
    assert data.attribute_values(rows) == {"carrying": [True], "gender": ["male"], "people": [5, 7]}


def test_card_details_say_who_where_and_what_only_the_video_category_backs():
    from ui.cards import card_details

    imported = {"zone": None, "confidence": 1.0, "score": 0.42,
                "attributes": {"type_from": "category", "gender": "female", "category": "Shoplifting"}}
    assert card_details(imported, show_score=True) == ["type from the video's category", "gender: female",
                                                       "score 0.42"]
    analysed = {"zone": "shelf", "confidence": 0.8, "attributes": {"clothing_colour": "red"}}
    assert card_details(analysed) == ["clothing colour: red", "zone: shelf", "confidence 0.80"]
    # the wall clock shows when the footage says it, not when only its upload time does
    clocked = {**analysed, "at": "2026-12-01 10:58:10", "clock": "file name"}
    assert card_details(clocked)[0] == "at 2026-12-01 10:58:10"
    assert card_details({**clocked, "clock": "upload time"}) == card_details(analysed)


def test_the_filters_caption_says_what_the_question_was_understood_as() -> None:
    from rag.query import parse_question
    from ui.chat import filters_text

    def caption(question: str) -> str:
        return filters_text(parse_question(question).model_dump(mode="json"))

    assert caption("what did the thief do after the theft?") == "after: theft, the same person · text: “what did do”"
    assert caption("did a woman take a bottle?") == "types: picking · gender: female · item: bottle · text: " \
                                                    "“did a woman take a bottle”"
    assert caption("how many people walked to the left?").startswith("types: walking · heading: left · count")
    assert filters_text({"event_types": ["theft"], "camera": "till_2"}) == "types: theft · camera: till_2"
    assert filters_text({"zones": ["left"], "zone_names": ["counter"]}) == "zone: counter, left"
    assert filters_text({"event_types": ["theft"], "camera": "till_2", "compare_cameras": ["front_door"]}) == (
        "types: theft · camera: till_2 · against: camera front_door")
    assert filters_text({"camera": "till_2", "compare_cameras": ["front_door", "back"]}) == (
        "camera: till_2 · against: cameras front_door, back")
    assert filters_text({"camera": "till_2", "compare_camera": "front_door"}) == (
        "camera: till_2 · against: camera front_door")
    assert filters_text({"event_types": ["violent"], "video": "a", "compare_video": "b"}) == (
        "types: violent · two videos")
    assert filters_text({"videos": ["a", "b", "c"]}) == "3 videos"
    compared = parse_question("were there more thefts on 2026-12-01 than this week?", today=date(2026, 12, 2))
    assert filters_text(compared.model_dump(mode="json")).startswith(
        "types: theft · days: 2026-12-01 · against: 2026-11-30 to 2026-12-02")
    assert caption("which camera had the most thefts?").startswith("types: theft · by camera")


def test_a_video_without_events_says_whether_anybody_was_detected_in_it() -> None:
    from ui.video_panels import no_events_caption

    assert no_events_caption(False) == "The analysis found no events in this video."
    assert no_events_caption(True) == (
        "The analysis found no events in this video and detected nobody in it: people the detector cannot make out "
        "(very dark, very close or seen from straight above) leave no events.")
