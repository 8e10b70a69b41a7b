"""`/v1/alerts`: the alert webhooks sent and waiting, and a send of the due ones now."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import AUTH, Sentinel
from api.errors import ApiError, error_responses

router = APIRouter(tags=["alerts"], dependencies=AUTH, responses=error_responses(401, 503))


class AlertOut(BaseModel):
    id: int
    video_id: UUID
    video_name: str
    event_id: int | None
    status: Literal["pending", "sent", "failed"] = Field(description="failed: given up after the last attempt")
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    text: str = Field(description="the one-line alert as POSTed")


class AlertList(BaseModel):
    webhook: bool = Field(description="whether SENTINEL_ALERT_WEBHOOK_URL is set")
    alerts: list[AlertOut] = Field(description="newest first")


class SendResult(BaseModel):
    sent: int
    failed: int


@router.get("/v1/alerts", response_model=AlertList, summary="Alerts sent and waiting")
def list_alerts(sentinel: Sentinel, limit: int = Query(default=50, ge=1, le=500)) -> dict[str, Any]:
    from services.alerts import recent_alerts

    rows = recent_alerts(sentinel, limit=limit)
    return {"webhook": sentinel.settings.alert_webhook_url is not None,
            "alerts": [{**r, "text": r["payload"].get("text") or ""} for r in rows]}


@router.post("/v1/alerts/send", response_model=SendResult, summary="Send the due alerts now",
             responses=error_responses(409))
def send_alerts(sentinel: Sentinel) -> dict[str, int]:
    """What the idle worker does every 15 s; 409 when no webhook is set."""
    from services.alerts import send_due_alerts

    try:
        return send_due_alerts(sentinel)
    except ValueError as exc:
        raise ApiError(409, "no_webhook", str(exc)) from None
