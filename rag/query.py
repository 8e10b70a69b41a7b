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
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.clock import format_mmss, parse_mmss  # noqa: F401  (re-exported: the parser's callers read times too)
from core.vocabulary import CARRYABLE, EVENT_TYPES, INCIDENT_TYPES, ITEM_EVENT_TYPES, PLACE_KINDS, REGIONS
from rag.day_phrases import day_label, parse_day
from rag.time_phrases import SPAN, Scan, parse_duration, parse_time, span_seconds, twenty_four_hour

log = logging.getLogger(__name__)

EventType = Literal[EVENT_TYPES]  # type: ignore[valid-type]
AgeGroup = Literal["child", "young", "middle-aged", "old"]
Gender = Literal["male", "female"]
Direction = Literal["left", "right", "away", "towards"]  # as the walking rule reports a heading
Colour = Literal[
    "red", "orange", "yellow", "green", "blue", "purple",
    "pink", "brown", "black", "white", "grey", "beige",
]
Zone = Literal["left", "centre", "right", "checkout", "exit", "shelf", "staff"]
Role = Literal["staff", "customer"]
Item = Literal[tuple(sorted(CARRYABLE))]  # type: ignore[valid-type]

AGE_GROUPS: tuple[str, ...] = AgeGroup.__args__  # type: ignore[attr-defined]
GENDERS: tuple[str, ...] = Gender.__args__  # type: ignore[attr-defined]
COLOURS: tuple[str, ...] = Colour.__args__  # type: ignore[attr-defined]
ZONES: tuple[str, ...] = Zone.__args__  # type: ignore[attr-defined]

