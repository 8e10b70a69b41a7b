"""`/v1/videos`: upload (or import from S3), list, read and delete videos."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.deps import AUTH, Sentinel
from api.errors import ApiError, MissingFileField, UploadIncomplete, error_responses
from api.links import Links, ObjectLinks
from api.schemas import (
    NO_NUL,
    DeleteResponse,
    RecordedAtIn,
    S3Import,
    UploadAccepted,
    VideoDetail,
    VideoOut,
    VideoPage,
    VideoStatus,
    page,
)
from api.uploads import (
    FILE_FIELD,
    JSON_BODY_LIMIT,
    MULTIPART_OVERHEAD,
    MultipartFileStream,
    body_puller,
    check_content_length,
    read_small_body,
    too_large_message,
)
from bootstrap import App
from db.repos import jobs
from services import videos as video_service

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/videos", tags=["videos"], dependencies=AUTH,
                   responses=error_responses(401, 422, 503))

UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD],
        "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "the video file"},
                       "camera": {"type": "string", "maxLength": 100,
                                  "description": "the camera it belongs to (whose zones apply)"},
                       "recorded_at": {"type": "string", "maxLength": 40, "examples": ["2026-12-01 10:00"],
                                       "description": "when the footage starts on the camera's clock"}}}},
    "application/json": {"schema": S3Import.model_json_schema()},
}}}


def _video_out(links: Links, row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "thumbnail_url": links.url(row.get("thumbnail_key"))}


def _accepted(app: App, result) -> UploadAccepted:
    """202 body: the job ingest queued, or for a duplicate the video's latest job."""
    video, job = result.video, result.job
    if job is None:
        with app.db.connection() as conn:
            job = jobs.latest_for_video(conn, video["id"])
    return UploadAccepted(video_id=video["id"], job_id=job["id"] if job else None,
                          duplicate=result.duplicate, status=video["status"])


@router.post("", status_code=202, response_model=UploadAccepted, openapi_extra=UPLOAD_BODY,
             responses=error_responses(400, 408, 413, 415, 422, 429, 503),
             summary="Upload a video or import one from S3")
async def upload_video(request: Request, sentinel: Sentinel) -> UploadAccepted:
    """Store a video and queue its analysis.

    Send either a multipart/form-data body with the video in the `file` field (streamed to
    the store; refused with 413 as soon as it passes SENTINEL_MAX_UPLOAD_MB), or JSON
    `{"s3_uri": "s3://bucket/key"}`. Optional text fields (JSON keys): `camera`, and `recorded_at`,
    when the footage starts on the camera's clock (2026-12-01 10:00), for counts by the hour.
    The same bytes twice give the same video, analysed once.
    At most SENTINEL_MAX_CONCURRENT_UPLOADS run at once (429 with Retry-After beyond), and a body
    that sends nothing for SENTINEL_BODY_IDLE_TIMEOUT_S is answered 408.
    """
    media_type, options = parse_options_header(request.headers.get("content-type"))
    if media_type == b"application/json":
        body = await read_small_body(request, JSON_BODY_LIMIT)
        try:
            payload = S3Import.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        def import_s3() -> object:
            sentinel.store.ensure_reachable()  # 503 in seconds when the store is down, before the copy starts
            if payload.recorded_at is not None:
                _recorded_at_or_422(payload.recorded_at)  # checked before the copy
            result = video_service.import_s3(sentinel, uri=payload.s3_uri)
            if payload.recorded_at is not None:
                result.video = video_service.set_recorded_at(sentinel, video_id=result.video["id"],
                                                             recorded_at=payload.recorded_at)
            return result

        result = await run_in_threadpool(import_s3)
        return await run_in_threadpool(_accepted, sentinel, result)
    if media_type != b"multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       "Send the video as multipart/form-data (field 'file') or JSON {\"s3_uri\": ...}.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_request", "The multipart Content-Type has no boundary.")
    max_file = sentinel.settings.max_upload_bytes
    check_content_length(request, max_file + MULTIPART_OVERHEAD, too_large_message(max_file))

    def ingest_upload() -> UploadAccepted:
        # runs in a worker thread: pulls the body from the event loop chunk by chunk as ingest reads;
        # a store that is down is answered 503 in seconds, before the client sends the whole video
        sentinel.store.ensure_reachable()
        stream = MultipartFileStream(body_puller(request), boundary, max_file_bytes=max_file)
        filename = stream.open()
        camera = stream.fields.get("camera")  # a `camera` field sent before the file
        recorded = stream.fields.get("recorded_at")
        if recorded is not None:
            _recorded_at_or_422(recorded)  # before the file: nothing is stored with a bad one
        result = video_service.upload(sentinel, stream=stream, filename=filename, camera=camera)
        if camera is None and stream.fields.get("camera") is not None:  # ... or after it
            result.video = video_service.upload_camera(sentinel, video=result.video, camera=stream.fields["camera"])
        late = stream.fields.get("recorded_at")
        if late is not None:
            try:
                result.video = video_service.set_recorded_at(sentinel, video_id=result.video["id"], recorded_at=late)
            except ValueError as exc:  # sent after the file: the video is kept, only the time is refused
                raise ApiError(422, "invalid_request", f"{exc} The video was stored without it; set it with "
                               f"PUT /v1/videos/{result.video['id']}/recorded-at.") from None
        return _accepted(sentinel, result)

    try:
        return await run_in_threadpool(ingest_upload)
    except MissingFileField as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    except UploadIncomplete as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except ClientDisconnect:
        log.info("upload aborted by the client")
        raise ApiError(400, "bad_request", "The client disconnected during the upload.") from None


