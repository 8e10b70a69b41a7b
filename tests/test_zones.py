"""Store layout: zones per camera and per video (API, CLI, validation), stored rule inputs, and re-deriving events."""

from __future__ import annotations

import dataclasses
import json
import uuid

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api import create_app
from db.repos import runs, videos
from gpu_jobs.rule_inputs import _pack_records, _unpack_records, pack, unpack
from gpu_jobs.types import FrameSignal, Observation, Track
from services import zones as zone_service
from tests.conftest import AUTH, TOKEN, add_analysed_video, run_cli, write_clip

W, H = 1280, 720
FPS = 5.0
SHELF = {"name": "drinks shelf", "kind": "shelf", "polygon": [[0, 200], [250, 200], [250, 500], [0, 500]]}
SQUARE = [[10, 10], [100, 10], [100, 100], [10, 100]]


# ---- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("zones, says", [
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [10, 0]]}], "at least 3"),
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [400, 0], [0, 100]]}], "outside the 320x240 frame"),
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}], "crosses itself"),
    ([{"name": "a", "kind": "aisle", "polygon": SQUARE}], "unknown kind 'aisle'"),
    ([{"name": f"z{i}", "kind": "custom", "polygon": SQUARE} for i in range(65)], "At most 64 zones"),
    ([{"name": "a", "kind": "exit", "polygon": SQUARE}, {"name": "a", "kind": "exit", "polygon": SQUARE}],
     "Two zones are named 'a'"),
    ([{"name": "a", "kind": "exit", "polygon": [[0, 0], [10, 10], [20, 20]]}], "no area"),
])
def test_bad_zones_are_refused_with_one_sentence(zones, says):
    with pytest.raises(zone_service.ZoneInvalid) as exc:
        zone_service.validate(zones, (320, 240))
    message = str(exc.value)
    assert says in message and message.count(". ") == 0 and message.endswith(".")


def test_good_zones_pass_every_kind():
    zones = [{"name": k, "kind": k, "polygon": SQUARE} for k in zone_service.KINDS]
    zones.append({"name": "concave", "kind": "custom", "polygon": [[0, 0], [200, 0], [200, 200], [100, 50], [0, 200]]})
    assert [z["name"] for z in zone_service.validate(zones, (320, 240))] == [*zone_service.KINDS, "concave"]


# ---- stored rule inputs -------------------------------------------------------------------------

def test_rule_inputs_round_trip_every_field():
    rng = np.random.default_rng(1)
    obs = [Observation(t=i / FPS, frame=2 * i, bbox=(1.5, 2.0, 40.25, 90.0), confidence=0.8,
                       keypoints=rng.random((17, 3), dtype=np.float32) * 300 if i % 2 else None,
                       region="left", zones=("a",) if i % 3 else (),
                       motion=rng.random(5, dtype=np.float32) if i % 4 else None, fall=i == 5) for i in range(40)]
    tracks = [Track(3, "person", obs, {"gender": "female", "score": np.float32(0.5)}), Track(9, "bottle", [], {})]
    signals = [FrameSignal(t=i / FPS, frame=2 * i, boxes=rng.random((i % 3, 4), dtype=np.float32),
                           confidence=rng.random(i % 3, dtype=np.float32)) for i in range(10)]
    back, back_signals = unpack(pack(tracks, signals))
    assert [(t.number, t.class_name, len(t.observations)) for t in back] == [(3, "person", 40), (9, "bottle", 0)]
    assert back[0].attributes == {"gender": "female", "score": 0.5}
    for a, b in zip(obs, back[0].observations):
        assert (a.t, a.frame, a.bbox, a.confidence, a.region, a.zones, a.fall) == \
               (b.t, b.frame, b.bbox, b.confidence, b.region, b.zones, b.fall)
        assert (a.keypoints is None) == (b.keypoints is None) and (a.motion is None) == (b.motion is None)
        if a.keypoints is not None:
            assert b.keypoints.dtype == np.float32 and np.allclose(a.keypoints, b.keypoints, atol=0.25)
    assert [s.boxes.shape for s in back_signals] == [s.boxes.shape for s in signals]
    assert back_signals[4].motion is None and np.allclose(back_signals[5].boxes, signals[5].boxes)


