"""Storage tiers, archive and restore, lifecycle rules and delete, against moto S3 and the folder store."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import bootstrap
from core.errors import VideoNotFound
from services import storage as lifecycle
from services.storage import LifecycleUnsupported, playable
from db.objects import BlobNotFound, FolderStore, ObjectArchived, S3Store, parse_restore_header
from db.repos import runs, videos
from tests.conftest import run_cli


@pytest.fixture(params=["folder", "s3"])
def tier_app(request, settings, clean_db, tmp_path):
    """An App on the shared test database with its own store: a folder in tmp_path, or a moto bucket."""
    if request.param == "s3":
        endpoint, bucket = request.getfixturevalue("s3_bucket")
        app = bootstrap.App(settings.model_copy(update={"s3_bucket": bucket, "s3_endpoint_url": endpoint}))
    else:
        app = bootstrap.App(settings.model_copy(update={"data_dir": tmp_path}))
    app.db = clean_db  # share the session's pool (cached_property: assignment replaces it)
    assert app.store.name == request.param
    return app


def add_video(app, *, name: str = "cam1.mp4", highlights: int = 2, status: str = "completed",
              age_days: float = 0) -> dict:
    """A video row with its original, thumbnail and highlight objects in the app's store."""
    video_id = uuid.uuid4()
    key, thumb = f"videos/2026/01/01/{video_id}_{name}", f"thumbnails/{video_id}.jpg"
    app.store.put_bytes(key, b"\x00original-video-bytes" * 50)
    app.store.put_bytes(thumb, b"jpeg-thumb")
    run_id = uuid.uuid4()
    events = []
    for i in range(highlights):
        hk = f"highlights/{video_id}/{run_id}/{i:05d}_walking.jpg"
        app.store.put_bytes(hk, b"jpeg-highlight")
        events.append({"track_number": 1, "type": "walking", "t_start": float(i), "t_end": i + 1.0,
                       "description": f"a person walks ({i})", "highlight_key": hk})
    with app.db.connection() as conn:
        videos.insert(conn, name=name, original_filename=name, sha256=uuid.uuid4().hex, storage_key=key,
                      size_bytes=1050, video_id=video_id)
        videos.update(conn, video_id, thumbnail_key=thumb, status=status)
        runs.write_run(conn, video_id=video_id, run_id=run_id, tracks=[
            {"track_number": 1, "class_name": "person", "t_first": 0.0, "t_last": 9.0}], events=events, frame_stats=[])
        if age_days:
            conn.execute("UPDATE videos SET created_at = now() - make_interval(secs => %s) WHERE id = %s",
                         (age_days * 86400.0, video_id))
        return videos.get(conn, video_id)


def row_of(app, video_id) -> dict | None:
    with app.db.connection() as conn:
        return videos.get(conn, video_id)


# ---- archive ------------------------------------------------------------------------------------

def test_archive_changes_the_storage_class_and_keeps_the_rest_hot(tier_app):
    video = add_video(tier_app)
    result = lifecycle.archive_video(tier_app, video_id=video["id"])
    assert result.changed and result.ok and result.tier == "archive"
    assert tier_app.store.head(video["storage_key"]).storage_class == "GLACIER"
    with pytest.raises(ObjectArchived):
        tier_app.store.get_bytes(video["storage_key"])
    # thumbnails and highlights stay hot, so the video stays searchable with pictures
    assert tier_app.store.head(video["thumbnail_key"]).storage_class == "STANDARD"
    with tier_app.db.connection() as conn:
        keys = runs.highlight_keys(conn, video["id"])
    assert all(tier_app.store.get_bytes(k) == b"jpeg-highlight" for k in keys)
    row = row_of(tier_app, video["id"])
    assert (row["storage_tier"], row["restore_state"]) == ("archive", None)
    assert playable(row) == (False, "archived — restore")
    if isinstance(tier_app.store, S3Store):  # what S3 itself reports, not our parsing
        head = tier_app.store.client.head_object(Bucket=tier_app.store.bucket, Key=video["storage_key"])
        assert head["StorageClass"] == "GLACIER"


def test_archiving_twice_is_harmless(tier_app):
    video = add_video(tier_app)
    first = lifecycle.archive_video(tier_app, video_id=video["id"])
    second = lifecycle.archive_video(tier_app, video_id=video["id"])
    assert first.changed and not second.changed and second.ok
    assert second.message == "Already archived." and second.tier == "archive"
    assert tier_app.store.head(video["storage_key"]).storage_class == "GLACIER"


