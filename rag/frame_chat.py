"""Questions about one moment of a video, answered from the stored analysis.

The facts come from what the analysis wrote: `frame_stats` (per sampled frame: counts,
counts by region, detections with track numbers and boxes), `tracks` (attributes such
as age group, gender, clothing colour, orientation) and `events` (what each person was
doing). Three views:

- `describe_scene(app, video_id, t)`: who and what is on screen at time t, where, in
  which posture, doing what.
- `behaviour_by_region(app, video_id, t_from, t_to)`: occupancy, people and events per
  region (left, centre, right) over a range.
- `timeline(app, video_id, t_from, t_to)`: people entering and leaving, the busiest
  moment and the events of a range, by time.

`FrameChat(app).ask(video_id, t, question)` picks the views a question needs and writes
the answer: deterministically offline, or with the chat model from SENTINEL_LLM grounded
on those facts. When the model takes images (its LangChain profile says
`image_inputs`), the frame itself goes along as a data URI.

Example:
    >>> FrameChat(app).ask(video_id, 72.0, "who is on screen?").text
    'At 01:12: 2 people on screen (left: 1 person; centre: 1 person).\\n- person 3, young male in red, ...'
"""

from __future__ import annotations

import base64
import logging
import re
from collections import Counter, defaultdict
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from core.clock import format_mmss, format_span
from core.phrasing import describe_look, describe_where, known, listed, plural
from core.vocabulary import PERSON, REGIONS
from rag.query import parse_question

log = logging.getLogger(__name__)

NOW_S = 1.0  # an event within this many seconds of t is happening "now"
FAR_FRAME_S = 1.5  # a stored frame farther than this from t is mentioned as approximate
IMAGE_MAX_WIDTH = 768  # enough detail for a vision model, few tokens

# event types that say how a person holds their body, best first
_POSTURE_OF_EVENT = {"collapse": "lying", "sitting": "sitting", "walking": "walking", "standing": "standing",
                     "loitering": "standing"}
_ATTRIBUTE_KEYS = ("age_group", "gender", "emotion", "clothing_colour", "orientation")


class FrameAnswer(BaseModel):
    """The answer to a question about time `t`, and the facts it was built from."""

    text: str
    t: float
    scene: dict
    regions: dict | None = None
    timeline: list[dict] | None = None
    model: str = Field(default="scene", description="'scene' (offline) or the chat model's name")
    used_image: bool = False


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

def _video(conn, video_id: UUID | str) -> dict:
    from db.repos import videos

    video = videos.get(conn, video_id)
    if video is None:
        raise LookupError(f"No video with id {video_id}; `sentinel videos` lists them.")
    return video


def _check_time(video: dict, t: float, label: str = "t") -> float:
    t = float(t)
    duration = video.get("duration_s")
    if t < 0 or (duration is not None and t > float(duration) + 1.0):
        end = format_mmss(duration) if duration is not None else "its end"
        raise ValueError(f"Time {format_mmss(t) if t >= 0 else t} is outside the video (00:00 to {end}).")
    return t


def _counts_text(counts: dict[str, int]) -> str:
    """'2 people and 1 bottle' (people first)."""
    items = sorted(((c, int(n)) for c, n in (counts or {}).items() if int(n) > 0),
                   key=lambda cn: (cn[0] != PERSON, -cn[1], cn[0]))
    return listed([plural(n, c) for c, n in items])


def _event_dict(row: dict) -> dict:
    return {"event_id": row["id"], "type": row["type"], "t_start": row["t_start"], "t_end": row["t_end"],
            "zone": row["zone"], "track_number": row["track_number"], "description": row["description"],
            "confidence": row["confidence"], "highlight_key": row["highlight_key"],
            "related_tracks": list((row["attributes"] or {}).get("related_tracks") or [])}


def _region_of_event(event: dict, width: float | None) -> str | None:
    """The region an event happened in: its zone when that is a region, else from its box."""
    if event.get("zone") in REGIONS:
        return event["zone"]
    bbox = event.get("bbox")
    if bbox and width:
        x = (float(bbox[0]) + float(bbox[2])) / 2
        return REGIONS[min(2, max(0, int(3 * x / float(width))))]
    return None


# ---------------------------------------------------------------------------
# The scene at time t
# ---------------------------------------------------------------------------

