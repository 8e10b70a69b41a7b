"""Count questions answered from counts, not from the event list: people in and out, dwell, distinct people.

"how many people came in between 10:00 and 11:00?", "how long did people stay at the
checkout?" and "how many people were there in the first minute?" are answered from the
current run's person tracks (after identity linking) and the video's zones (`core.counts`).
Questions about an event type ("how many people walked by?") stay with the event listing.

Example:
    >>> question_kind("how many people came in?", parse_question("how many people came in?"))
    'flow'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo

import numpy as np

from core.cameras import clock_phrase, clock_windows, footage_start, seconds_past_hour
from core.clock import format_mmss as mmss
from core.phrasing import describe_places, describe_who, with_article
from core.vocabulary import STAFF_KIND
from core.counts import CountZone, PersonPath, Tally, busiest_frame, paths_from_tracks, staff_tracks, tally, visits
from rag.day_phrases import day_label

_IN = (r"\b(?:came|come|comes|coming|walked|walk|went|go|got|stepped)\s+in(?:to|side)?\b"
       r"|\b(?:enter\w*|arriv\w*|footfall)\b")
_OUT = (r"\b(?:left|leave|leaves|leaving)\b(?!\s+(?:side|of|third|hand))|\b(?:went|walked|came|go|got)\s+out\b"
        r"|\bexit(?:ed|s|ing)\b")
_DWELL = r"\bhow long\b.*\b(?:stay\w*|spen[dt]\w*|wait\w*|dwell\w*|linger\w*|remain\w*|queue\w*)\b|\bdwell\b"
_PEOPLE = (r"\bhow many (?:different |distinct |unique )?(?:(?:young|old|elderly|older) )?"
           r"(?:people|persons|visitors|customers|shoppers|individuals|men|women|children|kids|boys|girls"
           r"|staff|members of staff|staff members|employees|workers|clerks)\b")
_ANY_PEOPLE = (r"\b(?:were|was|is|are) there (?:any|some)\s+(?:(?:young|old|elderly|older) )?"
               r"(?:people|persons?|visitors?|customers?|shoppers?|men|man|women|woman|children|child|kids?|boys?"
               r"|girls?|staff|members? of staff|staff members?|employees?|workers?|clerks?)\b")
_ARRIVE = r"arriv\w*|came in|come in|enter\w*|showed up|show up|got here|get here|open\w*"
_LEAVE = r"leav\w*|left|went out|go out|exit\w*|clos\w*"
# "who came in first?", "when did the last person leave?", "the first customer seen"
_FIRST_LAST = (rf"\b(?:who|when|what time)\b.*\b(?:first|last|earliest|latest)\b.*\b(?:{_ARRIVE}|{_LEAVE}|seen"
               rf"|appear\w*)\b|\b(?:{_ARRIVE}|{_LEAVE})\s+(?:first|last)\b")
# "who stayed the longest at the counter?": a stay, so the visits answer it, not the longest event
_STAY = r"\b(?:stay\w*|spen[dt]\w*|wait\w*|linger\w*|remain\w*)\b"
_BUSY = (r"\b(?:busiest|most (?:people|customers|shoppers|visitors|crowded|busy)|peak (?:time|hour|moment)"
         r"|rush hour|how busy)\b")


@dataclass(slots=True)
class VideoCounts:
    """One video's paths and zones, ready to tally."""

    video: dict
    paths: list[PersonPath]
    zones: list[CountZone]
    frames: list[dict] = field(default_factory=list)  # frame stats (t, counts), loaded for the busiest moment
    unrecognised: frozenset = frozenset()  # tracks kept for "how many women?" whose looks were not read
    looks: dict = field(default_factory=dict)  # track number -> its attributes (gender, age, colour)