def test_a_field_added_later_survives_the_round_trip():
    @dataclasses.dataclass
    class Later:
        t: float
        lean: float | None = None
        hands: np.ndarray | None = None
        label: str = "x"

    records = [Later(0.0, 0.5, np.ones((2, 2), np.float32), "a"), Later(0.2), Later(0.4, 1.0, None, "b")]
    arrays: dict = {}
    layout = _pack_records("r", records, Later, arrays)
    back = _unpack_records("r", layout, 3, Later, arrays)
    assert [(r.t, r.lean, r.label) for r in back] == [(0.0, 0.5, "a"), (0.2, None, "x"), (0.4, 1.0, "b")]
    assert back[0].hands.shape == (2, 2) and back[1].hands is None


# ---- API ---------------------------------------------------------------------------------------

@pytest.fixture()
def client(api_app):
    with TestClient(create_app(api_app, token=TOKEN), raise_server_exceptions=False) as c:
        yield c


def test_video_and_camera_zones_round_trip_over_the_api(client, api_app):
    video = add_analysed_video(api_app, name="aisle3_20260101_120000.mp4")  # 320x240
    vid = video["id"]
    zone_service.set_camera(api_app, video_id=vid, camera="aisle3")
    got = client.get(f"/v1/videos/{vid}/zones", headers=AUTH)
    assert got.status_code == 200 and got.json()["zones"] == [] and got.json()["camera"] == "aisle3"

    camera_zones = [{"name": "till", "kind": "checkout", "polygon": [[0, 0], [160, 0], [160, 120], [0, 120]]},
                    {"name": "door", "kind": "exit", "polygon": [[300, 200], [320, 200], [320, 240]]}]
    put = client.put("/v1/cameras/aisle3/zones", json={"zones": camera_zones}, headers=AUTH)
    assert put.status_code == 200, put.text
    assert put.json()["zones"] == sorted(({**z, "loiter_s": None} for z in camera_zones), key=lambda z: z["name"])
    assert client.get("/v1/cameras/aisle3/zones", headers=AUTH).json()["zones"] == put.json()["zones"]
    cams = client.get("/v1/cameras", headers=AUTH).json()["cameras"]
    assert {"name": "aisle3", "videos": 1, "zones": 2, "width": 320, "height": 240} in cams

    own = [{"name": "door", "kind": "entrance", "polygon": [[0, 200], [50, 200], [50, 240], [0, 240]]},
           {"name": "fridge", "kind": "shelf", "polygon": [[200, 20], [300, 20], [300, 90], [200, 90]]}]
    put = client.put(f"/v1/videos/{vid}/zones", json={"zones": own}, headers=AUTH)
    assert put.status_code == 200, put.text
    body = put.json()
    assert body["zones"] == [{**z, "loiter_s": None} for z in own]
    assert client.get(f"/v1/videos/{vid}/zones", headers=AUTH).json() == body
    effective = {z["name"]: (z["kind"], z["source"]) for z in body["effective"]}
    assert effective == {"door": ("entrance", "video"), "fridge": ("shelf", "video"), "till": ("checkout", "camera")}
    # what the pipeline loads: the same zones, in pixels
    from gpu_jobs.pipeline import load_zones
    loaded = {z.name: z for z in load_zones(api_app, vid, (320, 240))}
    assert loaded["fridge"].polygon == [(200.0, 20.0), (300.0, 20.0), (300.0, 90.0), (200.0, 90.0)]