def _posture(detection: dict, track_events: list[dict], aspect_lying: float) -> tuple[str | None, str | None]:
    """(posture, where it came from): the pose label, else the track's current event, else the box."""
    if detection.get("posture"):
        return str(detection["posture"]), "pose"
    kinds = [e["type"] for e in track_events if e["type"] in _POSTURE_OF_EVENT]
    for kind in _POSTURE_OF_EVENT:  # most telling first: lying beats walking
        if kind in kinds:
            return _POSTURE_OF_EVENT[kind], "event"
    bbox = detection.get("bbox")
    if bbox and len(bbox) == 4 and bbox[2] > bbox[0]:
        aspect = (bbox[3] - bbox[1]) / (bbox[2] - bbox[0])
        return ("lying" if aspect < aspect_lying else "upright"), "box"
    return None, None


def describe_scene(app, video_id: UUID | str, t: float) -> dict:
    """What is on screen at time t: counts, regions, people with attributes and postures, objects, events.

    Returns a JSON-ready dict: `video_id`, `video_name`, `duration_s`, `t`, `frame_t` (the nearest
    analysed frame), `frame`, `counts`, `region_counts`, `people` (track, bbox, region,
    confidence, attributes, who, posture, posture_source, activities, t_first, t_last),
    `objects` (track, class, bbox, region, confidence), `events` (happening within
    NOW_S of t) and `text` (the scene in sentences).

    Raises:
        LookupError: unknown video, or no analysis stored for it.
        ValueError: t is outside the video.
    """
    from db.repos import events, runs

    with app.db.connection() as conn:
        video = _video(conn, video_id)
        t = _check_time(video, t)
        stat = runs.frame_stat_at(conn, video["id"], t)
        if stat is None:
            raise LookupError(f"Video {video['name']} has no analysis results yet; analyse it first.")
        tracks = {tr["track_number"]: tr for tr in runs.tracks_for_video(conn, video["id"])}
        now = [_event_dict(r) for r in events.list_events(conn, video_id=video["id"], t_from=t - NOW_S,
                                                          t_to=t + NOW_S, limit=200)]
    by_track: dict[int, list[dict]] = defaultdict(list)
    for event in now:
        for number in {event["track_number"], *event["related_tracks"]} - {None}:
            by_track[number].append(event)

    people, objects = [], []
    for det in stat["detections"] or []:
        number = det.get("track")
        track = tracks.get(number) or {}
        entry = {"track": number, "class": det.get("class"), "bbox": det.get("bbox"), "region": det.get("region"),
                 "confidence": det.get("confidence")}
        if det.get("class") == PERSON:
            attributes = {k: v for k in _ATTRIBUTE_KEYS if (v := known((track.get("attributes") or {}).get(k)))}
            posture, source = _posture(det, by_track.get(number, []), app.settings.rules.lying_aspect)
            entry.update(attributes=attributes, who=describe_look(attributes), posture=posture, posture_source=source,
                         activities=sorted({e["type"] for e in by_track.get(number, [])}),
                         t_first=track.get("t_first"), t_last=track.get("t_last"))
            people.append(entry)
        else:
            objects.append(entry)
    people.sort(key=lambda p: (REGIONS.index(p["region"]) if p["region"] in REGIONS else 3, p["track"] or 0))

    scene = {
        "video_id": str(video["id"]), "video_name": video["name"], "duration_s": video["duration_s"],
        "t": t, "time": format_mmss(t),
        "frame_t": float(stat["t"]), "frame": stat["frame"], "counts": dict(stat["counts"] or {}),
        "region_counts": {r: dict(c) for r, c in (stat["region_counts"] or {}).items()},
        "people": people, "objects": objects, "events": now,
    }
    scene["text"] = scene_text(scene)
    return scene


