"""Frame chat on seeded frame stats, tracks and events: the scene at t, behaviour by region, a timeline.

The seeded minute (900x600, one analysed frame a second):
- person 1, young man in red facing the camera: 00:00-00:20 on the left, walking until 00:08;
- person 2, middle-aged woman in blue: 00:05 to the end in the centre, standing 00:08-00:20,
  picking from the shelf at 00:14;
- person 3: 00:12-00:30 on the right, sitting 00:15-00:25;
- a bottle in the centre all along.
"""

from __future__ import annotations

import base64
import uuid

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from tests.conftest import OpenAICompatibleServer, write_clip

DURATION = 60.0
BOXES = {1: [60.0, 150.0, 180.0, 500.0], 2: [400.0, 140.0, 520.0, 480.0], 3: [700.0, 250.0, 860.0, 500.0],
         4: [430.0, 300.0, 460.0, 360.0]}
REGION = {1: "left", 2: "centre", 3: "right", 4: "centre"}
SPANS = {1: (0.0, 20.0), 2: (5.0, 60.0), 3: (12.0, 30.0), 4: (0.0, 60.0)}
CLASSES = {1: "person", 2: "person", 3: "person", 4: "bottle"}
ATTRIBUTES = {
    1: {"age_group": "young", "gender": "male", "clothing_colour": "red", "orientation": "front", "emotion": "unknown"},
    2: {"age_group": "middle-aged", "gender": "female", "clothing_colour": "blue"},
    3: {"age_group": "unknown", "gender": "unknown"},
    4: {},
}
EVENTS = [
    (1, "walking", 0.0, 8.0, "left", None, "A young man in red walks in on the left."),
    (2, "standing", 8.0, 20.0, "centre", None, "A middle-aged woman in blue stands in the centre."),
    (2, "picking", 14.0, 16.0, "shelf", BOXES[2], "A middle-aged woman in blue picks up a bottle from the shelf."),
    (3, "sitting", 15.0, 25.0, "right", None, "A person sits down on the right."),
]


def _frame_stats() -> list[dict]:
    stats = []
    for second in range(int(DURATION) + 1):
        t = float(second)
        present = [n for n, (a, b) in SPANS.items() if a <= t <= b]
        counts: dict[str, int] = {}
        regions: dict[str, dict[str, int]] = {}
        for n in present:
            counts[CLASSES[n]] = counts.get(CLASSES[n], 0) + 1
            regions.setdefault(REGION[n], {})
            regions[REGION[n]][CLASSES[n]] = regions[REGION[n]].get(CLASSES[n], 0) + 1
        stats.append({"t": t, "frame": second * 10, "counts": counts, "region_counts": regions,
                      "detections": [{"track": n, "class": CLASSES[n], "bbox": BOXES[n], "region": REGION[n],
                                      "confidence": 0.9} for n in present]})
    return stats


def _seed(app, name: str, storage_key: str | None = None) -> dict:
    from db.repos import runs, videos

    with app.db.connection() as conn:
        video = videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=storage_key,
                              size_bytes=0, meta={"duration_s": DURATION, "fps": 10.0, "width": 900, "height": 600})
        videos.update(conn, video["id"], status="completed")
        runs.write_run(
            conn, video_id=video["id"], run_id=uuid.uuid4(),
            tracks=[{"track_number": n, "class_name": CLASSES[n], "t_first": a, "t_last": b,
                     "attributes": ATTRIBUTES[n], "path": []} for n, (a, b) in SPANS.items()],
            events=[{"track_number": track, "type": kind, "t_start": a, "t_end": b, "zone": zone,
                     "bbox": bbox or BOXES[track], "confidence": 0.8, "attributes": ATTRIBUTES[track],
                     "description": text} for track, kind, a, b, zone, bbox, text in EVENTS],
            frame_stats=_frame_stats(),
        )
        ids = {row["type"]: row["id"] for row in conn.execute(
            "SELECT id, type FROM events WHERE video_id = %s", (video["id"],)).fetchall()}
    return {"id": str(video["id"]), "ids": ids}


@pytest.fixture()
def aisle(app, clean_db):
    return _seed(app, "aisle.mp4")