def question_kind(question: str, filters) -> str | None:
    """'busiest', 'first_last' (who came first, left last), 'flow' (in/out), 'dwell', 'people' (distinct), or
    None when the event listing should answer."""
    q = question.lower()
    if re.search(_FIRST_LAST, q) and not filters.event_types:
        return "first_last"
    if re.search(_BUSY, q) and not filters.event_types:
        return "busiest"
    if re.search(_DWELL, q) or (filters.rank_by in ("longest", "shortest") and not filters.event_types
                                and re.search(_STAY, q)):
        return "dwell"
    if filters.is_yes_no and not filters.event_types and re.search(_ANY_PEOPLE, q):
        return "people"  # "were there any kids?": the people seen, not events
    if not filters.is_count or filters.event_types:
        return None
    if re.search(_IN, q) or re.search(_OUT, q):
        return "flow"
    return "people" if re.search(_PEOPLE, q) else None


def asks_who(filters) -> bool:
    """Whether a count question names who ("how many women came in?", "the person in grey")."""
    return bool(filters.genders or filters.age_groups or filters.colours)


def _people_asked(rows: list[dict], filters) -> tuple[list[dict], frozenset]:
    """The person tracks no asked gender, age or colour contradicts, and how many of them leave one unknown."""
    from rag.query import QueryFilters, match_filters

    who = QueryFilters(genders=filters.genders, age_groups=filters.age_groups, colours=filters.colours)
    kept, unknown = [], set()
    for row in rows:
        checks = match_filters(who, {"attributes": row.get("attributes") or {}}).values()
        if row.get("class_name", "person") == "person" and False in checks:
            continue
        kept.append(row)
        if row.get("class_name", "person") == "person" and None in checks:
            unknown.add(int(row["track_number"]))
    return kept, frozenset(unknown)


def no_staff_area(where: str, *, searched: bool) -> str:
    """The answer when staff are asked about and no staff area is drawn; said the same by counts and searches."""
    nothing = " and nothing was searched" if searched else ""
    return (f"No staff area is drawn{where}, so staff cannot be told from customers{nothing}; draw one around where "
            "the staff work on the video page.")


def count_zones(conn, video: dict) -> list[CountZone]:
    """The video's drawn zones, in pixels."""
    from db.repos import zones as zones_repo

    w, h = int(video.get("width") or 0), int(video.get("height") or 0)
    return [CountZone(z["name"], z["kind"], [(float(x) * w, float(y) * h) for x, y in z["polygon"]], z.get("loiter_s"))
            for z in zones_repo.for_video(conn, video["id"])]


def load_counts(conn, videos: Sequence[dict], *, frames: bool = False, who=None) -> list[VideoCounts]:
    """The current run's person paths and the zones (pixels) of each analysed video; its frame stats too if asked.

    who: filters whose gender, age and colour keep only the people that may fit them (unknown ones are kept).
    """
    from db.repos import runs

    out = []
    for video in videos:
        if not video.get("current_run_id") or not video.get("fps"):
            continue
        zones = count_zones(conn, video)
        stats = (runs.frame_stats_between(conn, video["id"], 0.0, float(video.get("duration_s") or 0.0) + 1.0)
                 if frames else [])
        rows, unknown = runs.tracks_for_video(conn, video["id"]), frozenset()
        if who is not None and asks_who(who):
            rows, unknown = _people_asked(rows, who)
        looks = {int(r["track_number"]): dict(r.get("attributes") or {}) for r in rows}
        out.append(VideoCounts(video, paths_from_tracks(rows, float(video["fps"])), zones, stats, unknown, looks))
    return out


def _window(filters) -> str:
    days = f" {day_label(filters.day_from, filters.day_to)}" if filters.day_from and filters.day_to else ""
    if filters.t_from is None and filters.t_to is None:
        return days
    if filters.t_to is None:
        return f"{days} after {mmss(filters.t_from)}"
    return f"{days} between {mmss(filters.t_from or 0)} and {mmss(filters.t_to)}"


