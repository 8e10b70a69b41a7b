"""What the pages read and do, as plain functions over the App (no Streamlit, no SQL here either).

Each function opens one pooled connection for the repository calls it needs, so a page never
holds a connection across widgets, and the polling logic can be tested without a browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence
from uuid import UUID

from db.repos import chat, events, jobs, runs, summaries, videos, zones
from ui.format import ACTIVE_STATUSES



# ---- videos -------------------------------------------------------------------------------------

def list_videos(app, *, name: str | None = None, statuses: Sequence[str] | None = None,
                limit: int = 500) -> list[dict]:
    """Videos, newest first, filtered by a name fragment and a set of statuses.

    Each row also says `job`: the status of its active analysis job ('queued', 'running') or None,
    so a pending video that was never submitted can be told from one waiting in the queue.
    """
    with app.db.connection() as conn:
        rows = videos.list_videos(conn, name_like=(name or "").strip() or None, limit=limit)
        active = _active_jobs(conn)
    if statuses:
        rows = [r for r in rows if r["status"] in statuses]
    return [{**r, "job": active.get(r["id"])} for r in rows]


def _active_jobs(conn) -> dict[UUID, str]:
    return {j["video_id"]: j["status"] for s in jobs.ACTIVE for j in jobs.list_jobs(conn, status=s, limit=1000)}


def get_video(app, video_id: UUID | str | None) -> dict | None:
    if not video_id:
        return None
    with app.db.connection() as conn:
        return videos.get(conn, video_id)


def video_counts(app) -> dict[str, int]:
    with app.db.connection() as conn:
        return videos.counts_by_status(conn)


def video_choices(app) -> dict[str, str]:
    """{video id: name} for select boxes, newest first."""
    return {str(v["id"]): v["name"] for v in list_videos(app)}


@dataclass(slots=True)
class ProgressSnapshot:
    """One poll of the videos a progress display is watching."""

    rows: list[dict] = field(default_factory=list)

    @property
    def active(self) -> bool:
        """True while any watched video waits for or is under analysis: keep polling."""
        return any(r["status"] in ACTIVE_STATUSES for r in self.rows)

    @property
    def done(self) -> bool:
        return bool(self.rows) and not self.active


def poll_progress(app, video_ids: Sequence[UUID | str] | None = None, *, name: str | None = None,
                  statuses: Sequence[str] | None = None) -> ProgressSnapshot:
    """The current status and progress of some videos (by id) or of the filtered list.

    This is the whole polling logic of the live progress fragments, kept apart from Streamlit
    so it can be tested directly (AppTest does not fire `run_every` timers).
    """
    if video_ids is not None:
        wanted = [str(v) for v in video_ids]
        with app.db.connection() as conn:
            found = {str(r["id"]): r for r in (videos.get(conn, v) for v in wanted) if r}
            active = _active_jobs(conn)
            counts = {v: sum(events.counts_by_type(conn, found[v]["id"]).values()) for v in found}
        return ProgressSnapshot([{**found[v], "job": active.get(found[v]["id"]), "event_count": counts[v]}
                                 for v in wanted if v in found])
    return ProgressSnapshot(list_videos(app, name=name, statuses=statuses))


def analyze(app, video_id: UUID | str) -> dict:
    """Queue analysis of one video (idempotent: an active job is returned as is)."""
    return app.runner.submit(UUID(str(video_id)))


def delete_video(app, video_id: UUID | str):
    """Delete a video's objects (original, thumbnail, highlights, browser preview) and rows."""
    from db.lifecycle import delete_video as delete

    return delete(app, video_id=video_id)


# ---- events -------------------------------------------------------------------------------------

def list_events(app, *, video_id: UUID | str | None = None, types: Sequence[str] | None = None,
                t_from: float | None = None, t_to: float | None = None, zone: str | None = None,
                min_confidence: float | None = None, attributes: dict | None = None,
                limit: int = 1000) -> list[dict]:
    with app.db.connection() as conn:
        return events.list_events(conn, video_id=UUID(str(video_id)) if video_id else None, types=types,
                                  t_from=t_from, t_to=t_to, zone=zone or None, min_confidence=min_confidence,
                                  attributes=attributes or None, limit=limit)


def events_of(app, video_id: UUID | str) -> list[dict]:
    return list_events(app, video_id=video_id, limit=5000)