def test_scene_at_t_lists_people_with_attributes_postures_and_objects(app, aisle):
    from rag.frame_chat import describe_scene

    scene = describe_scene(app, aisle["id"], 15.2)

    assert scene["frame_t"] == 15.0 and scene["time"] == "00:15"
    assert scene["counts"] == {"person": 3, "bottle": 1}
    assert scene["region_counts"]["centre"] == {"person": 1, "bottle": 1}
    people = {p["track"]: p for p in scene["people"]}
    assert [p["track"] for p in scene["people"]] == [1, 2, 3]  # left to right
    assert people[1]["region"] == "left"
    assert people[1]["attributes"] == {"age_group": "young", "gender": "male", "clothing_colour": "red",
                                       "orientation": "front"}  # 'unknown' emotion left out
    assert people[1]["who"] == "young male in red, facing the camera"
    assert (people[1]["posture"], people[1]["posture_source"]) == ("upright", "box")  # no event at 00:15
    assert (people[2]["posture"], people[2]["posture_source"]) == ("standing", "event")
    assert people[2]["activities"] == ["picking", "standing"]
    assert people[3]["posture"] == "sitting" and people[3]["attributes"] == {}
    assert [(o["class"], o["region"]) for o in scene["objects"]] == [("bottle", "centre")]
    assert {e["type"] for e in scene["events"]} == {"standing", "picking", "sitting"}

    text = scene["text"]
    assert text.splitlines()[0] == ("At 00:15: 3 people and 1 bottle on screen "
                                    "(left: 1 person; centre: 1 person and 1 bottle; right: 1 person).")
    assert "- person 1, young male in red, facing the camera, left, upright" in text
    assert "- person 2, middle-aged female in blue, centre, standing, involved in picking" in text
    assert f"[E{aisle['ids']['picking']}]" in text


def test_scene_errors_are_clear(app, aisle):
    from rag.frame_chat import describe_scene

    with pytest.raises(ValueError, match="outside the video"):
        describe_scene(app, aisle["id"], 90.0)
    with pytest.raises(LookupError, match="No video"):
        describe_scene(app, str(uuid.uuid4()), 1.0)
    from db.repos import videos

    with app.db.connection() as conn:
        bare = videos.insert(conn, name="bare.mp4", original_filename="bare.mp4", sha256=None, storage_key=None,
                             size_bytes=0, meta={"duration_s": 10.0})
    with pytest.raises(LookupError, match="no analysis results yet"):
        describe_scene(app, bare["id"], 1.0)


def test_behaviour_by_region_over_a_range(app, aisle):
    from rag.frame_chat import behaviour_by_region

    result = behaviour_by_region(app, aisle["id"], 0.0, 30.0)

    assert result["frames"] == 31
    left, centre, right = (result["regions"][r] for r in ("left", "centre", "right"))
    assert (left["people"], centre["people"], right["people"]) == (1, 1, 1)
    assert left["frames_occupied"] == 21 and left["occupied_share"] == round(21 / 31, 3)
    assert centre["frames_occupied"] == 26 and right["frames_occupied"] == 19
    assert centre["objects"] == {"bottle": 1} and left["objects"] == {}
    assert left["events"] == {"walking": 1}
    assert centre["events"] == {"standing": 1, "picking": 1}  # the shelf picking placed by its box
    assert right["events"] == {"sitting": 1}
    assert result["zones"] == {"shelf": {"picking": 1}}
    assert result["busiest_region"] == "centre"
    assert "- centre: 1 person, occupied 84% of the time" in result["text"]

    later = behaviour_by_region(app, aisle["id"], 45.0, 120.0)  # clipped at the end of the video
    assert later["t_to"] == DURATION and later["regions"]["left"]["people"] == 0
    assert "- left: empty" in later["text"]