# Spellings a model (or a person) may use for a canonical value; applied before validation.
ALIASES: dict[str, str] = {
    "gray": "grey", "navy": "blue", "violet": "purple", "tan": "beige", "khaki": "beige",
    "center": "centre", "middle": "centre", "till": "checkout", "register": "checkout",
    "counter": "checkout", "cashier": "checkout", "door": "exit", "entrance": "exit",
    "shelves": "shelf", "aisle": "shelf", "staff area": "staff", "staff room": "staff",
    "middle aged": "middle-aged", "middle_aged": "middle-aged", "adult": "middle-aged",
    "elderly": "old", "senior": "old", "teen": "young", "teenager": "young", "kid": "child",
    "man": "male", "men": "male", "boy": "male", "woman": "female", "women": "female", "girl": "female",
    "fall": "collapse", "fight": "violent", "violence": "violent", "pick": "picking",
    "stealing": "theft", "shoplifting": "theft", "conceal": "concealment", "concealed": "concealment",
    "concealing": "concealment", "hiding": "concealment", "hidden": "concealment", "pocketing": "concealment",
    "walk": "walking", "sit": "sitting",
    "stand": "standing", "loiter": "loitering", "crowd": "crowding", "anomalous": "anomaly",
    "phone": "cell phone", "mobile phone": "cell phone", "smartphone": "cell phone", "mug": "cup",
    "glass": "wine glass", "ball": "sports ball", "teddy": "teddy bear", "bottles": "bottle",
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
    zones: list[Zone] = Field(default_factory=list, description="regions or kinds of zone")
    zone_names: list[str] = Field(default_factory=list, max_length=20, description="the store's drawn zones the "
                                  "question names ('the drinks shelf'), lowercase; set from the zones drawn")
    place_words: dict[str, str] = Field(default_factory=dict, description="the question's own word for a kind of "
                                        "place in `zones`, for the answer ({'exit': 'door', 'checkout': 'till'})")
    role: Role | None = Field(default=None, description="whose events: 'staff' (people seen in a drawn staff area "
                              "most of their time) or 'customer' (everyone else)")
    video: str | None = Field(default=None, max_length=200, description="video id or name")
    videos: list[str] = Field(default_factory=list, max_length=20, description="the videos (ids) a question names "
                              "when it names more than one ('in fighting1 and fighting2'); set from the stored names")
    camera: str | None = Field(default=None, max_length=100, description="a camera's name: its videos")
    day_from: datetime | None = Field(default=None, description="wall-clock start of the asked days ('yesterday')")
    day_to: datetime | None = Field(default=None, description="wall-clock end of the asked days, exclusive")
    text: str = Field(default="", max_length=2000, description="residual text for full-text and vector search")
    is_count: bool = Field(default=False, description="the question asks 'how many'")
    is_yes_no: bool = Field(default=False, description="the question expects yes or no")
    min_duration_s: float | None = Field(default=None, gt=0, description="events lasting at least this long")
    directions: list[Direction] = Field(default_factory=list, description="where people moved ('to the left')")
    items: list[Item] = Field(default_factory=list, description="the item taken or hidden ('a bottle')")
    relation: Literal["after", "before", "around"] | None = Field(
        default=None, description="the question asks what happened after, before or around an event "
                                  "('after the theft', 'before and after the fall')")
    anchor_types: list[EventType] = Field(default_factory=list, description="the event types the relation is to")
    same_person: bool = Field(default=False, description="the question follows the anchor's person ('what did he do')")
    relation_s: float = Field(default=60.0, gt=0, le=3600, description="how long after or before the anchor")
    anchor_pick: Literal["first", "last"] | None = Field(default=None, description="'after the first theft'")
    list_all: bool = Field(default=False, description="the question asks for every matching event ('list all')")
    clock_from_s: float | None = Field(default=None, ge=0, le=86400, description="wall-clock time of day the "
                                       "window starts, seconds past midnight ('after 22:00'); set once the "
                                       "footage in scope says hh:mm is its clock")
    clock_to_s: float | None = Field(default=None, ge=0, le=86400, description="time of day it ends (None: "
                                     "midnight; earlier than the start: past midnight)")
    group_by: Literal["camera", "video", "day", "hour"] | None = Field(
        default=None, description="what the question breaks events down by ('which camera had the most thefts?')")
    compare_from: datetime | None = Field(default=None, description="start of the second period compared "
                                                                    "('more thefts today than yesterday?')")
    compare_to: datetime | None = Field(default=None, description="end of the second period, exclusive")
    compare_cameras: list[str] = Field(default_factory=list, max_length=20, description="the cameras compared "
                                       "with `camera` ('more thefts on the front door than on till_2 or back?')")
    compare_video: str | None = Field(default=None, max_length=200, description="the video (id) compared with "
                                      "`video` ('more fights in fighting1 than in fighting2?')")
    rank_by: Literal["longest", "shortest", "largest", "latest", "earliest"] | None = Field(
        default=None, description="the question asks for the longest or shortest event ('who loitered the longest?'), "
                                  "the one with the most people ('the biggest crowd'), or the latest or earliest "
                                  "on the wall clock ('when was the last theft?')")

    @field_validator("place_words", mode="before")
    @classmethod
    def _words_of_kinds(cls, value: Any) -> Any:
        # a model may invent keys or long phrases: keep one short word or two per kind of place
        if not isinstance(value, Mapping):
            return {}
        return {k: v.strip().lower() for k, v in value.items()
                if k in PLACE_KINDS and isinstance(v, str) and 0 < len(v.strip()) <= 30}

    @field_validator("event_types", "age_groups", "genders", "colours", "zones", "items", "anchor_types",
                     mode="before")
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
                item = ALIASES.get(item, item)
            if item not in out:
                out.append(item)
        return out

    @field_validator("zone_names", mode="before")
    @classmethod
    def _lower_names(cls, value: Any) -> Any:
        names = [value] if isinstance(value, str) else value or []
        return list(dict.fromkeys(n.strip().lower() for n in names if isinstance(n, str) and n.strip()))

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
        return (self.t_from is not None or self.t_to is not None or self.last_s is not None
                or self.clock_from_s is not None)

    @property
    def compares(self) -> bool:
        """The question compares two periods or two cameras."""
        return self.compare_from is not None or bool(self.compare_cameras) or self.compare_video is not None

    @property
    def zone_kinds(self) -> frozenset[str]:
        """The drawn zone kinds the place words mean ("the door": exit and entrance zones)."""
        return frozenset(self.place_kinds)

    @property
    def places(self) -> list[str]:
        """The drawn zones' names and the place words asked, each place once ("the door", not "the door or exit")."""
        named = {ALIASES.get(n, n) for n in self.zone_names}
        return [*self.zone_names,
                *(self.place_words.get(z, z) for z in self.zones if z in PLACE_KINDS and z not in named)]

    @property
    def place_kinds(self) -> list[str]:
        """The drawn zone kinds the places asked need, for a sentence saying none is drawn ("exit or entrance")."""
        return list(dict.fromkeys(k for z in self.zones for k in PLACE_KINDS.get(z, ())))

    def asks_zone(self, name: str, kind: str) -> bool:
        """Whether a drawn zone is one the question asks about, by its name or its kind."""
        return name.strip().lower() in self.zone_names or kind in self.zone_kinds

    @property
    def has_filters(self) -> bool:
        """True when anything beyond the free text narrows the search."""
        return bool(
            self.has_time or self.event_types or self.age_groups or self.genders
            or self.colours or self.zones or self.zone_names or self.video or self.videos or self.day_from or self.items
            or self.camera or self.role == "staff"
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
        """The asked time window in words, e.g. 'between 03:00 and 05:00' or 'on 2026-12-01' ('' when none)."""
        day = day_label(self.day_from, self.day_to) if self.day_from and self.day_to else ""
        footage = self.time_label()
        lasting = ""
        if self.min_duration_s:
            s = self.min_duration_s
            lasting = f"lasting at least {s:g} s" if s < 60 else f"lasting at least {s / 60:g} min"
        camera = f"on camera {self.camera}" if self.camera else ""
        return " ".join(part for part in (lasting, camera, day, footage) if part)

    def time_label(self) -> str:
        """The asked times alone: 'between 03:00 and 05:00', 'after 22:00 by the clock' ('' when none)."""
        if self.clock_from_s is not None:
            if self.clock_to_s is None:
                return f"after {_hhmm(self.clock_from_s)} by the clock"
            if self.clock_from_s == 0:
                return f"before {_hhmm(self.clock_to_s)} by the clock"
            return f"between {_hhmm(self.clock_from_s)} and {_hhmm(self.clock_to_s)} by the clock"
        if self.last_s is not None and self.t_from is None and self.t_to is None:
            return f"in the last {_seconds_words(self.last_s)}"
        if self.t_from is not None and self.t_to is not None:
            return f"between {format_mmss(self.t_from)} and {format_mmss(self.t_to)}"
        if self.t_from is not None:
            return f"after {format_mmss(self.t_from)}"
        if self.t_to is not None:
            return f"before {format_mmss(self.t_to)}"
        return ""


def _hhmm(seconds: float) -> str:
    """'22:01', or '22:01:25' for a time asked to the second."""
    whole = int(round(seconds)) % 86400
    if whole % 60:
        return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}"


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
            found.add(ALIASES.get(value.strip().lower(), value.strip().lower()))
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


def event_places(zone: Any, attributes: Mapping[str, Any]) -> set[str]:
    """Where an event happened, in a question's words: its zone's name, kind and region, the shelf a hand reached into.

    A drawn zone says its kind (`zone_kind`), so a shelf named "counter" is a shelf, not a checkout; an
    imported or older event has only its zone's name, read as the question's words would be.
    """
    names = {z.strip().lower() for z in (zone if isinstance(zone, list) else [zone]) if isinstance(z, str) and z}
    kind = attributes.get("zone_kind")
    places = set(names)
    if kind in (None, "", "region"):
        places |= {ALIASES.get(z, z) for z in names}
    else:
        places |= {word for word, kinds in PLACE_KINDS.items() if kind in kinds}
    shelf = attributes.get("shelf")
    if isinstance(shelf, str) and shelf:
        places |= {shelf.strip().lower(), "shelf"}
    staff = attributes.get("staff_area")  # a member of staff is in their area most of the time
    if isinstance(staff, str) and staff:
        places |= {staff.strip().lower(), "staff"}
    region = attributes.get("region")  # the third of the frame an event in a named zone happened in
    if isinstance(region, str) and region:
        places.add(region)
    return places


def _all_known(checks: Iterable[bool | None]) -> bool | None:
    """False if any check fails, else None if any cannot tell, else True."""
    checks = list(checks)
    return False if False in checks else None if None in checks else True


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
    if filters.min_duration_s is not None and metadata.get("t_start") is not None:
        span = float(metadata.get("t_end") or metadata["t_start"]) - float(metadata["t_start"])
        checks["duration"] = span >= filters.min_duration_s
    if filters.directions:
        heading = attributes.get("direction") if isinstance(attributes, Mapping) else None
        checks["direction"] = None if not heading else str(heading).lower() in filters.directions
    if filters.items and metadata.get("type") in (None, *ITEM_EVENT_TYPES):
        # only a take reports an item: "took the bottle and pushed the baby" keeps the push as it is
        have = _attribute_values(attributes, "object", "item") if isinstance(attributes, Mapping) else set()
        checks["item"] = bool(have & set(filters.items)) if have else None
    if filters.zones or filters.zone_names:
        # "at the counter on the left": a place and a third of the frame, both
        places = event_places(metadata.get("zone"), attributes if isinstance(attributes, Mapping) else {})
        regions = {z for z in filters.zones if z in REGIONS}
        others = {*filters.zone_names, *(z for z in filters.zones if z not in REGIONS)}
        checks["zone"] = None if not places else _all_known([
            *([bool(places & regions) if places & set(REGIONS) else None] if regions else []),
            *([bool(places & others)] if others else [])])
    if filters.role is not None:  # the rules mark every event of staff, so an unmarked one is a customer's
        staff = attributes.get("staff_area") if isinstance(attributes, Mapping) else None
        checks["role"] = bool(staff) == (filters.role == "staff")
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

# what "suspicious" asks about in a question (an annotation's "suspicious" stays an anomaly: read_facets)
_SUSPICIOUS = r"\bsuspicious\w*"
SUSPICIOUS_TYPES = ("theft", "concealment", "loitering", "anomaly")
_INCIDENTS = r"\b(?:incidents?|security (?:events?|issues?|problems?))\b"
# "is anyone sleeping?": someone down on the floor is what the collapse rule sees (questions only, as _HARM)
_LYING = (r"\b(?:asleep|sleep(?:s|ing)?|unconscious|motionless|not moving|lying (?:down|still|there)"
          r"|lay (?:down|still))\b")
# "did anybody get hurt?": the falls and fights (questions only; annotations keep their own reading)
_HARM = r"\b(?:hurt|injur\w*|wounded|harmed|bleeding|(?:medical )?emergenc(?:y|ies)|ambulance|first aid)\b"

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
    # before the till: "behind the counter" is where the staff are, not a checkout
    ("staff", r"\b(?:staff[- ](?:areas?|rooms?|zones?|only(?: areas?)?)|back[- ]?office|behind the (?:counters?|tills?"
              r"|checkouts?|desks?))\b"),
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
# who: the staff (seen in a drawn staff area most of their time) or the customers; "cashier" stays a till
_ROLE_PATTERNS: list[tuple[str, str]] = [
    ("staff", r"\b(?:staff(?:[- ]?members?)?|members? of (?:the )?staff|employees?|workers?|clerks?|shop ?keepers?"
              r"|(?:shop|store|sales) assistants?|sales ?(?:m[ae]n|wom[ae]n|people|persons?|clerks?))\b"),
    ("customer", r"\b(?:customers?|shoppers?|clients?)\b"),
]
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_VIDEO_PATTERNS = [
    r"\b(?:in|from|of|on)?\s*(?:the\s+)?(?:video|clip|camera|recording)\s+(?:named\s+|called\s+|id\s+)?[\"'“‘](?P<v>[^\"'”’]+)[\"'”’]",
    rf"\b(?:in|from|of|on)?\s*(?:the\s+)?(?:video|clip|recording)\s+(?:named\s+|called\s+|id\s+)?(?P<v>{_UUID}|(?!\d{{1,2}}:\d)[\w.-]*\d[\w.-]*|[\w-]+\.(?:mp4|avi|mov|mkv|webm|m4v|mpg|mpeg|ts))\b",
    rf"\b(?:in|from|of|on)?\s*(?P<v>{_UUID})\b",
    r"\b(?:in|from|of|on)?\s*(?P<v>[\w-]+\.(?:mp4|avi|mov|mkv|webm|m4v|mpg|mpeg|ts))\b",
]
_COUNT = r"\b(?:how many|how often|number of|count(?:s)?\b(?! (?:as|on))|total(?:\s+number)?)\b"
_ALL = r"\b(?:list|every|everything)\b|(?<!\bat )\ball\b(?! (?:right|clear))"
_GROUPS = {
    "camera": r"\b(?:which|what) cameras?\b|\b(?:per|by|for each|on each|each) camera\b",
    "video": r"\b(?:which|what) (?:videos?|clips?|recordings?)\b"
             r"|\b(?:per|by|for each|in each|each) (?:video|clip|recording)\b",
    "day": r"\b(?:which|what) (?:days?|dates?)\b|\b(?:per|by|for each|on each|each) day\b|\bdaily\b|\bday by day\b",
    "hour": r"\b(?:which|what) (?:hours?|times? of (?:the )?day)\b|\b(?:per|by|for each|each) hour\b|\bhourly\b",
}
# "than", "versus": the question compares what comes before the word with what comes after it
COMPARE = r"\b(?:than|compared (?:to|with)|versus|vs\.?|against)\b"
_RANK = {"longest": r"\b(?:longest|the most time)\b", "shortest": r"\b(?:shortest|briefest|the least time)\b",
         "largest": r"\b(?:biggest|largest)\s+(?:\w+\s+)?(?:crowds?|groups?|gatherings?)\b"}
_WHEN_RANK = {"latest": r"\b(?:last|latest|most recent|newest)\b", "earliest": r"\b(?:first|earliest)\b"}
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
    facets = _read_facets(Scan(text))
    del facets["place_words"]  # how a place was worded matters to an answer, not to an annotation
    return facets


def _named(words: Scan, patterns: list[tuple[str | None, str]], said: dict[str, str] | None = None) -> list[str]:
    """The values whose patterns match, once each in pattern order, consuming the spans they match.

    said: filled with the first word that named each kind of place by another word ("till" for checkout).
    """
    found: list[str] = []
    for value, pattern in patterns:
        for m in words.find(pattern):
            words.consume(m)
            if value and value not in found:
                found.append(value)
            if said is not None and value in PLACE_KINDS:
                word = _singular(m.group(0).lower())
                if word != value and not re.match(r"lea|left", word):  # "left the store" names no place
                    said.setdefault(value, word)
    return found


def _singular(place: str) -> str:
    """'tills' -> 'till', 'shelves' -> 'shelf'; a place word as one of them is spoken of."""
    if place.endswith("shelves"):
        return place[:-len("shelves")] + "shelf"
    return place[:-1] if place.endswith("s") and not place.endswith("ss") else place


def _read_facets(words: Scan) -> dict[str, Any]:
    """The facets of a scan, consuming the spans they match."""
    types = _named(words, _EVENT_PATTERNS)
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
        colour = ALIASES.get(m.group(1), m.group(1))
        if colour not in colours:
            colours.append(colour)
    said: dict[str, str] = {}
    zones = _named(words, _ZONE_PATTERNS, said)
    return {"event_types": types, "age_groups": ages, "genders": genders, "colours": colours, "zones": zones,
            "place_words": said}


_MOVED = r"\b(?:walk\w*|went|go(?:es|ing)?|head\w*|mov\w*|run(?:s|ning)?|ran|cross\w*|pass\w*)\s+(?:\w+\s+){0,2}?"
_NOT_A_PLACE = r"(?![- ](?:shel|aisle|rack|door|exit|checkout|counter|till|corner|wall|side|hand|part|area))"
_DIRECTIONS = [
    ("left", rf"{_MOVED}(?P<heading>(?:to(?:wards)?|towards)\s+the\s+left)\b{_NOT_A_PLACE}"),
    ("right", rf"{_MOVED}(?P<heading>(?:to(?:wards)?|towards)\s+the\s+right)\b{_NOT_A_PLACE}"),
    ("towards", rf"{_MOVED}(?P<heading>(?:to(?:wards)?|towards)\s+the\s+camera)\b"),
    ("away", rf"{_MOVED}(?P<heading>away(?:\s+from\s+the\s+camera)?)\b"),
]


# what an owner calls the items a take reports; bags are left out (a hiding place: "put it in her bag"),
# and so are "tie" and "orange" (a verb, a colour)
_ITEM_PATTERNS: list[tuple[str, str]] = [
    ("cell phone", r"\b(?:(?:cell|mobile)\s+|smart)?phones?\b"),
    ("wine glass", r"\b(?:wine\s+)?glass(?:es)?\b"),
    ("cup", r"\b(?:cups?|mugs?)\b"),
    ("teddy bear", r"\bteddy(?:\s+bears?)?\b"),
    ("hot dog", r"\bhot\s*dogs?\b"),
    ("hair drier", r"\bhair\s*(?:drier|dryer)s?\b"),
    ("sports ball", r"\b(?:sports\s+)?balls?\b"),
    ("donut", r"\b(?:donut|doughnut)s?\b"),
    ("knife", r"\bkni(?:fe|ves)\b"),
    ("scissors", r"\bscissors\b"),
    ("broccoli", r"\bbroccoli\b"),
    *((name, rf"\b{name}(?:s|es)?\b") for name in ("bottle", "umbrella", "frisbee", "fork", "spoon", "bowl", "banana",
                                                   "apple", "sandwich", "carrot", "pizza", "cake", "laptop",
                                                   "remote", "keyboard", "book", "clock", "vase", "toothbrush")),
]


def _read_directions(words: Scan) -> list[str]:
    """Headings a question asks about ("walked to the left"), consuming the heading but not the verb."""
    found: list[str] = []
    for direction, pattern in _DIRECTIONS:
        for m in words.find(pattern):
            words.consume_span(m.start("heading"), m.end("heading"))  # "walked" still names walking
            if direction not in found:
                found.append(direction)
    return found


_RELATION = (rf"\b(?:(?:(?:in|within|for)\s+)?(?:the\s+)?(?:first\s+)?(?P<span>{SPAN})\s+)?"
             r"(?P<near>(?:right|just|immediately|shortly)\s+)?"
             r"(?P<rel>before and after|after|before|following|prior to|around|during|of)\s+")
_RELATIONS = {"before and after": "around", "around": "around", "during": "around", "before": "before",
              "prior to": "before", "of": "around"}
# who the question follows from the anchor: "what did he do after the theft?", "where did the thief go"
_SAME_PERSON = (r"\b(?:he|she|they|him|her|them|his|their|the (?:same )?(?:person|man|woman|thief|shoplifter|robber"
                r"|customer|shopper|guy|lady|boy|girl|kid|child|attacker|victim))\b")


_RELATION_FIELDS = ("relation", "anchor_types", "same_person", "relation_s", "anchor_pick")


def parse_relation(scan: Scan, filters: dict[str, Any], *, spans_only: bool = False) -> None:
    """Fill relation / anchor_types / same_person from "after the theft", "just before he fell", consuming them.

    spans_only: only phrases with a span ("in the first minute after the fall"), read before the clock times.
    """
    if "relation" in filters:
        return
    masked = "".join("\0" if m else c for c, m in zip(scan.text, scan.mask))
    for match in re.finditer(_RELATION + r"(?P<anchor>[^,.;:?!\0]+)", masked):
        anchor = _read_facets(Scan(match.group("anchor")))["event_types"]
        span = span_seconds(match.group("span")) if match.group("span") else None
        if not anchor or (match.group("rel") == "of" or spans_only) and span is None:
            continue  # "before leaving" names no event to hold on to; "a video of the theft" no time
        scan.consume_span(match.start(), match.end())
        ordinal = re.search(r"\b(?:the\s+)?(first|last|latest)\b", match.group("anchor"))
        filters.update(relation=_RELATIONS.get(match.group("rel"), "after"),
                       anchor_types=anchor,
                       relation_s=min(span or (20.0 if match.group("near") else 60.0), 3600.0),
                       **({"anchor_pick": "first" if ordinal.group(1) == "first" else "last"} if ordinal else {}))
        for person in scan.find(_SAME_PERSON):
            filters["same_person"] = True
            scan.consume(person)  # "the thief" is who, not another theft asked for
        return


def parse_question(question: str, *, today: date | None = None) -> QueryFilters:
    """Parse a question into `QueryFilters` with fixed rules, no model.

    Time phrases and video references are removed from `text`; words that name events,
    people, colours and zones stay in it, since they help full-text and vector search.

    Args:
        question: the admin's question, any casing.
        today: the date "today" and "yesterday" count from (default: this machine's).

    Returns:
        The filters; a question with nothing recognisable gives empty filters whose
        `text` is the question itself (minus surrounding punctuation).
    """
    question = twenty_four_hour((question or "").strip())
    scan = Scan(question)
    found: dict[str, Any] = {}

    for pattern in _VIDEO_PATTERNS:
        matches = scan.find(pattern)
        if matches:
            found["video"] = matches[0].group("v").strip()
            scan.consume(matches[0])
            break

    parse_day(scan, found, today=today or date.today())
    compared = re.search(COMPARE, question, re.IGNORECASE)
    if found.get("day_from") is not None and compared:
        # "on Monday than this week": the day before the comparison word is asked, the one after compared to
        before, after = {}, {}
        parse_day(Scan(question[:compared.start()]), before, today=today or date.today())
        parse_day(Scan(question[compared.end():]), after, today=today or date.today())
        if before and after:
            parse_day(scan, {}, today=today or date.today())  # the second phrase leaves the search text too
            found.update(before)
            found["compare_from"], found["compare_to"] = after["day_from"], after["day_to"]
    parse_duration(scan, found)  # "for more than 30 seconds" is how long, not when
    parse_relation(scan, found, spans_only=True)  # "the first minute after the fall" is no window of the footage
    parse_time(scan, found)
    parse_relation(scan, found)  # after the clock times: "after 2:00" is a time, "after the theft" an event

    # The remaining facets only read the text: they mark their spans in a private copy
    # so that `text` keeps the words while one phrase still yields one value.
    words = Scan(question)
    words.mask, words.consumed = list(scan.mask), scan.consumed
    directions = _read_directions(words)  # before the zones: "walked to the left" is a heading, not a place
    facets = _read_facets(words)
    roles = _named(words, _ROLE_PATTERNS)
    # an item narrows takes only: "did anyone use a phone?" is still a search for the words
    items: list[str] = []
    if set(facets["event_types"]) & set(ITEM_EVENT_TYPES):
        named = Scan(question)  # its own copy: "slipped a phone into his jacket" is one concealment phrase
        named.mask, named.consumed = list(scan.mask), scan.consumed
        items = _named(named, _ITEM_PATTERNS)

    lowered = question.lower()
    if re.search(_SUSPICIOUS, lowered):
        # an owner asking "anything suspicious?" means the thefts and the loiterers too, not only odd movement
        facets["event_types"] = list(dict.fromkeys([*SUSPICIOUS_TYPES, *facets["event_types"]]))
    if re.search(_INCIDENTS, lowered):
        facets["event_types"] = list(dict.fromkeys([*INCIDENT_TYPES, *facets["event_types"]]))
    if re.search(_LYING, lowered):
        facets["event_types"] = list(dict.fromkeys([*facets["event_types"], "collapse"]))
    if re.search(_HARM, lowered):
        facets["event_types"] = list(dict.fromkeys([*facets["event_types"], "collapse", "violent"]))
    text = scan.residual()
    is_count = bool(re.search(_COUNT, lowered))
    # the residual too: "Between 3 and 5 minutes, did anyone steal?" opens with the time
    is_yes_no = not is_count and bool(
        re.search(_YES_NO, lowered) or re.search(_YES_NO, text.lower()) or re.search(_YES_NO_IF_ASKED, lowered)
    )
    rank_by = next((order for order, pattern in _RANK.items() if re.search(pattern, lowered)), None)
    if rank_by is None and facets["event_types"] and "relation" not in found:
        # "when was the last theft?": what the time phrases left ("in the last minute" is a window, consumed)
        rank_by = next((order for order, pattern in _WHEN_RANK.items() if re.search(pattern, text.lower())), None)
    group = next((kind for kind, pattern in _GROUPS.items() if re.search(pattern, lowered)), None)
    return QueryFilters(
        **found,
        **facets,
        text=text,
        is_count=is_count,
        is_yes_no=is_yes_no and rank_by is None,  # "who stayed the longest?" names someone, not yes or no
        rank_by=rank_by,
        group_by=None if rank_by else group,  # "which camera had the longest visit?" names one event
        list_all=bool(re.search(_ALL, lowered)),
        directions=directions,
        items=items,
        role=roles[0] if len(roles) == 1 else None,  # "staff or customers" is everyone
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
- directions (where people moved, "walked to the left"; not a place): left, right, away, towards
- items (what was picked up, hidden or stolen; only with those event types): {items}
- min_duration_s: for "for more than 30 seconds" (how long an event lasted, not when)
- role: "staff" for questions about the staff or employees, "customer" for customers or shoppers
Put the rest of the question, without time phrases, in "text". Set is_count for "how many"
questions and is_yes_no for questions answered by yes or no; rank_by "longest" or "shortest" when the
question asks for the longest or shortest event, "largest" for the one with the most people, "latest" or
"earliest" for the last or first one ("when was the last theft?"); list_all
when it asks for every matching event ("list all").
Leave day_from, day_to, compare_from, compare_to and group_by out (they are read by rule).
Leave out what the question does not say. Reply with the JSON object only.

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
            items=", ".join(sorted(CARRYABLE)),
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
        rule = self.fallback(question)
        # days by rule: the model does not know today's date; search still needs words if the model gave none
        update = {key: getattr(rule, key) for key in ("day_from", "day_to", "compare_from", "compare_to", "group_by")}
        if rule.relation:  # "after the theft" by rule too: its theft is the anchor, not a type to search for
            update.update({key: getattr(rule, key) for key in (*_RELATION_FIELDS, "event_types")})
        if not filters.text.strip():
            update["text"] = rule.text
        return filters.model_copy(update=update)

    __call__ = parse