def _scope(counted: Sequence[VideoCounts]) -> str:
    return f" in {counted[0].video['name']}" if len(counted) == 1 else f" across {len(counted)} videos"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def answer(question: str, filters, counted: Sequence[VideoCounts], kind: str, zone: tzinfo | None = None) -> str:
    """The answer's text, from the counts of every video in scope (`zone`: the store's, for upload times)."""
    if not counted:
        if filters.day_from and filters.day_to:
            days = day_label(filters.day_from, filters.day_to)
            return f"No analysed footage was recorded {days}, so there is nothing to count."
        return "No analysed video is in scope, so there is nothing to count."
    window = _window(filters)
    clocks = [(filters.t_from, filters.t_to)] * len(counted)  # per video, the span of its footage counted
    if filters.clock_from_s is not None:  # "after 10 pm": each video's footage at those hours (rag.scope)
        spans = [clock_windows(c.video, filters.clock_from_s, filters.clock_to_s, zone) for c in counted]
        counted = [c for c, w in zip(counted, spans) if w]
        clocks = [(w[0][0], w[-1][1]) for w in spans if w]
        days = f" {day_label(filters.day_from, filters.day_to)}" if filters.day_from and filters.day_to else ""
        window = f"{days} {filters.time_label()}"
        if not counted:
            return f"No analysed footage was recorded{window}, so there is nothing to count."
    unstaffed = []
    if filters.role == "staff":  # only a video with a staff area drawn can tell its staff
        has_area = [any(z.kind == STAFF_KIND for z in c.zones) for c in counted]
        unstaffed = [c.video["name"] for c, has in zip(counted, has_area) if not has]
        clocks = [span for span, has in zip(clocks, has_area) if has]
        counted = [c for c, has in zip(counted, has_area) if has]
        if not counted:
            return no_staff_area(" for the footage in scope", searched=False)
    scope, where = _scope(counted), ""
    if kind == "people" and filters.places:  # "how many people visited the counter?"
        if not any(_zones_asked(filters, c.zones) for c in counted):
            return (f"No {_zone_words(filters)} is drawn{scope}, so who went there cannot be counted; draw one on the "
                    "video page.")
        counted = [_visitors(c, _zones_asked(filters, c.zones), span) for c, span in zip(counted, clocks)]
        where = describe_places(filters.places)
    counted, others = _of_role(counted, clocks, filters.role)
    tallies = [(c, tally(c.paths, c.zones, t_from=lo, t_to=hi)) for c, (lo, hi) in zip(counted, clocks)]
    people = sum(t.people for _, t in tallies)
    noun = _ROLE_NOUNS.get(filters.role or "", ("distinct person was", "distinct people were"))
    seen = f"{_plural(people, *noun)} seen{where}{window}{scope}"
    if kind == "busiest":
        return _busiest(counted, clocks, filters, window, scope, zone)  # from the frames: everyone on screen
    if kind == "first_last":
        return _first_last(question, counted, clocks, window, zone)
    if kind == "people":
        text = f"{seen[0].upper()}{seen[1:]} (person tracks after identity linking)."
        if filters.is_yes_no:  # "were there any kids?": known to be, perhaps, or nobody
            unknown = _unrecognised(counted, clocks) if asks_who(filters) else 0
            text = f"{'No' if not people else 'Yes' if people > unknown else 'Possibly'}. {text}"
    elif kind == "flow":
        text = _flow(question, tallies, window, scope, seen)
    else:
        text = _dwell(filters, tallies, clocks, window, scope)
    return text + _who_note(filters, counted, clocks, people) + _role_note(filters.role, others, unstaffed)


_ROLE_NOUNS = {"staff": ("member of staff was", "members of staff were"),
               "customer": ("customer was", "customers were")}


def _of_role(counted: Sequence[VideoCounts], clocks: Sequence, role: str | None) -> tuple[list[VideoCounts], int]:
    """Each video's counts with only the staff (seen in a staff area most of their time) or only the customers,
    and how many of the others were seen in the same spans."""
    if role is None:
        return list(counted), 0
    kept, others = [], 0
    for c, (lo, hi) in zip(counted, clocks):
        staff = staff_tracks(c.paths, c.zones)
        mine = [p for p in c.paths if (p.track in staff) == (role == "staff")]
        others += tally([p for p in c.paths if (p.track in staff) != (role == "staff")], [], t_from=lo,
                        t_to=hi).people
        kept.append(replace(c, paths=mine))
    return kept, others


