"""`/v1/ask`: a question about the events, answered in plain language with cited events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter

from api.deps import AUTH, Sentinel, video_or_404
from api.errors import ApiError, error_responses
from api.links import Links, ObjectLinks
from api.schemas import AskRequest, AskResponse, Citation

router = APIRouter(tags=["ask"], dependencies=AUTH, responses=error_responses(400, 401, 404, 408, 413, 422, 503))


def _citation(links: Links, cited: Mapping[str, Any]) -> Citation:
    return Citation(event_id=cited["event_id"], video_id=cited["video_id"], video_name=cited.get("video_name"),
                    t_start=cited["t_start"], t_end=cited["t_end"], type=cited["type"],
                    description=cited.get("description") or "", zone=cited.get("zone"), score=cited.get("score"),
                    at=cited.get("at"), clock=cited.get("clock"), thumbnail_url=links.url(cited.get("highlight_key")))


@router.post("/v1/ask", response_model=AskResponse, summary="Ask a question about the events")
def ask(body: AskRequest, sentinel: Sentinel, links: ObjectLinks) -> AskResponse:
    """Answer in plain language, citing the events it rests on with presigned thumbnails."""
    from services.ask import ask as answer

    if body.video_id is not None:
        video_or_404(sentinel, body.video_id)
    try:
        result = answer(sentinel, question=body.question, video=body.video_id, session_id=body.session_id)
    except (KeyError, IndexError):
        raise  # lookup errors of the code itself are bugs (500), not unknown ids
    except LookupError as exc:  # an unknown session, or a video deleted meanwhile
        raise ApiError(404, "not_found", str(exc)) from None
    return AskResponse(answer=result.answer, citations=[_citation(links, c) for c in result.citations],
                       filters=result.filters, search_method=result.search_method,
                       timings_ms=result.timings_ms, session_id=result.session_id)