def test_archive_older_than_picks_old_analysed_videos_only(tier_app):
    old = add_video(tier_app, name="old.mp4", age_days=100)
    new = add_video(tier_app, name="new.mp4")
    busy = add_video(tier_app, name="busy.mp4", age_days=100, status="processing")
    results = {r.name: r for r in lifecycle.archive_older_than(tier_app, days=90)}
    assert set(results) == {"old.mp4", "busy.mp4"}
    assert results["old.mp4"].changed and results["old.mp4"].tier == "archive"
    assert not results["busy.mp4"].ok and "analysis" in results["busy.mp4"].message
    assert row_of(tier_app, new["id"])["storage_tier"] == "hot"
    assert row_of(tier_app, busy["id"])["storage_tier"] == "hot"
    # a second run finds nothing left to do
    assert [r.name for r in lifecycle.archive_older_than(tier_app, days=90)] == ["busy.mp4"]
    assert row_of(tier_app, old["id"])["storage_tier"] == "archive"


def test_a_missing_original_does_not_stop_the_batch(tier_app):
    gone = add_video(tier_app, name="gone.mp4", age_days=10)
    fine = add_video(tier_app, name="fine.mp4", age_days=10)
    tier_app.store.delete(gone["storage_key"])
    results = {r.name: r for r in lifecycle.archive_older_than(tier_app, days=5)}
    assert not results["gone.mp4"].ok and "missing" in results["gone.mp4"].message
    assert results["fine.mp4"].changed
    assert row_of(tier_app, fine["id"])["storage_tier"] == "archive"


# ---- restore ------------------------------------------------------------------------------------

def test_restore_request_and_its_status(tier_app):
    video = add_video(tier_app)
    lifecycle.archive_video(tier_app, video_id=video["id"])
    result = lifecycle.restore_video(tier_app, video_id=video["id"])
    assert result.changed and result.ok
    info = tier_app.store.head(video["storage_key"])
    if isinstance(tier_app.store, S3Store):
        # moto completes a restore at once: the Restore header already says not ongoing, with an expiry
        raw = tier_app.store.client.head_object(Bucket=tier_app.store.bucket, Key=video["storage_key"])["Restore"]
        assert 'ongoing-request="false"' in raw and "expiry-date=" in raw
        assert (info.restore, result.restore_state) == ("restored", "restored")
        assert info.restore_expires_at == result.restore_expires_at
    else:
        # the folder keeps a restore in flight until it is polled, like Glacier's hours
        assert (info.restore, result.restore_state) == ("ongoing", "restoring")
        assert playable(row_of(tier_app, video["id"])) == (False, "archived — restore in progress")
        assert lifecycle.restore_video(tier_app, video_id=video["id"]).message == "A restore is already in progress."
        with pytest.raises(ObjectArchived):
            tier_app.store.get_bytes(video["storage_key"])
    polled = lifecycle.poll_restores(tier_app)
    assert [(p.video_id, p.restore_state) for p in polled] == [(str(video["id"]), "restored")]
    row = row_of(tier_app, video["id"])
    assert (row["storage_tier"], row["restore_state"]) == ("archive", "restored")
    # expiry is about restore_days away: S3 rounds it to a midnight, the folder counts from now
    expected = datetime.now(timezone.utc) + timedelta(days=tier_app.settings.restore_days)
    assert abs(row["restore_expires_at"] - expected) < timedelta(days=1, hours=1)
    assert playable(row) == (True, "")
    assert tier_app.store.get_bytes(video["storage_key"]).startswith(b"\x00original")
    again = lifecycle.restore_video(tier_app, video_id=video["id"])
    assert not again.changed and again.message == "Already restored."