def _role_note(role: str | None, others: int, unstaffed: Sequence[str]) -> str:
    """' 1 member of staff (seen in a staff area most of the time) is not counted.' for a question about customers,
    ' shoplifting0.mp4 has no staff area drawn and is not counted.' for one about staff."""
    if unstaffed:
        one = len(unstaffed) == 1
        return (f" {', '.join(unstaffed)} {'has' if one else 'have'} no staff area drawn and {'is' if one else 'are'} "
                "not counted.")
    if role != "customer" or not others:
        return ""
    return (f" {_plural(others, 'member of staff', 'members of staff')} (seen in a staff area most of the time) "
            f"{'is' if others == 1 else 'are'} not counted.")


def _zones_asked(filters, zones: Sequence[CountZone]) -> list[CountZone]:
    """The drawn zones of the kinds or names a question asks about."""
    return [z for z in zones if filters.asks_zone(z.name, z.kind)]


def _zone_words(filters) -> str:
    """'zone named 'counter'' or 'checkout zone', for a sentence saying none is drawn."""
    if filters.zone_names:
        return f"zone named {' or '.join(map(repr, filters.zone_names))}"
    return f"{' or '.join(filters.place_kinds)} zone"


def _visitors(counted: VideoCounts, zones: Sequence[CountZone], span: tuple) -> VideoCounts:
    """The video's counts with only the people whose foot was in one of the zones within the span."""
    lo, hi = (-np.inf if span[0] is None else span[0]), (np.inf if span[1] is None else span[1])
    tracks = {v.track for v in visits(counted.paths, zones) if v.t_exit >= lo and v.t_enter <= hi}
    return replace(counted, paths=[p for p in counted.paths if p.track in tracks])


def _unrecognised(counted: Sequence[VideoCounts], clocks: Sequence) -> int:
    """The same count as the answer's, of the people kept only because their looks were not recognised."""
    return sum(tally([p for p in c.paths if p.track in c.unrecognised], [], t_from=lo, t_to=hi).people
               for c, (lo, hi) in zip(counted, clocks))


def _who_note(filters, counted: Sequence[VideoCounts], clocks: Sequence, people: int) -> str:
    """' Only women were counted, with the 2 of them whose looks were not recognised.' for a question of who."""
    if not asks_who(filters):
        return ""
    unknown = _unrecognised(counted, clocks)
    who = _who_words(filters)
    if unknown and unknown >= people:
        return f" None was recognised as {who}: the people counted are those whose looks were not recognised."
    extra = f", with the {unknown} of them whose looks were not recognised" if unknown else ""
    return f" Only {who} were counted{extra}."


def _who_words(filters) -> str:
    """'women', 'young men in red', 'children', 'people in grey'."""
    gender = filters.genders[0] if len(filters.genders) == 1 else None
    noun = {"female": "women", "male": "men"}.get(gender, "people")
    ages = [a for a in filters.age_groups if a != "child"]
    if "child" in filters.age_groups:
        noun = {"women": "girls", "men": "boys"}.get(noun, "children")
    words = [*ages[:1], noun]
    if filters.colours:
        words.append("in " + " or ".join(filters.colours))
    return " ".join(words)


def _busiest(counted: Sequence[VideoCounts], clocks: Sequence, filters, window: str, scope: str,
             zone: tzinfo | None) -> str:
    """The moment the most people were on screen at once, and the wall-clock hour with the most people.

    clocks: per video, the span of its footage asked (seconds; "after 10 pm" is each footage's own).
    """
    best: tuple[VideoCounts, float, int] | None = None
    hours: dict[datetime, int] = {}
    for c, (lo, hi) in zip(counted, clocks):
        t, people = busiest_frame(c.frames, t_from=lo, t_to=hi)
        if people and (best is None or people > best[2]):
            best = (c, t, people)
        start, _ = footage_start(c.video, zone)
        for h in tally(c.paths, c.zones, t_from=lo, t_to=hi, clock_offset_s=seconds_past_hour(start)).hours:
            at = (start + timedelta(seconds=h["t_start"])).replace(minute=0, second=0, microsecond=0)
            hours[at] = hours.get(at, 0) + h["people"]
    if best is None:
        return f"Nobody was seen{window}{scope}, so no moment was busier than another."
    video, t, people = best
    start, source = footage_start(video.video, zone)
    among = f", the most of {len(counted)} videos" if len(counted) > 1 else ""
    text = (f"The busiest moment{window} was {mmss(t)} in {video.video['name']} "
            f"({start + timedelta(seconds=t):%Y-%m-%d %H:%M} {clock_phrase(source)}), with {people} "
            f"{'person' if people == 1 else 'people'} on screen at once{among}")
    if len(hours) > 1:
        hour, most = min(hours.items(), key=lambda kv: (-kv[1], kv[0]))
        text += (f"; the busiest hour was {hour:%Y-%m-%d %H:00}-{hour + timedelta(hours=1):%H:00}, "
                 f"with {_plural(most, 'distinct person', 'distinct people')}")
    return text + "."


