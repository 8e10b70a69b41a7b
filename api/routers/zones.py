"""`/v1/videos/{video_id}/zones` and `/v1/videos/{video_id}/rules`: a video's zones, and re-deriving its events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AUTH, Sentinel, video_or_404
from api.errors import ApiError, error_responses

router = APIRouter(tags=["zones"], dependencies=AUTH, responses=error_responses(401, 404, 422, 503))


class ZoneIn(BaseModel):
    """One named polygon in the video's pixels, like an event's bbox."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="unique within the video or camera")
    kind: str = Field(description="shelf, checkout, exit, entrance, staff or custom; a shelf or checkout is drawn "
                                  "over the fixture (whoever stands within reach is at it), a staff area where staff "
                                  "are seen (their chest counts; whoever is in it most of the time is staff, whose "
                                  "reaches and stays are not picking, theft or loitering), the others on the floor")
    polygon: list[list[float]] = Field(description="[[x, y], ...], at least 3 points inside the frame")
    loiter_s: float | None = Field(default=None, description="this zone's own loitering limit in seconds (optional)")


class ZonesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    zones: list[ZoneIn] = Field(description="at most 64; replaces every zone stored for this video or camera")


class ZoneOut(BaseModel):
    name: str
    kind: str
    polygon: list[list[float]]
    loiter_s: float | None = None


class EffectiveZoneOut(ZoneOut):
    source: str = Field(description="video, camera or global: where the zone the rules use comes from")


class VideoZonesOut(BaseModel):
    video_id: UUID
    camera: str | None
    width: int
    height: int
    zones: list[ZoneOut] = Field(description="the video's own zones (they override the camera's of the same name)")
    effective: list[EffectiveZoneOut] = Field(description="every zone the rules use for this video")


class RulesOut(BaseModel):
    events_by_type: dict[str, int]
    elapsed_s: float
    events: int
    zones: int


def zones_or_422(call) -> Any:
    from services.zones import ZoneInvalid

    try:
        return call()
    except ZoneInvalid as exc:
        raise ApiError(422, "invalid_zones", str(exc)) from None


@router.get("/v1/videos/{video_id}/zones", response_model=VideoZonesOut, summary="A video's zones")
def get_video_zones(video_id: UUID, sentinel: Sentinel) -> dict[str, Any]:
    from services.zones import video_zones

    video_or_404(sentinel, video_id)
    return video_zones(sentinel, video_id=video_id)


@router.put("/v1/videos/{video_id}/zones", response_model=VideoZonesOut, responses=error_responses(400),
            summary="Replace a video's own zones")
def put_video_zones(video_id: UUID, body: ZonesIn, sentinel: Sentinel) -> dict[str, Any]:
    """The video's own zones, in its pixels; they add to its camera's zones and override those of the same name.
    Takes effect at the next analysis, or at once with POST /v1/videos/{id}/rules."""
    from services.zones import set_video_zones

    video_or_404(sentinel, video_id)
    zones = [z.model_dump() for z in body.zones]
    return zones_or_422(lambda: set_video_zones(sentinel, video_id=video_id, zones=zones))


class CameraIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    camera: str = Field(description="the camera the video belongs to; its zones apply to the video from now on")


@router.put("/v1/videos/{video_id}/camera", response_model=VideoZonesOut, responses=error_responses(400),
            summary="Move a video to another camera")
def put_video_camera(video_id: UUID, body: CameraIn, sentinel: Sentinel) -> dict[str, Any]:
    """The reply is the video's zones after the move (its own, and every zone that now applies to it)."""
    from services.zones import set_camera, video_zones

    video_or_404(sentinel, video_id)
    try:
        set_camera(sentinel, video_id=video_id, camera=body.camera)
    except ValueError as exc:
        raise ApiError(422, "invalid_camera", str(exc)) from None
    return video_zones(sentinel, video_id=video_id)


@router.post("/v1/videos/{video_id}/rules", response_model=RulesOut, responses=error_responses(409),
             summary="Re-derive a video's events on the current zones and thresholds")
def post_rules(video_id: UUID, sentinel: Sentinel) -> dict[str, Any]:
    """Runs the behaviour rules again on the stored tracks (no decoding, no detection); the new events,
    with descriptions, highlights and embeddings, replace the current run's in one transaction."""
    from services.zones import RulesUnavailable, rederive_events

    video_or_404(sentinel, video_id)
    try:
        return rederive_events(sentinel, video_id=video_id)
    except RulesUnavailable as exc:
        raise ApiError(409, "not_rederivable", str(exc)) from None
