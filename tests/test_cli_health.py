"""`sentinel health` on a working and on an unreachable database."""

from __future__ import annotations

import json

from tests.conftest import free_port, run_cli


def test_health_reports_database_store_and_runner(database):
    result = run_cli("health", "--json")
    report = json.loads(result.stdout)
    by_name = {c["component"]: c for c in report["components"]}
    assert by_name["database"]["ok"], by_name["database"]
    assert "pgvector 0.6" in by_name["database"]["detail"]
    assert by_name["object store"]["ok"]
    assert by_name["runner"]["ok"]
    assert any(name.startswith("model:") for name in by_name)
    assert result.returncode == (0 if report["ok"] else 1)


def test_closed_database_port_fails_with_one_clear_line():
    port = free_port()
    result = run_cli("health", env={"DATABASE_URL": f"postgresql://sentinel@127.0.0.1:{port}/sentinel"})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "database" in lines[0] and "is not running" in lines[0] and "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_bad_setting_fails_with_one_line_naming_it_and_never_its_value():
    cases = [
        ({"SENTINEL_ANALYSIS_FPS": "fast"},
         "sentinel: SENTINEL_ANALYSIS_FPS: Input should be a valid number, unable to parse string as a number."),
        ({"SENTINEL_ALERT_TYPES": "theft,bogus"}, "sentinel: SENTINEL_ALERT_TYPES names bogus; use a comma-separated "
         "list of walking, standing, sitting, picking, concealment, theft, collapse, violent, loitering, crowding, "
         "anomaly."),
        ({"SENTINEL_TIMEZONE": "Mars/Olympus_Mons"},
         "sentinel: SENTINEL_TIMEZONE names no time zone; use an IANA name such as Europe/Berlin."),
        ({"SENTINEL_ALERT_WEBHOOK_URL": "hooks.example.com/T0KEN-s3cret"},
         "sentinel: SENTINEL_ALERT_WEBHOOK_URL must be an http:// or https:// URL."),
    ]
    for env, line in cases:
        result = run_cli("health", env=env, timeout=120)
        assert result.returncode != 0 and result.stderr.strip() == line, result.stderr
    assert "T0KEN-s3cret" not in result.stderr + result.stdout
