"""Formatting shared by every page: times, sizes, statuses and the colour of each event type."""

from __future__ import annotations

from datetime import datetime, timezone

from core.clock import format_mmss
from core.vocabulary import (  # noqa: F401  (the pages read them here)
    ALERT_TYPES as NOTABLE_TYPES, EVENT_COLOURS, INCIDENT_TYPES, OTHER_COLOUR,
)

STATUS_ICONS = {
    "pending": ":material/schedule:",
    "queued": ":material/schedule:",
    "processing": ":material/autorenew:",
    "running": ":material/autorenew:",
    "completed": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/cancel:",
}
ACTIVE_STATUSES = ("pending", "processing")
VIDEO_STATUSES = ("pending", "processing", "completed", "failed")


mmss = format_mmss  # one clock format everywhere: the answers and the UI must agree


def span(t_start: float | None, t_end: float | None) -> str:
    """`mm:ss–mm:ss`, or one time when the span is under a second."""
    if t_start is None:
        return "--:--"
    if t_end is None or int(t_end) <= int(t_start):
        return mmss(t_start)
    return f"{mmss(t_start)}–{mmss(t_end)}"


def human_bytes(n: float | None) -> str:
    """1536 -> '1.5 KB'."""
    if n is None:
        return "—"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def duration(seconds: float | None) -> str:
    """A video length: '12:34', or '—' when unknown."""
    return "—" if not seconds else mmss(seconds)


def ago(when: datetime | None) -> str:
    """'3 min ago' for a timestamp; absolute dates beyond a week."""
    if when is None:
        return "—"
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    secs = (datetime.now(timezone.utc) - when).total_seconds()
    if secs < 60:
        return "just now"
    if secs < 3600:
        return f"{int(secs // 60)} min ago"
    if secs < 86400:
        return f"{int(secs // 3600)} h ago"
    if secs < 7 * 86400:
        return f"{int(secs // 86400)} d ago"
    return f"{when:%Y-%m-%d}"




def type_badge(event_type: str) -> str:
    """The event type as a coloured Markdown badge (Streamlit's `:color-badge[...]` has fixed colours)."""
    named = {"theft": "red", "collapse": "violet", "violent": "orange", "anomaly": "yellow", "picking": "blue",
             "concealment": "orange", "crowding": "violet", "walking": "green", "standing": "gray", "sitting": "blue"}
    return f":{named.get(event_type, 'gray')}-badge[{event_type}]"


def status_label(status: str, progress: float | None = None) -> str:
    """'processing 42%' / 'completed' with its icon."""
    icon = STATUS_ICONS.get(status, "")
    pct = f" {progress:.0f}%" if status == "processing" and progress is not None else ""
    return f"{icon} {status}{pct}".strip()


# the attributes people search by, in the order they read them; the rest (speeds, internals) stay in exports
SHOWN_ATTRIBUTES = ("age_group", "gender", "clothing_colour", "orientation", "emotion", "object")


def list_breaks(text: str) -> str:
    """Plain lines as Markdown: a line after a '- ' list item starts a paragraph, not the item's tail."""
    lines = text.splitlines()
    return "\n".join(line if i == 0 or line.startswith("- ") or not lines[i - 1].startswith("- ") else f"\n{line}"
                     for i, line in enumerate(lines))


def attributes_text(attributes: dict | None) -> str:
    """Known person attributes as 'age group: adult · gender: male', skipping unknowns."""
    if not attributes:
        return ""
    parts = []
    for key in SHOWN_ATTRIBUTES:
        value = attributes.get(key)
        if value in (None, "", "unknown", [], {}):
            continue
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return " · ".join(parts)
