"""The zone editor: click scaling, the editor's use cases (save, rename, redraw, move, delete), the page through
AppTest, and highlights that outline the zones their events used."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from db.repos import videos
from gpu_jobs.ingest import ingest_path
from gpu_jobs.types import Event, Zone
from services import zones as zone_service
from tests.conftest import ROOT, write_clip
from ui.zone_editor import closes, to_shown_pixels, to_video_pixels

SHELF = [[20, 40], [120, 40], [120, 140], [20, 140]]


# ---- coordinates ----------------------------------------------------------------------------------

def test_a_click_on_the_scaled_frame_is_stored_in_the_videos_pixels():
    # a 1280x720 video shown 800 wide: a click at (400, 225) is the middle of the frame
    assert to_video_pixels({"x": 400, "y": 225, "width": 800, "height": 450}, (1280, 720)) == (640.0, 360.0)
    # shown larger than it is (a 320x240 clip stretched to 960): scaled down
    assert to_video_pixels({"x": 96, "y": 72, "width": 960, "height": 720}, (320, 240)) == (32.0, 24.0)
    # a click on the image's last pixel row never lands outside the frame
    assert to_video_pixels({"x": 900, "y": 800, "width": 800, "height": 450}, (1280, 720)) == (1280.0, 720.0)


def test_shown_and_video_pixels_round_trip():
    size, shown = (640, 360), (803.0, 451.7)
    for point in [(0, 0), (298.5, 304.0), (640, 360)]:
        sx, sy = to_shown_pixels(point, size, shown)
        back = to_video_pixels({"x": sx, "y": sy, "width": shown[0], "height": shown[1]}, size)
        assert back == pytest.approx(point, abs=0.1)


def test_a_click_on_the_first_point_closes_the_polygon_measured_on_screen():
    draft = [[100, 100], [200, 100], [200, 200]]
    near = {"x": 0, "y": 0, "width": 320, "height": 180}  # shown at a quarter of 1280x720
    assert closes(draft, (130, 110), near, (1280, 720))  # 30 video px = 7.5 shown px
    assert not closes(draft, (180, 110), near, (1280, 720))
    assert not closes(draft[:2], (100, 100), near, (1280, 720)), "two points cannot close"


# ---- the editor's use cases -----------------------------------------------------------------------

@pytest.fixture()
def clip_video(app, clean_db, tmp_path):
    """A completed 320x240 clip of camera 'aisle-cam' (no stored rule inputs: it was never analysed)."""
    clip = write_clip(tmp_path / f"aisle-{uuid.uuid4().hex[:6]}.mp4", seconds=3.0)
    video = ingest_path(app, clip, submit=False, camera="aisle-cam").video
    with app.db.connection() as conn:
        return videos.update(conn, video["id"], status="completed", progress=100)


def _zones(app, video) -> dict:
    return {(z["scope"], z["name"]): z for z in zone_service.editable_zones(app, video_id=video["id"])["zones"]}


def test_save_rename_redraw_move_and_delete_one_zone(app, clip_video):
    vid = clip_video["id"]
    zone_service.save_zone(app, video_id=vid, zone={"name": "drinks", "kind": "shelf", "polygon": SHELF},
                           scope="camera")
    zones = _zones(app, clip_video)
    assert zones[("camera", "drinks")]["polygon"] == SHELF and zones[("camera", "drinks")]["active"]
    # the camera's zones serve its other videos too
    assert zone_service.camera_zones(app, name="aisle-cam")["zones"][0]["name"] == "drinks"

    redrawn = [[10, 10], [60, 10], [60, 60]]
    zone_service.save_zone(app, video_id=vid, zone={"name": "till", "kind": "checkout", "polygon": redrawn},
                           scope="camera", replacing=("camera", "drinks"))
    assert set(_zones(app, clip_video)) == {("camera", "till")}
    assert _zones(app, clip_video)[("camera", "till")]["kind"] == "checkout"

    zone_service.save_zone(app, video_id=vid, zone={"name": "till", "kind": "checkout", "polygon": redrawn},
                           scope="video", replacing=("camera", "till"))
    assert set(_zones(app, clip_video)) == {("video", "till")}
    assert zone_service.video_zones(app, video_id=vid)["zones"][0]["polygon"] == redrawn

    zone_service.delete_zone(app, video_id=vid, scope="video", name="till")
    assert _zones(app, clip_video) == {}


def test_a_video_zone_of_a_camera_zones_name_overrides_it(app, clip_video):
    vid = clip_video["id"]
    zone_service.save_zone(app, video_id=vid, zone={"name": "door", "kind": "exit", "polygon": SHELF}, scope="camera")
    zone_service.save_zone(app, video_id=vid, zone={"name": "door", "kind": "exit", "polygon": SHELF}, scope="video")
    zones = _zones(app, clip_video)
    assert zones[("video", "door")]["active"] and not zones[("camera", "door")]["active"]


@pytest.mark.parametrize("zone, says", [
    ({"name": "a", "kind": "shelf", "polygon": [[0, 0], [10, 0]]}, "at least 3"),
    ({"name": "", "kind": "shelf", "polygon": SHELF}, "Give the zone a name"),
    ({"name": "a", "kind": "shelf", "polygon": [[0, 0], [400, 0], [0, 100]]}, "outside the 320x240 frame"),
    ({"name": "a", "kind": "shelf", "polygon": [[0, 0], [100, 100], [100, 0], [0, 100]]}, "crosses itself"),
])
def test_a_bad_zone_is_refused_and_nothing_is_written(app, clip_video, zone, says):
    zone_service.save_zone(app, video_id=clip_video["id"], zone={"name": "keep", "kind": "exit", "polygon": SHELF},
                           scope="video")
    with pytest.raises(zone_service.ZoneInvalid, match=says):
        zone_service.save_zone(app, video_id=clip_video["id"], zone=zone, scope="video", replacing=("video", "keep"))
    assert set(_zones(app, clip_video)) == {("video", "keep")}


def test_a_name_taken_in_the_same_scope_is_refused(app, clip_video):
    zone = {"name": "a", "kind": "shelf", "polygon": SHELF}
    zone_service.save_zone(app, video_id=clip_video["id"], zone=zone, scope="video")
    with pytest.raises(zone_service.ZoneInvalid, match="already exists for this video"):
        zone_service.save_zone(app, video_id=clip_video["id"], zone=zone, scope="video")


def test_the_frame_to_draw_on_is_the_videos(app, clip_video):
    frame = zone_service.zone_frame(app, video_id=clip_video["id"], at_s=1.0)
    assert frame.shape == (240, 320, 3)


# ---- the page -------------------------------------------------------------------------------------

def _video_page(video) -> AppTest:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.query_params["video"] = str(video["id"])
    at.run()
    at.switch_page("pages/video.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_video_page_draws_saves_edits_and_deletes_a_zone(app, clip_video):
    vid = str(clip_video["id"])
    key = f"zones-{vid}"
    at = _video_page(clip_video)
    assert any("No zones yet" in c.value for c in at.caption)
    assert any("Draw a shelf or checkout over the fixture itself" in c.value for c in at.caption)

    # two points: refused with one sentence; the points and the name stay
    at.session_state[f"{key}-points"] = [[20, 40], [120, 40]]
    at.text_input(key=f"{key}-name").set_value("drinks").run()
    at.button(key=f"{key}-save").click().run()
    assert [e.value for e in at.error] == ["Zone 'drinks' has 2 points; a polygon needs at least 3."]
    assert at.session_state[f"{key}-points"] == [[20, 40], [120, 40]]
    assert at.text_input(key=f"{key}-name").value == "drinks"

    # a third point, the kind, the camera: saved, the form is cleared, re-running is offered
    at.session_state[f"{key}-points"] = [[20, 40], [120, 40], [120, 140]]
    at.selectbox(key=f"{key}-kind").set_value("shelf")
    at.radio(key=f"{key}-scope").set_value("camera").run()
    at.button(key=f"{key}-save").click().run()
    assert not at.exception and not at.error
    assert _zones(app, clip_video)[("camera", "drinks")]["polygon"] == [[20, 40], [120, 40], [120, 140]]
    assert at.session_state[f"{key}-points"] == [] and at.text_input(key=f"{key}-name").value == ""
    assert any("Saved zone 'drinks' (shelf)" in i.value for i in at.info)

    # never analysed with rule inputs: the rules cannot run again, and the page says what to do
    at.button(key=f"{key}-rerun-rules").click().run()
    assert any("analyse it again" in e.value for e in at.error)

    # edit: rename and change the kind
    at.button(key=f"{key}-edit-camera-drinks").click().run()
    assert at.text_input(key=f"{key}-name").value == "drinks"
    assert at.session_state[f"{key}-points"] == [[20, 40], [120, 40], [120, 140]]
    at.text_input(key=f"{key}-name").set_value("till")
    at.selectbox(key=f"{key}-kind").set_value("checkout")
    at.number_input(key=f"{key}-loiter").set_value(45.0).run()  # the till's own loitering limit
    at.button(key=f"{key}-save").click().run()
    assert set(_zones(app, clip_video)) == {("camera", "till")}
    assert _zones(app, clip_video)[("camera", "till")]["kind"] == "checkout"
    assert _zones(app, clip_video)[("camera", "till")]["loiter_s"] == 45.0
    assert any("loitering after 45 s" in m.value for m in at.markdown)

    at.button(key=f"{key}-delete-camera-till").click().run()
    assert _zones(app, clip_video) == {}
    assert any("No zones yet" in c.value for c in at.caption)


def test_the_zones_overlay_is_drawn_on_the_frame():
    from ui.zone_editor import overlay

    frame = np.zeros((120, 160, 3), np.uint8)  # the 320x240 video shown at half size
    zones = [{"name": "drinks", "kind": "shelf", "polygon": SHELF, "scope": "camera", "active": True}]
    out = overlay(frame, (320, 240), zones, [[200, 200], [300, 200]], False, None)
    assert out.shape == frame.shape
    assert out[45, 35].any(), "the shelf is filled where it lies, at half scale"
    assert not out[100, 20].any(), "nothing outside it"
    edited = overlay(frame, (320, 240), zones, [], False, ("camera", "drinks"))
    assert not edited[45, 35].any(), "the zone being edited is drawn as the draft, not twice"


# ---- highlights -----------------------------------------------------------------------------------

def _event(**kw) -> Event:
    base = dict(type="picking", t_start=1.0, t_end=2.0, frame=10, bbox=(200.0, 100.0, 260.0, 230.0),
                confidence=0.8, zone="drinks", attributes={"zone_kind": "shelf"})
    return Event(**{**base, **kw})


def test_a_highlight_outlines_the_zones_its_event_used():
    from gpu_jobs.highlights import draw_event, event_zones

    zones = [Zone("drinks", "shelf", [(20, 40), (120, 40), (120, 140), (20, 140)]),
             Zone("door", "exit", [(280, 150), (318, 150), (318, 238), (280, 238)]),
             Zone("left", "region", [(0, 0), (100, 0), (100, 240), (0, 240)])]
    assert [z.name for z in event_zones(_event(), zones)] == ["drinks"]
    theft = _event(type="theft", zone="door", attributes={"shelf": "drinks", "zone_kind": "exit"})
    assert [z.name for z in event_zones(theft, zones)] == ["drinks", "door"]
    assert event_zones(_event(zone="left"), zones) == [], "a frame third is not a drawn zone"

    image = np.full((240, 320, 3), 90, np.uint8)
    plain = draw_event(image, _event(), [])
    drawn = draw_event(image, _event(), [], zones)
    assert (plain[40, 60] == 90).all() and not (drawn[40, 60] == 90).all(), "the shelf's outline"
    assert (drawn[90, 70] != 90).any(), "a light fill inside it"
    assert (drawn[200, 300] == plain[200, 300]).all(), "the exit the event did not use is not drawn"


# ---- re-deriving keeps a picture only while its zones stay the same ------------------------------

def _reaching_run(app, tmp_path) -> dict:
    """A completed 640x360 video whose stored rule inputs hold a person whose box widens into x < 125 for 1 s."""
    from db.repos import runs
    from gpu_jobs.rule_inputs import pack
    from gpu_jobs.types import Observation, Track

    clip = write_clip(tmp_path / "shop.mp4", seconds=4.5, fps=10, size=(640, 360))
    video = ingest_path(app, clip, submit=False, camera="shop").video
    observations = []
    for i in range(21):
        t, h = i / 5, 150.0
        w = h / (1.6 if 2.0 <= t <= 3.0 else 3.0)
        observations.append(Observation(t=t, frame=int(round(t * 10)), bbox=(165 - w / 2, 300 - h, 165 + w / 2, 300),
                                        confidence=0.9, region="left"))
    track = Track(6, "person", observations, {"gender": "female"})
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=video["id"], run_id=uuid.uuid4(), frame_stats=[], events=[],
                       tracks=[{"track_number": 6, "class_name": "person", "t_first": 0.0, "t_last": 4.0}],
                       rule_inputs={"fps": 5.0, "frame_width": 640, "frame_height": 360, "data": pack([track], [])})
        return videos.update(conn, video["id"], status="completed", progress=100)


def _pick(app, video) -> dict:
    with app.db.connection() as conn:
        return conn.execute("SELECT e.* FROM events e JOIN videos v ON v.current_run_id = e.run_id "
                            "WHERE e.video_id = %s AND e.type = 'picking'", (video["id"],)).fetchone()


def test_a_picture_is_kept_while_its_zones_stay_and_drawn_again_when_one_is_redrawn(app, clean_db, tmp_path):
    video = _reaching_run(app, tmp_path)
    shelf = {"name": "drinks", "kind": "shelf", "polygon": [[0, 100], [125, 100], [125, 250], [0, 250]]}
    zone_service.save_zone(app, video_id=video["id"], zone=shelf, scope="camera")
    assert zone_service.rederive_events(app, video_id=video["id"])["events_by_type"].get("picking") == 1
    first = _pick(app, video)["highlight_key"]
    assert app.store.exists(first)

    again = zone_service.rederive_events(app, video_id=video["id"])
    assert _pick(app, video)["highlight_key"] == first and again["highlights_rendered"] == 0

    redrawn = {**shelf, "polygon": [[0, 90], [130, 90], [130, 260], [0, 260]]}
    zone_service.save_zone(app, video_id=video["id"], zone=redrawn, scope="camera", replacing=("camera", "drinks"))
    zone_service.rederive_events(app, video_id=video["id"])
    second = _pick(app, video)["highlight_key"]
    assert second != first and app.store.exists(second) and not app.store.exists(first)
