"""`/v1/videos/{video_id}/summary`: read, generate or regenerate a video's written summary."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from api.deps import AUTH, Sentinel, video_or_404
from api.errors import ApiError, error_responses
from api.schemas import SummaryOut

router = APIRouter(prefix="/v1/videos/{video_id}/summary", tags=["summaries"], dependencies=AUTH,
                   responses=error_responses(401, 404, 422, 503))


@router.get("", response_model=SummaryOut, summary="Read a video's summary")
def read_summary(video_id: UUID, sentinel: Sentinel) -> SummaryOut:
    """The cached summary with its status (`stale` after a re-analysis); 404 until one was requested."""
    from services.summaries import get_summary

    video_or_404(sentinel, video_id)
    summary = get_summary(sentinel, video_id=video_id)
    if summary is None:
        raise ApiError(404, "not_found", "This video has no summary yet; POST to this path to generate it.")
    return SummaryOut.model_validate(summary)


@router.post("", response_model=SummaryOut, responses={202: {"model": SummaryOut}, **error_responses(409)},
             summary="Generate (or regenerate) a video's summary")
def create_summary(
    video_id: UUID,
    sentinel: Sentinel,
    wait: Annotated[bool, Query(description="true: write it now and answer 200 with the text; "
                                            "false: answer 202 at once and write it in the background")] = True,
) -> JSONResponse:
    """Write the summary from the video's analysis (with SENTINEL_LLM when configured)."""
    from rag.summaries import SummaryUnavailable
    from services.summaries import generate_summary

    video_or_404(sentinel, video_id)
    try:
        row = generate_summary(sentinel, video_id=video_id, wait=wait)
    except SummaryUnavailable as exc:
        raise ApiError(409, "not_analysed", str(exc)) from None
    body = SummaryOut.model_validate(row).model_dump(mode="json")
    return JSONResponse(body, status_code=200 if wait else 202)