def scene_text(scene: dict) -> str:
    """The scene in sentences: counts and regions, one line per person, then what is happening."""
    when = f"At {format_mmss(scene['t'])}"
    if abs(scene["frame_t"] - scene["t"]) > FAR_FRAME_S:
        when += f" (nearest analysed frame {format_mmss(scene['frame_t'])})"
    counts = _counts_text(scene["counts"])
    if not counts:
        lines = [f"{when}: nothing is detected on screen."]
    else:
        regions = [f"{r}: {_counts_text(scene['region_counts'][r])}" for r in REGIONS
                   if _counts_text(scene["region_counts"].get(r, {}))]
        lines = [f"{when}: {counts} on screen" + (f" ({'; '.join(regions)})." if regions else ".")]
    for person in scene["people"]:
        parts = [f"person {person['track']}" if person["track"] is not None else "a person"]
        if person["who"]:
            parts.append(person["who"])
        if person["region"]:
            parts.append(person["region"])
        if person["posture"]:
            parts.append(person["posture"])
        # "sitting" already said as the posture is not repeated as an activity
        doing = [a for a in person["activities"] if person["posture"] not in (a, _POSTURE_OF_EVENT.get(a))]
        if doing:
            parts.append("involved in " + " and ".join(doing))
        lines.append("- " + ", ".join(parts))
    for obj in scene["objects"]:
        where = f" {obj['region']}" if obj["region"] else ""
        lines.append(f"- {obj['class']}{where}")
    if scene["events"]:
        lines.append("Happening now:")
        lines.extend(f"- {format_span(e['t_start'], e['t_end'])} {e['type']}{describe_where(e['zone'])}: "
                     f"{e['description'].strip().rstrip('.')} [E{e['event_id']}]" for e in scene["events"])
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# A range: behaviour by region, timeline
# ---------------------------------------------------------------------------

def _range(video: dict, t_from: float, t_to: float) -> tuple[float, float]:
    t_from, t_to = float(t_from), float(t_to)
    if t_from > t_to:
        t_from, t_to = t_to, t_from
    duration = video.get("duration_s")
    t_from = max(0.0, t_from)
    if duration is not None:
        t_to = min(t_to, float(duration))
    if t_to < t_from:
        raise ValueError(f"The range starts after the video ends ({format_mmss(duration)}).")
    return t_from, t_to


def behaviour_by_region(app, video_id: UUID | str, t_from: float, t_to: float) -> dict:
    """Per region (left, centre, right) over [t_from, t_to]: occupancy, people, objects and events.

    Returns `{video_id, t_from, t_to, frames, regions: {region: {frames_occupied,
    occupied_share, avg_people, max_people, max_people_t, people, objects, events}},
    zones: {named zone: {type: n}}, busiest_region, text}`; `people` and `objects` count
    distinct tracks, `events` counts event types.
    """
    from db.repos import events, runs

    with app.db.connection() as conn:
        video = _video(conn, video_id)
        t_from, t_to = _range(video, t_from, t_to)
        stats = runs.frame_stats_between(conn, video["id"], t_from, t_to)
        rows = events.list_events(conn, video_id=video["id"], t_from=t_from, t_to=t_to, limit=10_000)

    regions: dict[str, dict] = {}
    for region in REGIONS:
        person_counts = [int(((s["region_counts"] or {}).get(region) or {}).get(PERSON, 0)) for s in stats]
        tracks_here = [d for s in stats for d in (s["detections"] or []) if d.get("region") == region]
        peak = max(range(len(person_counts)), key=lambda i: person_counts[i], default=None)
        occupied = sum(1 for n in person_counts if n > 0)
        regions[region] = {
            "frames_occupied": occupied,
            "occupied_share": round(occupied / len(stats), 3) if stats else 0.0,
            "avg_people": round(sum(person_counts) / len(stats), 2) if stats else 0.0,
            "max_people": person_counts[peak] if peak is not None else 0,
            "max_people_t": float(stats[peak]["t"]) if peak is not None and person_counts[peak] else None,
            "people": len({d.get("track") for d in tracks_here if d.get("class") == PERSON}),
            "objects": dict(Counter(c for c, _ in {(d.get("class"), d.get("track")) for d in tracks_here
                                                   if d.get("class") != PERSON})),
            "events": {},
        }
    zones: dict[str, Counter] = defaultdict(Counter)
    for row in rows:
        region = _region_of_event(row, video.get("width"))
        if region:
            counter = Counter(regions[region]["events"])
            counter[row["type"]] += 1
            regions[region]["events"] = dict(counter)
        if row["zone"] and row["zone"] not in REGIONS:
            zones[row["zone"]][row["type"]] += 1

    busiest = max(REGIONS, key=lambda r: (regions[r]["avg_people"], regions[r]["people"]))
    result = {"video_id": str(video["id"]), "t_from": t_from, "t_to": t_to, "frames": len(stats),
              "regions": regions, "zones": {z: dict(c) for z, c in zones.items()},
              "busiest_region": busiest if regions[busiest]["avg_people"] > 0 else None}
    result["text"] = regions_text(result)
    return result


