"""The shareable HTTP API: videos, events, questions, summaries and health over one FastAPI app.

The same app is served locally by `sentinel api` (uvicorn) and on Modal by `modal_app.web`
(`modal deploy modal_app.py`). Build it with `create_app(app_instance, token=...)`; the routes
reach the database, store and runner through the `App` given here (a FastAPI dependency), so
tests pass their own.

Every route except `/health` needs `Authorization: Bearer <SENTINEL_API_TOKEN>`. Errors are
`{"error": {"code", "message"}}` with a one-sentence message and never a stack trace.

Example:
    from bootstrap import get_app
    uvicorn.run(create_app(get_app(), token="s3cret"), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import anyio
import anyio.from_thread
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from bootstrap import App, get_app
from db.database import DatabaseUnavailable
from db.objects import BlobNotFound, InvalidKey, ObjectArchived
from db.repos import events, jobs, videos
from gpu_jobs.ingest import IngestError, UploadTooLarge, ingest_s3_uri, ingest_stream

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
URL_EXPIRES_S = 3600  # presigned thumbnail, highlight and video links live an hour
MULTIPART_OVERHEAD = 1024 * 1024  # part headers and small fields on top of the file itself
JSON_BODY_LIMIT = 64 * 1024
MAX_PART_HEADER = 16 * 1024  # one multipart header line; real ones are a few hundred bytes
FILE_FIELD = "file"
MULTI_VALUED_QUERY = frozenset({"type"})  # the only query parameter that may repeat
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
FROM_SETTINGS: Any = object()  # create_app(token=...) default: read SENTINEL_API_TOKEN

# strings end up in PostgreSQL text columns, which cannot hold NUL
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"


# ==== request and response models ===============================================================

class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. unauthorized, not_found, upload_too_large")
    message: str = Field(description="one sentence for a person, saying what to do")


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail


class S3Import(BaseModel):
    """Import a video that already sits in S3 (read with the server's credentials)."""

    model_config = ConfigDict(extra="forbid")

    s3_uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\x00-\x1f]{1,1024}$",
                        examples=["s3://my-bucket/cameras/store-12/2024-05-01.mp4"])


VideoStatus = Literal["pending", "processing", "completed", "failed"]
JobStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class UploadAccepted(BaseModel):
    """The video is stored and its analysis is queued (or was done before, for the same bytes)."""

    video_id: UUID
    job_id: UUID | None = Field(description="the analysis job; null when none was ever queued")
    duplicate: bool = Field(description="the same bytes were uploaded before: no second analysis")
    status: VideoStatus


class JobOut(BaseModel):
    id: UUID
    status: JobStatus
    progress: float
    attempts: int
    runner: str
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class VideoOut(BaseModel):
    id: UUID
    name: str
    original_filename: str
    status: VideoStatus
    progress: float = Field(description="analysis progress, 0-100")
    error: str | None
    duration_s: float | None
    fps: float | None
    width: int | None
    height: int | None
    codec: str | None
    frame_count: int | None
    size_bytes: int
    source: str
    storage_tier: Literal["hot", "warm", "archive"]
    restore_state: Literal["restoring", "restored"] | None
    event_count: int | None = Field(default=None, description="events of the current analysis run")
    thumbnail_url: str | None = Field(default=None, description="presigned poster image, valid one hour")
    created_at: datetime
    updated_at: datetime


class VideoDetail(VideoOut):
    job: JobOut | None = Field(description="the latest analysis job")
    events_by_type: dict[str, int]
    video_url: str | None = Field(description="presigned original, valid one hour; null while archived")


class VideoPage(BaseModel):
    items: list[VideoOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="pass as offset for the next page; null on the last page")


class EventOut(BaseModel):
    id: int
    video_id: UUID
    video_name: str
    track_number: int | None
    type: str
    t_start: float = Field(description="seconds from the start of the video")
    t_end: float
    frame: int | None
    bbox: list[float] | None = Field(description="x1, y1, x2, y2 in pixels")
    zone: str | None
    confidence: float
    attributes: dict[str, Any]
    description: str
    keywords: list[str]
    highlight_url: str | None = Field(description="presigned annotated frame, valid one hour")
    created_at: datetime