def _within(t: np.ndarray, lo: float | None, hi: float | None) -> np.ndarray:
    """The times of a path inside a span of its footage (None: from the start, to the end)."""
    return t[(t >= (lo or 0.0)) & (t <= (float("inf") if hi is None else hi))]


def _first_last(question: str, counted: Sequence[VideoCounts], clocks: Sequence, window: str,
                zone: tzinfo | None) -> str:
    """'The last person to leave left at 01:19 in vtest.avi (2026-12-02 19:23:41 by its upload time): a person
    in black (seen 00:53–01:19).' On the wall clock across the videos in scope.

    clocks: per video, the span of its footage asked; one arrives in it when first seen there, leaves when
    last seen there ("the last to leave before 10 pm" is not someone still on screen at 10 pm).
    """
    q = question.lower()
    arriving, leaving = (bool(re.search(rf"\b(?:{words})\b", q)) for words in (_ARRIVE, _LEAVE))
    last = bool(re.search(r"\b(?:last|latest)\b", q))
    ends = leaving or not arriving and last  # the moment the answer names: "left at" is the end of a path
    best = None
    for c, (lo, hi) in zip(counted, clocks):
        start, source = footage_start(c.video, zone)
        for path in c.paths:
            # arriving or leaving: where the path starts or ends; "the last person seen after 10 pm": in the span
            moments = path.t[[0, -1]] if (arriving or leaving) and len(path.t) else _within(path.t, lo, hi)
            if len(moments) and len(_within(moments[-1:] if ends else moments[:1], lo, hi)):
                moment = float(moments[-1] if ends else moments[0])
                at = start + timedelta(seconds=moment)
                if best is None or (at > best[0] if last else at < best[0]):
                    best = (at, moment, c, path.track, source, float(path.t[0]), float(path.t[-1]))
    if best is None:
        return f"Nobody was seen{window}{_scope(counted)}."
    at, moment, c, track, source, seen_from, seen_to = best
    duration = float(c.video.get("duration_s") or 0.0)
    which = "last" if last else "first"
    if arriving and not leaving:
        head, verb = f"The {which} person to arrive", f"arrived at {mmss(moment)}"
        if seen_from <= 0.5:
            verb = "was already on screen when the footage starts"
    elif leaving:
        head, verb = f"The {which} person to leave", f"left at {mmss(moment)}"
        if duration and seen_to >= duration - 0.5:
            verb = "was still on screen when the footage ends"
    else:
        head, verb = f"The {which} person seen", f"was {which} seen at {mmss(moment)}"
    who = with_article(describe_who(c.looks.get(track, {})) or "person whose looks were not recognised").lower()
    if len(counted) > 1:
        head = f"Across {len(counted)} videos, {head[0].lower()}{head[1:]}"
    return (f"{head}{window} {verb} in {c.video['name']} ({at:%Y-%m-%d %H:%M:%S} {clock_phrase(source)}): "
            f"{who} (seen {mmss(seen_from)}–{mmss(seen_to)}).")


