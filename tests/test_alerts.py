"""Alert webhooks: a real HTTP webhook gets each alert event once, failures are retried, then given up.

The webhook (conftest's `webhook`) is a stdlib HTTP server on a free port (what a Slack-style incoming webhook or a
store's own endpoint sees); the outbox is the real Postgres table. The end-to-end test runs
`sentinel analyze` on the committed GMDCSA-24 fall clip and receives its collapse alert.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from db.repos import alerts as alerts_repo
from gpu_jobs import alerts
from services.health import check_alerts
from settings import Settings
from tests.conftest import add_analysed_video, run_cli

DATA = Path(__file__).parent / "data"


def _alerting(app, url: str, **extra):
    app.settings = app.settings.model_copy(update={"alert_webhook_url": SecretStr(url), **extra})
    return app


def _state(app, video_id) -> list[dict]:
    with app.db.connection() as conn:
        return [a for a in alerts_repo.recent(conn) if a["video_id"] == video_id]


def _due_now(app) -> None:
    with app.db.connection() as conn:
        conn.execute("UPDATE alerts SET next_at = now() WHERE status = 'pending'")


def test_each_alert_event_is_posted_once_with_its_sentence(api_app, webhook):
    app = _alerting(api_app, webhook.url)
    video = add_analysed_video(app, name="till_20261201_100000.mp4", events=[
        {"type": "walking", "t_start": 1.0, "t_end": 4.0, "confidence": 0.9, "description": "A man walks in."},
        {"type": "theft", "t_start": 190.0, "t_end": 200.0, "confidence": 0.8, "zone": "exit",
         "description": "A man in a red jacket hides a bottle in his jacket and leaves by the exit."},
        {"type": "collapse", "t_start": 220.0, "t_end": 230.0, "confidence": 0.3, "description": "Unsure fall."},
    ])
    assert alerts.after_run(app, video["id"]) == {"queued": 1, "sent": 1, "failed": 0}
    [body] = webhook.bodies
    assert body["event"]["type"] == "theft" and body["video"]["name"] == "till_20261201_100000.mp4"
    assert body["event"]["at"] == "2026-12-01T10:03:10" and body["event"]["clock_from"] == "file name"
    assert body["text"].startswith("Sentinel: theft in till_20261201_100000.mp4 at 03:10-03:20 of the footage "
                                   "(2026-12-01 10:03:10 by its file name): A man in a red jacket hides a bottle")
    assert body["text"].endswith(f"(confidence 0.80) [E{body['event']['id']}]") and body["url"] is None
    # the walk is no alert type and the collapse is below SENTINEL_ALERT_MIN_CONFIDENCE (0.5)
    # the same run again (a re-analysis, re-derived rules): the same moment does not alert twice
    assert alerts.after_run(app, video["id"]) == {"queued": 0, "sent": 0, "failed": 0}
    assert len(webhook.bodies) == 1
    assert [a["status"] for a in _state(app, video["id"])] == ["sent"]


def test_with_a_public_url_the_alert_links_to_the_moment_in_the_video(api_app, webhook):
    app = _alerting(api_app, webhook.url, public_url="https://sentinel.example.com/")
    video = add_analysed_video(app)
    alerts.after_run(app, video["id"])
    [body] = webhook.bodies
    assert body["url"] == f"https://sentinel.example.com/video?video={video['id']}&t=190"
    assert body["text"].endswith(f"[E{body['event']['id']}] {body['url']}")


def test_a_run_sends_a_few_alerts_itself_and_leaves_the_rest_to_the_sweep(api_app, webhook):
    app = _alerting(api_app, webhook.url)
    thefts = [{"type": "theft", "t_start": 10.0 * n, "t_end": 10.0 * n + 5, "confidence": 0.9,
               "description": f"Theft {n}."} for n in range(alerts.AT_ONCE + 2)]
    video = add_analysed_video(app, events=thefts)
    assert alerts.after_run(app, video["id"]) == {"queued": alerts.AT_ONCE + 2, "sent": alerts.AT_ONCE, "failed": 0}
    assert alerts.deliver_due(app) == {"sent": 2, "failed": 0}
    assert sorted(b["event"]["t_start"] for b in webhook.bodies) == [10.0 * n for n in range(alerts.AT_ONCE + 2)]


def test_a_failed_post_is_retried_with_back_off_then_given_up(api_app, webhook):
    app = _alerting(api_app, webhook.url, alert_max_attempts=3)
    video = add_analysed_video(app)
    webhook.statuses = [503]
    assert alerts.after_run(app, video["id"]) == {"queued": 1, "sent": 0, "failed": 1}
    [alert] = _state(app, video["id"])
    assert (alert["status"], alert["attempts"], alert["last_error"]) == ("pending", 1, "HTTP 503: busy")
    assert alerts.deliver_due(app) == {"sent": 0, "failed": 0}  # its back-off has not run out
    _due_now(app)
    assert alerts.deliver_due(app) == {"sent": 1, "failed": 0}  # the endpoint is back
    assert [a["status"] for a in _state(app, video["id"])] == ["sent"] and len(webhook.bodies) == 1

    other = add_analysed_video(app, name="door.mp4")
    webhook.statuses = [500, 500, 500]
    alerts.after_run(app, other["id"])
    for _ in range(2):
        _due_now(app)
        alerts.deliver_due(app)
    [given_up] = _state(app, other["id"])
    assert (given_up["status"], given_up["attempts"]) == ("failed", 3)
    _due_now(app)
    assert alerts.deliver_due(app) == {"sent": 0, "failed": 0}  # never tried again
    health = check_alerts(app)
    assert not health.ok and "1 sent, 0 waiting, 1 given up" in health.detail


def test_an_unreachable_endpoint_never_fails_the_run_nor_leaks_the_webhook_token(api_app, webhook, caplog):
    closed = webhook.url
    webhook.close()
    app = _alerting(api_app, closed)
    video = add_analysed_video(app)
    with caplog.at_level("WARNING", logger="gpu_jobs.alerts"):
        assert alerts.after_run(app, video["id"]) == {"queued": 1, "sent": 0, "failed": 1}
    [alert] = _state(app, video["id"])
    assert alert["last_error"].startswith("ConnectError")
    assert "T0KEN-s3cret" not in alert["last_error"] and "T0KEN-s3cret" not in caplog.text


def test_no_webhook_queues_nothing(api_app):
    video = add_analysed_video(api_app)
    assert api_app.settings.alert_webhook_url is None
    assert alerts.after_run(api_app, video["id"]) == {"queued": 0, "sent": 0, "failed": 0}
    assert _state(api_app, video["id"]) == []
    assert check_alerts(api_app).ok and check_alerts(api_app).detail.startswith("off")


def test_alert_settings_are_checked_when_they_load():
    assert Settings(SENTINEL_ALERT_TYPES=" Theft, violent ,theft").alert_type_list == ["theft", "violent"]
    with pytest.raises(ValidationError, match="SENTINEL_ALERT_TYPES names shoplifting; use a comma-separated"):
        Settings(SENTINEL_ALERT_TYPES="theft,shoplifting")
    with pytest.raises(ValidationError, match="SENTINEL_ALERT_WEBHOOK_URL must be an http:// or https:// URL"):
        Settings(SENTINEL_ALERT_WEBHOOK_URL="hooks.slack.com/services/T0KEN")
    with pytest.raises(ValidationError, match="SENTINEL_PUBLIC_URL must be an http:// or https:// URL"):
        Settings(SENTINEL_PUBLIC_URL="sentinel.example.com")
    assert Settings(SENTINEL_ALERT_WEBHOOK_URL="https://hooks.slack.com/services/T0KEN").alert_webhook_url
    assert Settings(SENTINEL_ALERT_CLOSED_HOURS=" 23:00 - 6:00").closed_hours == (82800.0, 21600.0)
    assert Settings(SENTINEL_ALERT_CLOSED_HOURS="").closed_hours is None
    for bad in ("23:00", "23:00-23:00", "25:00-06:00", "11pm-6am"):
        with pytest.raises(ValidationError, match="SENTINEL_ALERT_CLOSED_HOURS .* give it as 23:00-06:00"):
            Settings(SENTINEL_ALERT_CLOSED_HOURS=bad)


def test_anyone_seen_in_the_closed_hours_alerts_once_per_person(api_app, webhook):
    # footage from 22:58:00 (its file name), the store closed 23:00-06:00: two shoppers after 23:00, one before
    app = _alerting(api_app, webhook.url, alert_closed_hours="23:00-06:00")
    video = add_analysed_video(app, name="door_20261201_225800.mp4", events=[
        {"type": "walking", "t_start": 10.0, "t_end": 40.0, "confidence": 0.9, "track_number": 1,
         "description": "A man walks to the shelf."},  # 22:58:10-22:58:40: before closing
        {"type": "walking", "t_start": 110.0, "t_end": 130.0, "confidence": 0.9, "track_number": 1,
         "description": "The man walks to the door."},  # 22:59:50-23:00:10: still inside after closing
        {"type": "standing", "t_start": 150.0, "t_end": 160.0, "confidence": 0.9, "track_number": 1,
         "description": "The man stands by the door."},
        {"type": "walking", "t_start": 170.0, "t_end": 180.0, "confidence": 0.9, "track_number": 2,
         "description": "A woman walks in."},
    ])
    assert alerts.after_run(app, video["id"]) == {"queued": 2, "sent": 2, "failed": 0}
    bodies = sorted(webhook.bodies, key=lambda b: b["event"]["t_start"])
    assert [(b["reason"], b["event"]["track_number"]) for b in bodies] == [("closed_hours", 1), ("closed_hours", 2)]
    # the man's first event overlapping the closed hours (it began at 22:59:50), the woman's walk in
    assert [b["event"]["at"] for b in bodies] == ["2026-12-01T22:59:50", "2026-12-01T23:00:50"]
    assert bodies[0]["text"].startswith("Sentinel: someone seen while the store is closed (23:00-06:00), walking, "
                                        "in door_20261201_225800.mp4 at 01:50-02:10 of the footage "
                                        "(2026-12-01 22:59:50 by its file name): The man walks to the door")
    assert alerts.after_run(app, video["id"]) == {"queued": 0, "sent": 0, "failed": 0}  # once per person
    assert "theft, collapse, violent at confidence 0.5+, anyone seen 23:00-06:00; 2 sent" in check_alerts(app).detail
    # without the setting, the walks alert nobody
    quiet = _alerting(api_app, webhook.url, alert_closed_hours=None)
    other = add_analysed_video(quiet, name="door_20261201_230000.mp4", events=[
        {"type": "walking", "t_start": 10.0, "t_end": 40.0, "confidence": 0.9, "description": "A man walks in."}])
    assert alerts.after_run(quiet, other["id"])["queued"] == 0


def test_writing_a_run_sends_its_alerts_and_an_idle_worker_sends_what_is_left(api_app, webhook):
    from gpu_jobs.pipeline import write_run
    from gpu_jobs.worker import Worker

    app = _alerting(api_app, webhook.url)
    video = add_analysed_video(app, events=[])
    event = {"track_number": 1, "type": "violent", "t_start": 12.0, "t_end": 14.0, "frame": 120,
             "bbox": [1.0, 2.0, 30.0, 90.0], "zone": "centre", "confidence": 0.9, "attributes": {},
             "description": "Two people fight at close range.", "keywords": ["violent"], "embedding": None}
    webhook.statuses = [503]
    write_run(app, video["id"], uuid.uuid4(), [], [event], [], [])  # what the analysis and the chunk stitch call
    assert webhook.bodies == [] and [a["attempts"] for a in _state(app, video["id"])] == [1]
    _due_now(app)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(app, poll_s=0.1).run_forever, args=(stop,), daemon=True)
    worker.start()
    try:
        for _ in range(100):
            if webhook.bodies:
                break
            stop.wait(0.1)
    finally:
        stop.set()
        worker.join(10)
    assert [b["event"]["type"] for b in webhook.bodies] == ["violent"]


def test_sentinel_analyze_alerts_a_real_fall(app, clean_db, webhook, tmp_path):
    env = {"SENTINEL_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": app.db.url,
           "SENTINEL_ALERT_WEBHOOK_URL": webhook.url}
    result = run_cli("analyze", str(DATA / "gmdcsa24_s1_fall_13.mp4"), env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    assert [b["event"]["type"] for b in webhook.bodies] == ["collapse"], result.stdout
    text = webhook.bodies[0]["text"]
    assert text.startswith("Sentinel: collapse in gmdcsa24_s1_fall_13.mp4 (camera gmdcsa24_s1_fall_13) at 00:0")
    assert "by its upload time): " in text and "collapses to the floor" in text


def test_cli_lists_the_alerts_and_sends_the_due_ones(api_app, webhook, tmp_path):
    app = _alerting(api_app, webhook.url)
    video = add_analysed_video(app)
    webhook.statuses = [503]
    alerts.after_run(app, video["id"])
    _due_now(app)
    env = {"DATABASE_URL": app.db.url, "SENTINEL_DATA_DIR": str(tmp_path / "cli")}
    shown = run_cli("alerts", "--send", "--json", env={**env, "SENTINEL_ALERT_WEBHOOK_URL": webhook.url},
                    timeout=120)
    assert shown.returncode == 0, shown.stderr
    listed = json.loads(shown.stdout)
    assert listed["sent_now"] == {"sent": 1, "failed": 0} and len(webhook.bodies) == 1
    assert [(a["status"], a["attempts"]) for a in listed["alerts"]] == [("sent", 2)]
    plain = run_cli("alerts", env=env, timeout=120)
    assert plain.returncode == 0 and "sent" in plain.stdout and "Sentinel: theft in cam1.mp4" in plain.stdout
    refused = run_cli("alerts", "--send", env=env, timeout=120)
    assert refused.returncode != 0 and "set SENTINEL_ALERT_WEBHOOK_URL" in refused.stderr


def test_the_api_lists_the_alerts_and_sends_the_due_ones(api_app, webhook):
    from fastapi.testclient import TestClient

    from api import create_app
    from tests.conftest import AUTH, TOKEN

    with TestClient(create_app(api_app, token=TOKEN)) as client:
        assert client.get("/v1/alerts", headers=AUTH).json() == {"webhook": False, "alerts": []}
        refused = client.post("/v1/alerts/send", headers=AUTH)
        assert refused.status_code == 409 and "set SENTINEL_ALERT_WEBHOOK_URL" in refused.json()["error"]["message"]
    app = _alerting(api_app, webhook.url)
    video = add_analysed_video(app)
    webhook.statuses = [503]
    alerts.after_run(app, video["id"])
    _due_now(app)
    with TestClient(create_app(app, token=TOKEN)) as client:
        [waiting] = client.get("/v1/alerts", headers=AUTH).json()["alerts"]
        assert (waiting["status"], waiting["attempts"], waiting["last_error"]) == ("pending", 1, "HTTP 503: busy")
        assert waiting["text"].startswith("Sentinel: theft in cam1.mp4") and waiting["video_name"] == "cam1.mp4"
        assert client.post("/v1/alerts/send", headers=AUTH).json() == {"sent": 1, "failed": 0}
        listed = client.get("/v1/alerts", headers=AUTH).json()
        assert listed["webhook"] is True and [a["status"] for a in listed["alerts"]] == ["sent"]


def test_on_modal_a_scheduled_function_sends_the_alerts_a_run_could_not(app, clean_db, webhook, monkeypatch):
    import modal_app

    monkeypatch.setattr(app, "settings", app.settings.model_copy(
        update={"alert_webhook_url": SecretStr(webhook.url)}))
    video = add_analysed_video(app)
    webhook.statuses = [503]
    assert alerts.after_run(app, video["id"]) == {"queued": 1, "sent": 0, "failed": 1}
    assert modal_app.send_due_alerts.local() == {"sent": 0, "failed": 0}  # its back-off has not run out
    _due_now(app)
    assert modal_app.send_due_alerts.local() == {"sent": 1, "failed": 0}  # the function body, as the schedule runs it
    assert [a["status"] for a in _state(app, video["id"])] == ["sent"] and len(webhook.bodies) == 1
    assert isinstance(modal_app.ALERT_SWEEP, modal_app.modal.Period)
