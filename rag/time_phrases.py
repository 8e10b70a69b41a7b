"""Time phrases in a question: "between minute 3 and 5", "at 01:12", "around 2 minutes", "in the last 30 s".

`parse_time` reads the first time phrases of a `Scan` (the lowercased question whose matched
spans are blanked out, so each phrase yields one filter) into t_from / t_to / last_s seconds,
and consumes them, so the question's remaining text no longer holds them.

Example:
    >>> scan, found = Scan("any theft between minute 3 and 5?"), {}
    >>> parse_time(scan, found); found
    {'t_from': 180.0, 't_to': 300.0}
"""

from __future__ import annotations

import re
from typing import Any

AT_WINDOW_S = 5.0  # "at 01:12": an event a few seconds either side still counts
AROUND_WINDOW_S = 15.0  # "around 2 minutes": a looser window

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
    "fifty": 50, "sixty": 60, "ninety": 90, "half a": 0.5, "half an": 0.5,
}
_NUM = r"(?:\d+(?:\.\d+)?|half an?|forty-five|" + "|".join(
    sorted((w for w in _NUMBER_WORDS if " " not in w and "-" not in w), key=len, reverse=True)
) + r")"
_UNIT = r"(?:hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?"
# a duration: "90 seconds", "1 min 30 s", "2 minutes and 30 seconds", "1m30s"
_DURATION = rf"{_NUM}\s*{_UNIT}\b(?:\s*(?:and\s+)?\d+(?:\.\d+)?\s*{_UNIT}\b)*"
# a point in time: a clock, a duration, or a bare number (its unit comes from context)
_TIMEVAL = rf"(?:{_CLOCK}|{_DURATION}|{_NUM})"
_LEAD_UNIT = r"(?:(?:the\s+)?(?P<{name}>minutes?|mins?|seconds?|secs?)\s+)?"
_MARK = r"(?:\s+(?:mark|into the video|in(?=\s*(?:[?.,!;]|$))))?"  # "2 minutes in?", "the 1:30 mark"

_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0}
# how long around an event: "(in the) 5 minutes (after)", "30 seconds (before)", "(in the) minute (after)"
SPAN = rf"(?:{_NUM}\s*{_UNIT}\b|minute|hour)"


def _unit_seconds(unit: str | None) -> float | None:
    if not unit:
        return None
    unit = unit.lower()
    if unit.startswith("h"):
        return _UNIT_SECONDS["h"]
    if unit.startswith("m"):
        return _UNIT_SECONDS["m"]
    return _UNIT_SECONDS["s"]


def span_seconds(text: str) -> float | None:
    """Seconds of a SPAN match: '5 minutes' 300, 'the minute' 60; None when it has no unit."""
    text = text.strip().lower()
    if text in ("minute", "hour"):
        return 60.0 if text == "minute" else 3600.0
    return _timeval(text, None)


def _number(token: str) -> float:
    token = token.strip().lower()
    return float(_NUMBER_WORDS[token]) if token in _NUMBER_WORDS else float(token)


def _timeval(text: str, default_unit: float | None) -> float | None:
    """Seconds for a clock, a duration or a bare number; None when the unit is unknowable."""
    text = text.strip().lower()
    if re.fullmatch(_CLOCK, text):
        parts = [int(p) for p in text.split(":")]
        return float(parts[0] * 60 + parts[1]) if len(parts) == 2 else float(parts[0] * 3600 + parts[1] * 60 + parts[2])
    pairs = re.findall(rf"({_NUM})\s*({_UNIT})\b", text)
    if pairs:
        return sum(_number(n) * (_unit_seconds(u) or 1.0) for n, u in pairs)
    if default_unit is None:
        return None
    return _number(text) * default_unit


def _has_unit(text: str) -> bool:
    return bool(re.fullmatch(_CLOCK, text.strip()) or re.search(rf"{_NUM}\s*{_UNIT}\b", text))