class EventPage(BaseModel):
    items: list[EventOut]
    limit: int
    offset: int
    next_offset: int | None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=2000, pattern=NOT_BLANK,
                          examples=["any theft between minute 3 and 5?"])
    video_id: UUID | None = Field(default=None, description="only this video's events")
    session_id: UUID | None = Field(default=None, description="continue this chat session")


class Citation(BaseModel):
    event_id: int
    video_id: UUID
    video_name: str | None
    t_start: float
    t_end: float
    type: str
    description: str
    zone: str | None
    score: float | None
    thumbnail_url: str | None = Field(description="presigned highlight frame, valid one hour")


class AskResponse(BaseModel):
    answer: str
    citations: list[Citation]
    filters: dict[str, Any] = Field(description="what the question was understood to ask for")
    search_method: str
    timings_ms: dict[str, float]
    session_id: UUID | None


class SummaryOut(BaseModel):
    video_id: UUID
    status: Literal["pending", "processing", "completed", "failed"]
    text: str | None
    model: str | None
    error: str | None
    created_at: datetime | None
    updated_at: datetime | None
    stale: bool = Field(False, description="the text describes an earlier analysis run than the video's current "
                                           "one; POST to this path to write it again")


class DeleteResponse(BaseModel):
    video_id: UUID
    name: str
    deleted_objects: int = Field(description="files removed from the store")
    missing_objects: int = Field(description="files that were already gone")
    events: int


class ComponentHealth(BaseModel):
    component: str
    ok: bool
    detail: str | None = Field(description="shown to callers with a valid token (or on a local API)")


class HealthResponse(BaseModel):
    ok: bool
    components: list[ComponentHealth]


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for error responses, all in the ErrorResponse shape."""
    return {code: {"model": ErrorResponse} for code in codes}


# ==== errors ====================================================================================

class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with this status."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, dict(headers or {})


class InsecureBind(RuntimeError):
    """Serving without a token anywhere but this machine."""


class UploadIncomplete(ValueError):
    """The multipart body ended early or is malformed."""


class MissingFileField(UploadIncomplete):
    """A well-formed multipart body without the `file` field."""


_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "upload_too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 500: "internal_error",
                 503: "unavailable"}


def _error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorDetail(code=code, message=message)).model_dump()
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


# the regular expressions people should not have to read
_PATTERN_WORDS = {NOT_BLANK: "Must not be blank or contain NUL characters",
                  NO_NUL: "Must not contain NUL characters"}


def _validation_message(errors: list[Mapping[str, Any]]) -> str:
    """The first validation error as one sentence, e.g. "query.limit: Input should be ... 500."."""
    if not errors:
        return "The request is not valid."
    first = errors[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    text = str(first.get("msg", "is not valid")).rstrip(".")
    if first.get("type") == "string_pattern_mismatch":
        text = _PATTERN_WORDS.get(first.get("ctx", {}).get("pattern"), text)
    more = f" ({len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {text}{more}." if where else f"{text}{more}."


def _install_error_handlers(api: FastAPI) -> None:
    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error_response(exc.status, exc.code, exc.message, exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error_response(422, "invalid_request", _validation_message(list(exc.errors())))

    @api.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's own 404 (unknown path) and 405 (wrong method) land here
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404:
            message = "No such route; the API's routes are listed at /docs."
        return _error_response(exc.status_code, code, message.rstrip(".") + ".", exc.headers)

    @api.exception_handler(UploadTooLarge)
    async def _too_large(request: Request, exc: UploadTooLarge) -> JSONResponse:
        return _error_response(413, "upload_too_large", str(exc))

    @api.exception_handler(IngestError)
    async def _rejected(request: Request, exc: IngestError) -> JSONResponse:
        return _error_response(422, "invalid_video", str(exc))

    @api.exception_handler(DatabaseUnavailable)
    async def _no_database(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return _error_response(503, "unavailable", "The database is unreachable; try again shortly.")

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the traceback goes to the server log only
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _error_response(500, "internal_error", "Something went wrong on the server; it has been logged.")


# ==== dependencies ==============================================================================

def get_sentinel(request: Request) -> App:
    """The App whose database, store and runner the routes use."""
    return request.app.state.sentinel or get_app()


Sentinel = Annotated[App, Depends(get_sentinel)]
_bearer = HTTPBearer(auto_error=False, description="SENTINEL_API_TOKEN", bearerFormat="opaque token")


def token_matches(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """True when the API has no token (local only) or the bearer token equals it."""
    expected: str | None = request.app.state.api_token
    if expected is None:
        return True
    given = credentials.credentials if credentials is not None else ""
    # constant time, so response timing does not reveal how much of the token matched
    return hmac.compare_digest(given.encode(), expected.encode())


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Refuse the request with 401 unless it carries the API token."""
    if not token_matches(request, credentials):
        raise ApiError(401, "unauthorized",
                       "Send the API token as 'Authorization: Bearer <SENTINEL_API_TOKEN>'.",
                       {"WWW-Authenticate": "Bearer"})


