"""The one mm:ss clock: the answers, the descriptions, the highlights and the UI agree on it."""

from __future__ import annotations

import re


def format_mmss(seconds: float | None) -> str:
    """Seconds as `mm:ss` (or `h:mm:ss` from one hour on), rounded down like a player clock."""
    if seconds is None:
        return "--:--"
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def format_span(start: float | None, end: float | None) -> str:
    """'01:02' for an instant, '01:02–01:09' for a stretch (one clock tick apart or more)."""
    a, b = format_mmss(start), format_mmss(end)
    return a if end is None or start is None or a == b else f"{a}–{b}"


_MMSS = re.compile(r"(?:(?:(?P<h>\d+):)?(?P<m>\d+):)?(?P<s>\d+(?:\.\d+)?)")


def parse_mmss(text: str) -> float:
    """Seconds from a player time: `ss`, `ss.f`, `m:ss`, `mm:ss.f` or `h:mm:ss[.f]`.

    Raises:
        ValueError: with a sentence saying what to type, for anything else (negative
            times, seconds or minutes of 60 or more after a colon, garbage).

    Example:
        >>> parse_mmss("1:02.5"), parse_mmss("1:00:05"), parse_mmss("75")
        (62.5, 3605.0, 75.0)
    """
    value = (text or "").strip()
    match = _MMSS.fullmatch(value)
    if not match:
        problem = "a time cannot be negative" if value.startswith("-") else "it is not a time"
        raise ValueError(f"{text!r}: {problem}; give seconds (75 or 75.5), mm:ss (1:15) or h:mm:ss (1:02:03).")
    hours, minutes, seconds = match.group("h"), match.group("m"), float(match.group("s"))
    if minutes is not None and seconds >= 60:
        raise ValueError(f"{text!r}: the seconds after a colon must be below 60, as in 1:15.")
    if hours is not None and int(minutes) >= 60:
        raise ValueError(f"{text!r}: the minutes in h:mm:ss must be below 60, as in 1:02:03.")
    return (int(hours or 0) * 60 + int(minutes or 0)) * 60 + seconds
