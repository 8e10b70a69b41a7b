"""The use cases the pages call, from services/ (pages import only ui), and the export row helper."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from core.errors import VideoNotFound
from services.alerts import recent_alerts, send_due_alerts
from services.ask import ask, chat_sessions, chat_turns, get_chat_session, rename_chat
from services.counts import people_per_hour
from services.events import (attribute_values, event_types, events_by_id, events_per_day, latest_notable, list_events,
                             on_the_wall_clock)
from services.jobs import cancel_job, list_jobs, retry_job, running_jobs
from services.storage import (LifecycleUnsupported, apply_lifecycle, archive_older_than, playable, poll_restores,
                              restore_video, tier_stats)
from services.videos import (ProgressSnapshot, delete_video, get_video, list_videos, nobody_detected, poll_progress,
                             submit_analysis, video_choices, video_counts)

__all__ = [
    "LifecycleUnsupported", "ProgressSnapshot", "VideoNotFound", "apply_lifecycle",
    "archive_older_than", "as_plain",
    "ask", "playable", "poll_restores", "restore_video", "tier_stats", "attribute_values", "cancel_job",
    "chat_sessions", "chat_turns", "delete_video",
    "event_types", "events_by_id", "events_per_day", "get_chat_session", "get_video", "latest_notable",
    "list_events", "list_jobs", "list_videos", "nobody_detected", "on_the_wall_clock", "people_per_hour",
    "poll_progress",
    "recent_alerts", "rename_chat",
    "retry_job", "running_jobs", "send_due_alerts",
    "submit_analysis", "video_choices", "video_counts",
]


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
