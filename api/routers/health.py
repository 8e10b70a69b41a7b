"""`/health`: the one route open to all; the details of each check need the token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import Sentinel, bearer_matches
from api.schemas import ComponentHealth, HealthResponse

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}},
            summary="Health of the database, store, models and runner")
def health(request: Request, sentinel: Sentinel) -> JSONResponse:
    """Open to all; 503 only when the database is down. Details need the token (they name hosts and paths)."""
    from services.health import run_checks

    show = bearer_matches(request.headers.get("authorization"), request.app.state.api_token)
    checks = run_checks(sentinel)
    body = HealthResponse(ok=all(c.ok for c in checks), components=[
        ComponentHealth(component=c.component, ok=c.ok, detail=c.detail if show else None) for c in checks])
    database_ok = next((c.ok for c in checks if c.component == "database"), False)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if database_ok else 503)
