"""Alert webhooks for the CLI and the API: what was sent, what waits, and a send of the due ones now."""

from __future__ import annotations


def recent_alerts(app, *, limit: int = 50) -> list[dict]:
    """The latest alerts, newest first: video, event, status, attempts, last error, when sent."""
    from db.repos import alerts

    with app.db.connection() as conn:
        return alerts.recent(conn, limit=limit)


def send_due_alerts(app) -> dict:
    """POST every due alert now (the worker does it while idle); {'sent': n, 'failed': n}."""
    from gpu_jobs.alerts import deliver_due

    if app.settings.alert_webhook_url is None:
        raise ValueError("No webhook is set: set SENTINEL_ALERT_WEBHOOK_URL to the URL alerts are POSTed to.")
    return deliver_due(app, limit=500)
