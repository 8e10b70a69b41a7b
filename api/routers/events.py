"""`/v1/videos/{video_id}/events`: a video's events, filtered and paginated."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from api.deps import AUTH, Sentinel, video_or_404
from api.errors import error_responses
from api.links import ObjectLinks
from api.schemas import NO_NUL, EventPage, page
from services.events import list_events

router = APIRouter(tags=["events"], dependencies=AUTH, responses=error_responses(401, 404, 422, 503))


@router.get("/v1/videos/{video_id}/events", response_model=EventPage,
            summary="A video's events, filtered and paginated")
def list_video_events(
    video_id: UUID,
    sentinel: Sentinel,
    links: ObjectLinks,
    types: Annotated[list[Annotated[str, Field(pattern=r"^[a-z_]{1,40}$")]] | None, Query(
        alias="type", description="repeat for several: walking, standing, sitting, picking, theft, collapse, "
                                  "violent, loitering, crowding, anomaly")] = None,
    t_from: Annotated[float | None,
                      Query(ge=0, allow_inf_nan=False, description="seconds; events ending after")] = None,
    t_to: Annotated[float | None,
                    Query(ge=0, allow_inf_nan=False, description="seconds; events starting before")] = None,
    zone: Annotated[str | None, Query(max_length=100, pattern=NO_NUL, description="the zone an event happened in, "
                                      "the shelf a hand reached into, or its third of the frame")] = None,
    min_confidence: Annotated[float | None, Query(ge=0, le=1, allow_inf_nan=False)] = None,
    staff: Annotated[bool | None, Query(description="true: only the events of staff (people seen in a drawn staff "
                                        "area most of their time); false: only the customers'")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> dict[str, Any]:
    """Events of the video's current analysis run, in time order."""
    video_or_404(sentinel, video_id)
    rows = list_events(sentinel, video_id=video_id, types=types, t_from=t_from, t_to=t_to, zone=zone,
                       min_confidence=min_confidence, staff=staff, limit=limit + 1, offset=offset)
    items = [{**r, "bbox": list(r["bbox"]) if r["bbox"] is not None else None,
              "highlight_url": links.url(r["highlight_key"])} for r in rows]
    return page(items, limit, offset)