def test_timeline_of_a_range(app, aisle):
    from rag.frame_chat import timeline

    entries = timeline(app, aisle["id"], 10.0, 35.0)

    assert [e["t"] for e in entries] == sorted(e["t"] for e in entries)
    kinds = [(e["kind"], e.get("track"), e.get("type")) for e in entries]
    assert kinds == [
        ("event", 2, "standing"),   # 00:08, overlapping the range
        ("enter", 3, None),         # 00:12 on the right
        ("peak", None, None),       # 00:12: 3 people
        ("event", 2, "picking"),
        ("event", 3, "sitting"),
        ("leave", 1, None),         # 00:20 from the left
        ("leave", 3, None),         # 00:30
    ]
    assert entries[1]["text"] == "00:12 person 3 appears on the right"
    assert entries[2]["people"] == 3
    assert entries[5]["text"] == "00:20 person 1 (young male in red, facing the camera) leaves from the left"
    assert entries[3]["event_id"] == aisle["ids"]["picking"]
    assert entries[3]["text"].endswith(f"[E{aisle['ids']['picking']}]")
    # person 2 stays until the video's last frame: that is no exit
    assert not [e for e in timeline(app, aisle["id"], 50.0, 60.0) if e["kind"] == "leave"]


def test_frame_chat_offline_picks_the_views_the_question_needs(app, aisle):
    from rag.frame_chat import FrameChat

    chat = FrameChat(app)
    assert chat.chat_model is None

    now = chat.ask(aisle["id"], 15.0, "who is on screen?")
    assert now.text == now.scene["text"] and now.timeline is None and now.regions is None
    assert now.model == "scene"

    recent = chat.ask(aisle["id"], 25.0, "what happened in the last 10 seconds?")
    assert recent.timeline is not None
    assert {e["kind"] for e in recent.timeline} >= {"leave", "event"}
    assert all(e["t"] <= 25.0 and e.get("t_end", e["t"]) >= 15.0 for e in recent.timeline)
    assert "Timeline 00:15–00:25:" in recent.text and "00:20 person 1" in recent.text

    sides = chat.ask(aisle["id"], 15.0, "which side was busiest between 0:00 and 0:30?")
    assert sides.regions is not None and sides.regions["busiest_region"] == "centre"
    assert (sides.regions["t_from"], sides.regions["t_to"]) == (0.0, 30.0)
    assert "Busiest: centre." in sides.text

    with pytest.raises(ValueError, match="Ask a question"):
        chat.ask(aisle["id"], 15.0, " ")


def test_a_question_of_who_is_where_is_answered_first_from_that_frame(app, aisle):
    from db.repos import zones
    from rag.frame_chat import FrameChat

    # feet at 00:15: person 1 (120, 500) left, person 2 (460, 480) centre, person 3 (780, 500) right
    with app.db.connection() as conn:
        zones.replace(conn, [{"name": "till", "kind": "checkout", "polygon": [[0.8, 0.7], [1, 0.7], [1, 1], [0.8, 1]]},
                             {"name": "drinks shelf", "kind": "shelf",
                              "polygon": [[0.4, 0.6], [0.6, 0.6], [0.6, 0.9], [0.4, 0.9]]},
                             # drawn over the counter itself: person 1's feet are 32 px in front of it
                             {"name": "counter", "kind": "shelf",
                              "polygon": [[0, 0.55], [0.25, 0.55], [0.25, 0.78], [0, 0.78]]}], video_id=aisle["id"])
    chat = FrameChat(app)

    def first(question: str) -> str:
        answer = chat.ask(aisle["id"], 15.0, question)
        assert answer.text.endswith(answer.scene["text"])  # the scene still follows
        return answer.text.splitlines()[0]

    assert first("is anyone at the till?") == "Yes: 1 person is at the till at 00:15 (person 3)."
    assert first("who is at the drinks shelf?") == "1 person is at the drinks shelf at 00:15 (person 2)."
    assert first("who is at the shelf on the right?") == "Nobody is at the shelf on the right at 00:15."
    assert first("who is at the counter?") == "1 person is at the counter at 00:15 (person 1)."
    assert first("who is on the left?") == "1 person is on the left at 00:15 (person 1)."
    assert first("is anyone at the door?") == (
        "No exit or entrance zone is drawn for this video, so who is there cannot be told; draw one on the video page.")
    # the woman in blue is no man in red; person 3's looks were not read
    assert first("is there a man in red?") == (
        "Yes: 1 person (male in red) is on screen at 00:15 (person 1), and 1 person whose looks were not recognised "
        "(person 3).")
    assert first("is there a woman at the till?") == (
        "Possibly: 1 person is at the till at 00:15 (person 3), whose looks were not recognised.")
    assert chat.ask(aisle["id"], 15.0, "who is on screen?").text.startswith("At 00:15: 3 people")  # no place asked