def single_valued_query(request: Request) -> None:
    """422 for a scalar query parameter given twice, rather than silently using the last one."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in MULTI_VALUED_QUERY:
            raise ApiError(422, "invalid_request", f"query.{key}: Given more than once; pass it once.")
        seen.add(key)


def check_bind(host: str, token: str | None) -> None:
    """Raise InsecureBind when asked to serve beyond this machine without a token."""
    if not token and host not in LOCAL_HOSTS:
        raise InsecureBind(f"Refusing to serve the API on {host} without a token: set SENTINEL_API_TOKEN, "
                           "or bind to 127.0.0.1.")


# ==== helpers shared by the routes ==============================================================

def _url(app: App, key: str | None) -> str | None:
    """A presigned (S3) or file (folder) URL, or None when the object is missing or archived."""
    if not key:
        return None
    try:
        return app.store.url(key, expires_s=URL_EXPIRES_S)
    except (BlobNotFound, ObjectArchived, InvalidKey):
        return None


def _video_or_404(app: App, video_id: UUID) -> dict:
    with app.db.connection() as conn:
        row = videos.get(conn, video_id)
    if row is None:
        raise ApiError(404, "not_found", f"No video with id {video_id}; GET /v1/videos lists them.")
    return row


def _video_out(app: App, row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, "thumbnail_url": _url(app, row.get("thumbnail_key"))}


def _page(items: list, limit: int, offset: int) -> dict[str, Any]:
    """Cut the one extra row fetched to learn whether another page exists."""
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}


# ==== multipart streaming =======================================================================

class MultipartFileStream:
    """The file field of a multipart/form-data body, parsed while the body streams in.

    `pull()` returns the next body chunk (b"" or None at the end). Nothing is buffered beyond
    one chunk, and the whole body is counted as it arrives against `max_file_bytes` plus
    MULTIPART_OVERHEAD, so an oversized upload is refused after about that many bytes, never
    after spooling all of it. Reads return the file's bytes; other fields are skipped.

    Example:
        stream = MultipartFileStream(chunks.__next__, b"xyz", max_file_bytes=2 * 1024**3)
        filename = stream.open()  # reads up to the file part's headers
        ingest_stream(app, stream, filename)
    """

    def __init__(self, pull: Callable[[], bytes | None], boundary: bytes, *, max_file_bytes: int) -> None:
        self._pull = pull
        self._max_file = max_file_bytes
        self._max = max_file_bytes + MULTIPART_OVERHEAD
        self._received = 0
        self._buffer = bytearray()
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._in_file = False
        self._file_done = False
        self._body_done = False
        self.filename: str | None = None
        self._parser = MultipartParser(boundary, {
            "on_part_begin": self._on_part_begin,
            "on_part_data": self._on_part_data,
            "on_part_end": self._on_part_end,
            "on_header_field": self._on_header_field,
            "on_header_value": self._on_header_value,
            "on_header_end": self._on_header_end,
            "on_headers_finished": self._on_headers_finished,
            "on_end": self._on_end,
        })

    # -- parser callbacks
    def _on_part_begin(self) -> None:
        self._disposition = b""

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]
        self._check_header()

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        # header bytes are buffered, so bound them: the body limit alone would allow gigabytes
        if len(self._header_name) + len(self._header_value) > MAX_PART_HEADER:
            raise UploadIncomplete("A multipart part header is too long.")

    def _on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        # the first part named "file" is the video; later ones and other fields are ignored
        if options.get(b"name") == FILE_FIELD.encode() and self.filename is None:
            self._in_file = True
            self.filename = options.get(b"filename", b"upload").decode("utf-8", "replace") or "upload"

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._buffer += data[start:end]

    def _on_part_end(self) -> None:
        if self._in_file:
            self._in_file, self._file_done = False, True

    def _on_end(self) -> None:
        self._body_done = True

    # -- reading
    def _feed(self) -> bool:
        """Parse one more chunk of the body; False at its end."""
        chunk = self._pull()
        self._received += len(chunk or b"")
        if self._received > self._max:
            raise UploadTooLarge(too_large_message(self._max_file))
        try:
            if chunk:
                self._parser.write(chunk)
            else:
                self._parser.finalize()
        except FormParserError as exc:
            raise UploadIncomplete("The multipart body is malformed; send the video as the 'file' field.") from exc
        if not chunk and not self._body_done:
            raise UploadIncomplete("The multipart body ended before its closing boundary; send it again.")
        return bool(chunk)

    def open(self) -> str:
        """Read up to the file part's headers and return its file name."""
        while self.filename is None:
            if self._body_done or not self._feed():
                raise MissingFileField(f"Send the video as a multipart file field named '{FILE_FIELD}'.")
        return self.filename

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes of the file (all that is buffered when -1); b"" at its end."""
        while not self._buffer and not self._file_done:
            if not self._feed():
                break
        n = len(self._buffer) if size is None or size < 0 else min(size, len(self._buffer))
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


def _body_puller(request: Request) -> Callable[[], bytes | None]:
    """A blocking `pull()` for a worker thread: the next chunk of the request body, None at the end."""
    chunks = request.stream().__aiter__()

    async def next_chunk() -> bytes | None:
        try:
            return await chunks.__anext__()
        except StopAsyncIteration:
            return None

    return lambda: anyio.from_thread.run(next_chunk)


def too_large_message(max_file_bytes: int) -> str:
    return f"The upload is larger than the {max_file_bytes // (1024 * 1024)} MB limit (SENTINEL_MAX_UPLOAD_MB)."


def _check_content_length(request: Request, max_bytes: int, message: str) -> None:
    """Refuse at once what announces itself as too large (the stream is counted as well)."""
    try:
        declared = int(request.headers.get("content-length", "0"))
    except ValueError:
        raise ApiError(400, "bad_request", "The Content-Length header is not a number.") from None
    if declared > max_bytes:
        raise ApiError(413, "upload_too_large", message)


async def _read_small_body(request: Request, max_bytes: int) -> bytes:
    message = f"A JSON body is limited to {max_bytes // 1024} KB."
    _check_content_length(request, max_bytes, message)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise ApiError(413, "upload_too_large", message)
    return bytes(body)


def _accepted(app: App, result) -> UploadAccepted:
    """202 body: the job ingest queued, or for a duplicate the video's latest job."""
    video, job = result.video, result.job
    if job is None:
        with app.db.connection() as conn:
            job = jobs.latest_for_video(conn, video["id"])
    return UploadAccepted(video_id=video["id"], job_id=job["id"] if job else None,
                          duplicate=result.duplicate, status=video["status"])


