"""Turn a plain-language question into search filters.

`parse_question` is a deterministic parser (regular expressions over the lowercased
question) and the offline default. `LLMQueryParser` asks a LangChain chat model for the
same `QueryFilters` object as JSON and falls back to `parse_question` on any error.

Filters are data, never SQL: the retriever passes them to Postgres as parameters.

Example:
    >>> f = parse_question("any theft between minute 3 and 5?")
    >>> (f.event_types, f.t_from, f.t_to, f.is_yes_no)
    (['theft'], 180.0, 300.0, True)
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.clock import format_mmss, parse_mmss  # noqa: F401  (re-exported: the parser's callers read times too)
from core.vocabulary import EVENT_TYPES

log = logging.getLogger(__name__)

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
AgeGroup = Literal["child", "young", "middle-aged", "old"]
Gender = Literal["male", "female"]
Colour = Literal[
    "red", "orange", "yellow", "green", "blue", "purple",
    "pink", "brown", "black", "white", "grey", "beige",
]
Zone = Literal["left", "centre", "right", "checkout", "exit", "shelf"]

AGE_GROUPS: tuple[str, ...] = AgeGroup.__args__  # type: ignore[attr-defined]
GENDERS: tuple[str, ...] = Gender.__args__  # type: ignore[attr-defined]
COLOURS: tuple[str, ...] = Colour.__args__  # type: ignore[attr-defined]
ZONES: tuple[str, ...] = Zone.__args__  # type: ignore[attr-defined]

AT_WINDOW_S = 5.0  # "at 01:12": an event a few seconds either side still counts
AROUND_WINDOW_S = 15.0  # "around 2 minutes": a looser window

# Spellings a model (or a person) may use for a canonical value; applied before validation.
_ALIASES: dict[str, str] = {
    "gray": "grey", "navy": "blue", "violet": "purple", "tan": "beige", "khaki": "beige",
    "center": "centre", "middle": "centre", "till": "checkout", "register": "checkout",
    "counter": "checkout", "cashier": "checkout", "door": "exit", "entrance": "exit",
    "shelves": "shelf", "aisle": "shelf",
    "middle aged": "middle-aged", "middle_aged": "middle-aged", "adult": "middle-aged",
    "elderly": "old", "senior": "old", "teen": "young", "teenager": "young", "kid": "child",
    "man": "male", "men": "male", "boy": "male", "woman": "female", "women": "female", "girl": "female",
    "fall": "collapse", "fight": "violent", "violence": "violent", "pick": "picking",
    "stealing": "theft", "shoplifting": "theft", "conceal": "concealment", "concealed": "concealment",
    "concealing": "concealment", "hiding": "concealment", "hidden": "concealment", "pocketing": "concealment",
    "walk": "walking", "sit": "sitting",
    "stand": "standing", "loiter": "loitering", "crowd": "crowding", "anomalous": "anomaly",
}




class QueryFilters(BaseModel):
    """What a question asks for, as filters for the retriever and hints for the answer.

    Times are seconds from the start of the video. `last_s` ("the last 30 seconds") needs
    the video's duration: call `resolve(duration_s)` once it is known.
    """

    model_config = ConfigDict(extra="ignore")

    t_from: float | None = Field(default=None, ge=0, description="window start, seconds")
    t_to: float | None = Field(default=None, ge=0, description="window end, seconds")
    last_s: float | None = Field(default=None, gt=0, description="'the last N seconds' of the video")
    event_types: list[EventType] = Field(default_factory=list)
    age_groups: list[AgeGroup] = Field(default_factory=list)
    genders: list[Gender] = Field(default_factory=list)
    colours: list[Colour] = Field(default_factory=list, description="clothing colours")
    zones: list[Zone] = Field(default_factory=list, description="regions or named zones")
    video: str | None = Field(default=None, max_length=200, description="video id or name")
    text: str = Field(default="", max_length=2000, description="residual text for full-text and vector search")
    is_count: bool = Field(default=False, description="the question asks 'how many'")
    is_yes_no: bool = Field(default=False, description="the question expects yes or no")

    @field_validator("event_types", "age_groups", "genders", "colours", "zones", mode="before")
    @classmethod
    def _canonical(cls, value: Any) -> Any:
        # models and people write "Theft", "gray" or a bare string: accept them, then dedupe
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        out: list[Any] = []
        for item in value:
            if isinstance(item, str):
                item = item.strip().lower()
                item = _ALIASES.get(item, item)
            if item not in out:
                out.append(item)
        return out

    @field_validator("video", mode="before")
    @classmethod
    def _blank_video(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _ordered_window(self) -> QueryFilters:
        # "between 5 and 3 minutes" means the same window as "between 3 and 5"
        if self.t_from is not None and self.t_to is not None and self.t_from > self.t_to:
            self.t_from, self.t_to = self.t_to, self.t_from
        return self

    @property
    def has_time(self) -> bool:
        return self.t_from is not None or self.t_to is not None or self.last_s is not None

    @property
    def has_filters(self) -> bool:
        """True when anything beyond the free text narrows the search."""
        return bool(
            self.has_time or self.event_types or self.age_groups or self.genders
            or self.colours or self.zones or self.video
        )

    def resolve(self, duration_s: float | None) -> QueryFilters:
        """Turn `last_s` into an absolute window against the video's duration.

        The result has `last_s=None`; an explicit `t_from`/`t_to` narrows it further.
        Without a duration the filters come back unchanged.
        """
        if self.last_s is None or duration_s is None:
            return self.model_copy()
        start = max(0.0, float(duration_s) - self.last_s)
        t_from = start if self.t_from is None else max(self.t_from, start)
        t_to = float(duration_s) if self.t_to is None else min(self.t_to, float(duration_s))
        # keep an empty window empty instead of letting the validator swap it
        t_to = max(t_to, t_from)
        return self.model_copy(update={"t_from": t_from, "t_to": t_to, "last_s": None})

    def window_label(self) -> str:
        """The asked time window in words, e.g. 'between 03:00 and 05:00' ('' when none)."""
        if self.last_s is not None and self.t_from is None and self.t_to is None:
            return f"in the last {_seconds_words(self.last_s)}"
        if self.t_from is not None and self.t_to is not None:
            return f"between {format_mmss(self.t_from)} and {format_mmss(self.t_to)}"
        if self.t_from is not None:
            return f"after {format_mmss(self.t_from)}"
        if self.t_to is not None:
            return f"before {format_mmss(self.t_to)}"
        return ""


def _seconds_words(seconds: float) -> str:
    if seconds % 60 == 0:
        minutes = int(seconds // 60)
        return "minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds:g} seconds"


# ---------------------------------------------------------------------------
# Matching events against filters (shared by the reranker and the composer)
# ---------------------------------------------------------------------------

def _attribute_values(attributes: Mapping[str, Any], *keys: str) -> set[str]:
    """Lowercased string values under any of `keys`, looking into nested dicts and lists."""
    found: set[str] = set()

    def collect(value: Any) -> None:
        if isinstance(value, str):
            found.add(_ALIASES.get(value.strip().lower(), value.strip().lower()))
        elif isinstance(value, Mapping):
            for inner in value.values():
                collect(inner)
        elif isinstance(value, list | tuple | set):
            for inner in value:
                collect(inner)

    for key, value in attributes.items():
        if any(k in key.lower() for k in keys):
            collect(value)
    return found - {"unknown", "none", ""}


def match_filters(filters: QueryFilters, metadata: Mapping[str, Any]) -> dict[str, bool | None]:
    """How one event's metadata meets each constrained facet of the filters.

    Returns one entry per constrained facet: True (meets it), False (contradicts it) or
    None (the event does not say, e.g. gender 'unknown'). Unconstrained facets are absent.
    """
    checks: dict[str, bool | None] = {}
    attributes = metadata.get("attributes") or {}
    if isinstance(attributes, str):  # jsonb may arrive as text from some drivers
        try:
            attributes = json.loads(attributes)
        except ValueError:
            attributes = {}

    if filters.event_types:
        kind = metadata.get("type")
        checks["type"] = None if kind is None else kind in filters.event_types
    for facet, wanted, keys in (
        ("age_group", filters.age_groups, ("age",)),
        ("gender", filters.genders, ("gender", "sex")),
        ("colour", filters.colours, ("colour", "color")),
    ):
        if wanted:
            have = _attribute_values(attributes, *keys)
            checks[facet] = bool(have & set(wanted)) if have else None
    if filters.zones:
        zone = metadata.get("zone")
        zones = {z.strip().lower() for z in (zone if isinstance(zone, list) else [zone]) if z}
        zones = {_ALIASES.get(z, z) for z in zones}
        checks["zone"] = bool(zones & set(filters.zones)) if zones else None
    if filters.t_from is not None or filters.t_to is not None:
        start, end = metadata.get("t_start"), metadata.get("t_end")
        if start is None:
            checks["time"] = None
        else:
            end = start if end is None else end
            after_from = filters.t_from is None or float(end) >= filters.t_from
            before_to = filters.t_to is None or float(start) <= filters.t_to
            checks["time"] = after_from and before_to
    elif filters.last_s is not None:
        checks["time"] = None  # unresolved: the duration is not known here
    if filters.video:
        ids = {str(metadata.get(k)) for k in ("video_id", "video_name") if metadata.get(k) is not None}
        checks["video"] = (filters.video in ids) if ids else None
    return checks


def contradicts(filters: QueryFilters, metadata: Mapping[str, Any]) -> bool:
    """True when the event is known to miss at least one constrained facet."""
    return any(v is False for v in match_filters(filters, metadata).values())


# ---------------------------------------------------------------------------
# Deterministic parser
# ---------------------------------------------------------------------------

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


def _unit_seconds(unit: str | None) -> float | None:
    if not unit:
        return None
    unit = unit.lower()
    if unit.startswith("h"):
        return _UNIT_SECONDS["h"]
    if unit.startswith("m"):
        return _UNIT_SECONDS["m"]
    return _UNIT_SECONDS["s"]


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


class _Scan:
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
        self.consumed = True
        for i in range(match.start(), match.end()):
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


def _parse_time(scan: _Scan, filters: dict[str, Any]) -> None:
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


# Synonym patterns, most specific first: a matched span is consumed, so "passed out"
# is a collapse and never also "passed" (walking), "took ... without paying" is theft only.
_EVENT_PATTERNS: list[tuple[str, str]] = [
    ("theft", r"\b(?:took|take|taking|takes|grabbed|grab)\b[\w\s]{0,30}?\bwithout pay(?:ing)?\b"),
    ("theft", r"\b(?:steal\w*|stole\w*|shoplift\w*|theft\w*|thie(?:f|ves)"
              r"|rob(?:bed|bery|beries|bing|bers?)?|snatch\w*|without pay(?:ing)?"
              r"|br(?:oke|eak(?:s|ing)?) into)\b"),
    # hiding what was taken: "hid", "pocketed", "put it in her bag", "slipped it into his jacket";
    # a pocket that something comes out of, or a basket, is none
    ("concealment", r"\b(?:conceal\w*|hid(?:e|es|ing|den)?|stash\w*"
                    r"|tuck(?:s|ed|ing)?\s+(?:\w+\s+)?(?:away|in|into|under|inside)"
                    r"|pocket(?:ed|ing)|pockets?\s+(?:it|them|something|anything|an?|the|some|items?|goods|products?)"
                    r"|(?:put(?:s|ting)?|slip(?:s|ped|ping)?|stuff(?:s|ed|ing)?|shove[sd]?|shoving|drop(?:s|ped|ping)?"
                    r"|place[sd]?|placing)"
                    r"\s+(?:[\w']+\s+){0,5}?(?:in|into|inside|under|up)\s+(?:his|her|their|my|your)\s+(?:own\s+)?"
                    r"(?:\w+\s+)?"
                    r"(?:pockets?|bags?|handbag|purse|backpack|jacket|coat|clothes|clothing|shirt|sleeves?|trousers|pants"
                    r"|jeans|waistband|hoodie|sweater|top|dress|skirt|socks?|hat))\b"),
    ("collapse", r"\b(?:passed out|pass(?:es|ing)? out|fell|fall(?:s|en|ing)?|faint\w*|collaps\w*|keel\w* over"
                 r"|slipped|tripped|lying on the (?:floor|ground))\b"),
    ("violent", r"\b(?:fight\w*|fought|hit(?:s|ting)?|punch\w*|kick(?:s|ed|ing)?|assault\w*|attack\w*|violen\w*"
                r"|brawl\w*|slap\w*|shov\w*|push(?:ed|es|ing)?|aggressi\w*|beat(?:s|en|ing)?(?: up)?"
                r"|shot|shoot(?:s|ing)?|stab\w*|gunm[ae]n|gunpoint)\b"),
    ("loitering", r"\b(?:loiter\w*|hang(?:s|ing)? (?:around|about)|hung (?:around|about)|linger\w*)\b"),
    ("picking", r"\b(?:pick(?:s|ed|ing)?(?: up)?|pickup|took|take(?:s|n)?|taking|grab\w*|reach(?:ed|es|ing)? for)\b"),
    ("walking", r"\b(?:walk\w*|(?:went|go(?:es|ing)?) (?:by|past)|pass(?:ed|es|ing)? (?:by|through)|passing|pass by"
                r"|stroll\w*)\b"),
    ("sitting", r"\b(?:sit(?:s|ting)?|sat|seated)\b"),
    ("standing", r"\b(?:stand(?:s|ing)?|stood|wait(?:s|ed|ing)?)\b"),
    ("crowding", r"\b(?:crowd\w*|gather\w*|groups? of people)\b"),
    ("anomaly", r"\b(?:unusual\w*|strange\w*|weird|odd|abnormal\w*|anomal\w*|suspicious\w*"
                r"|run(?:s|ning)?|ran|rush\w*|sprint\w*"
                r"|fire(?! exits?)|burn(?:s|t|ed|ing)?|flames?|smoke|explo(?:ded|des|sion\w*)|vandal\w*|smash\w*"
                r"|arson\w*)\b"),
]

# (facet, value, pattern); consumed like the event patterns so "how old" is no age filter
_ATTRIBUTE_PATTERNS: list[tuple[str, str | None, str]] = [
    ("age_groups", None, r"\bhow old\b"),
    ("age_groups", "middle-aged", r"\bmiddle[- ]aged?\b"),
    ("genders", "male", r"\bboys?\b"),
    ("genders", "female", r"\bgirls?\b"),
    ("age_groups", "child", r"\b(?:child(?:ren)?|kids?|toddlers?|bab(?:y|ies))\b"),
    ("age_groups", "child?", r"\b(?:boys?|girls?)\b"),  # a child unless another age is named
    ("age_groups", "young", r"\b(?:young(?:er|ster|sters)?|youths?|teen(?:s|ager|agers|age)?|adolescents?)\b"),
    ("age_groups", "old", r"\b(?:old(?:er)?|elderly|seniors?|pensioners?)\b"),
    ("genders", "male", r"\b(?:m[ae]n|males?|guys?|gentlem[ae]n)\b"),
    ("genders", "female", r"\b(?:wom[ae]n|females?|lad(?:y|ies))\b"),
]
_COLOUR_PATTERN = (
    r"\b(red|orange|yellow|green|blue|navy|purple|violet|pink|brown|black|white|gr[ae]y|beige|khaki)\b"
)
# "the left shelf": the side is a zone too, and the noun stays for its own pattern
_ZONE_NOUN = r"(?=[- ](?:shel|aisle|rack|door|exit|checkout|counter|till|corner|wall))"
_ZONE_PATTERNS: list[tuple[str | None, str]] = [
    ("exit", r"\b(?:left|leave|leaving|leaves)\s+(?:the\s+)?(?:store|shop|building|premises)\b"),
    ("exit", r"\b(?:exits?|doors?|doorway|entrance|way out)\b"),
    ("checkout", r"\b(?:(?:self[- ])?checkouts?|tills?|cashiers?|counters?|registers?|pay(?:ment)? (?:point|desk))\b"),
    ("shelf", r"\b(?:shel(?:f|ves)|aisles?|racks?|displays?|shelving)\b"),
    ("left", rf"\b(?:(?:on|at|in|to|from)\s+the\s+left|left(?:[- ](?:side|hand|part|area|half|corner))+"
             rf"|left{_ZONE_NOUN})\b"),
    ("right", rf"\b(?:(?:on|at|in|to|from)\s+the\s+right|right(?:[- ](?:side|hand|part|area|half|corner))+"
              rf"|right{_ZONE_NOUN})\b"),
    ("centre", r"\b(?:cent(?:re|er)|(?:in|at) the middle(?! of the (?:video|clip|recording)))\b"),
]
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_VIDEO_PATTERNS = [
    r"\b(?:in|from|of|on)?\s*(?:the\s+)?(?:video|clip|camera|recording)\s+(?:named\s+|called\s+|id\s+)?[\"'“‘](?P<v>[^\"'”’]+)[\"'”’]",
    rf"\b(?:in|from|of|on)?\s*(?:the\s+)?(?:video|clip|recording)\s+(?:named\s+|called\s+|id\s+)?(?P<v>{_UUID}|(?!\d{{1,2}}:\d)[\w.-]*\d[\w.-]*|[\w-]+\.(?:mp4|avi|mov|mkv|webm|m4v|mpg|mpeg|ts))\b",
    rf"\b(?:in|from|of|on)?\s*(?P<v>{_UUID})\b",
    r"\b(?:in|from|of|on)?\s*(?P<v>[\w-]+\.(?:mp4|avi|mov|mkv|webm|m4v|mpg|mpeg|ts))\b",
]
_COUNT = r"\b(?:how many|how often|number of|count(?:s)?\b(?! (?:as|on))|total(?:\s+number)?)\b"
_YES_NO = (
    r"^\s*(?:(?:so|and|but|ok|okay|hey),?\s+)?(?:is|are|was|were|did|do|does|has|have|had|can|could|will|would|should"
    r"|any|anyone|anybody|anything)\b"
)
# "someone fell?" asks; "someone running" searches
_YES_NO_IF_ASKED = r"^\s*(?:someone|somebody|something)\b.*\?\s*$"


def read_facets(text: str) -> dict[str, list[str]]:
    """Event types, age groups, genders, colours and zones that a text names, in that vocabulary.

    The facet half of `parse_question` without time, video, count or yes/no phrases: what the
    importer reads from each annotation sentence (a third of the cost of a full parse).
    """
    return _read_facets(_Scan(text))


def _read_facets(words: _Scan) -> dict[str, list[str]]:
    """The facets of a scan, consuming the spans they match."""
    types: list[str] = []
    for kind, pattern in _EVENT_PATTERNS:
        for m in words.find(pattern):
            words.consume(m)
            if kind not in types:
                types.append(kind)
    if "concealment" in types:
        # hiding is what makes a take a theft: the takes are told by the concealment events, the thefts too
        types = [t for t in types if t != "picking"] + ([] if "theft" in types else ["theft"])
    ages: list[str] = []
    genders: list[str] = []
    for facet, value, pattern in _ATTRIBUTE_PATTERNS:
        for m in words.find(pattern):
            # "boy"/"girl" give a gender and an age group, so those two do not consume
            if not re.fullmatch(r"boys?|girls?", m.group(0)) or facet == "age_groups":
                words.consume(m)
            target = ages if facet == "age_groups" else genders
            if value and value not in target:
                target.append(value)
    if "child?" in ages:
        # "teenage girls" are young, "a girl" is a child
        ages = [a for a in ages if a != "child?"] or ["child"]
    colours: list[str] = []
    for m in words.find(_COLOUR_PATTERN):
        colour = _ALIASES.get(m.group(1), m.group(1))
        if colour not in colours:
            colours.append(colour)
    zones: list[str] = []
    for zone, pattern in _ZONE_PATTERNS:
        for m in words.find(pattern):
            words.consume(m)
            if zone and zone not in zones:
                zones.append(zone)
    return {"event_types": types, "age_groups": ages, "genders": genders, "colours": colours, "zones": zones}


def parse_question(question: str) -> QueryFilters:
    """Parse a question into `QueryFilters` with fixed rules, no model.

    Time phrases and video references are removed from `text`; words that name events,
    people, colours and zones stay in it, since they help full-text and vector search.

    Args:
        question: the admin's question, any casing.

    Returns:
        The filters; a question with nothing recognisable gives empty filters whose
        `text` is the question itself (minus surrounding punctuation).
    """
    question = (question or "").strip()
    scan = _Scan(question)
    found: dict[str, Any] = {}

    for pattern in _VIDEO_PATTERNS:
        matches = scan.find(pattern)
        if matches:
            found["video"] = matches[0].group("v").strip()
            scan.consume(matches[0])
            break

    _parse_time(scan, found)

    # The remaining facets only read the text: they mark their spans in a private copy
    # so that `text` keeps the words while one phrase still yields one value.
    words = _Scan(question)
    words.mask, words.consumed = list(scan.mask), scan.consumed
    facets = _read_facets(words)

    lowered = question.lower()
    text = scan.residual()
    is_count = bool(re.search(_COUNT, lowered))
    # the residual too: "Between 3 and 5 minutes, did anyone steal?" opens with the time
    is_yes_no = not is_count and bool(
        re.search(_YES_NO, lowered) or re.search(_YES_NO, text.lower()) or re.search(_YES_NO_IF_ASKED, lowered)
    )
    return QueryFilters(
        **found,
        **facets,
        text=text,
        is_count=is_count,
        is_yes_no=is_yes_no,
    )


# ---------------------------------------------------------------------------
# LLM parser
# ---------------------------------------------------------------------------

_LLM_INSTRUCTIONS = """You turn a question about CCTV footage of a staffless store into search filters.
Times are seconds from the start of the video ("minute 3" = 180). Use last_s for "the last N seconds/minutes".
Allowed values:
- event_types: {event_types}
- age_groups: {age_groups}
- genders: {genders}
- colours (clothing): {colours}
- zones: {zones}
Put the rest of the question, without time phrases, in "text". Set is_count for "how many"
questions and is_yes_no for questions answered by yes or no. Leave out what the question
does not say. Reply with the JSON object only.

