"""`/v1/videos/{video_id}/counts`: people in and out at the entrance, and visits and dwell per zone."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AUTH, Sentinel, video_or_404
from api.errors import ApiError, error_responses

router = APIRouter(tags=["counts"], dependencies=AUTH, responses=error_responses(401, 404, 422, 503))


class ZoneCounts(BaseModel):
    kind: str
    visits: int
    people: int
    mean_dwell_s: float
    max_dwell_s: float
    total_dwell_s: float
    loiter_s: float | None = Field(description="the zone's own loitering limit, if it has one")
    loitering: int = Field(description="visits that stayed at least loiter_s")


class HourCounts(BaseModel):
    hour: int = Field(description="hours since the footage's first wall-clock hour")
    t_start: float = Field(description="where the hour starts, in seconds of the video (negative for the first)")
    starts_at: str = Field(description="the hour's wall-clock start (ISO 8601)")
    people_in: int = Field(alias="in")
    people_out: int = Field(alias="out")
    people: int


class Visit(BaseModel):
    track: int
    zone: str
    kind: str
    t_enter: float
    t_exit: float
    dwell_s: float
    direction: str | None = Field(description="at an entrance: in, out, or null for someone passing the door")


class CountsOut(BaseModel):
    video_id: str
    analysed: bool
    people: int = Field(description="distinct people (person tracks after identity linking) in the window")
    people_in: int
    people_out: int
    entrances: list[str] = Field(description="the entrance zones counted at; empty: in and out cannot be counted")
    zones: dict[str, ZoneCounts]
    hours: list[HourCounts]
    visits: list[Visit]
    starts_at: str = Field(description="when the footage starts on the wall clock")
    starts_at_from: str = Field(description="file name (a timestamp in it) or upload time")


@router.get("/v1/videos/{video_id}/counts", response_model=CountsOut, response_model_by_alias=True,
            summary="People in and out, and dwell per zone")
def get_counts(video_id: UUID, sentinel: Sentinel,
               t_from: float | None = Query(default=None, ge=0, description="window start, seconds of the video"),
               t_to: float | None = Query(default=None, ge=0, description="window end, seconds of the video"),
               ) -> dict[str, Any]:
    """Counted at read time from the current run's person tracks and the video's current zones."""
    from services.counts import people_counts

    if t_from is not None and t_to is not None and t_to < t_from:
        raise ApiError(422, "invalid_window", "t_to must not be before t_from.")
    video_or_404(sentinel, video_id)
    return people_counts(sentinel, video_id=video_id, t_from=t_from, t_to=t_to)