def test_every_zone_kind_is_stored_over_the_api(client, api_app):
    # the database's own check on kinds must know each kind the service accepts
    vid = add_analysed_video(api_app, name="counter_20260101_120000.mp4")["id"]
    zones = [{"name": kind, "kind": kind, "polygon": [[10 * i, 0], [10 * i + 9, 0], [10 * i + 9, 9]]}
             for i, kind in enumerate(zone_service.KINDS)]
    put = client.put(f"/v1/videos/{vid}/zones", json={"zones": zones}, headers=AUTH)
    assert put.status_code == 200, put.text
    stored = client.get(f"/v1/videos/{vid}/zones", headers=AUTH).json()["zones"]
    assert sorted(z["kind"] for z in stored) == sorted(zone_service.KINDS) and "staff" in zone_service.KINDS


def test_a_video_moves_to_another_camera_over_the_api_and_takes_its_zones(client, api_app):
    video = add_analysed_video(api_app, name="aisle3_20260101_120000.mp4")  # 320x240
    vid = video["id"]
    till = {"name": "till", "kind": "checkout", "polygon": [[0, 0], [160, 0], [160, 120], [0, 120]]}
    zone_service.set_camera(api_app, video_id=vid, camera="front")
    assert client.put("/v1/cameras/front/zones", json={"zones": [till]}, headers=AUTH).status_code == 200
    zone_service.set_camera(api_app, video_id=vid, camera="aisle3")
    assert client.get(f"/v1/videos/{vid}/zones", headers=AUTH).json()["effective"] == []
    moved = client.put(f"/v1/videos/{vid}/camera", json={"camera": " front "}, headers=AUTH)
    assert moved.status_code == 200, moved.text
    assert moved.json()["camera"] == "front" and [z["name"] for z in moved.json()["effective"]] == ["till"]
    bad = client.put(f"/v1/videos/{vid}/camera", json={"camera": "a/b"}, headers=AUTH)
    assert bad.status_code == 422 and "'/'" in bad.json()["error"]["message"]
    assert client.get(f"/v1/videos/{vid}/zones", headers=AUTH).json()["camera"] == "front"  # nothing lost
    assert client.put(f"/v1/videos/{uuid.uuid4()}/camera", json={"camera": "x"}, headers=AUTH).status_code == 404