class Scan:
    """The question being parsed: lowercased text whose matched spans are blanked out."""

    def __init__(self, question: str) -> None:
        self.text = question.lower()
        # keep the original casing for the residual text unless lowercasing changed lengths
        self.original = question if len(question) == len(self.text) else self.text
        self.mask = [False] * len(self.text)
        self.consumed = False

    def find(self, pattern: str) -> list[re.Match[str]]:
        """Matches of `pattern` in the text not yet consumed."""
        matches = re.finditer(pattern, self.text)
        if not self.consumed:  # most patterns run before anything is consumed (the importer parses 20k+)
            return list(matches)
        return [m for m in matches if not any(self.mask[m.start():m.end()])]

    def consume(self, match: re.Match[str]) -> None:
        self.consume_span(match.start(), match.end())

    def consume_span(self, start: int, end: int) -> None:
        self.consumed = True
        for i in range(start, end):
            self.mask[i] = True

    def residual(self) -> str:
        kept = "".join(" " if m else ch for ch, m in zip(self.original, self.mask))
        kept = re.sub(r"\s+", " ", kept).strip()
        # punctuation left dangling by a removed span ("theft , please?")
        kept = re.sub(r"\s+([,.;:!?])", r"\1", kept)
        # connectives left at the edges once a time phrase is gone ("who left ... and")
        edge = r"(?:and|or|but|in|at|on|during|of|the|to|from|between|within)"
        previous = None
        while previous != kept:
            previous = kept
            kept = kept.strip(" ,;:-?!.")
            kept = re.sub(rf"^(?:{edge})\b\s*|\s*\b(?:{edge})$", "", kept, flags=re.IGNORECASE)
        return kept