@pytest.fixture()
def slow_moto_restores(moto_s3):
    """Make moto's restores take one HeadObject to finish instead of none (its state-manager API).

    With `manual` progression and `times: 0`, each read of a restoring key's status moves it one
    step: the first HeadObject after RestoreObject says ongoing, the next says restored.
    """
    import urllib.request

    def post(path: str, body: dict) -> None:
        request = urllib.request.Request(f"{moto_s3}/moto-api/state-manager/{path}", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
        urllib.request.urlopen(request, timeout=10).close()

    post("set-transition", {"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 0}})
    yield
    post("unset-transition", {"model_name": "s3::keyrestore"})


def test_s3_restore_in_progress_then_done(slow_moto_restores, s3_bucket, settings, clean_db):
    endpoint, bucket = s3_bucket
    app = bootstrap.App(settings.model_copy(update={"s3_bucket": bucket, "s3_endpoint_url": endpoint}))
    app.db = clean_db
    video = add_video(app)
    lifecycle.archive_video(app, video_id=video["id"])
    result = lifecycle.restore_video(app, video_id=video["id"])  # its HeadObject reads ongoing-request="true"
    assert (result.restore_state, result.restore_expires_at) == ("restoring", None)
    assert playable(row_of(app, video["id"])) == (False, "archived — restore in progress")
    [polled] = lifecycle.poll_restores(app)  # this HeadObject reads ongoing-request="false", expiry-date=...
    assert polled.changed and polled.restore_state == "restored" and polled.restore_expires_at is not None
    assert app.store.get_bytes(video["storage_key"]).startswith(b"\x00original")


def test_restoring_a_hot_video_is_a_no_op_with_a_message(tier_app):
    video = add_video(tier_app)
    result = lifecycle.restore_video(tier_app, video_id=video["id"])
    assert not result.changed and result.ok
    assert result.message == "Nothing to restore: the video is already hot."
    assert tier_app.store.head(video["storage_key"]).restore is None
    assert row_of(tier_app, video["id"])["restore_state"] is None


def test_unknown_video_is_a_clear_error(tier_app):
    for call in (lifecycle.archive_video, lifecycle.restore_video, lifecycle.delete_video):
        with pytest.raises(VideoNotFound, match="sentinel videos"):
            call(tier_app, video_id=uuid.uuid4())


def test_folder_restore_expires_after_its_window(settings, clean_db, tmp_path):
    app = bootstrap.App(settings.model_copy(update={"data_dir": tmp_path}))
    app.db = clean_db
    video = add_video(app)
    lifecycle.archive_video(app, video_id=video["id"])
    lifecycle.restore_video(app, video_id=video["id"])
    lifecycle.poll_restores(app)
    with app.db.connection() as conn:
        videos.update(conn, video["id"], restore_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert playable(row_of(app, video["id"])) == (False, "archived — restore")
    [result] = lifecycle.poll_restores(app)
    assert result.changed and result.restore_state is None and result.tier == "archive"
    assert app.store.head(video["storage_key"]).restore is None
    with pytest.raises(ObjectArchived):
        app.store.get_bytes(video["storage_key"])
    # and it can be restored again
    assert lifecycle.restore_video(app, video_id=video["id"]).restore_state == "restoring"


def test_sync_catches_up_with_a_bucket_lifecycle_move(s3_bucket, settings, clean_db):
    endpoint, bucket = s3_bucket
    app = bootstrap.App(settings.model_copy(update={"s3_bucket": bucket, "s3_endpoint_url": endpoint}))
    app.db = clean_db
    video = add_video(app)
    app.store.set_storage_class(video["storage_key"], "STANDARD_IA")  # what a lifecycle rule would do
    [result] = lifecycle.sync_tiers(app)
    assert result.changed and result.tier == "warm"
    assert lifecycle.sync_tiers(app) == []
    assert playable(row_of(app, video["id"])) == (True, "")


# ---- lifecycle rules ----------------------------------------------------------------------------

def test_lifecycle_configuration_round_trip(tier_app):
    s = tier_app.settings
    if isinstance(tier_app.store, FolderStore):
        with pytest.raises(LifecycleUnsupported, match="--older-than"):
            lifecycle.apply_lifecycle(tier_app)
        return
    applied = lifecycle.apply_lifecycle(tier_app)
    read_back = tier_app.store.client.get_bucket_lifecycle_configuration(Bucket=tier_app.store.bucket)["Rules"]
    assert applied["Rules"] == read_back
    rules = {r["ID"]: r for r in read_back}
    videos_rule, highlights_rule = rules["sentinel-videos-tiering"], rules["sentinel-highlights-expiry"]
    assert videos_rule["Filter"] == {"Prefix": "videos/"} and videos_rule["Status"] == "Enabled"
    assert videos_rule["Transitions"] == [{"Days": s.tier_warm_after_days, "StorageClass": "STANDARD_IA"},
                                          {"Days": s.tier_archive_after_days, "StorageClass": "GLACIER"}]
    assert highlights_rule["Filter"] == {"Prefix": "highlights/"}
    assert highlights_rule["Expiration"] == {"Days": s.highlight_expire_days}
    assert "thumbnails/" not in json.dumps(read_back)  # thumbnails never leave the hot tier


def test_lifecycle_days_s3_would_refuse_are_a_clear_error(s3_bucket, settings, clean_db):
    endpoint, bucket = s3_bucket
    app = bootstrap.App(settings.model_copy(update={
        "s3_bucket": bucket, "s3_endpoint_url": endpoint, "tier_warm_after_days": 30, "tier_archive_after_days": 45}))
    app.db = clean_db
    with pytest.raises(ValueError, match="SENTINEL_TIER_ARCHIVE_DAYS"):
        lifecycle.apply_lifecycle(app)


# ---- delete -------------------------------------------------------------------------------------

@pytest.mark.parametrize("archived", [False, True], ids=["hot", "archived"])
def test_delete_removes_objects_in_every_tier_and_rows(tier_app, archived):
    video = add_video(tier_app, highlights=3)
    other = add_video(tier_app, name="other.mp4")
    if archived:
        lifecycle.archive_video(tier_app, video_id=video["id"])
        lifecycle.restore_video(tier_app, video_id=video["id"])
        lifecycle.poll_restores(tier_app)  # a restored copy too, where the store keeps one apart
    with tier_app.db.connection() as conn:
        highlight_keys = runs.highlight_keys(conn, video["id"])
    keys = [video["storage_key"], video["thumbnail_key"], *highlight_keys]
    tier_app.store.delete(highlight_keys[0])  # already gone: tolerated
    result = lifecycle.delete_video(tier_app, video_id=video["id"])
    assert sorted(result.deleted_keys) == sorted(keys[:2] + highlight_keys[1:])
    assert result.missing_keys == [highlight_keys[0]] and result.events == 3
    for key in keys:
        with pytest.raises(BlobNotFound):
            tier_app.store.head(key)
    if isinstance(tier_app.store, FolderStore):  # nothing left in the archive subfolder or its state
        leftovers = [p for p in tier_app.store.root.rglob("*") if p.is_file() and str(video["id"]) in str(p)]
        assert leftovers == []
    with tier_app.db.connection() as conn:
        assert videos.get(conn, video["id"]) is None
        assert conn.execute("SELECT count(*) AS n FROM events WHERE video_id = %s", (video["id"],)).fetchone()["n"] == 0
        assert conn.execute("SELECT count(*) AS n FROM tracks WHERE video_id = %s", (video["id"],)).fetchone()["n"] == 0
    # the other video is untouched
    assert row_of(tier_app, other["id"]) is not None
    assert tier_app.store.exists(other["storage_key"]) and tier_app.store.exists(other["thumbnail_key"])


# ---- stats, playable, header parsing ------------------------------------------------------------

def test_tier_stats_lists_every_tier(tier_app):
    lifecycle.archive_video(tier_app, video_id=add_video(tier_app, name="a.mp4")["id"])
    add_video(tier_app, name="b.mp4")
    stats = lifecycle.tier_stats(tier_app)
    assert [t["tier"] for t in stats["tiers"]] == ["hot", "warm", "archive"]
    by_tier = {t["tier"]: t for t in stats["tiers"]}
    assert (by_tier["hot"]["videos"], by_tier["warm"]["videos"], by_tier["archive"]["videos"]) == (1, 0, 1)
    assert by_tier["archive"]["bytes"] == 1050
    assert (stats["restoring"], stats["restored"], stats["store"]) == (0, 0, tier_app.store.name)


def test_playable():
    now = datetime.now(timezone.utc)
    base = {"storage_key": "videos/a.mp4", "restore_state": None, "restore_expires_at": None}
    assert playable({**base, "storage_tier": "hot"}) == (True, "")
    assert playable({**base, "storage_tier": "warm"}) == (True, "")
    assert playable({**base, "storage_key": None, "storage_tier": "hot"}) == (False, "no video file")
    assert playable({**base, "storage_tier": "archive"}) == (False, "archived — restore")
    assert playable({**base, "storage_tier": "archive", "restore_state": "restoring"}) == (
        False, "archived — restore in progress")
    restored = {**base, "storage_tier": "archive", "restore_state": "restored"}
    assert playable({**restored, "restore_expires_at": now + timedelta(days=1)}) == (True, "")
    assert playable({**restored, "restore_expires_at": now - timedelta(seconds=1)}) == (False, "archived — restore")


@pytest.mark.parametrize("header, expected", [
    (None, (None, None)),
    ("", (None, None)),
    ('ongoing-request="true"', ("ongoing", None)),
    ('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"',
     ("restored", datetime(2012, 12, 21, tzinfo=timezone.utc))),
    ('ongoing-request="false", expiry-date="not a date"', ("restored", None)),
])
def test_restore_header_parsing(header, expected):
    assert parse_restore_header(header) == expected


# ---- command line -------------------------------------------------------------------------------

def test_cli_tier_flow_and_delete(app, clean_db):
    """The CLI in a child process, on the session's folder store and database."""
    video = add_video(app, name="cli-clip.mp4", age_days=40)
    vid = str(video["id"])
    stats = json.loads(run_cli("tier", "stats", "--json").stdout)
    assert {t["tier"]: t["videos"] for t in stats["tiers"]} == {"hot": 1, "warm": 0, "archive": 0}

    out = run_cli("tier", "restore", vid)
    assert out.returncode == 0 and "already hot" in out.stdout

    out = run_cli("tier", "archive", "--older-than", "30", "--json")
    assert out.returncode == 0, out.stderr
    [archived] = json.loads(out.stdout)["results"]
    assert (archived["video_id"], archived["tier"], archived["changed"]) == (vid, "archive", True)
    assert "No hot or warm videos" in run_cli("tier", "archive", "--older-than", "30").stdout

    assert "restoring" in run_cli("tier", "restore", "cli-clip.mp4").stdout  # an exact name works too
    [polled] = json.loads(run_cli("tier", "poll", "--json").stdout)["results"]
    assert polled["restore_state"] == "restored"

    out = run_cli("tier", "lifecycle")
    assert out.returncode == 1 and out.stderr.strip().count("\n") == 0 and "folder store" in out.stderr

    out = run_cli("delete", vid, input="n\n")
    assert out.returncode == 1 and "Not deleted" in out.stderr and row_of(app, vid) is not None
    out = run_cli("delete", vid, "--yes", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["events"] == 2 and row_of(app, vid) is None
    assert not app.store.exists(video["storage_key"])

    out = run_cli("delete", vid, "--yes")
    assert out.returncode == 1 and "No video" in out.stderr and "Traceback" not in out.stderr


def test_cli_lifecycle_on_s3(s3_bucket, database):
    endpoint, bucket = s3_bucket
    out = run_cli("tier", "lifecycle", "--json", env={"S3_BUCKET": bucket, "S3_ENDPOINT_URL": endpoint})
    assert out.returncode == 0, out.stderr
    assert {r["ID"] for r in json.loads(out.stdout)["Rules"]} == {"sentinel-videos-tiering",
                                                                  "sentinel-highlights-expiry"}


def test_cli_archive_and_restore_of_one_video_print_its_result_line(app, clean_db):
    vid = str(add_video(app, name="one-clip.mp4")["id"])
    busy = str(add_video(app, name="busy.mp4", status="processing")["id"])

    out = run_cli("tier", "archive", vid)
    assert (out.returncode, out.stdout, out.stderr) == (0, f"{vid}  one-clip.mp4  archive  Archived.\n", "")
    [again] = json.loads(run_cli("tier", "archive", "one-clip.mp4", "--json").stdout)["results"]
    assert (again["video_id"], again["changed"], again["message"]) == (vid, False, "Already archived.")

    out = run_cli("tier", "restore", vid)
    assert (out.returncode, out.stdout) == (0, f"{vid}  one-clip.mp4  archive (restoring)  Restore requested; it "
                                               "becomes playable when the restore completes (`sentinel tier poll`).\n")

    out = run_cli("tier", "archive", busy)
    assert out.returncode == 1
    assert out.stdout == f"{busy}  busy.mp4  hot  Not archived: the video is still waiting for or under analysis.\n"
    assert out.stderr.strip() == ("sentinel: 1 of 1 videos failed: "
                                  "Not archived: the video is still waiting for or under analysis.")