@pytest.mark.parametrize("zones, says", [
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [10, 0]]}], "at least 3"),
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [321, 0], [0, 100]]}], "outside"),
    ([{"name": "a", "kind": "shelf", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}], "crosses itself"),
    ([{"name": "a", "kind": "aisle", "polygon": SQUARE}], "unknown kind"),
    ([{"name": f"z{i}", "kind": "custom", "polygon": SQUARE} for i in range(65)], "At most 64"),
])
def test_bad_polygons_are_422_over_the_api(client, api_app, zones, says):
    vid = add_analysed_video(api_app)["id"]
    zone_service.set_camera(api_app, video_id=vid, camera="cam1")
    for path in (f"/v1/videos/{vid}/zones", "/v1/cameras/cam1/zones"):
        r = client.put(path, json={"zones": zones}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_zones", r.text
        assert says in r.json()["error"]["message"]
    assert client.get(f"/v1/videos/{vid}/zones", headers=AUTH).json()["zones"] == []


def test_unknown_video_or_camera_is_404_and_old_runs_are_409(client, api_app):
    assert client.get(f"/v1/videos/{uuid.uuid4()}/zones", headers=AUTH).status_code == 404
    assert client.get("/v1/cameras/nowhere/zones", headers=AUTH).status_code == 404
    assert client.put("/v1/cameras/nowhere/zones", json={"zones": []}, headers=AUTH).status_code == 404
    vid = add_analysed_video(api_app)["id"]  # written without rule inputs, as before this change
    r = client.post(f"/v1/videos/{vid}/rules", headers=AUTH)
    assert r.status_code == 409 and "analyse it again" in r.json()["error"]["message"]
    assert client.get(f"/v1/videos/{vid}/zones").status_code == 401


# ---- re-deriving -------------------------------------------------------------------------------

def reaching_shopper(reach: tuple[float, float] = (2.0, 3.0), *more: tuple[float, float]) -> Track:
    """A person at the shelf whose box widens into it at shoulder height (2-3 s, and any more spans), with no
    keypoints: a pick only where a shelf zone is (the box in the shelf is the one signal)."""
    spans = [reach, *more]
    observations = []
    for i in range(int((spans[-1][1] + 1.0) * FPS) + 1):
        t = i / FPS
        x, y, h = 330.0, 600.0, 300.0
        w = h / (1.6 if any(a <= t <= b for a, b in spans) else 3.0)
        observations.append(Observation(t=t, frame=int(round(t * 10)), bbox=(x - w / 2, y - h, x + w / 2, y),
                                        confidence=0.9, region="left"))
    return Track(6, "person", observations, {"gender": "female", "clothing_colour": "blue"})


def stored_run(app, tmp_path) -> dict:
    """A completed 1280x720 video whose current run stored the reaching shopper as rule inputs."""
    clip = write_clip(tmp_path / "shop.mp4", seconds=4.5, fps=10, size=(W, H))
    video_id, run_id = uuid.uuid4(), uuid.uuid4()
    key = f"videos/2026/01/01/{video_id}_shop.mp4"
    app.store.put_bytes(key, clip.read_bytes())
    track = reaching_shopper()
    with app.db.connection() as conn:
        videos.insert(conn, video_id=video_id, name="shop.mp4", original_filename="shop.mp4",
                      sha256=uuid.uuid4().hex, storage_key=key, size_bytes=clip.stat().st_size, camera="shop",
                      meta={"duration_s": 4.5, "fps": 10.0, "width": W, "height": H, "codec": "mpeg4",
                            "frame_count": 45})
        videos.update(conn, video_id, status="completed", progress=100)
        runs.write_run(conn, video_id=video_id, run_id=run_id, frame_stats=[], events=[{
            "type": "standing", "t_start": 0.0, "t_end": 4.0, "frame": 0, "bbox": [0, 0, 10, 10],
            "confidence": 0.5, "description": "A woman stands.", "track_number": 6}],
            tracks=[{"track_number": 6, "class_name": "person", "t_first": 0.0, "t_last": 4.0}],
            rule_inputs={"fps": FPS, "frame_width": W, "frame_height": H, "data": pack([track], [])})
        return videos.get(conn, video_id)


def event_types(app, video_id) -> list[str]:
    with app.db.connection() as conn:
        return sorted(r["type"] for r in conn.execute(
            "SELECT e.type FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id "
            "WHERE e.video_id = %s", (video_id,)))


def test_adding_a_shelf_zone_and_re_deriving_gives_a_picking_event(app, clean_db, tmp_path):
    video = stored_run(app, tmp_path)
    first = zone_service.rederive_events(app, video_id=video["id"])
    assert "picking" not in first["events_by_type"] and first["elapsed_s"] >= 0
    assert "picking" not in event_types(app, video["id"]) and "standing" in event_types(app, video["id"])

    zone_service.set_camera_zones(app, name="shop", zones=[SHELF])
    second = zone_service.rederive_events(app, video_id=video["id"])
    assert second["events_by_type"].get("picking") == 1 and second["zones"] == 1
    with app.db.connection() as conn:
        pick = conn.execute("SELECT * FROM events WHERE video_id = %s AND type = 'picking'", (video["id"],)).fetchone()
        track = conn.execute("SELECT * FROM tracks WHERE video_id = %s", (video["id"],)).fetchone()
    assert pick["zone"] == "drinks shelf" and pick["description"] and pick["embedding"] is not None
    assert pick["track_id"] == track["id"] and pick["run_id"] == video["current_run_id"]
    assert app.store.get_bytes(pick["highlight_key"])[:2] == b"\xff\xd8"
    # the zone gone again: the pick and its picture go with it
    zone_service.set_camera_zones(app, name="shop", zones=[])
    assert "picking" not in zone_service.rederive_events(app, video_id=video["id"])["events_by_type"]
    assert not app.store.exists(pick["highlight_key"])


def test_a_hand_held_in_a_shelf_longer_than_a_reach_leans_on_it_and_is_no_pick():
    from gpu_jobs.behaviours import PickingRule
    from tests.synthetic import SHELF, detect, of_type

    assert len(of_type(detect(PickingRule, [reaching_shopper()], [SHELF]), "picking")) == 1
    # as with a reach seen by pose: an arm out longer than picking_reach_max_s (6 s) rests on the counter
    assert of_type(detect(PickingRule, [reaching_shopper((2.0, 10.0))], [SHELF]), "picking") == []


def test_reaches_into_a_shelf_close_together_are_one_picking_event_and_a_later_one_is_its_own():
    from gpu_jobs.behaviours import PickingRule
    from gpu_jobs.describe import describe
    from tests.synthetic import SHELF, detect, of_type

    # three reaches a second or two apart (a customer choosing, a clerk serving), then one 10 s later
    shopper = reaching_shopper((2.0, 3.0), (4.0, 5.0), (7.0, 8.0), (18.0, 19.0))
    picks = of_type(detect(PickingRule, [shopper], [SHELF]), "picking")
    assert [(round(e.t_start), round(e.t_end), e.attributes.get("reaches")) for e in picks] == [
        (2, 8, 3), (18, 19, None)]
    assert "reaches into the drinks shelf 3 times from 00:02 to 00:08" in describe(picks[0], {})[0]
    assert describe(picks[1], {})[0] == "A woman in blue reaches into the drinks shelf at 00:18."


def test_questions_find_a_drawn_zones_events_by_its_kind_and_by_its_name(app, clean_db, tmp_path):
    from services.ask import ask

    video = stored_run(app, tmp_path)
    # a shelf its staff call "the counter": the word alone would read as a checkout
    zone_service.set_camera_zones(app, name="shop", zones=[{**SHELF, "name": "Counter"}])
    assert zone_service.rederive_events(app, video_id=video["id"])["events_by_type"].get("picking") == 1
    at_shelf = ask(app, question="any picking at the shelf?")
    assert at_shelf.answer.startswith("Yes. 1 picking event"), at_shelf.answer
    at_counter = ask(app, question="any picking at the counter?")
    assert at_counter.answer.startswith("Yes. 1 picking event"), at_counter.answer
    assert (at_counter.filters["zone_names"], at_counter.filters["zones"]) == (["counter"], [])
    assert ask(app, question="any picking at the checkout?").answer == "No picking events at the checkout match."
    # the shelf is on the left of the frame: a pick at it is on the left too, in the event table as in questions
    from services.events import list_events

    assert [e["type"] for e in list_events(app, video_id=video["id"], zone="left")] == ["standing", "picking"]
    assert ask(app, question="any picking on the left?").answer.startswith("Yes. 1 picking event")
    assert ask(app, question="any picking on the right?").answer == "No picking events on the right match."
    # a place and a third of the frame are both asked for
    assert ask(app, question="any picking at the counter on the left?").answer.startswith("Yes. 1 picking event")
    assert ask(app, question="any picking at the counter on the right?").answer.startswith("No picking events")
    # another shelf keeps its own events: naming one shelf is not asking for every shelf
    zone_service.set_camera_zones(app, name="shop", zones=[
        {**SHELF, "name": "drinks_fridge"}, {"name": "snacks shelf", "kind": "shelf",
                                             "polygon": [[900, 200], [1200, 200], [1200, 500], [900, 500]]}])
    zone_service.rederive_events(app, video_id=video["id"])
    assert ask(app, question="any picking at the drinks fridge?").answer.startswith("Yes. 1 picking event")
    assert ask(app, question="any picking at the snacks shelf?").answer == (
        "No picking events at the snacks shelf match.")


def test_re_deriving_alerts_what_a_new_zone_reveals_once(app, clean_db, tmp_path, webhook):
    import bootstrap
    from pydantic import SecretStr

    alerting = bootstrap.App(app.settings.model_copy(update={
        "alert_webhook_url": SecretStr(webhook.url), "alert_types": "picking", "alert_min_confidence": 0.0}))
    alerting.db, alerting.store = app.db, app.store
    video = stored_run(alerting, tmp_path)
    zone_service.rederive_events(alerting, video_id=video["id"])
    assert webhook.bodies == []  # no shelf, no pick
    zone_service.set_camera_zones(alerting, name="shop", zones=[SHELF])
    zone_service.rederive_events(alerting, video_id=video["id"])
    assert [(b["event"]["type"], b["event"]["zone"]) for b in webhook.bodies] == [("picking", "drinks shelf")]
    zone_service.rederive_events(alerting, video_id=video["id"])  # the same pick again: no second alert
    assert len(webhook.bodies) == 1


def test_a_failed_re_derive_leaves_the_old_events(app, clean_db, tmp_path):
    from gpu_jobs import rederive

    video = stored_run(app, tmp_path)
    zone_service.set_camera_zones(app, name="shop", zones=[SHELF])
    before = event_types(app, video["id"])

    def boom():
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        rederive.derive(app, video["id"], fail_before_commit=boom)
    assert event_types(app, video["id"]) == before == ["standing"]
    zone_service.rederive_events(app, video_id=video["id"])
    assert "picking" in event_types(app, video["id"])


def test_zones_and_rules_round_trip_over_the_cli(app, clean_db, tmp_path):
    video = stored_run(app, tmp_path)
    vid = str(video["id"])
    shown = run_cli("zones", vid, "--json", timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["zones"] == [] and json.loads(shown.stdout)["camera"] == "shop"

    (tmp_path / "zones.json").write_text(json.dumps({"zones": [SHELF]}))
    set_ = run_cli("zones", vid, "--set", str(tmp_path / "zones.json"), "--json", timeout=120)
    assert set_.returncode == 0, set_.stderr
    assert json.loads(set_.stdout)["zones"] == [SHELF]

    (tmp_path / "bad.json").write_text(json.dumps([{"name": "x", "kind": "shelf", "polygon": [[0, 0], [5, 5]]}]))
    said = run_cli("zones", vid, "--set", str(tmp_path / "zones.json"), timeout=120)
    assert said.returncode == 0 and said.stdout.splitlines()[-1] == (
        f"The events change at the next analysis, or now with: sentinel rules {vid}")
    bad = run_cli("zones", vid, "--set", str(tmp_path / "bad.json"), timeout=120)
    assert bad.returncode != 0 and "at least 3" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1

    cam = run_cli("zones", "--camera", "shop", "--json", timeout=120)
    assert cam.returncode == 0 and json.loads(cam.stdout) == {"camera": "shop", "width": W, "height": H, "zones": []}

    rules = run_cli("rules", vid, "--json", timeout=300)
    assert rules.returncode == 0, rules.stderr
    result = json.loads(rules.stdout)
    assert result["events_by_type"].get("picking") == 1 and isinstance(result["elapsed_s"], float)
    text = run_cli("rules", vid, timeout=300)
    assert text.returncode == 0 and "re-derived" in text.stdout


def test_upload_names_the_camera_from_the_form_or_the_file_name(client, api_app, tmp_path):
    clip = write_clip(tmp_path / "till2_20260301_0900.mp4", seconds=1.0)
    other = write_clip(tmp_path / "other.mp4", seconds=1.2)
    named = client.post("/v1/videos", headers=AUTH, data={"camera": " front door "},
                        files={"file": ("till2_20260301_0900.mp4", clip.read_bytes(), "video/mp4")})
    derived = client.post("/v1/videos", headers=AUTH,
                          files={"file": ("store 4 - till2_20260301_0900.mp4", other.read_bytes(), "video/mp4")})
    assert named.status_code == derived.status_code == 202, named.text + derived.text
    with api_app.db.connection() as conn:
        assert videos.get(conn, named.json()["video_id"])["camera"] == "front door"
        assert videos.get(conn, derived.json()["video_id"])["camera"] == "store 4 - till2"
    cams = {c["name"] for c in client.get("/v1/cameras", headers=AUTH).json()["cameras"]}
    assert cams == {"front door", "store 4 - till2"}
    bad = client.post("/v1/videos", headers=AUTH, data={"camera": "a/b"},
                      files={"file": ("x.mp4", clip.read_bytes(), "video/mp4")})
    assert bad.status_code == 422 and "camera name" in bad.json()["error"]["message"]


def test_re_deriving_without_the_video_file_keeps_the_events_without_new_pictures(app, clean_db, tmp_path):
    video = stored_run(app, tmp_path)
    app.store.delete(video["storage_key"])  # archived away or lost: the rules need no frames
    zone_service.set_video_zones(app, video_id=video["id"], zones=[SHELF])
    assert zone_service.rederive_events(app, video_id=video["id"])["events_by_type"].get("picking") == 1
    with app.db.connection() as conn:
        pick = conn.execute("SELECT * FROM events WHERE video_id = %s AND type = 'picking'", (video["id"],)).fetchone()
    assert pick["highlight_key"] is None and pick["embedding"] is not None


def test_the_video_reply_names_its_camera(client, api_app):
    vid = add_analysed_video(api_app)["id"]
    zone_service.set_camera(api_app, video_id=vid, camera="entrance cam")
    assert client.get(f"/v1/videos/{vid}", headers=AUTH).json()["camera"] == "entrance cam"


@pytest.mark.parametrize("filename, camera", [
    ("store3_cam2_20260101_120000.mp4", "store3_cam2"), ("vtest.avi", "vtest"), ("cam1.mp4", "cam1"),
    ("../../etc/aisle 4-2026-03-01T09-00.mkv", "aisle 4"), ("name with\nnewline.mp4", "name with newline"),
    ("   .avi", "camera"),
])
def test_the_default_camera_comes_from_the_file_name(filename, camera):
    from core.cameras import default_camera

    assert default_camera(filename) == camera


def test_the_upload_page_puts_videos_on_the_camera_typed(app, clean_db, tmp_path):
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.run()
    at.switch_page("pages/upload.py").run()
    at.text_input(key="upload_camera").input("back door").run()
    clip = write_clip(tmp_path / "clip_20260101_0900.mp4", seconds=1.0).read_bytes()
    at.file_uploader[0].set_value([("clip_20260101_0900.mp4", clip, "video/mp4")]).run()
    assert not at.exception, [e.value for e in at.exception]
    with app.db.connection() as conn:
        (video,) = videos.list_videos(conn)
    assert video["camera"] == "back door"


def test_re_deriving_makes_the_written_summary_stale(app, clean_db, tmp_path):
    from db.repos import summaries

    video = stored_run(app, tmp_path)
    with app.db.connection() as conn:
        row = summaries.set_status(conn, video["id"], "completed", text="Nobody took anything.",
                                   run_id=video["current_run_id"])
    assert row["stale"] is False
    zone_service.set_camera_zones(app, name="shop", zones=[SHELF])
    zone_service.rederive_events(app, video_id=video["id"])
    with app.db.connection() as conn:
        assert summaries.get(conn, video["id"])["stale"] is True


def test_the_cli_says_in_one_line_that_an_old_run_needs_a_new_analysis(app, clean_db):
    vid = str(add_analysed_video(app)["id"])
    result = run_cli("rules", vid, timeout=300)
    assert result.returncode != 0 and "analyse it again" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    as_json = run_cli("rules", vid, "--json", timeout=300)
    assert as_json.returncode != 0 and "analyse it again" in json.loads(as_json.stdout)["error"]