def parse_time(scan: Scan, filters: dict[str, Any]) -> None:
    """Fill t_from / t_to / last_s from the first time phrases found, consuming them."""

    def first(pattern: str) -> re.Match[str] | None:
        found = scan.find(pattern)
        return found[0] if found else None

    # "between 3 and 5 minutes", "between minute 3 and 5", "from 2:30 to 4:00", "minutes 3-5"
    between = (
        rf"\b(?:between|from)\s+{_LEAD_UNIT.format(name='u1')}(?P<a>{_TIMEVAL})\s*"
        rf"(?:and|to|till|until|through|-|–)\s*{_LEAD_UNIT.format(name='u2')}(?P<b>{_TIMEVAL})"
        rf"(?:\s+(?P<u3>{_UNIT})\b)?{_MARK}"
    )
    bare_range = (
        rf"\b(?:(?:in|during)\s+)?{_LEAD_UNIT.format(name='u1')}(?P<a>{_TIMEVAL})\s*"
        rf"(?:-|–|to)\s*{_LEAD_UNIT.format(name='u2')}(?P<b>{_TIMEVAL})(?:\s+(?P<u3>{_UNIT})\b)?{_MARK}"
    )
    for pattern in (between, bare_range):
        for m in scan.find(pattern):
            a, b = m.group("a"), m.group("b")
            shared = _unit_seconds(m.group("u3") or m.group("u2") or m.group("u1"))
            if shared is None:
                # "between 1:30 and 2": a clock next to a bare number reads the number as minutes
                shared = _unit_seconds(_trailing_unit(b)) or _unit_seconds(_trailing_unit(a))
                if shared is None and (re.fullmatch(_CLOCK, a.strip()) or re.fullmatch(_CLOCK, b.strip())):
                    shared = 60.0
            if pattern is bare_range and not (m.group("u1") or m.group("u2") or m.group("u3")
                                             or _has_unit(a) or _has_unit(b)):
                continue  # "2 to 3 people" is not a time range
            start, end = _timeval(a, shared), _timeval(b, shared)
            if start is None or end is None:
                continue
            filters["t_from"], filters["t_to"] = min(start, end), max(start, end)
            scan.consume(m)
            return

    # "in the first minute", "first 30 seconds"
    m = first(rf"\b(?:(?:in|during|within)\s+)?(?:the\s+)?(?:first|opening|initial)\s+(?P<v>{_DURATION}|{_UNIT})\b")
    if m:
        filters["t_from"], filters["t_to"] = 0.0, _timeval(_with_one(m.group("v")), None)
        scan.consume(m)
        return
    # "last 30 seconds", "in the final 2 minutes", "the past minute"
    m = first(rf"\b(?:(?:in|during|within)\s+)?(?:the\s+)?(?:last|final|past|closing)\s+(?P<v>{_DURATION}|{_UNIT})\b")
    if m:
        filters["last_s"] = _timeval(_with_one(m.group("v")), None)
        scan.consume(m)
        return
    # "around 2 minutes", "at about 1:30"
    m = first(
        rf"\b(?:at\s+)?(?:around|about|approximately|approx\.?|roughly|circa|near|close to)\s+"
        rf"(?:the\s+)?{_LEAD_UNIT.format(name='u')}(?P<v>{_TIMEVAL}){_MARK}"
    )
    if m and (value := _point(m)) is not None:
        filters["t_from"], filters["t_to"] = max(0.0, value - AROUND_WINDOW_S), value + AROUND_WINDOW_S
        scan.consume(m)
        return
    # "at 01:12", "at minute 2", "at 90 seconds in"
    m = first(rf"(?:\bat|@)\s+(?:the\s+)?{_LEAD_UNIT.format(name='u')}(?P<v>{_TIMEVAL}){_MARK}")
    if m and (value := _point(m)) is not None:
        filters["t_from"], filters["t_to"] = max(0.0, value - AT_WINDOW_S), value + AT_WINDOW_S
        scan.consume(m)
        return

    # "2 minutes in", "1:30 into the video"
    m = first(
        rf"\b(?P<v>{_DURATION}|{_CLOCK})\s+(?:in(?=\s*(?:[?.,!;]|$))|into the (?:video|clip|recording|footage))"
    )
    if m:
        value = _timeval(m.group("v"), None)
        filters["t_from"], filters["t_to"] = max(0.0, value - AT_WINDOW_S), value + AT_WINDOW_S
        scan.consume(m)
        return
    # "during minute 3" is the minute on the clock from 03:00 to 04:00
    m = first(r"\b(?:in|during|within)\s+(?:the\s+)?minute\s+(?P<v>\d+)\b")
    if m:
        filters["t_from"] = float(m.group("v")) * 60
        filters["t_to"] = filters["t_from"] + 60
        scan.consume(m)
        return

    # open-ended bounds may combine: "after 1 minute and before 2:30"
    for key, words in (
        ("t_from", r"after|since|later than|past the|from"),
        ("t_to", r"before|until|till|up to|earlier than|prior to"),
    ):
        m = first(rf"\b(?:{words})\s+(?:the\s+)?{_LEAD_UNIT.format(name='u')}(?P<v>{_TIMEVAL}){_MARK}")
        if m and (value := _point(m)) is not None:
            filters[key] = value
            scan.consume(m)
    if "t_from" in filters or "t_to" in filters:
        return
    # a bare clock time is a time on its own: "what happened 1:12?"
    m = first(rf"(?<![\w:]){_CLOCK}(?![\w:])")
    if m:
        value = _timeval(m.group(0), None)
        filters["t_from"], filters["t_to"] = max(0.0, value - AT_WINDOW_S), value + AT_WINDOW_S
        scan.consume(m)


def _with_one(value: str) -> str:
    """'minute' alone means one minute."""
    return f"1 {value}" if re.fullmatch(_UNIT, value.strip()) else value


def _trailing_unit(value: str) -> str | None:
    m = re.search(rf"({_UNIT})\s*$", value.strip())
    return m.group(1) if m else None


def _point(m: re.Match[str]) -> float | None:
    """A single time from a match with a value `v` and an optional leading unit `u`."""
    value = m.group("v")
    lead = _unit_seconds(m.group("u"))
    if lead is None and not _has_unit(value):
        return None  # "after 3 people" is no time
    return _timeval(value, lead)