def events_by_id(app, ids: Sequence[int]) -> dict[int, dict]:
    with app.db.connection() as conn:
        return {r["id"]: r for r in events.get_many(conn, list(ids))}


def event_types(app) -> dict[str, int]:
    with app.db.connection() as conn:
        return events.counts_by_type(conn)


def events_per_day(app, days: int = 30) -> list[dict]:
    with app.db.connection() as conn:
        return events.per_day_by_type(conn, days)


def latest_notable(app, types: Sequence[str], limit: int = 8) -> list[dict]:
    with app.db.connection() as conn:
        return events.latest_notable(conn, types=types, limit=limit)


def zone_names(app, video_id: UUID | str | None = None) -> list[str]:
    """Zones known for a video (or none), plus the zones events were tagged with."""
    names: set[str] = set()
    if video_id:
        with app.db.connection() as conn:
            names |= {z["name"] for z in zones.for_video(conn, UUID(str(video_id)))}
    names |= {e["zone"] for e in list_events(app, video_id=video_id, limit=5000) if e.get("zone")}
    return sorted(names)


def attribute_values(rows: Sequence[dict]) -> dict[str, list]:
    """The text, whole-number and yes/no attribute values present in some events, per attribute.

    Values keep their JSON type, so a chosen value matches the stored one (`attributes @> {...}`).
    """
    found: dict[str, set] = {}
    for row in rows:
        for key, value in (row.get("attributes") or {}).items():
            if isinstance(value, (str, int, bool)) and value not in ("", "unknown"):
                found.setdefault(key, set()).add(value)
    return {k: sorted(v, key=str) for k, v in sorted(found.items())}


def frame_at(app, video_id: UUID | str, t: float) -> dict | None:
    with app.db.connection() as conn:
        return runs.frame_stat_at(conn, UUID(str(video_id)), t)


# ---- jobs ---------------------------------------------------------------------------------------

def list_jobs(app, *, status: str | None = None, limit: int = 200) -> list[dict]:
    try:
        app.runner.refresh()  # Modal jobs learn about remote failures here
    except Exception:  # a refresh problem must not hide the queue
        pass
    with app.db.connection() as conn:
        return jobs.list_jobs(conn, status=status, limit=limit)


def running_jobs(app) -> list[dict]:
    return [j for j in list_jobs(app, limit=100) if j["status"] in jobs.ACTIVE]


def retry_job(app, job_id: UUID | str) -> dict | None:
    with app.db.connection() as conn:
        job = jobs.retry(conn, UUID(str(job_id)))
    if job is not None and job["status"] == "queued":
        # the runner owns how a queued job starts (a Modal call, or the local worker's next claim)
        job = app.runner.submit(job["video_id"])
    return job


def cancel_job(app, job_id: UUID | str) -> dict | None:
    return app.runner.cancel(UUID(str(job_id)))


def latest_job(app, video_id: UUID | str) -> dict | None:
    with app.db.connection() as conn:
        return jobs.latest_for_video(conn, UUID(str(video_id)))


# ---- chat ---------------------------------------------------------------------------------------

def chat_sessions(app, limit: int = 50) -> list[dict]:
    with app.db.connection() as conn:
        return chat.list_sessions(conn, limit)


def chat_turns(app, session_id: UUID | str) -> list[dict]:
    with app.db.connection() as conn:
        return chat.turns(conn, UUID(str(session_id)))


def get_chat_session(app, session_id: UUID | str | None) -> dict | None:
    if not session_id:
        return None
    with app.db.connection() as conn:
        return chat.get_session(conn, session_id)


def rename_chat(app, session_id: UUID | str, title: str) -> dict | None:
    with app.db.connection() as conn:
        return chat.rename_session(conn, UUID(str(session_id)), title)


# ---- summaries ----------------------------------------------------------------------------------

def summary_row(app, video_id: UUID | str) -> dict | None:
    with app.db.connection() as conn:
        return summaries.get(conn, UUID(str(video_id)))


def as_plain(row: dict[str, Any]) -> dict[str, Any]:
    """A row with JSON-friendly values (UUIDs and datetimes as text), for exports."""
    out = {}
    for key, value in row.items():
        if isinstance(value, UUID):
            value = str(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out
