"""Health of every component: database + pgvector, object store, models, runner, alerts."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class Check:
    component: str
    ok: bool
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_database(app) -> Check:
    try:
        with app.db.connection() as conn:
            pg = conn.execute("SHOW server_version").fetchone()["server_version"]
            vec = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()
        where = "DATABASE_URL" if app.settings.database_url else f"embedded, {app.settings.pg_dir}"
        version = vec["extversion"] if vec else "missing"
        return Check("database", vec is not None, f"PostgreSQL {pg}, pgvector {version} ({where})")
    except Exception as exc:  # health reports every failure as one line
        return Check("database", False, _first_line(exc))


def check_store(app) -> Check:
    try:
        return Check("object store", True, app.store.check())
    except Exception as exc:
        return Check("object store", False, _first_line(exc))


def check_models(app) -> list[Check]:
    checks = []
    try:
        from gpu_jobs.vision.models import available_models

        for role, path in available_models().items():
            checks.append(Check(f"model: {role}", path is not None, str(path) if path else "not installed"))
    except Exception as exc:
        checks.append(Check("models: vision", False, _first_line(exc)))
    try:
        from core.runtime.embeddings import embedding_model_path

        path = embedding_model_path(app.settings)
        checks.append(Check("model: text embedding", path is not None, str(path) if path else "not installed"))
    except Exception as exc:
        checks.append(Check("model: text embedding", False, _first_line(exc)))
    return checks


def check_runner(app) -> Check:
    runner = app.settings.runner
    if runner == "local":
        return Check("runner", True, "local worker (Postgres job queue)")
    try:
        import modal  # noqa: F401

        from gpu_jobs.runners import modal_token_configured

        ok = modal_token_configured()
        return Check("runner", ok, "Modal" + ("" if ok else ": no Modal token (run `modal token new`)"))
    except Exception as exc:
        return Check("runner", False, _first_line(exc))


def check_alerts(app) -> Check:
    """Off without a webhook; else how many alerts wait and how many were given up (not ok: some were)."""
    if app.settings.alert_webhook_url is None:
        return Check("alerts", True, "off (no SENTINEL_ALERT_WEBHOOK_URL)")
    try:
        from db.repos import alerts

        with app.db.connection() as conn:
            counts = alerts.counts(conn)
        closed = f", anyone seen {app.settings.alert_closed_hours}" if app.settings.alert_closed_hours else ""
        detail = (f"webhook set; {', '.join(app.settings.alert_type_list)} at confidence "
                  f"{app.settings.alert_min_confidence:g}+{closed}; {counts['sent']} sent, "
                  f"{counts['pending']} waiting, {counts['failed']} given up (`sentinel alerts` lists them)")
        return Check("alerts", counts["failed"] == 0, detail)
    except Exception as exc:
        return Check("alerts", False, _first_line(exc))


def run_checks(app) -> list[Check]:
    """Every component's check, the database first (the others need nothing from it)."""
    return [check_database(app), check_store(app), *check_models(app), check_runner(app), check_alerts(app)]
