"""Camera names: the one a video gets from its file name, and the check on one a person chose."""

from __future__ import annotations

import re
from datetime import datetime
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