# ==== routes: videos ============================================================================

AUTH = [Depends(require_token)]
videos_router = APIRouter(prefix="/v1/videos", tags=["videos"], dependencies=AUTH, responses=_errors(401, 422))

UPLOAD_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {
        "type": "object", "required": [FILE_FIELD],
        "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "the video file"}}}},
    "application/json": {"schema": S3Import.model_json_schema()},
}}}


@videos_router.post("", status_code=202, response_model=UploadAccepted, openapi_extra=UPLOAD_BODY,
                    responses=_errors(400, 413, 415), summary="Upload a video or import one from S3")
async def upload_video(request: Request, sentinel: Sentinel) -> UploadAccepted:
    """Store a video and queue its analysis.

    Send either a multipart/form-data body with the video in the `file` field (streamed to
    the store; refused with 413 as soon as it passes SENTINEL_MAX_UPLOAD_MB), or JSON
    `{"s3_uri": "s3://bucket/key"}`. The same bytes twice give the same video, analysed once.
    """
    media_type, options = parse_options_header(request.headers.get("content-type"))
    if media_type == b"application/json":
        body = await _read_small_body(request, JSON_BODY_LIMIT)
        try:
            payload = S3Import.model_validate_json(body)
        except ValidationError as exc:
            raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
        result = await run_in_threadpool(ingest_s3_uri, sentinel, payload.s3_uri)
        return await run_in_threadpool(_accepted, sentinel, result)
    if media_type != b"multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       "Send the video as multipart/form-data (field 'file') or JSON {\"s3_uri\": ...}.")
    boundary = options.get(b"boundary")
    if not boundary:
        raise ApiError(400, "bad_request", "The multipart Content-Type has no boundary.")
    max_file = sentinel.settings.max_upload_bytes
    _check_content_length(request, max_file + MULTIPART_OVERHEAD, too_large_message(max_file))

    def ingest_upload() -> UploadAccepted:
        # runs in a worker thread: pulls the body from the event loop chunk by chunk as ingest reads
        stream = MultipartFileStream(_body_puller(request), boundary, max_file_bytes=max_file)
        filename = stream.open()
        return _accepted(sentinel, ingest_stream(sentinel, stream, filename))

    try:
        return await run_in_threadpool(ingest_upload)
    except MissingFileField as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    except UploadIncomplete as exc:
        raise ApiError(400, "bad_request", str(exc)) from None
    except ClientDisconnect:
        log.info("upload aborted by the client")
        raise ApiError(400, "bad_request", "The client disconnected during the upload.") from None