def regions_text(result: dict) -> str:
    """Behaviour by region in sentences, one line per region."""
    head = f"By region, {format_span(result['t_from'], result['t_to'])}"
    if not result["frames"]:
        return f"{head}: no analysed frames in this range."
    lines = [f"{head} ({result['frames']} analysed frames):"]
    for region in REGIONS:
        r = result["regions"][region]
        if not r["people"] and not r["events"] and not r["objects"]:
            lines.append(f"- {region}: empty")
            continue
        parts = [f"{plural(r['people'], PERSON)}, occupied {r['occupied_share']:.0%} of the time, "
                 f"{r['avg_people']:g} on average"]
        if r["max_people"] > 1:
            parts.append(f"up to {r['max_people']} at {format_mmss(r['max_people_t'])}")
        if r["objects"]:
            parts.append(_counts_text(r["objects"]))
        if r["events"]:
            by_count = sorted(r["events"].items(), key=lambda kv: -kv[1])
            parts.append("events: " + ", ".join(f"{n} {k}" for k, n in by_count))
        lines.append(f"- {region}: " + "; ".join(parts))
    for zone, kinds in result["zones"].items():
        lines.append(f"- {zone} zone: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    if result["busiest_region"]:
        lines.append(f"Busiest: {result['busiest_region']}.")
    return "\n".join(lines)


def timeline(app, video_id: UUID | str, t_from: float, t_to: float) -> list[dict]:
    """What happened in [t_from, t_to], by time: people entering and leaving, the busiest moment, events.

    Each entry: `{t, kind: enter|leave|peak|event, text, ...}`; event entries also carry
    `event_id`, `type`, `t_end`, `zone`, `track`; enter/leave entries `track`, `region`, `who`.
    """
    from db.repos import events, runs

    with app.db.connection() as conn:
        video = _video(conn, video_id)
        t_from, t_to = _range(video, t_from, t_to)
        stats = runs.frame_stats_between(conn, video["id"], t_from, t_to)
        tracks = [tr for tr in runs.tracks_for_video(conn, video["id"]) if tr["class_name"] == PERSON]
        rows = events.list_events(conn, video_id=video["id"], t_from=t_from, t_to=t_to, limit=10_000)

    # the region a person was in when first and last seen in the range
    first_region: dict[int, str] = {}
    last_region: dict[int, str] = {}
    for stat in stats:
        for det in stat["detections"] or []:
            if det.get("class") == PERSON and det.get("track") is not None:
                first_region.setdefault(det["track"], det.get("region"))
                last_region[det["track"]] = det.get("region")

    entries: list[dict] = []
    video_end = video.get("duration_s")
    for track in tracks:
        number, who = track["track_number"], describe_look(track["attributes"] or {})
        label = f"person {number}" + (f" ({who})" if who else "")
        if t_from <= track["t_first"] <= t_to:
            region = first_region.get(number)
            entries.append({"t": float(track["t_first"]), "kind": "enter", "track": number, "region": region,
                            "who": who, "text": f"{format_mmss(track['t_first'])} {label} appears"
                                                + (f" on the {region}" if region in ("left", "right")
                                                   else " in the centre" if region == "centre" else "")})
        # the video's last frame is no exit
        ends_video = video_end is not None and track["t_last"] >= float(video_end) - FAR_FRAME_S
        if t_from <= track["t_last"] <= t_to and not ends_video:
            region = last_region.get(number)
            entries.append({"t": float(track["t_last"]), "kind": "leave", "track": number, "region": region,
                            "who": who, "text": f"{format_mmss(track['t_last'])} {label} leaves"
                                                + (f" from the {region}" if region else "")})
    peak = max(stats, key=lambda s: int((s["counts"] or {}).get(PERSON, 0)), default=None)
    if peak is not None and int((peak["counts"] or {}).get(PERSON, 0)) > 1:
        n = int(peak["counts"][PERSON])
        entries.append({"t": float(peak["t"]), "kind": "peak", "people": n,
                        "text": f"{format_mmss(peak['t'])} busiest moment: {n} people on screen"})
    for row in rows:
        entries.append({"t": float(row["t_start"]), "t_end": float(row["t_end"]), "kind": "event",
                        "event_id": row["id"], "type": row["type"], "zone": row["zone"],
                        "track": row["track_number"],
                        "text": f"{format_span(row['t_start'], row['t_end'])} {row['type']}"
                                f"{describe_where(row['zone'])}: "
                                f"{row['description'].strip().rstrip('.')} [E{row['id']}]"})
    order = {"enter": 0, "event": 1, "peak": 2, "leave": 3}
    entries.sort(key=lambda e: (e["t"], order[e["kind"]], e.get("event_id") or 0))
    return entries


def timeline_text(entries: list[dict], t_from: float, t_to: float) -> str:
    head = f"Timeline {format_span(t_from, t_to)}:"
    if not entries:
        return f"{head} nothing happened (no people entered or left and no events)."
    return "\n".join([head, *(f"- {e['text']}" for e in entries)])


# ---------------------------------------------------------------------------
# Questions
# ---------------------------------------------------------------------------

_TIMELINE_WORDS = re.compile(
    r"\b(timeline|what (?:has )?happen\w*|happen(?:ed|s|ing)?|sequence|chronolog\w*|so far|since|until|events?|"
    r"enter\w*|came in|leav\w*|left the|arriv\w*)\b"
)
_REGION_WORDS = re.compile(
    r"\b(regions?|by region|sides?|areas?|zones?|busiest|behaviou?rs?|activit(?:y|ies)|occupan\w*)\b"
)
_SIDE_WORDS = re.compile(r"\b(left|right|cent(?:re|er)|middle)\b")
_RELATIVE = re.compile(
    r"\b(?P<dir>last|past|previous|preceding|next|following|coming)\s+(?P<n>\d+(?:\.\d+)?|a|one|two|three|five|ten|"
    r"fifteen|twenty|thirty)?\s*(?P<unit>seconds?|secs?|s|minutes?|mins?|m)\b"
)
_SMALL_NUMBERS = {"a": 1, "one": 1, "two": 2, "three": 3, "five": 5, "ten": 10, "fifteen": 15, "twenty": 20,
                  "thirty": 30}


def question_range(question: str, t: float, duration_s: float | None) -> tuple[float, float] | None:
    """The range a question asks about, relative to t ('the last 10 seconds') or absolute ('between 1:00 and 2:00')."""
    text = question.lower()
    m = _RELATIVE.search(text)
    if m:
        n = m.group("n")
        amount = float(_SMALL_NUMBERS.get(n, n) if n else 1) * (60.0 if m.group("unit").startswith("m") else 1.0)
        if m.group("dir") in ("next", "following", "coming"):
            return t, t + amount
        return max(0.0, t - amount), t
    filters = parse_question(question)
    if filters.t_from is None and filters.t_to is None:
        return None
    t_from = filters.t_from if filters.t_from is not None else 0.0
    t_to = filters.t_to if filters.t_to is not None else (duration_s if duration_s is not None else t)
    return t_from, t_to


_SYSTEM = """You answer questions about one moment of CCTV footage of a staffless store.
The facts below come from the automatic analysis (detections, tracks, events) at that time.
Use them; if an image of the frame is attached, you may also describe what you see in it,
but say so when the image and the facts disagree. Keep event citations such as [E12] exactly
as they appear in the facts and never invent one. Times are mm:ss. Answer in one to five sentences."""


def supports_images(chat_model: Any) -> bool:
    """True when the model's LangChain profile says it takes image inputs."""
    profile = getattr(chat_model, "profile", None) or {}
    return bool(profile.get("image_inputs") or profile.get("image_url_inputs"))


class FrameChat:
    """Answers questions about time t of a video from its stored analysis.

    Args:
        app: the `bootstrap.App`.
        chat_model: a LangChain chat model; default: the one named by SENTINEL_LLM (None
            gives the offline, deterministic answers).
        vision: send the frame image along; default: SENTINEL_LLM_VISION, else when the
            model's profile says it takes images (a local OpenAI-compatible model has no profile).

    Example:
        >>> FrameChat(app).ask(video_id, 72.0, "what happened in the last 10 seconds?").timeline[0]["text"]
        '01:03 person 2 (young male) appears on the left'
    """

    def __init__(self, app, *, chat_model: Any = None, vision: bool | None = None) -> None:
        from rag.models import get_chat_model

        self.app = app
        self.chat_model = chat_model if chat_model is not None else get_chat_model(app.settings)
        if vision is None:
            vision = app.settings.llm_vision
        if vision is None:
            vision = self.chat_model is not None and supports_images(self.chat_model)
        self.vision = bool(vision) and self.chat_model is not None
        self._chain = self._build_chain() if self.chat_model is not None else None

    def _build_chain(self):
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.runnables import RunnableLambda

        return RunnableLambda(self._messages) | self.chat_model | StrOutputParser()

    def ask(self, video_id: UUID | str, t: float, question: str) -> FrameAnswer:
        """Answer `question` about time `t` (seconds) of the video."""
        question = (question or "").strip()
        if not question:
            raise ValueError("Ask a question about the frame, e.g. 'who is on screen?'.")
        scene = describe_scene(self.app, video_id, t)
        t, duration = scene["t"], scene["duration_s"]
        lowered = question.lower()
        span = question_range(question, t, duration)
        wants_timeline = bool(_TIMELINE_WORDS.search(lowered))
        wants_regions = bool(_REGION_WORDS.search(lowered) or (span and _SIDE_WORDS.search(lowered)))
        if (wants_timeline or wants_regions) and span is None:
            # "what happened?" while paused: the moments around t
            span = (max(0.0, t - self.app.settings.window_s), t + self.app.settings.window_s)
        regions = behaviour_by_region(self.app, video_id, *span) if wants_regions else None
        entries = timeline(self.app, video_id, *span) if wants_timeline else None

        focus = self._focus(video_id, question, scene)  # "is anyone at the door?": that first, then the scene
        parts = [focus, scene["text"]] if focus else [scene["text"]]
        if regions is not None:
            parts.append(regions["text"])
        if entries is not None:
            parts.append(timeline_text(entries, *self._clip(span, duration)))
        facts = "\n\n".join(parts)
        answer = FrameAnswer(text=facts, t=t, scene=scene, regions=regions, timeline=entries)
        if self._chain is None:
            return answer

        image = self._frame_data_uri(video_id, t) if self.vision else None
        try:
            text = self._chain.invoke({"question": question, "facts": facts, "image": image}).strip()
        except Exception:  # noqa: BLE001 - a remote model fails in many ways; the stored facts still answer
            log.warning("frame chat model failed; answering from the stored analysis", exc_info=True)
            return answer
        if not text:
            return answer
        return answer.model_copy(update={"text": _keep_known_citations(text, scene, entries),
                                         "model": self.app.settings.llm or type(self.chat_model).__name__,
                                         "used_image": image is not None})

    def _focus(self, video_id: UUID | str, question: str, scene: dict) -> str | None:
        from db.repos import zones
        from rag.frame_focus import focus_line

        with self.app.db.connection() as conn:
            video = _video(conn, video_id)
            drawn = [(z["name"], z["kind"], z["polygon"]) for z in zones.for_video(conn, video["id"])]
        return focus_line(question, scene, drawn, (float(video.get("width") or 1), float(video.get("height") or 1)))

    @staticmethod
    def _clip(span: tuple[float, float], duration: float | None) -> tuple[float, float]:
        return span[0], min(span[1], duration) if duration is not None else span[1]

    @staticmethod
    def _messages(inputs: dict) -> list:
        """System instructions, then the facts and question (and the frame as an image block)."""
        from langchain_core.messages import HumanMessage, SystemMessage

        content: list[dict] = [{"type": "text", "text": f"Facts:\n{inputs['facts']}\n\nQuestion: {inputs['question']}"}]
        if inputs.get("image"):
            content.append({"type": "image_url", "image_url": {"url": inputs["image"]}})
        return [SystemMessage(_SYSTEM), HumanMessage(content=content)]

    def _frame_data_uri(self, video_id, t: float) -> str | None:
        """The frame at t as a JPEG data URI, or None when the video file cannot be read."""
        from core.runtime.media import encode_jpeg, read_frame_at

        try:
            with self.app.db.connection() as conn:
                key = _video(conn, video_id).get("storage_key")
            if not key:
                return None
            with self.app.store.local_path(key) as path:
                image = read_frame_at(path, t)
            jpeg = encode_jpeg(image, max_width=IMAGE_MAX_WIDTH)
        except Exception:  # noqa: BLE001 - archived, missing or unreadable: answer from the facts alone
            log.warning("could not read the frame at %.2f s of video %s", t, video_id, exc_info=True)
            return None
        return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


def _keep_known_citations(text: str, scene: dict, entries: list[dict] | None) -> str:
    """The model's text without citations of events that are not in the facts."""
    from rag.answer import keep_valid_citations

    known = {e["event_id"] for e in scene["events"]} | {e["event_id"] for e in entries or [] if e["kind"] == "event"}
    cleaned, _ = keep_valid_citations(text, known)
    return cleaned
