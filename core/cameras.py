"""Camera names: the one a video gets from its file name, and the check on one a person chose."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import PurePosixPath

MAX_CAMERA_LEN = 100
# a trailing date, time or recording counter: store3_cam2_20260101_120000.mp4 -> store3_cam2
_STAMP = re.compile(r"([ _-]+[0-9]{4}[0-9_T-]{2,})+$")


def default_camera(filename: str) -> str:
    """The camera a video belongs to unless one is chosen: its file name without extension and timestamp."""
    stem = PurePosixPath(str(filename).replace("\\", "/")).name
    stem = "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in stem)
    stem = re.sub(r"\.[^.]*$", "", stem) or stem
    name = " ".join((_STAMP.sub("", stem).strip() or stem.strip()).split()) or "camera"
    return clean_camera(name[:MAX_CAMERA_LEN].strip() or "camera")


def clean_camera(name: str) -> str:
    """A chosen camera name, trimmed; ValueError (one sentence) for an empty, too long or control-character one."""
    name = str(name).strip()
    if not name:
        raise ValueError("A camera name cannot be empty.")
    if len(name) > MAX_CAMERA_LEN:
        raise ValueError(f"A camera name has at most {MAX_CAMERA_LEN} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in name) or "/" in name:
        raise ValueError("A camera name cannot contain control characters or '/'.")
    return name


_RECORDED = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[ _T-]?(\d{2})[-:_.h]?(\d{2})(?:[-:_.m]?(\d{2}))?(?!\d)")


def recorded_at(filename: str) -> datetime | None:
    """When the footage starts, from an export's file name (store_cam2_20261201_100000.mp4); None if it says not."""
    stem = PurePosixPath(str(filename).replace("\\", "/")).name
    for match in _RECORDED.finditer(stem):
        y, mo, d, h, mi, s = (int(v) if v else 0 for v in match.groups())
        try:
            return datetime(y, mo, d, h, mi, s)  # the camera's wall clock, whatever its time zone
        except ValueError:
            continue
    return None


def parse_recorded_at(text: str) -> datetime:
    """When a recording starts, as typed (2026-12-01 10:00, 2026-12-01T10:00:05); ValueError in one sentence.

    The camera's wall clock is kept as written: an offset such as +01:00 is dropped, not converted.
    """
    value = str(text).strip()
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date and time; give it as 2026-12-01 10:00 "
                         "(or 2026-12-01T10:00:05).") from None
    if not 1990 <= stamp.year <= 2100:
        raise ValueError(f"{value[:40]!r}: a recording starts between the years 1990 and 2100.")
    if len(value) <= 10:
        raise ValueError(f"{value[:40]!r} has no time of day; give it as {value} 10:00.")
    return stamp.replace(tzinfo=None, microsecond=0)


def footage_clock(video: dict) -> tuple[datetime | None, str]:
    """When a video's footage starts on the wall clock and who said so: the uploader, else its file name."""
    if video.get("recorded_at") is not None:
        return video["recorded_at"], "set at upload"
    stamped = recorded_at(video.get("original_filename") or "")
    return (stamped, "file name") if stamped is not None else (None, "")


def footage_start(video: dict, zone: tzinfo | None = None) -> tuple[datetime, str]:
    """When a video's footage starts on the wall clock, and from what: the uploader, its file name, else its upload.

    The upload time is read on the store's clock, `zone` (SENTINEL_TIMEZONE; UTC when None).
    """
    stamped, source = footage_clock(video)
    if stamped is not None:
        return stamped, source
    created = video.get("created_at") or datetime.now(timezone.utc)
    return created.astimezone(zone or timezone.utc).replace(tzinfo=None), "upload time"


def seconds_past_hour(start: datetime) -> float:
    """How far past a full wall-clock hour footage starts: the clock offset that makes its hours follow the clock."""
    return start.minute * 60 + start.second + start.microsecond / 1e6


def overlaps_days(video: dict, day_from: datetime, day_to: datetime, zone: tzinfo | None = None) -> bool:
    """Whether a video's footage, from its wall-clock start for its duration, overlaps [day_from, day_to)."""
    start, _ = footage_start(video, zone)
    end = start + timedelta(seconds=float(video.get("duration_s") or 0.0))
    return start < day_to and end >= day_from


def clock_windows(video: dict, clock_from_s: float, clock_to_s: float | None,
                  zone: tzinfo | None = None) -> list[tuple[float, float]]:
    """The spans of a video's footage (seconds into it) that fall between two times of day on its wall clock.

    clock_to_s None is midnight; one earlier than clock_from_s runs past midnight ("22:00 to 06:00").
    Footage running over several days gets one span a day.
    """
    start, _ = footage_start(video, zone)
    duration = float(video.get("duration_s") or 0.0)
    end_s = 86400.0 if clock_to_s is None else float(clock_to_s)
    if end_s <= clock_from_s:
        end_s += 86400.0
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - midnight).total_seconds()  # the footage's start, in seconds past its first midnight
    spans, day = [], -86400.0  # the day before too: its "22:00 to 06:00" reaches into the footage's first morning
    while day + clock_from_s - offset <= duration:
        lo, hi = max(0.0, day + clock_from_s - offset), min(duration, day + end_s - offset)
        if hi > lo or (hi == lo and duration == 0.0):
            spans.append((lo, hi))
        day += 86400.0
    return spans


# a footage start known from the footage itself; "upload time" is only when it reached us
KNOWN_CLOCKS = frozenset({"set at upload", "file name"})
_CLOCK_PHRASES = {"set at upload": "by the clock set at upload", "file name": "by its file name",
                  "upload time": "by its upload time"}


def clock_phrase(source: str) -> str:
    """How a wall-clock time was known, for a sentence: 'by its file name' (source as footage_start says)."""
    return _CLOCK_PHRASES.get(source, "by its clock")