@videos_router.get("", response_model=VideoPage, summary="List videos, newest first")
def list_videos(
    sentinel: Sentinel,
    status: Annotated[VideoStatus | None, Query(description="only videos in this state")] = None,
    name: Annotated[str | None, Query(max_length=200, pattern=NO_NUL, description="name contains")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Videos with their status, progress, metadata and event counts."""
    with sentinel.db.connection() as conn:
        rows = videos.list_videos(conn, status=status, name_like=name, limit=limit + 1, offset=offset)
    return _page([_video_out(sentinel, r) for r in rows], limit, offset)


@videos_router.get("/{video_id}", response_model=VideoDetail, responses=_errors(404),
                   summary="A video's status, progress and metadata")
def get_video(video_id: UUID, sentinel: Sentinel) -> dict[str, Any]:
    """One video, its latest analysis job, its events by type and a link to the original."""
    from db.lifecycle import playable

    if sentinel.settings.runner == "modal":
        try:
            sentinel.runner.refresh()  # a Modal call that crashed is only noticed by asking Modal
        except Exception:
            log.warning("could not refresh Modal jobs", exc_info=True)
    row = _video_or_404(sentinel, video_id)
    with sentinel.db.connection() as conn:
        job = jobs.latest_for_video(conn, row["id"])
        by_type = events.counts_by_type(conn, row["id"])
    can_play, _ = playable(row)
    return {**_video_out(sentinel, row), "job": job, "events_by_type": by_type,
            "event_count": sum(by_type.values()),
            "video_url": _url(sentinel, row["storage_key"]) if can_play else None}


@videos_router.delete("/{video_id}", response_model=DeleteResponse, responses=_errors(404),
                      summary="Delete a video, its files and its events")
def delete_video(video_id: UUID, sentinel: Sentinel) -> DeleteResponse:
    """Stop its analysis if one is running, then remove its files in every tier and its rows."""
    from db import lifecycle

    _video_or_404(sentinel, video_id)
    with sentinel.db.connection() as conn:
        job = jobs.latest_for_video(conn, video_id)
    if job and job["status"] in jobs.ACTIVE:
        sentinel.runner.cancel(job["id"])  # a Modal call would otherwise keep writing to a deleted video
    try:
        result = lifecycle.delete_video(sentinel, video_id=video_id)
    except lifecycle.VideoNotFound:
        raise ApiError(404, "not_found", f"No video with id {video_id}.") from None
    return DeleteResponse(video_id=result.video_id, name=result.name, deleted_objects=len(result.deleted_keys),
                          missing_objects=len(result.missing_keys), events=result.events)


# ==== routes: events ============================================================================

events_router = APIRouter(tags=["events"], dependencies=AUTH, responses=_errors(401, 404, 422))


@events_router.get("/v1/videos/{video_id}/events", response_model=EventPage,
                   summary="A video's events, filtered and paginated")
def list_video_events(
    video_id: UUID,
    sentinel: Sentinel,
    types: Annotated[list[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]] | None, Query(
        alias="type", description="repeat for several: walking, standing, sitting, picking, theft, collapse, "
                                  "violent, loitering, crowding, anomaly")] = None,
    t_from: Annotated[float | None, Query(ge=0, allow_inf_nan=False, description="seconds; events ending after")] = None,
    t_to: Annotated[float | None, Query(ge=0, allow_inf_nan=False, description="seconds; events starting before")] = None,
    zone: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Events of the video's current analysis run, in time order."""
    _video_or_404(sentinel, video_id)
    with sentinel.db.connection() as conn:
        rows = events.list_events(conn, video_id=video_id, types=types, t_from=t_from, t_to=t_to, zone=zone,
                                  min_confidence=min_confidence, limit=limit + 1, offset=offset)
    items = [{**r, "bbox": list(r["bbox"]) if r["bbox"] is not None else None,
              "highlight_url": _url(sentinel, r["highlight_key"])} for r in rows]
    return _page(items, limit, offset)


# ==== routes: ask ===============================================================================

ask_router = APIRouter(tags=["ask"], dependencies=AUTH, responses=_errors(400, 401, 404, 422))


def _citation(app: App, cited: Mapping[str, Any]) -> Citation:
    return Citation(event_id=cited["event_id"], video_id=cited["video_id"], video_name=cited.get("video_name"),
                    t_start=cited["t_start"], t_end=cited["t_end"], type=cited["type"],
                    description=cited.get("description") or "", zone=cited.get("zone"), score=cited.get("score"),
                    thumbnail_url=_url(app, cited.get("highlight_key")))


@ask_router.post("/v1/ask", response_model=AskResponse, summary="Ask a question about the events")
def ask(body: AskRequest, sentinel: Sentinel) -> AskResponse:
    """Answer in plain language, citing the events it rests on with presigned thumbnails."""
    from rag.ask import get_ask_service

    if body.video_id is not None:
        _video_or_404(sentinel, body.video_id)
    try:
        # one service per App: models and the chain load on the first question only
        result = get_ask_service(sentinel).ask(
            body.question, video=str(body.video_id) if body.video_id else None, session_id=body.session_id)
    except (KeyError, IndexError):
        raise  # lookup errors of the code itself are bugs (500), not unknown ids
    except LookupError as exc:  # an unknown session, or a video deleted meanwhile
        raise ApiError(404, "not_found", str(exc)) from None
    return AskResponse(answer=result.answer, citations=[_citation(sentinel, c) for c in result.citations],
                       filters=result.filters, search_method=result.search_method,
                       timings_ms=result.timings_ms, session_id=result.session_id)


# ==== routes: summaries =========================================================================

summaries_router = APIRouter(prefix="/v1/videos/{video_id}/summary", tags=["summaries"], dependencies=AUTH,
                             responses=_errors(401, 404, 422))


@summaries_router.get("", response_model=SummaryOut, summary="Read a video's summary")
def read_summary(video_id: UUID, sentinel: Sentinel) -> SummaryOut:
    """The cached summary with its status (`stale` after a re-analysis); 404 until one was requested."""
    from rag.summaries import get_summary

    _video_or_404(sentinel, video_id)
    try:
        summary = get_summary(sentinel, video_id)
    except LookupError:
        summary = None  # deleted in between
    if summary is None:
        raise ApiError(404, "not_found", "This video has no summary yet; POST to this path to generate it.")
    return SummaryOut.model_validate(summary)


@summaries_router.post("", response_model=SummaryOut, responses={202: {"model": SummaryOut}, **_errors(409)},
                       summary="Generate (or regenerate) a video's summary")
def create_summary(
    video_id: UUID,
    sentinel: Sentinel,
    wait: Annotated[bool, Query(description="true: write it now and answer 200 with the text; "
                                            "false: answer 202 at once and write it in the background")] = True,
) -> JSONResponse:
    """Write the summary from the video's analysis (with SENTINEL_LLM when configured)."""
    from rag.summaries import SummaryUnavailable, generate_summary, request_summary

    video = _video_or_404(sentinel, video_id)
    if video["current_run_id"] is None:
        raise ApiError(409, "not_analysed", "This video has not been analysed yet; summarise it once its status "
                                            "is completed.")
    try:
        row = generate_summary(sentinel, video_id) if wait else request_summary(sentinel, video_id)
    except SummaryUnavailable as exc:
        raise ApiError(409, "not_analysed", str(exc)) from None
    except LookupError:
        raise ApiError(404, "not_found", f"No video with id {video_id}.") from None
    body = SummaryOut.model_validate(row).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if wait else 202)


# ==== routes: health ============================================================================

health_router = APIRouter(tags=["health"])


@health_router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}},
                   summary="Health of the database, store, models and runner")
