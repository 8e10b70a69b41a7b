"""Day phrases in a question: "today", "yesterday", "this week", "in the last 3 days", "on Monday", "on 1 December".

`parse_day` reads the first day phrase of a `Scan` into day_from / day_to, a half-open range of
wall-clock datetimes (the footage's clock: set at upload, from the file name, else the upload
time), and consumes it. "Today" is the date of `today` (the caller passes the server's date).

Example:
    >>> scan, found = Scan("any theft yesterday?"), {}
    >>> parse_day(scan, found, today=date(2026, 12, 2)); found
    {'day_from': datetime.datetime(2026, 12, 1, 0, 0), 'day_to': datetime.datetime(2026, 12, 2, 0, 0)}
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from rag.time_phrases import Scan

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december")
_MONTH = r"(?P<month>" + "|".join(f"{m[:3]}(?:{m[3:]})?" for m in _MONTHS) + r")\.?"
_DAY_OF_MONTH = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?:,?\s+(?P<year>\d{4}))?"
# "on 1 December", "the 1st of December", "December 1, 2026"
_SPELLED = (rf"\b(?:on\s+)?(?:the\s+)?{_DAY_OF_MONTH}\s+(?:of\s+)?{_MONTH}{_YEAR}\b",
            rf"\b(?:on\s+)?{_MONTH}\s+{_DAY_OF_MONTH}{_YEAR}\b")
# cheap gate: the importer parses 20k+ sentences and almost none names a day
_ANY_DAY = re.compile(r"\b(?:today|tonight|yesterday|last night|this (?:morning|afternoon|evening)|week|days"
                      r"|\d{4}-\d{2}-\d{2}|"
                      + "|".join(w[:3] for w in _WEEKDAYS + _MONTHS) + r")", re.IGNORECASE)
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10, "fourteen": 14, "thirty": 30}


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day)


def _dated(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse_day(scan: Scan, filters: dict[str, Any], *, today: date) -> None:
    """Fill day_from / day_to from the first day phrase found, consuming it."""
    if not _ANY_DAY.search(scan.text):
        return
    monday = today - timedelta(days=today.weekday())
    fixed = [
        (r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", today, today + timedelta(days=1)),
        (r"\b(?:yesterday|last night)\b", today - timedelta(days=1), today),
        (r"\bthis week\b", monday, today + timedelta(days=1)),
        (r"\blast week\b", monday - timedelta(days=7), monday),
    ]
    for pattern, start, end in fixed:
        found = scan.find(pattern)
        if found:
            return _keep(scan, filters, found[0], start, end)
    recent = scan.find(r"\b(?:in\s+)?(?:the\s+)?(?:last|past)\s+(?P<n>\d+|" + "|".join(_NUMBERS) + r")\s+days\b")
    if recent:
        n = recent[0].group("n")
        days = int(n) if n.isdigit() else _NUMBERS[n]
        return _keep(scan, filters, recent[0], today - timedelta(days=max(1, days) - 1), today + timedelta(days=1))
    weekday = scan.find(r"\b(?:on\s+|(?P<last>last)\s+)?(?P<w>" + "|".join(_WEEKDAYS) + r")\b")
    if weekday:
        back = (today.weekday() - _WEEKDAYS.index(weekday[0].group("w"))) % 7  # the latest such day, today included
        if back == 0 and weekday[0].group("last"):
            back = 7  # "last Monday" asked on a Monday: a week ago
        start = today - timedelta(days=back)
        return _keep(scan, filters, weekday[0], start, start + timedelta(days=1))
    iso = scan.find(r"\b(?:on\s+)?(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b(?!\s*\d{1,2}:)")  # not a clock time
    spelled = [match for pattern in _SPELLED for match in scan.find(pattern)]
    for match in iso:
        day = _dated(int(match.group("y")), int(match.group("m")), int(match.group("d")))
        if day is not None:
            return _keep(scan, filters, match, day, day + timedelta(days=1))
    for match in spelled:
        month = next(k for k, m in enumerate(_MONTHS, 1) if m.startswith(match.group("month")[:3]))
        number = int(match.group("day"))
        year = int(match.group("year")) if match.group("year") else today.year
        day = _dated(year, month, number)
        if day is not None and not match.group("year") and day > today:
            day = _dated(year - 1, month, number)  # "on 28 December" asked in January: the last one
        if day is not None:
            return _keep(scan, filters, match, day, day + timedelta(days=1))


def _keep(scan: Scan, filters: dict[str, Any], match: re.Match[str], start: date, end: date) -> None:
    scan.consume(match)
    filters["day_from"], filters["day_to"] = _midnight(start), _midnight(end)


def day_label(day_from: datetime, day_to: datetime) -> str:
    """'on 2026-12-01', or 'from 2026-11-25 to 2026-12-01' (day_to is exclusive)."""
    last = (day_to - timedelta(days=1)).date()
    if last <= day_from.date():
        return f"on {day_from.date().isoformat()}"
    return f"from {day_from.date().isoformat()} to {last.isoformat()}"