def parse_duration(scan: Scan, filters: dict[str, Any]) -> None:
    """Fill min_duration_s from "for more than 30 seconds", "longer than 2 minutes", "at least a minute"."""
    for m in scan.find(rf"\b(?:for\s+)?(?:more than|over|longer than|at least)\s+(?P<v>{_DURATION}|an?\s+{_UNIT})"):
        seconds = _timeval(re.sub(r"^an?\s+", "1 ", m.group("v")), None)
        if seconds:
            scan.consume(m)
            filters["min_duration_s"] = seconds
            return


_HHMM = re.compile(r"(?<![:\d])([01]?\d|2[0-3]):([0-5]\d)(?![:\d])")
_ANY_CLOCK = re.compile(rf"(?<![:\d]){_CLOCK}(?![:\d])")


def clock_reading(question: str, t_from: float | None, t_to: float | None) -> tuple[float, float | None] | None:
    """The times of day an hh:mm window would mean on the wall clock, in seconds past midnight; None if none can.

    parse_time reads "after 22:00" as 22 min into the footage (t_from 1320); on the clock it is 22:00 to
    midnight: (79200, None). Only when every time the question writes is an hh:mm of a day. Two times keep
    their written order, so "between 22:00 and 06:00" runs past midnight.
    """
    hhmm = _HHMM.findall(question)
    if not hhmm or len(hhmm) != len(_ANY_CLOCK.findall(question)) or (t_from is None and t_to is None):
        return None
    # "at 22:15": the footage reading's seconds either side become minutes (+-5 s: +-5 min)
    return _on_the_clock([int(h) * 3600.0 + int(m) * 60.0 for h, m in hhmm], t_from, t_to, minutes=True)


def _on_the_clock(times: list[float], t_from: float | None, t_to: float | None, *,
                  minutes: bool) -> tuple[float, float | None] | None:
    """The window of the written times of day, shaped as the footage reading is (after, before, between, at)."""
    if len(times) == 2 and t_from is not None and t_to is not None:
        return times[0], times[1]
    if len(times) != 1:
        return None
    at = times[0]
    if t_to is None:
        return at, None
    if t_from is None:
        return 0.0, at
    half = max((t_to - t_from) / 2.0, 0.0)
    half = min(half, 15.0) * 60.0 if minutes else half
    return max(at - half, 0.0), min(at + half, 86400.0)


_HHMMSS = re.compile(r"(?<![:\d])([01]?\d|2[0-3]):([0-5]\d):([0-5]\d)(?![:\d])")


def exact_clock_reading(question: str, t_from: float | None,
                        t_to: float | None) -> tuple[float, float | None] | None:
    """'at 22:01:30' on the wall clock, in seconds past midnight, when every time written is an hh:mm:ss.

    The footage reading's window carries over as it is ("at 22:01:30" is give or take 5 s either way).
    """
    times = [int(h) * 3600.0 + int(m) * 60.0 + int(s) for h, m, s in _HHMMSS.findall(question)]
    if not times or len(times) != len(_ANY_CLOCK.findall(question)) or (t_from is None and t_to is None):
        return None
    return _on_the_clock(times, t_from, t_to, minutes=False)


def written_clock_times(question: str) -> list[float]:
    """Each hh:mm the question writes, in seconds past midnight ('after 22:00': [79200.0])."""
    return [int(h) * 3600.0 + int(m) * 60.0 for h, m in _HHMM.findall(question)]


_AM_PM = re.compile(r"\b(1[0-2]|0?[1-9])(?::([0-5]\d))?\s*([ap])\.?\s?m\b\.?", re.IGNORECASE)


def twenty_four_hour(question: str) -> str:
    """'after 10pm' as 'after 22:00', '9:30 a.m.' as '09:30': the clock the time phrases read."""
    def hhmm(match: re.Match[str]) -> str:
        hour = int(match.group(1)) % 12 + (12 if match.group(3).lower() == "p" else 0)
        return f"{hour:02d}:{match.group(2) or '00'}"

    return _AM_PM.sub(hhmm, question)