def health(request: Request, sentinel: Sentinel) -> JSONResponse:
    """Open to all; 503 only when the database is down. Details need the token (they name hosts and paths)."""
    from health import run_checks

    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    given = HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials.strip()) \
        if scheme.lower() == "bearer" else None
    show = token_matches(request, given)
    checks = run_checks(sentinel)
    body = HealthResponse(ok=all(c.ok for c in checks), components=[
        ComponentHealth(component=c.component, ok=c.ok, detail=c.detail if show else None) for c in checks])
    database_ok = next((c.ok for c in checks if c.component == "database"), False)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if database_ok else 503)


# ==== the app ===================================================================================

def create_app(app_instance: App | None = None, *, token: str | None = FROM_SETTINGS) -> FastAPI:
    """The FastAPI app over `app_instance` (the process-wide App when None).

    Args:
        app_instance: the App whose database, store and runner the routes use.
        token: the bearer token every route but /health requires; by default SENTINEL_API_TOKEN.
            None (or empty) means no authentication, which `check_bind` allows on 127.0.0.1 only.

    Returns:
        The FastAPI app, with OpenAPI docs at /docs and the schema at /openapi.json.
    """
    if token is FROM_SETTINGS:
        settings = app_instance.settings if app_instance is not None else get_app().settings
        token = settings.api_token.get_secret_value() if settings.api_token else None
    api = FastAPI(
        title="Sentinel API",
        version=API_VERSION,
        summary="CCTV video of unmanned stores: upload, analyse, search and ask.",
        description="Every route except /health needs `Authorization: Bearer <SENTINEL_API_TOKEN>`. "
                    "Errors are `{\"error\": {\"code\", \"message\"}}`.",
        dependencies=[Depends(single_valued_query)],
    )
    api.state.sentinel = app_instance
    api.state.api_token = token or None
    _install_error_handlers(api)
    for router in (videos_router, events_router, summaries_router, ask_router, health_router):
        api.include_router(router)
    return api
