"""Ingest: validate, de-duplicate, store and register a video, then submit one analysis job."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable

import psycopg

from db.repos import videos
from core.runtime.media import InvalidVideo, poster, probe
from core.cameras import clean_camera, default_camera

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
VIDEO_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".avi": "video/x-msvideo", ".mkv": "video/x-matroska",
               ".webm": "video/webm", ".m4v": "video/mp4", ".ts": "video/mp2t", ".mpg": "video/mpeg",
               ".mpeg": "video/mpeg", ".wmv": "video/x-ms-wmv", ".flv": "video/x-flv", ".3gp": "video/3gpp"}


class IngestError(ValueError):
    """A rejected input; the message is one sentence for the user. Nothing was stored."""


class UploadTooLarge(IngestError):
    """Over SENTINEL_MAX_UPLOAD_MB."""


@dataclass(slots=True)
class IngestResult:
    video: dict
    job: dict | None
    duplicate: bool


def safe_name(filename: str, *, max_len: int = 80) -> str:
    """A storage-safe version of a user's file name: ASCII letters, digits, dot, dash, underscore."""
    base = PurePosixPath(str(filename).replace("\\", "/")).name
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._-")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:10].lower()
    stem = stem[: max_len - len(ext) - 1].strip("._-") or "video"
    return f"{stem}.{ext}" if ext else stem


def display_name(filename: str) -> str:
    """The name shown to people: the text as given, without control characters (at most 200 characters).

    Nothing in it is read as a path: `a</script>.avi` stays `a</script>.avi` (front ends escape it);
    only the storage key is made safe (safe_name).
    """
    text = "".join(ch for ch in str(filename) if unicodedata.category(ch)[0] != "C").strip()
    return text[:200] or "video"


def _spool(stream: BinaryIO, dest: Path, limit: int, on_bytes: Callable[[int], None] | None) -> tuple[int, str]:
    """Copy a stream to a temp file, hashing as it goes; stop at the size limit."""
    digest = hashlib.sha256()
    size = 0
    with open(dest, "wb") as out:
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > limit:
                raise UploadTooLarge(
                    f"The file is larger than the {limit // (1024 * 1024)} MB upload limit (SENTINEL_MAX_UPLOAD_MB).")
            digest.update(chunk)
            out.write(chunk)
            if on_bytes:
                on_bytes(size)
    return size, digest.hexdigest()


def ingest_stream(app, stream: BinaryIO, filename: str, *, submit: bool = True,
                  on_bytes: Callable[[int], None] | None = None, source: str = "upload",
                  camera: str | None = None) -> IngestResult:
    """Validate and store an uploaded stream; the same bytes twice give the same video.

    camera: the camera the video belongs to (its zones apply); by default one from the file name.
    A duplicate given a camera moves to it.
    """
    try:
        camera = clean_camera(camera) if camera is not None else None
    except ValueError as exc:
        raise IngestError(str(exc)) from None
    settings = app.settings
    tmp_dir = settings.data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="ingest-", suffix=PurePosixPath(safe_name(filename)).suffix)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        size, sha = _spool(stream, tmp, settings.max_upload_bytes, on_bytes)
        if size == 0:
            raise IngestError("The file is empty.")
        with app.db.connection() as conn:
            existing = videos.get_by_sha(conn, sha)
        if existing:
            if camera is not None and existing.get("camera") != camera:
                with app.db.connection() as conn:
                    existing = videos.update(conn, existing["id"], camera=camera)
            return IngestResult(existing, _resubmit_if_failed(app, existing, submit), duplicate=True)
        try:
            info = probe(tmp)
        except InvalidVideo as exc:
            raise IngestError(str(exc)) from exc
        if info.duration_s > settings.max_duration_s:
            raise IngestError(f"The video is {info.duration_s / 60:.0f} minutes long; the limit is "
                              f"{settings.max_duration_s / 60:.0f} minutes (SENTINEL_MAX_DURATION_S).")
        return _store_and_register(app, tmp, filename, size, sha, info, submit=submit, source=source,
                                   camera=camera or default_camera(filename))
    finally:
        tmp.unlink(missing_ok=True)


def ingest_path(app, path: Path | str, *, submit: bool = True, **kwargs) -> IngestResult:
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"No such file: {path}.")
    with open(path, "rb") as f:
        return ingest_stream(app, f, path.name, submit=submit, source="path", **kwargs)


def ingest_s3_uri(app, uri: str, *, submit: bool = True, **kwargs) -> IngestResult:
    """Copy an s3://bucket/key object through our store (streamed)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    m = re.fullmatch(r"s3://([^/]+)/(.+)", uri.strip())
    if not m:
        raise IngestError("An S3 URI looks like s3://bucket/path/to/video.mp4.")
    bucket, key = m.groups()
    client = boto3.client("s3", endpoint_url=app.settings.s3_endpoint_url, region_name=app.settings.s3_region)
    try:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
    except (ClientError, BotoCoreError) as exc:
        raise IngestError(f"Cannot read {uri}: {exc}.") from exc
    with body:
        return ingest_stream(app, body, PurePosixPath(key).name, submit=submit, source="s3", **kwargs)


def ingest(app, source: str | Path, **kwargs) -> IngestResult:
    """A local path or an s3:// URI."""
    if str(source).startswith("s3://"):
        return ingest_s3_uri(app, str(source), **kwargs)
    return ingest_path(app, source, **kwargs)


def _store_and_register(app, tmp: Path, filename: str, size: int, sha: str, info, *, submit: bool,
                        source: str, camera: str) -> IngestResult:
    video_id = uuid.uuid4()
    now = datetime.now(timezone.utc)
    name = safe_name(filename)
    key = f"videos/{now:%Y/%m/%d}/{video_id}_{name}"
    thumb_key = f"thumbnails/{video_id}.jpg"
    suffix = PurePosixPath(name).suffix.lower()
    store = app.store
    with open(tmp, "rb") as f:
        store.put_stream(key, f, content_type=VIDEO_TYPES.get(suffix, "application/octet-stream"))
    try:
        store.put_bytes(thumb_key, poster(tmp), content_type="image/jpeg")
        with app.db.connection() as conn:
            row = videos.insert(conn, video_id=video_id, name=display_name(filename), original_filename=filename,
                                sha256=sha, storage_key=key, size_bytes=size, source=source, meta=info.as_meta(),
                                camera=camera)
            row = videos.update(conn, video_id, thumbnail_key=thumb_key)
    except psycopg.errors.UniqueViolation:
        # the same bytes arrived concurrently: keep the first, drop our copy
        store.delete(key)
        store.delete(thumb_key)
        with app.db.connection() as conn:
            existing = videos.get_by_sha(conn, sha)
        return IngestResult(existing, None, duplicate=True)
    except BaseException:
        store.delete(key)
        store.delete(thumb_key)
        raise
    job = app.runner.submit(row["id"]) if submit else None
    log.info("ingested %s as %s (%d bytes)", filename, video_id, size)
    return IngestResult(row, job, duplicate=False)


def _resubmit_if_failed(app, video: dict, submit: bool) -> dict | None:
    """A duplicate is not analysed twice; only a failed or never-analysed one is queued again."""
    if submit and video["status"] in ("failed", "pending") and video["storage_key"]:
        return app.runner.submit(video["id"])
    return None
