"""AppTest over the whole app (through the router): every page on an empty and on a populated database,
the upload flow, the ask flow with its citation cards and the jump to the video, delete with confirmation."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from db.repos import jobs, runs, summaries, videos
from gpu_jobs.ingest import ingest_path
from tests.conftest import ROOT, add_analysed_video, add_tracked_video, write_clip
from tests.synthetic import DOOR_ZONE, store_day

PAGES = ["pages/dashboard.py", "pages/upload.py", "pages/videos.py", "pages/video.py", "pages/ask.py",
         "pages/events.py", "pages/storage.py", "pages/system.py"]
TITLES = {"pages/dashboard.py": "Dashboard", "pages/upload.py": "Upload", "pages/videos.py": "Videos",
          "pages/ask.py": "Ask", "pages/events.py": "Events", "pages/storage.py": "Storage",
          "pages/system.py": "System"}


def open_page(page: str, **query) -> AppTest:
    """The app through its router, on `page`, with query params."""
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = str(value)
    at.run()
    if page != "pages/dashboard.py":
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def wait_for_player(at: AppTest, app, video: dict, timeout: float = 120) -> AppTest:
    """Wait for the background preview copy (the clip is MPEG-4 Part 2, which browsers cannot play), then rerun.

    In a browser the page's fragment polls for it; AppTest does not fire run_every timers.
    """
    import time

    from gpu_jobs.preview import preview_key

    deadline = time.monotonic() + timeout
    while not app.store.exists(preview_key(video["id"])):
        assert time.monotonic() < deadline, "the preview copy was not made"
        time.sleep(0.3)
    return at.run()


def jpeg(colour=(40, 120, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (320, 240), colour).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture()
def empty(app, clean_db):
    return app


@pytest.fixture()
def populated(app, clean_db, tmp_path):
    """One analysed clip with a walking and a theft event (real embeddings, highlight pictures, frame stats)."""
    return populate(app, tmp_path)


def populate(app, tmp_path) -> dict:
    from core.runtime.embeddings import embed_texts

    clip = write_clip(tmp_path / f"aisle-{uuid.uuid4().hex[:6]}.mp4", seconds=4.0)
    video = ingest_path(app, clip, submit=False).video
    run_id = uuid.uuid4()
    specs = [
        ("walking", 0.2, 3.0, "An adult man in a red jacket walks past the shelf from left to right."),
        ("theft", 1.0, 1.8, "An adult man takes a bottle from the shelf and hides it in his jacket."),
    ]
    embeddings = embed_texts([s[3] for s in specs], app.settings)
    events = []
    for i, (kind, t0, t1, text) in enumerate(specs):
        key = f"highlights/{video['id']}/{run_id}/{i:05d}_{kind}.jpg"
        app.store.put_bytes(key, jpeg(), content_type="image/jpeg")
        events.append({"track_number": 1, "type": kind, "t_start": t0, "t_end": t1, "frame": int(t0 * 10),
                       "bbox": [40, 60, 120, 220], "zone": "shelf", "confidence": 0.8 - 0.1 * i,
                       "attributes": {"age_group": "adult", "gender": "male", "clothing_colour": "red"},
                       "description": text, "keywords": [kind, "shelf"], "highlight_key": key,
                       "embedding": embeddings[i]})
    stats = [{"t": t / 10, "frame": t, "counts": {"person": 1}, "region_counts": {"left": {"person": 1}},
              "detections": [{"track": 1, "class": "person", "bbox": [40, 60, 120, 220], "region": "left",
                              "confidence": 0.9}]} for t in range(0, 40, 5)]
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=video["id"], run_id=run_id,
                       tracks=[{"track_number": 1, "class_name": "person", "t_first": 0.0, "t_last": 3.9,
                                "attributes": {"age_group": "adult", "gender": "male"}, "path": []}],
                       events=events, frame_stats=stats)
        video = videos.update(conn, video["id"], status="completed", progress=100)
    return video


# ---- every page renders ------------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_an_empty_database(empty, page):
    at = open_page(page)
    assert at.title[0].value == TITLES.get(page, "Video")


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_a_populated_database(populated, page):
    at = open_page(page, video=populated["id"], t=1)
    assert at.title[0].value == TITLES.get(page, populated["name"])


def test_dashboard_shows_counts_chart_and_notable_events(populated):
    at = open_page("pages/dashboard.py")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Videos"] == "1" and metrics["Completed"] == "1"
    assert at.get("vega_lite_chart"), "events by type over time is a chart"
    jump = [b for b in at.button if b.key and b.key.startswith("jump-notable-")]
    assert len(jump) == 1, "the theft event is the only notable one"
    everything = _chart_types(at)
    assert "theft" in everything and len(everything) > 1
    at.get("button_group")[1].set_value("incidents").run()  # the "Show" control, beside the period
    assert _chart_types(at) == {"theft"}, "incidents only: routine events would bury the theft"


def _chart_types(at) -> set[str]:
    import json

    spec = json.loads(next(c for c in at.get("vega_lite_chart") if '"events"' in c.proto.spec).proto.spec)
    return set(spec["encoding"]["color"]["scale"]["domain"])  # the legend: one colour per type charted


def test_dashboard_shows_people_in_and_out_per_hour_once_an_entrance_is_drawn(app, clean_db):
    from services.zones import set_video_zones

    video = add_tracked_video(app, store_day())
    at = open_page("pages/dashboard.py")
    assert any("no entrance zone counted anyone" in c.value and "11 people seen" in c.value for c in at.caption)
    set_video_zones(app, video_id=video["id"], zones=[DOOR_ZONE])
    at = open_page("pages/dashboard.py")
    charts = [c for c in at.get("vega_lite_chart") if '"people in (up) and out (down)"' in c.proto.spec]
    assert len(charts) == 1, "people in and out per hour is a chart"
    assert any("Counted at entrance zones" in c.value for c in at.caption)
    from ui.data import people_per_hour
    from ui.timeline import people_per_hour_chart

    data = people_per_hour_chart(people_per_hour(app, days=30).hours).data
    assert sorted(zip(data["way"], data["people"])) == [("in", 5), ("out", -3)]


def test_videos_page_filters_by_name_and_status(populated):
    at = open_page("pages/videos.py")
    assert any(populated["name"] in str(p.proto.label) for p in at.get("page_link"))
    at.text_input(key="videos_name").set_value("no-such-name").run()
    assert any("No videos match" in c.value for c in at.caption)
    at.text_input(key="videos_name").set_value("").run()
    at.multiselect(key="videos_status").set_value(["failed"]).run()
    assert any("No videos match" in c.value for c in at.caption)


def test_video_page_player_timeline_gallery_and_seek(populated, app):
    at = open_page("pages/video.py", video=populated["id"], t=2)
    assert any("Preparing a browser-playable copy" in i.value for i in at.info), "MPEG-4 Part 2 needs a preview"
    wait_for_player(at, app, populated)
    players = at.get("video")
    assert len(players) == 1 and players[0].proto.start_time == 2
    # the folder store's video is a signed media-server URL the browser streams by ranges
    url = players[0].proto.url
    assert url.startswith("http://127.0.0.1:") and "/media/" in url, url
    assert httpx.get(url, headers={"Range": "bytes=0-99"}).status_code == 206
    assert at.get("vega_lite_chart"), "the timeline is an altair chart"
    jumps = [b for b in at.button if b.key and b.key.startswith("jump-gallery-")]
    assert len(jumps) == 2
    next(b for b in jumps if b.label == "Play at 00:01").click().run()  # the theft's card
    assert at.query_params["t"] == "1"
    assert at.get("video")[0].proto.start_time == 1


def test_video_page_sets_corrects_and_clears_the_recording_start(populated, app):
    key = f"recorded-at-text-{populated['id']}"

    def stored():
        with app.db.connection() as conn:
            return videos.get(conn, populated["id"])["recorded_at"]

    at = open_page("pages/video.py", video=populated["id"])
    assert any("Recording start: not set" in e.label for e in at.expander)
    save = f"FormSubmitter:recorded-at-{populated['id']}-Save"
    at.text_input(key=key).set_value("half past ten")
    at.button(key=save).click().run()
    assert any("is not a date and time" in e.value for e in at.error) and stored() is None
    at.text_input(key=key).set_value("2026-12-01 10:30")
    at.button(key=save).click().run()
    assert not at.error and stored().isoformat() == "2026-12-01T10:30:00"
    assert any("Recording started at 2026-12-01 10:30:00" in e.label for e in at.expander)
    at.text_input(key=key).set_value("")
    at.button(key=save).click().run()
    assert stored() is None


def test_video_page_frame_chat_and_summary(populated):
    at = open_page("pages/video.py", video=populated["id"], t=1)
    at.text_input(key=f"frame-q-{populated['id']}").set_value("who is on screen?")
    at.button[[b.label for b in at.button].index("Ask")].click().run()
    assert not at.exception
    assert at.chat_message, "the frame answer is shown as a chat message"
    at.button(key="summary_generate").click().run()
    from rag.summaries import summary_thread

    thread = summary_thread(populated["id"])
    if thread:
        thread.join(60)
    at.run()
    assert not at.exception
    assert any("Regenerate" == b.label for b in at.button)


def test_video_page_rewrites_a_summary_left_stale_by_a_new_analysis(populated, app):
    from rag.summaries import generate_summary, get_summary, summary_thread

    assert "1 theft" in generate_summary(app, populated["id"])["text"]
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=populated["id"], run_id=uuid.uuid4(), tracks=[], frame_stats=[],
                       events=[{"type": "collapse", "t_start": 2.0, "t_end": 3.5, "confidence": 0.9,
                                "description": "A man collapses by the shelf."}])
    assert get_summary(app, populated["id"])["stale"]

    at = open_page("pages/video.py", video=populated["id"])
    thread = summary_thread(populated["id"])
    if thread:
        thread.join(60)
    fresh = get_summary(app, populated["id"])
    assert fresh["status"] == "completed" and not fresh["stale"]
    assert "Events: 1 collapse." in fresh["text"] and "theft" not in fresh["text"]
    at.run()
    assert not at.exception
    assert any("Events: 1 collapse." in m.value for m in at.markdown)
    assert not any("earlier analysis" in w.value for w in at.warning)


def test_archived_video_shows_restore_instead_of_a_player(populated, app):
    from services.storage import archive_video

    archive_video(app, video_id=populated["id"])
    at = open_page("pages/video.py", video=populated["id"])
    assert not at.get("video")
    assert any("archived — restore" in m.value for m in at.markdown)
    at.button(key=f"restore-{populated['id']}").click().run()
    assert not at.exception
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"])["restore_state"] in ("restoring", "restored")


def test_on_s3_the_player_plays_a_presigned_url(app, clean_db, s3_bucket, tmp_path, monkeypatch):
    from db.objects import S3Store

    endpoint, bucket = s3_bucket
    monkeypatch.setitem(app.__dict__, "store", S3Store(bucket, endpoint_url=endpoint))
    video = populate(app, tmp_path)
    at = wait_for_player(open_page("pages/video.py", video=video["id"], t=1), app, video)
    url = at.get("video")[0].proto.url
    assert url.startswith(f"{endpoint}/{bucket}/previews/") and "Signature" in url
    assert at.image, "highlights come from the bucket"
    assert any(b.proto.url.startswith(endpoint) for b in at.get("link_button")), "download is a presigned link"


# ---- upload ------------------------------------------------------------------------------------

def test_upload_stores_each_file_with_its_own_outcome_then_analyze_queues(empty, app, tmp_path):
    clip = write_clip(tmp_path / "entrance cam.mp4", seconds=2.0).read_bytes()
    at = open_page("pages/upload.py")
    assert "MB each" in at.file_uploader[0].label
    at.file_uploader[0].set_value([("entrance cam.mp4", clip, "video/mp4"),
                                   ("notes.txt", b"not a video at all", "text/plain")]).run()
    assert not at.exception
    assert any("entrance cam.mp4" in s.value and "Stored" in s.value for s in at.success)
    assert any("notes.txt" in e.value for e in at.error), "a bad file gets its own clear error"
    with app.db.connection() as conn:
        (video,) = videos.list_videos(conn)
        assert jobs.latest_for_video(conn, video["id"]) is None, "not analysed until asked"
    at.button(key="analyze_all").click().run()
    with app.db.connection() as conn:
        assert jobs.latest_for_video(conn, video["id"])["status"] == "queued"
    # a rerun does not store the same upload again
    at.run()
    assert len([s for s in at.success if "entrance cam.mp4" in s.value]) == 1


def test_upload_takes_when_the_recording_started_and_refuses_a_time_it_cannot_read(empty, app, tmp_path):
    clip = write_clip(tmp_path / "till.mp4", seconds=2.0).read_bytes()
    at = open_page("pages/upload.py")
    at.text_input(key="upload_recorded_at").set_value("yesterday at ten").run()
    assert any("is not a date and time" in e.value for e in at.error)
    at.file_uploader[0].set_value([("till.mp4", clip, "video/mp4")]).run()
    with app.db.connection() as conn:
        assert videos.list_videos(conn) == [], "nothing is stored until the time reads right"
    at.text_input(key="upload_recorded_at").set_value("2026-12-01 10:30").run()
    assert not at.error and any("till.mp4" in s.value and "Stored" in s.value for s in at.success)
    with app.db.connection() as conn:
        (video,) = videos.list_videos(conn)
    assert video["recorded_at"].isoformat() == "2026-12-01T10:30:00"


def test_upload_with_auto_analyze_and_duplicate(empty, app, tmp_path):
    clip = write_clip(tmp_path / "a.mp4", seconds=2.0).read_bytes()
    at = open_page("pages/upload.py")
    at.toggle(key="auto_analyze").set_value(True).run()
    at.file_uploader[0].set_value([("a.mp4", clip, "video/mp4")]).run()
    assert any("queued for analysis" in s.value for s in at.success)
    at.file_uploader[0].set_value([("a.mp4", clip, "video/mp4"), ("copy of a.mp4", clip, "video/mp4")]).run()
    assert any("Already uploaded" in i.value for i in at.info)
    with app.db.connection() as conn:
        assert len(videos.list_videos(conn)) == 1


def test_s3_import_with_a_bad_uri_says_so(empty):
    at = open_page("pages/upload.py")
    at.text_input(key="upload_s3_uri").set_value("http://not-s3/video.mp4")
    next(b for b in at.button if b.label == "Import").click().run()
    assert any("s3://bucket" in e.value for e in at.error)


# ---- ask ---------------------------------------------------------------------------------------

def test_ask_shows_citation_cards_filters_and_time_and_jumps_to_the_video(populated, app):
    from datetime import datetime

    from db.repos import videos

    with app.db.connection() as conn:  # the uploader said when the recording started: the card says when it was
        videos.update(conn, populated["id"], recorded_at=datetime(2026, 12, 1, 22, 15, 0))
    at = open_page("pages/ask.py")
    at.chat_input(key="ask_input").set_value("did anyone steal anything?").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.chat_message) >= 2
    captions = " ".join(c.value for c in at.caption)
    assert "filters:" in captions and "took" in captions
    assert "at 2026-12-01 22:15:01" in captions, captions
    jumps = [b for b in at.button if b.key and b.key.startswith("jump-turn-")]
    assert jumps, "the answer cites events as cards"
    # the session appears in the sidebar, and can be renamed
    sid = at.session_state["ask_session_id"]
    at.text_input(key=f"ask_title_{sid}").set_value("Theft check")
    next(b for b in at.button if b.label == "Rename").click().run()
    assert any(b.label == "Theft check" for b in at.sidebar.button)
    # the card opens the video at the cited time
    at.button(key=jumps[0].key).click().run()
    assert not at.exception
    assert at.title[0].value == populated["name"]
    assert at.query_params["video"] == str(populated["id"])
    # AppTest reruns the page it was last switched to: stay on the video page the click opened
    wait_for_player(at.switch_page("pages/video.py"), app, populated)
    player = at.get("video")[0]
    assert player.proto.start_time in (0, 1)


def test_ask_new_chat_and_scope(populated):
    at = open_page("pages/ask.py")
    at.selectbox(key="ask_scope").set_value(str(populated["id"])).run()
    at.chat_input(key="ask_input").set_value("how many people walked by?").run()
    assert not at.exception
    at.button(key="ask_new").click().run()
    assert "ask_session_id" not in at.session_state
    assert not at.chat_message


# ---- events ------------------------------------------------------------------------------------

def test_events_page_filters_and_exports(populated):
    at = open_page("pages/events.py")
    table = at.dataframe[0].value
    assert set(table["type"]) == {"walking", "theft"}
    at.multiselect(key="ev_types").set_value(["theft"]).run()
    assert list(at.dataframe[0].value["type"]) == ["theft"]
    at.slider(key="ev_conf").set_value(0.95).run()
    assert any("No events match" in i.value for i in at.info)
    at.slider(key="ev_conf").set_value(0.0).run()
    at.text_input(key="ev_from").set_value("00:02").run()
    assert any("No events match" in i.value for i in at.info)
    at.text_input(key="ev_from").set_value("").run()
    at.selectbox(key="ev_attr_gender").set_value("male").run()
    assert len(at.dataframe[0].value) == 1
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["CSV", "JSON"]


def test_event_exports_are_csv_and_json(populated, app):
    import csv
    import json

    from ui import data
    from ui.event_table import export_csv, export_json

    rows = data.on_the_wall_clock(app, data.list_events(app))
    parsed = list(csv.DictReader(io.StringIO(export_csv(rows))))
    assert {r["type"] for r in parsed} == {"walking", "theft"}
    # each event on its footage's wall clock: here the upload time, since the file name holds none
    from datetime import datetime, timedelta

    uploaded = populated["created_at"].astimezone(app.settings.zone).replace(tzinfo=None)
    for row in parsed:
        assert row["clock"] == "upload time"
        assert datetime.fromisoformat(row["at"]) == (uploaded + timedelta(seconds=float(row["t_start"]))).replace(
            microsecond=0)
    assert json.loads(parsed[0]["attributes"])["gender"] == "male"
    assert {r["type"] for r in json.loads(export_json(rows))} == {"walking", "theft"}


# ---- delete ------------------------------------------------------------------------------------

def test_delete_asks_for_confirmation_then_removes_objects_and_rows(populated, app):
    with app.db.connection() as conn:
        keys = [populated["storage_key"], populated["thumbnail_key"], *runs.highlight_keys(conn, populated["id"])]
    assert all(app.store.exists(k) for k in keys)
    from gpu_jobs.preview import preview_key

    at = wait_for_player(open_page("pages/video.py", video=populated["id"]), app, populated)
    keys.append(preview_key(populated["id"]))  # the browser copy the page made goes too
    at.button(key="delete").click().run()
    assert not at.exception
    assert any(b.key == "confirm_delete" for b in at.button), "a confirmation is asked first"
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"]) is not None, "nothing is deleted before confirming"
    at.button(key="cancel_delete").click().run()
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"]) is not None
    at.button(key="delete").click().run()
    at.button(key="confirm_delete").click().run()
    assert not at.exception
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"]) is None
        assert summaries.get(conn, populated["id"]) is None
    assert not any(app.store.exists(k) for k in keys)
    assert at.title[0].value == "Videos"


# ---- storage and system ------------------------------------------------------------------------

def test_storage_archives_and_restores(populated, app):
    at = open_page("pages/storage.py")
    assert {m.label for m in at.metric} >= {"Hot", "Warm", "Archive"}
    at.number_input(key="archive_days").set_value(0).run()
    at.button(key="archive_run").click().run()
    assert not at.exception
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"])["storage_tier"] == "archive"
    at.run()
    at.button(key=f"restore_{populated['id']}").click().run()
    assert not at.exception
    at.button(key="poll_restores").click().run()
    with app.db.connection() as conn:
        assert videos.get(conn, populated["id"])["restore_state"] == "restored"


def test_system_page_lists_jobs_with_cancel_and_retry(populated, app):
    from ui import data

    job = data.submit_analysis(app, video_id=populated["id"])
    at = open_page("pages/system.py")
    assert at.dataframe[0].value.set_index("component").loc["database", "status"] == "OK"
    roles = set(at.dataframe[1].value["role"])
    assert {"runner", "detection", "text embedding", "answers and summaries"} <= roles
    at.button(key=f"jobs_cancel_{job['id']}").click().run()
    with app.db.connection() as conn:
        assert jobs.get(conn, job["id"])["status"] == "cancelled"
    at.button(key=f"jobs_retry_{job['id']}").click().run()
    with app.db.connection() as conn:
        assert jobs.latest_for_video(conn, populated["id"])["status"] == "queued"


def test_system_page_lists_the_alerts_and_sends_the_due_ones(app, clean_db, webhook):
    from pydantic import SecretStr

    from gpu_jobs import alerts

    at = open_page("pages/system.py")
    assert any("Alerts are off" in c.value for c in at.caption)
    app.settings = app.settings.model_copy(update={"alert_webhook_url": SecretStr(webhook.url)})
    video = add_analysed_video(app)
    webhook.statuses = [503]
    alerts.after_run(app, video["id"])
    at = open_page("pages/system.py")
    shown = at.dataframe[-1].value
    assert list(shown["status"]) == ["pending"] and shown["last error"][0] == "HTTP 503: busy"
    assert shown["alert"][0].startswith("Sentinel: theft in cam1.mp4")
    with app.db.connection() as conn:
        conn.execute("UPDATE alerts SET next_at = now()")
    at.button(key="alerts_send").click().run()
    assert not at.exception and len(webhook.bodies) == 1
    assert list(at.dataframe[-1].value["status"]) == ["sent"]


def test_models_in_use_names_the_runtimes():
    from settings import Settings
    from ui.health import models_in_use

    rows = {r["role"]: r["in use"] for r in models_in_use(Settings(SENTINEL_SSD_BACKEND="opencv",
                                                                   SENTINEL_DETECT_TILES=1))}
    assert rows["detection"] == "SSD-MobileNet v2 COCO on OpenCV DNN, 1 view(s) a frame"
    assert "runtime auto" in rows["text embedding"] and "384 dims" in rows["text embedding"]
    rows = {r["role"]: r["in use"] for r in models_in_use(Settings())}
    assert rows["detection"].startswith("SSD-MobileNet v2 COCO on OpenVINO")  # openvino is a dependency