def _extreme_stay(filters, tallies: list[tuple[VideoCounts, Tally]], clocks: Sequence, window: str) -> str | None:
    """'The longest stay at the counter was 00:25, by a person in grey, 01:05–01:30 in store.mp4.' from the
    visits to the zones asked (every drawn zone when none is); None when nobody visited one."""
    longest = filters.rank_by == "longest"
    best = None
    for (c, _), (lo, hi) in zip(tallies, clocks):
        zones = _zones_asked(filters, c.zones) if filters.places else [z for z in c.zones if z.kind != "region"]
        for v in visits(c.paths, zones):
            start, end = max(v.t_enter, lo or 0.0), min(v.t_exit, np.inf if hi is None else hi)
            if end >= start and (best is None or ((end - start > best[0]) if longest else (end - start < best[0]))):
                best = (end - start, start, end, c, v)
    if best is None:
        return None
    stay, start, end, c, v = best
    who = with_article(describe_who(c.looks.get(v.track, {})) or "person whose looks were not recognised").lower()
    head = f"The {'longest' if longest else 'shortest'} stay at the {v.zone}{window}"
    if len(tallies) > 1:
        head = f"Across {len(tallies)} videos, {head[0].lower()}{head[1:]}"
    return f"{head} was {mmss(stay)}, by {who}, {mmss(start)}–{mmss(end)} in {c.video['name']}."


def _flow(question: str, tallies: list[tuple[VideoCounts, Tally]], window: str, scope: str, seen: str) -> str:
    with_door = [(c, t) for c, t in tallies if t.entrances]
    if not with_door:
        return (f"No entrance zone is drawn{scope}, so people coming in and going out cannot be counted; "
                f"draw one over the door on the video page. Meanwhile, {seen}.")
    came = sum(t.people_in for _, t in with_door)
    went = sum(t.people_out for _, t in with_door)
    doors = sorted({name for _, t in with_door for name in t.entrances})
    where = f"the entrance zone{'s' if len(doors) > 1 else ''} {', '.join(repr(d) for d in doors)}"
    q = question.lower()
    asks_in, asks_out = bool(re.search(_IN, q)), bool(re.search(_OUT, q))
    parts = []
    if asks_in or not asks_out:
        parts.append(f"{_plural(came, 'person', 'people')} came in")
    if asks_out or not asks_in:
        parts.append(f"{_plural(went, 'person', 'people')} went out")
    text = " and ".join(parts)
    missing = len(tallies) - len(with_door)
    note = (f" ({_plural(missing, 'video has', 'videos have')} no entrance zone and "
            f"{'is' if missing == 1 else 'are'} not counted)") if missing else ""
    return f"{text[0].upper()}{text[1:]}{window}, counted at {where}{scope}{note}."


def _dwell(filters, tallies: list[tuple[VideoCounts, Tally]], clocks: Sequence, window: str, scope: str) -> str:
    asked = {z.name for c, _ in tallies for z in _zones_asked(filters, c.zones)}
    rows = [(name, stats) for _, t in tallies for name, stats in t.zones.items() if stats["kind"] != "region"
            and (not filters.places or name in asked)]
    if filters.places and not rows:
        return (f"No {_zone_words(filters)} is drawn{scope}, so how long people stayed there cannot be measured; "
                "draw one on the video page.")
    extreme = _extreme_stay(filters, tallies, clocks, window) if filters.rank_by in ("longest", "shortest") else None
    if extreme:
        return extreme
    if not rows:
        stays = [float(seen[-1] - seen[0]) for (c, _), span in zip(tallies, clocks)
                 for seen in (_within(p.t, *span) for p in c.paths) if len(seen)]
        if not stays:
            return f"Nobody was seen{window}{scope}."
        return (f"People stayed in view {mmss(sum(stays) / len(stays))} on average (longest {mmss(max(stays))}, "
                f"{_plural(len(stays), 'person', 'people')}){window}{scope}; "
                "no zones are drawn, so this is time on camera.")
    lines = []
    for name, s in rows:
        if not s["visits"]:
            lines.append(f"- {name} ({s['kind']}): nobody stayed there{window}.")
            continue
        line = (f"- {name} ({s['kind']}): {mmss(s['mean_dwell_s'])} on average, longest {mmss(s['max_dwell_s'])}, "
                f"{_plural(s['visits'], 'visit', 'visits')} by {_plural(s['people'], 'person', 'people')}")
        if s["loiter_s"] is not None:
            line += f"; {s['loitering']} over its loitering limit of {mmss(s['loiter_s'])}"
        lines.append(line + ".")
    return f"How long people stayed{window}{scope}, per zone:\n" + "\n".join(lines)