@router.get("", response_model=VideoPage, summary="List videos, newest first")
def list_videos(
    sentinel: Sentinel,
    links: ObjectLinks,
    status: Annotated[VideoStatus | None, Query(description="only videos in this state")] = None,
    name: Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="name contains")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Videos with their status, progress, metadata and event counts."""
    rows = video_service.list_videos(sentinel, statuses=[status] if status else None, name=name, limit=limit + 1,
                                     offset=offset)
    return page([_video_out(links, r) for r in rows], limit, offset)


@router.get("/{video_id}", response_model=VideoDetail, responses=error_responses(404),
            summary="A video's status, progress and metadata")
def get_video(video_id: UUID, sentinel: Sentinel, links: ObjectLinks) -> dict[str, Any]:
    """One video, its latest analysis job, its events by type and a link to the original."""
    detail = video_service.video_detail(sentinel, video_id=video_id)
    row = detail.video
    return {**_video_out(links, row), "job": detail.job, "events_by_type": detail.events_by_type,
            "event_count": detail.event_count, "chunks": detail.chunks,
            "video_url": links.url(row["storage_key"]) if detail.playable else None}


@router.put("/{video_id}/recorded-at", response_model=VideoOut, responses=error_responses(400, 404, 422),
            summary="Say when a video's footage starts on the camera's clock")
def put_recorded_at(video_id: UUID, body: RecordedAtIn, sentinel: Sentinel, links: ObjectLinks) -> dict[str, Any]:
    """Counts by hour and questions such as "between 10:00 and 11:00" read the footage's clock from it."""
    try:
        row = video_service.set_recorded_at(sentinel, video_id=video_id, recorded_at=body.recorded_at)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return _video_out(links, row)


def _recorded_at_or_422(value: str) -> None:
    from core.cameras import parse_recorded_at

    try:
        parse_recorded_at(value)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


@router.delete("/{video_id}", response_model=DeleteResponse, responses=error_responses(404),
               summary="Delete a video, its files and its events")
def delete_video(video_id: UUID, sentinel: Sentinel) -> DeleteResponse:
    """Stop its analysis if one is running, then remove its files in every tier and its rows."""
    result = video_service.delete_video(sentinel, video_id=video_id)
    return DeleteResponse(video_id=result.video_id, name=result.name, deleted_objects=len(result.deleted_keys),
                          missing_objects=len(result.missing_keys), events=result.events)