class _Recorder(BaseCallbackHandler):
    """Keeps the messages each chat model call received."""

    def __init__(self) -> None:
        self.calls: list = []

    def on_chat_model_start(self, serialized, messages, **kwargs) -> None:
        self.calls.append(messages[0])


def test_vision_model_gets_the_frame_as_a_data_uri(app, clean_db, tmp_path):
    from rag.frame_chat import FrameChat

    clip = write_clip(tmp_path / "aisle.mp4", seconds=3.0, fps=10)
    key = f"videos/test/{uuid.uuid4().hex}_aisle.mp4"
    app.store.put_bytes(key, clip.read_bytes(), content_type="video/mp4")
    seeded = _seed(app, "aisle-with-file.mp4", storage_key=key)
    walking = seeded["ids"]["walking"]  # the one event under way at 00:02
    recorder = _Recorder()
    model = GenericFakeChatModel(
        messages=iter([AIMessage(f"A young man in red walks in [E{walking}]; a woman steals [E999].")]),
        profile={"image_inputs": True}, callbacks=[recorder],
    )

    answer = FrameChat(app, chat_model=model).ask(seeded["id"], 2.0, "what is the man doing?")

    assert answer.used_image
    assert answer.text == f"A young man in red walks in [E{walking}]; a woman steals."
    system, human = recorder.calls[0]
    assert system.type == "system" and human.type == "human"
    text_block, image_block = human.content
    assert "Question: what is the man doing?" in text_block["text"] and "At 00:02" in text_block["text"]
    url = image_block["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1])[:2] == b"\xff\xd8"  # a JPEG


def test_frame_reaches_a_vision_model_behind_an_openai_compatible_url(app, clean_db, tmp_path, monkeypatch):
    """SENTINEL_LLM + SENTINEL_LLM_BASE_URL through the real ChatOpenAI: a local model has no profile,
    so the image goes along only with SENTINEL_LLM_VISION=true."""
    from rag.frame_chat import FrameChat

    clip = write_clip(tmp_path / "aisle.mp4", seconds=3.0, fps=10)
    key = f"videos/test/{uuid.uuid4().hex}_aisle.mp4"
    app.store.put_bytes(key, clip.read_bytes(), content_type="video/mp4")
    seeded = _seed(app, "aisle-over-http.mp4", storage_key=key)
    walking = seeded["ids"]["walking"]
    server = OpenAICompatibleServer(lambda body: f"A young man in red walks in [E{walking}].")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setattr(app.settings, "llm", "openai:local-vl")
    monkeypatch.setattr(app.settings, "llm_base_url", server.url)
    try:
        text_only = FrameChat(app).ask(seeded["id"], 2.0, "what is the man doing?")
        monkeypatch.setattr(app.settings, "llm_vision", True)
        with_image = FrameChat(app).ask(seeded["id"], 2.0, "what is the man doing?")
    finally:
        server.close()

    assert text_only.text == with_image.text == f"A young man in red walks in [E{walking}]."
    assert (text_only.used_image, with_image.used_image) == (False, True)
    first, second = (request["messages"][-1]["content"] for request in server.requests)
    assert [block["type"] for block in first] == ["text"]
    text_block, image_block = second
    assert "Question: what is the man doing?" in text_block["text"]
    url = image_block["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,") and base64.b64decode(url.split(",", 1)[1])[:2] == b"\xff\xd8"


def test_text_only_model_gets_no_image_and_a_failing_model_falls_back(app, aisle):
    from rag.frame_chat import FrameChat

    recorder = _Recorder()
    model = GenericFakeChatModel(messages=iter([AIMessage("Three people are visible.")]), callbacks=[recorder])
    answer = FrameChat(app, chat_model=model).ask(aisle["id"], 15.0, "how many people?")
    assert answer.text == "Three people are visible." and not answer.used_image
    assert [block["type"] for block in recorder.calls[0][1].content] == ["text"]

    broken = GenericFakeChatModel(messages=iter([]))  # raises on the first call
    fallback = FrameChat(app, chat_model=broken).ask(aisle["id"], 15.0, "how many people?")
    assert fallback.text == fallback.scene["text"] and fallback.model == "scene"
