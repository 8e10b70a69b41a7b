"""Alert webhooks: each new event a store owner must see at once (theft, collapse, violence) is POSTed once.

After a run is written (the whole file, the stitched chunks, re-derived rules) `after_run`
queues the current run's events of SENTINEL_ALERT_TYPES at SENTINEL_ALERT_MIN_CONFIDENCE or
more in the outbox (`db.repos.alerts`, one per moment: a re-run or a re-derive of the same
moment does not alert again) and POSTs that video's due alerts; the local worker's idle loop
sends any left over. The body is JSON with a Slack-style `text` line plus the event's and
video's fields. A failed POST is retried with back-off (5 s doubling to 10 min) and given up
after SENTINEL_ALERT_MAX_ATTEMPTS; a delivery never fails an analysis.

Example:
    >>> after_run(app, video_id)
    {'queued': 1, 'sent': 1, 'failed': 0}
"""

from __future__ import annotations

import logging
from datetime import timedelta, tzinfo
from uuid import UUID

log = logging.getLogger(__name__)

DEDUPE_BUCKET_S = 5.0  # the same type, track and start within this bucket is the same moment
LEASE_S = 60.0  # a claimed alert waits this long before another sender may take it
FIRST_RETRY_S, LAST_RETRY_S = 5.0, 600.0
AT_ONCE = 5  # alerts a run sends itself; more wait for the idle worker's sweep


def _dedupe(video_id: UUID, event: dict) -> str:
    bucket = int(float(event["t_start"]) // DEDUPE_BUCKET_S)
    return f"{video_id}:{event['type']}:{event.get('track_number')}:{bucket}"


def payload(video: dict, event: dict, public_url: str | None = None, zone: tzinfo | None = None,
            closed: str | None = None) -> dict:
    """The webhook body of one event: a one-line `text`, the event's and video's fields, a link to the moment.

    closed: SENTINEL_ALERT_CLOSED_HOURS when the alert is someone seen while the store is closed.
    """
    from core.cameras import clock_phrase, footage_start
    from core.clock import format_mmss

    start, source = footage_start(video, zone)
    at = start + timedelta(seconds=float(event["t_start"]))
    camera = f" (camera {video['camera']})" if video.get("camera") else ""
    description = (event.get("description") or "").strip().rstrip(".")
    confidence = float(event.get("confidence") or 0.0)
    what = f"someone seen while the store is closed ({closed}), {event['type']}," if closed else event["type"]
    text = (f"Sentinel: {what} in {video['name']}{camera} at {format_mmss(event['t_start'])}-"
            f"{format_mmss(event['t_end'])} of the footage ({at:%Y-%m-%d %H:%M:%S} {clock_phrase(source)}): "
            f"{description} (confidence {confidence:.2f}) [E{event['id']}]")
    link = (f"{public_url.rstrip('/')}/video?video={video['id']}&t={int(float(event['t_start']))}"
            if public_url else None)
    if link:
        text += f" {link}"
    return {
        "text": text,
        "url": link,
        "event": {"id": event["id"], "type": event["type"], "t_start": float(event["t_start"]),
                  "t_end": float(event["t_end"]), "at": at.isoformat(), "clock_from": source,
                  "zone": event.get("zone"), "confidence": confidence, "description": event.get("description"),
                  "track_number": event.get("track_number")},
        "video": {"id": str(video["id"]), "name": video["name"], "camera": video.get("camera")},
        "reason": "closed_hours" if closed else "event_type",
    }


def queue_run_alerts(app, video_id: UUID) -> int:
    """Queue the current run's alert events of this video; returns how many were new."""
    from db.repos import alerts, events, videos

    settings = app.settings
    if settings.alert_webhook_url is None:
        return 0
    with app.db.connection() as conn:
        video = videos.get(conn, video_id)
        if video is None:
            return 0
        rows = events.list_events(conn, video_id=video_id, types=settings.alert_type_list,
                                  min_confidence=settings.alert_min_confidence, limit=1000)
        queued = [(_dedupe(video_id, e), e["id"], payload(video, e, settings.public_url, settings.zone)) for e in rows]
        if settings.closed_hours is not None:
            queued += _closed_hours_alerts(conn, video, settings)
        return alerts.enqueue(conn, video_id, queued)


def _closed_hours_alerts(conn, video: dict, settings) -> list[tuple[str, int, dict]]:
    """One alert per person (track) with an event in the closed hours on the footage's wall clock: their first."""
    from core.cameras import clock_windows
    from db.repos import events

    first: dict = {}
    for lo, hi in clock_windows(video, *settings.closed_hours, settings.zone):
        for event in events.list_events(conn, video_id=video["id"], t_from=lo, t_to=hi, limit=5000):
            # an event without a track is its own moment
            who = event["track_number"] if event.get("track_number") is not None else f"e{event['id']}"
            first.setdefault(who, event)
    return [(f"{video['id']}:closed:{who}", e["id"],
             payload(video, e, settings.public_url, settings.zone, closed=settings.alert_closed_hours))
            for who, e in first.items()]


def deliver_due(app, *, video_id: UUID | None = None, limit: int = 20) -> dict:
    """POST the due alerts (of one video, or all); returns {'sent': n, 'failed': n} for this pass."""
    import httpx

    from db.repos import alerts

    settings = app.settings
    if settings.alert_webhook_url is None:
        return {"sent": 0, "failed": 0}
    url = settings.alert_webhook_url.get_secret_value()
    with app.db.connection() as conn:
        due = alerts.claim_due(conn, limit=limit, lease_s=LEASE_S, video_id=video_id)
    sent = failed = 0
    for alert in due:
        try:
            reply = httpx.post(url, json=alert["payload"], timeout=settings.alert_timeout_s)
            error = None if 200 <= reply.status_code < 300 else f"HTTP {reply.status_code}: {reply.text[:200]}"
        except httpx.HTTPError as exc:
            # the URL often holds a token: never in the stored error or the log
            error = f"{type(exc).__name__}: {str(exc).replace(url, '<webhook>')}"
        with app.db.connection() as conn:
            if error is None:
                alerts.mark_sent(conn, alert["id"])
                sent += 1
                continue
            attempt = alert["attempts"] + 1
            retry = (None if attempt >= settings.alert_max_attempts
                     else min(LAST_RETRY_S, FIRST_RETRY_S * 2 ** (attempt - 1)))
            alerts.mark_failed(conn, alert["id"], error, retry_in_s=retry)
        failed += 1
        log.warning("alert %s not delivered (attempt %d): %s; %s", alert["id"], attempt, error,
                    "given up" if retry is None else f"retrying in {retry:.0f} s")
    return {"sent": sent, "failed": failed}


def after_run(app, video_id: UUID) -> dict:
    """Queue and send a video's alerts once its run is written; any error is logged, never raised."""
    try:
        queued = queue_run_alerts(app, video_id)
        # a few at once, so a slow endpoint holds the job only briefly; the idle worker sends the rest
        return {"queued": queued, **deliver_due(app, video_id=video_id, limit=AT_ONCE)}
    except Exception:  # noqa: BLE001 - the run is written; an alert failure must not fail the analysis
        log.warning("alerts for video %s could not be queued or sent", video_id, exc_info=True)
        return {"queued": 0, "sent": 0, "failed": 0}
