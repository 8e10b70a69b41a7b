"""Retail counts: people in and out at the entrance, visits and dwell per zone, per video and per hour.

Counted from the current run's person tracks (after identity linking) and the video's zones,
at read time, so a zone drawn later counts the footage already analysed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from uuid import UUID

from core.cameras import footage_start, seconds_past_hour
from core.counts import tally, visits
from rag.tally import load_counts
from services.videos import video_by_id


def people_counts(app, *, video_id: UUID | str, t_from: float | None = None, t_to: float | None = None) -> dict:
    """One video's counts in [t_from, t_to] seconds: people, people_in/out, zones (dwell), hours, and every visit."""
    video = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        (counted,) = load_counts(conn, [video]) or [None]
    start, source = footage_start(video, app.settings.zone)
    if counted is None:
        return {"video_id": str(video["id"]), "analysed": False, "people": 0, "people_in": 0, "people_out": 0,
                "entrances": [], "zones": {}, "hours": [], "visits": [], "starts_at": start.isoformat(),
                "starts_at_from": source}
    result = tally(counted.paths, counted.zones, t_from=t_from, t_to=t_to,
                   clock_offset_s=seconds_past_hour(start)).as_dict()
    lo, hi = (t_from if t_from is not None else float("-inf")), (t_to if t_to is not None else float("inf"))
    result["visits"] = [{"track": v.track, "zone": v.zone, "kind": v.kind, "t_enter": round(v.t_enter, 2),
                         "t_exit": round(v.t_exit, 2), "dwell_s": round(v.dwell_s, 2), "direction": v.direction}
                        for v in visits(counted.paths, counted.zones) if v.t_exit >= lo and v.t_enter <= hi]
    for hour in result["hours"]:
        hour["starts_at"] = (start + timedelta(seconds=hour["t_start"])).isoformat()
    return {"video_id": str(video["id"]), "analysed": True, **result, "starts_at": start.isoformat(),
            "starts_at_from": source}


@dataclass(frozen=True, slots=True)
class PeopleFlow:
    """The dashboard's people: per wall-clock hour, and how many distinct people in all."""

    hours: list[dict]  # hour, in, out, people (distinct within the hour), videos, with_entrance
    people: int  # distinct per video, summed: a person seen in two hours counts once


def people_per_hour(app, *, days: int = 30) -> PeopleFlow:
    """People in and out per wall-clock hour over every analysed video of the last `days` days (dashboard)."""
    from db.repos import videos

    since = datetime.now(timezone.utc) - timedelta(days=days)
    with app.db.connection() as conn:
        rows = videos.analysed_since(conn, since)
        counted = load_counts(conn, rows)
    hours: dict[datetime, dict] = {}
    people = 0
    for c in counted:
        start, _ = footage_start(c.video, app.settings.zone)
        counts = tally(c.paths, c.zones, clock_offset_s=seconds_past_hour(start))
        people += counts.people
        for h in counts.hours:
            at = (start + timedelta(seconds=h["t_start"])).replace(minute=0, second=0, microsecond=0)
            slot = hours.setdefault(at, {"hour": at, "in": 0, "out": 0, "people": 0, "videos": 0,
                                         "with_entrance": 0})
            slot["in"] += h["in"]
            slot["out"] += h["out"]
            slot["people"] += h["people"]
            slot["videos"] += 1
            slot["with_entrance"] += int(any(z.kind == "entrance" for z in c.zones))
    return PeopleFlow([hours[k] for k in sorted(hours)], people)