{format_instructions}"""


def _json_object(text: str) -> str:
    """The outermost {...} of a reply, without code fences or surrounding prose."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply holds no JSON object")
    return text[start:end + 1]


def _strict_filters_parser() -> Any:
    """A `PydanticOutputParser` for `QueryFilters` that refuses truncated JSON.

    LangChain's JSON parsing repairs a cut-off object; filters with half the fields
    missing are worse than the rule parser's, so an incomplete reply is an error here.
    """
    from langchain_core.output_parsers import PydanticOutputParser

    class StrictFiltersParser(PydanticOutputParser):
        def parse_result(self, result: list[Any], *, partial: bool = False) -> Any:
            if not partial:
                json.loads(_json_object(result[0].text))
            return super().parse_result(result, partial=partial)

    return StrictFiltersParser(pydantic_object=QueryFilters)


class LLMQueryParser:
    """Asks a LangChain chat model for `QueryFilters`; falls back to `parse_question`.

    Structured output (tool calling) is used when the model offers it, otherwise the
    reply is parsed as JSON by a `PydanticOutputParser`. Either way the result is
    validated by `QueryFilters`, so only the allowed values get through; any error
    (unreachable model, bad JSON, invalid values) gives the deterministic parse instead.

    Example:
        >>> parser = LLMQueryParser(init_chat_model("anthropic:claude-haiku-4-5"))
        >>> parser.parse("did a woman in red fall near the exit?").genders
        ['female']
    """

    def __init__(
        self,
        chat_model: Any,
        *,
        fallback: Callable[[str], QueryFilters] = parse_question,
    ) -> None:
        from langchain_core.prompts import ChatPromptTemplate

        self.chat_model = chat_model
        self.fallback = fallback
        self._output_parser = _strict_filters_parser()
        self._prompt = ChatPromptTemplate.from_messages(
            [("system", _LLM_INSTRUCTIONS), ("human", "{question}")]
        ).partial(
            event_types=", ".join(EVENT_TYPES),
            age_groups=", ".join(AGE_GROUPS),
            genders=", ".join(GENDERS),
            colours=", ".join(COLOURS),
            zones=", ".join(ZONES),
            format_instructions=self._output_parser.get_format_instructions(),
        )
        self._chain = self._build_chain()

    def _build_chain(self) -> Any:
        try:
            structured = self.chat_model.with_structured_output(QueryFilters)
        except (NotImplementedError, AttributeError, TypeError, ValueError):
            # models without tool calling (and the fake test models) answer in plain JSON
            return self._prompt | self.chat_model | self._output_parser
        return self._prompt | structured

    def parse(self, question: str) -> QueryFilters:
        """The model's filters for `question`, or the deterministic ones on any error."""
        try:
            raw = self._chain.invoke({"question": question})
            data = raw.model_dump() if isinstance(raw, BaseModel) else raw
            # validate again: structured output may hand back a dict or a partial model
            filters = QueryFilters.model_validate(data)
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            log.warning("LLM filters rejected (%s); using the rule parser", exc.__class__.__name__)
            return self.fallback(question)
        except Exception:  # noqa: BLE001 - a remote model fails in many ways; the question still gets answered
            log.warning("LLM query parser failed; using the rule parser", exc_info=True)
            return self.fallback(question)
        if not filters.text.strip():
            # search still needs words when the model leaves the residual text out
            filters = filters.model_copy(update={"text": self.fallback(question).text})
        return filters

    __call__ = parse
