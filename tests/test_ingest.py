"""Ingest: every kind of bad input is rejected with one clear message and stores nothing; duplicates resolve."""

from __future__ import annotations

import io

import pytest

from db.repos import jobs, videos
from gpu_jobs.ingest import IngestError, UploadTooLarge, display_name, ingest_path, ingest_stream, safe_name
from tests.conftest import write_clip


def _stored_keys(app):
    return app.store.keys() if hasattr(app.store, "keys") else []


def _counts(app):
    with app.db.connection() as conn:
        return (conn.execute("SELECT count(*) AS n FROM videos").fetchone()["n"],
                conn.execute("SELECT count(*) AS n FROM analysis_jobs").fetchone()["n"])


@pytest.fixture()
def empty(app, clean_db):
    for key in _stored_keys(app):
        app.store.delete(key)
    return app


def _reject(app, data: bytes, name: str, match: str):
    with pytest.raises(IngestError, match=match) as info:
        ingest_stream(app, io.BytesIO(data), name)
    message = str(info.value)
    assert "\n" not in message and message.endswith(".")
    assert _counts(app) == (0, 0)
    assert _stored_keys(app) == []
    assert not list((app.settings.data_dir / "tmp").glob("ingest-*"))
    return message


def test_empty_upload_is_rejected(empty):
    _reject(empty, b"", "empty.mp4", "empty")


def test_non_video_is_rejected(empty):
    _reject(empty, b"%PDF-1.4\n" + b"hello world " * 500, "report.mp4", "not a video")


def test_text_file_is_rejected(empty):
    _reject(empty, "name,qty\nmilk,2\n".encode() * 100, "inventory.csv", "not a video")


def test_image_without_frames_or_audio_only_is_rejected(empty, tmp_path):
    import av
    import numpy as np

    path = tmp_path / "tone.wav"
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 8000), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)
    _reject(empty, path.read_bytes(), "tone.mp4", "no video stream")


@pytest.mark.parametrize("fmt", ["png", "gif", "jpeg"])
def test_still_image_is_rejected(empty, fmt):
    import numpy as np
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(buf, format=fmt.upper())
    _reject(empty, buf.getvalue(), f"photo.{fmt}", "still image|not a video")


def test_truncated_header_only_video_is_rejected(empty, tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", seconds=2)
    data = clip.read_bytes()
    _reject(empty, data[:600], "cut.mp4", "no decodable frames|not a video|cannot be decoded")


def test_corrupt_video_is_rejected(empty, tmp_path):
    clip = write_clip(tmp_path / "clip.avi", seconds=2)
    data = bytearray(clip.read_bytes())
    for i in range(200, len(data), 7):  # scramble everything after the header
        data[i] ^= 0x5A
    _reject(empty, bytes(data), "scrambled.avi", "not a video|cannot be decoded|no decodable frames|no usable")


def test_oversized_upload_is_rejected_while_streaming(empty, monkeypatch):
    monkeypatch.setattr(type(empty.settings), "max_upload_bytes", property(lambda self: 1024 * 1024))

    class Endless(io.RawIOBase):
        read_total = 0

        def readable(self):
            return True

        def read(self, n=-1):
            Endless.read_total += 65536
            return b"\0" * 65536

    with pytest.raises(UploadTooLarge, match="upload limit"):
        ingest_stream(empty, Endless(), "huge.mp4")
    assert Endless.read_total < 8 * 1024 * 1024  # stopped soon after the limit, not at the end
    assert _counts(empty) == (0, 0) and _stored_keys(empty) == []


def test_too_long_video_is_rejected(empty, tmp_path, monkeypatch):
    monkeypatch.setattr(empty.settings, "max_duration_s", 1.0)
    clip = write_clip(tmp_path / "long.mp4", seconds=3)
    _reject(empty, clip.read_bytes(), "long.mp4", "limit is")


@pytest.mark.parametrize("name", [
    "../../etc/passwd.mp4", "; rm -rf ~ ;.mp4", "$(reboot).mp4", "caméra entrée №1.mp4", "a" * 300 + ".mp4",
    "C:\\Users\\cam\\store.mp4", "name with\nnewline.mp4", ".hidden.mp4", "🎥.mov",
])
def test_odd_file_names_are_stored_safely(empty, tmp_path, name):
    clip = write_clip(tmp_path / "x.mp4", seconds=1, size=(64 + len(name) % 7 * 16, 64))
    result = ingest_stream(empty, io.BytesIO(clip.read_bytes()), name)
    key = result.video["storage_key"]
    leaf = key.rsplit("/", 1)[1]
    assert key.startswith("videos/") and ".." not in key
    assert all(c.isalnum() or c in "._-" for c in leaf), key
    assert empty.store.exists(key) and empty.store.exists(result.video["thumbnail_key"])
    assert "\n" not in result.video["name"] and result.video["name"] == display_name(name)
    assert result.video["original_filename"] == name


def test_same_bytes_twice_is_one_video_and_one_job(empty, tmp_path):
    clip = write_clip(tmp_path / "shop.mp4", seconds=2)
    first = ingest_path(empty, clip)
    second = ingest_stream(empty, io.BytesIO(clip.read_bytes()), "renamed copy.mp4")
    assert not first.duplicate and second.duplicate
    assert second.video["id"] == first.video["id"]
    assert second.job["id"] == first.job["id"]  # the existing job, not a second one
    assert _counts(empty) == (1, 1)
    assert len([k for k in _stored_keys(empty) if k.startswith("videos/")]) == 1


def test_ingest_records_metadata_and_queues_one_job(empty, tmp_path):
    clip = write_clip(tmp_path / "meta.mp4", seconds=3, fps=10, size=(320, 240))
    result = ingest_path(empty, clip)
    v = result.video
    assert (v["width"], v["height"], v["fps"], v["codec"]) == (320, 240, 10.0, "mpeg4")
    assert v["duration_s"] == pytest.approx(3.0, abs=0.2)
    assert v["size_bytes"] == clip.stat().st_size and v["status"] == "pending"
    assert empty.store.get_bytes(v["thumbnail_key"])[:2] == b"\xff\xd8"  # a JPEG poster
    with empty.db.connection() as conn:
        job = jobs.latest_for_video(conn, v["id"])
        assert job["status"] == "queued" and job["id"] == result.job["id"]
        assert videos.get_by_sha(conn, v["sha256"])["id"] == v["id"]


def test_name_helpers():
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("Caméra 1 (entrée).MP4") == "Camera_1_entree.mp4"
    assert safe_name("....") == "video"
    assert display_name("dir/sub/clip\x07.mp4") == "dir/sub/clip.mp4"  # the text as given, nothing read as a path
    assert display_name("x</script>.avi") == "x</script>.avi" and safe_name("x</script>.avi") == "script.avi"
