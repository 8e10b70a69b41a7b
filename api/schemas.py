"""The request and response models of the HTTP API; their class names are the OpenAPI schema names."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

# strings end up in PostgreSQL text columns, which cannot hold NUL
NO_NUL = r"^[^\x00]*$"
NOT_BLANK = r"^[^\x00]*[^\x00\s][^\x00]*$"


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable, e.g. unauthorized, not_found, upload_too_large")
    message: str = Field(description="one sentence for a person, saying what to do")


class ErrorResponse(BaseModel):
    """Every error response has this shape."""

    error: ErrorDetail


class RecordedAtIn(BaseModel):
    """When a video's footage starts on the camera's clock (no time zone: the camera's own); null forgets it."""

    model_config = ConfigDict(extra="forbid")

    recorded_at: str | None = Field(max_length=40, examples=["2026-12-01 10:00"])


class S3Import(BaseModel):
    """Import a video that already sits in S3 (read with the server's credentials)."""

    model_config = ConfigDict(extra="forbid")

    s3_uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/[^\x00-\x1f]{1,1024}$",
                        examples=["s3://my-bucket/cameras/store-12/2024-05-01.mp4"])
    recorded_at: str | None = Field(default=None, max_length=40, examples=["2026-12-01 10:00"],
                                    description="when the footage starts on the camera's clock")


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


# a camera's wall-clock time: no offset, so not RFC 3339's date-time
WallClock = Annotated[str, BeforeValidator(lambda v: v.isoformat() if isinstance(v, datetime) else v)]


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
    camera: str | None = Field(default=None, description="the camera it belongs to (whose zones apply)")
    recorded_at: WallClock | None = Field(
        default=None, examples=["2026-12-01T10:00:00"],
        description="when the footage starts on the camera's clock (ISO 8601 without an offset: the camera's own "
                    "time), as the uploader said; counts by the hour use it before a time in the file name")
    size_bytes: int
    source: str
    storage_tier: Literal["hot", "warm", "archive"]
    restore_state: Literal["restoring", "restored"] | None
    event_count: int | None = Field(default=None, description="events of the current analysis run")
    thumbnail_url: str | None = Field(default=None, description="presigned poster image, valid one hour")
    created_at: datetime
    updated_at: datetime


class ChunkOut(BaseModel):
    """One chunk of the latest analysis: a long video is analysed as overlapping chunks side by side."""

    index: int = Field(description="0-based, in time order")
    t_start: float = Field(description="seconds from the start of the video")
    t_end: float
    status: JobStatus
    progress: float = Field(description="this chunk's progress, 0-100")


class VideoDetail(VideoOut):
    job: JobOut | None = Field(description="the latest analysis job")
    chunks: list[ChunkOut] = Field(default_factory=list, description="the latest analysis' chunks (one for a video "
                                   "analysed whole; none before its first); `progress` is their sum")
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
    at: str | None = Field(default=None, description="when it begins on its footage's wall clock, "
                                                     "'2026-12-01 10:58:10', where the answer looked it up")
    clock: str | None = Field(default=None, description="how that clock is known: 'set at upload', 'file name', "
                                                        "'upload time'")
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


def page(items: list, limit: int, offset: int) -> dict[str, Any]:
    """A VideoPage or EventPage body, cutting the one extra row fetched to learn whether another page exists."""
    more = len(items) > limit
    return {"items": items[:limit], "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}
