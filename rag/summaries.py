"""One cached summary per video, generated in the background.

A summary row moves through `pending` (requested) -> `processing` (being written) ->
`completed` or `failed` (with the error). The text is written by the chat model named
in SENTINEL_LLM when one is configured, grounded on the same facts the offline
structured summary shows: duration, people, events by type and a timeline of notable
moments (mm:ss). Without a model, or when the model fails, the structured summary is
the text.

Example:
    >>> request_summary(app, video_id)["status"]      # returns at once; a thread writes it
    'pending'
    >>> generate_summary(app, video_id)["text"]       # synchronous (the CLI)
    'vtest.avi: 02:00 of video (768x576, 10 fps).\\nPeople: 9 people tracked ...'
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence
from uuid import UUID

from core.clock import format_mmss, format_span
from core.phrasing import known, plural
from core.counts import busiest_frame, paths_from_tracks, staff_tracks
from core.vocabulary import INCIDENT_TYPES, PERSON
from rag.tally import count_zones

log = logging.getLogger(__name__)

STRUCTURED_MODEL = "structured"  # the `model` recorded for the offline summary
NOTABLE_TYPES = ("theft", "concealment", "collapse", "violent", "crowding", "anomaly", "loitering")
MAX_TIMELINE = 12  # longer timelines end with "... and N more"
MAX_PROMPT_EVENTS = 80  # events listed to the chat model, notable ones first
MAX_OVERVIEW = 10  # videos an overview question lists, newest first
CITED_PER_VIDEO = 2
# "summarise fighting1", "give me an overview of today", "recap": the summary, not a search
SUMMARY_REQUEST = r"\b(?:summar(?:y|ies|i[sz]e[ds]?)|overview|recap|sum up|sum it up)\b"


class SummaryUnavailable(RuntimeError):
    """The video cannot be summarised (not analysed yet); the message says what to do."""

    @classmethod
    def not_analysed(cls, video: dict) -> SummaryUnavailable:
        return cls(f"Video {video['name']} has not been analysed yet; analyse it before asking for a summary.")


# ---------------------------------------------------------------------------
# Reading and requesting
# ---------------------------------------------------------------------------

def _video(conn, video_id: UUID | str) -> dict:
    from db.repos import videos

    video = videos.get(conn, video_id)
    if video is None:
        raise LookupError(f"No video with id {video_id}; `sentinel videos` lists them.")
    return video


def get_summary(app, video_id: UUID | str) -> dict | None:
    """The stored summary row (status, text, model, error, run_id...), or None if never requested.

    `stale` on the row is true when its text was written from an earlier analysis run than
    the video's current one; `request_summary` or `generate_summary` writes it afresh.
    """
    from db.repos import summaries

    with app.db.connection() as conn:
        video = _video(conn, video_id)
        return summaries.get(conn, video["id"])


# video id -> the thread writing its summary, so one video never gets two writers at once
_threads: dict[UUID, threading.Thread] = {}
_threads_lock = threading.Lock()


def summary_thread(video_id: UUID | str) -> threading.Thread | None:
    """The background thread writing this video's summary, if one is running in this process."""
    with _threads_lock:
        thread = _threads.get(UUID(str(video_id)))
        return thread if thread is not None and thread.is_alive() else None


def request_summary(app, video_id: UUID | str, *, chat_model: Any = None) -> dict:
    """Mark the summary pending and write it in a background thread; returns the row at once.

    Calling it again regenerates the summary (the previous text stays readable until the
    new one is written). While a thread is already writing this video's summary, the
    current row is returned and no second thread starts.

    Args:
        app: the `bootstrap.App`.
        video_id: the video's id.
        chat_model: a LangChain chat model to write the text; default: SENTINEL_LLM, if set.
    """
    from db.repos import summaries

    with app.db.connection() as conn:
        vid = _video(conn, video_id)["id"]
    with _threads_lock:
        running = _threads.get(vid)
        if running is not None and running.is_alive():
            with app.db.connection() as conn:
                return summaries.get(conn, vid)
        with app.db.connection() as conn:
            row = summaries.set_status(conn, vid, "pending")
        thread = threading.Thread(
            target=_generate_in_background, args=(app, vid, chat_model), name=f"summary-{vid}", daemon=True
        )
        _threads[vid] = thread
        thread.start()
    return row


def _generate_in_background(app, video_id: UUID, chat_model: Any) -> None:
    try:
        generate_summary(app, video_id, chat_model=chat_model)
    except Exception:  # noqa: BLE001 - already recorded as failed on the row; a thread has no caller
        log.warning("summary of video %s failed", video_id, exc_info=True)
    finally:
        with _threads_lock:
            if _threads.get(video_id) is threading.current_thread():
                del _threads[video_id]


def generate_summary(app, video_id: UUID | str, *, chat_model: Any = None) -> dict:
    """Write the summary now (synchronously) and return the completed row.

    The row goes to `processing`, then `completed`; on any error it is recorded as
    `failed` with a one-line error and the error is raised again. The row records the
    analysis run the text describes, so a later run of the video marks it stale.

    Raises:
        LookupError: no such video.
        SummaryUnavailable: the video has not been analysed yet.
    """
    from db.repos import summaries

    with app.db.connection() as conn:
        video = _video(conn, video_id)
        summaries.set_status(conn, video["id"], "processing")
    try:
        if video["current_run_id"] is None:
            raise SummaryUnavailable.not_analysed(video)
        facts = collect_facts(app, video)
        text, model = structured_summary(facts), STRUCTURED_MODEL
        chat_model = chat_model if chat_model is not None else _settings_chat_model(app)
        if chat_model is not None:
            written = llm_summary(chat_model, facts)
            if written:
                text, model = written, _model_name(chat_model, app)
        with app.db.connection() as conn:
            return summaries.set_status(conn, video["id"], "completed", text=text, model=model,
                                        run_id=video["current_run_id"])
    except Exception as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        with app.db.connection() as conn:
            summaries.set_status(conn, video["id"], "failed", error=message[:500])
        raise


def _settings_chat_model(app) -> Any:
    from rag.models import get_chat_model

    return get_chat_model(app.settings)


def _model_name(chat_model: Any, app) -> str:
    for attr in ("model_name", "model", "model_id"):
        value = getattr(chat_model, attr, None)
        if isinstance(value, str) and value:
            return value
    return app.settings.llm or type(chat_model).__name__


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------

@dataclass
class SummaryFacts:
    """What the analysis of one video found, ready to be written as text."""

    name: str
    duration_s: float | None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    people: int = 0
    staff: int = 0  # of the people, those seen in a drawn staff area most of their time
    people_attributes: dict[str, Counter] = field(default_factory=dict)  # facet -> value -> people
    objects: Counter = field(default_factory=Counter)  # class -> tracks
    peak_people: int = 0
    peak_t: float | None = None
    events_by_type: dict[str, int] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)  # the current run's events, by time


_FACETS = ("gender", "age_group", "clothing_colour")


def collect_facts(app, video: dict) -> SummaryFacts:
    """Tracks, frame statistics and events of the video's current analysis run."""
    from db.repos import events, runs

    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video["id"])
        by_type = events.counts_by_type(conn, video["id"])
        rows = events.list_events(conn, video_id=video["id"], limit=100_000)
        end = max([video["duration_s"] or 0.0, *(t["t_last"] for t in tracks)])
        stats = runs.frame_stats_between(conn, video["id"], 0.0, end + 1.0)
        zones = count_zones(conn, video)

    facts = SummaryFacts(name=video["name"], duration_s=video["duration_s"], width=video["width"],
                         height=video["height"], fps=video["fps"], events_by_type=dict(by_type),
                         events=[_event_fact(r) for r in rows])
    people = [t for t in tracks if t["class_name"] == PERSON]
    facts.people = len(people)
    if video.get("fps"):  # staff are told from the tracks already read, against the drawn zones
        facts.staff = len(staff_tracks(paths_from_tracks(tracks, float(video["fps"])), zones))
    for facet in _FACETS:
        counter = Counter(v for t in people if (v := known((t["attributes"] or {}).get(facet))))
        if counter:
            facts.people_attributes[facet] = counter
    facts.objects = Counter(t["class_name"] for t in tracks if t["class_name"] != PERSON)
    facts.peak_t, facts.peak_people = busiest_frame(stats)
    return facts


def _event_fact(row: dict) -> dict:
    return {"event_id": row["id"], "type": row["type"], "t_start": row["t_start"], "t_end": row["t_end"],
            "zone": row["zone"], "description": row["description"], "confidence": row["confidence"]}


def notable_moments(facts: SummaryFacts) -> list[dict]:
    """The timeline's moments: notable events, the busiest moment, and each other event type's first time.

    Each moment is `{"t": seconds, "text": "..."}`, by time.
    """
    moments: list[dict] = []
    notable = [e for e in facts.events if e["type"] in NOTABLE_TYPES]
    for event in notable:
        moments.append({"t": event["t_start"], "event_id": event["event_id"],
                        "text": f"{format_span(event['t_start'], event['t_end'])} {event['type']}: "
                                f"{event['description'].strip().rstrip('.')}"})
    if facts.peak_t is not None and facts.peak_people > 1:
        moments.append({"t": facts.peak_t, "text": f"{format_mmss(facts.peak_t)} busiest moment: "
                                                   f"{facts.peak_people} people on screen"})
    # routine types appear once each, so a quiet video still gets a timeline
    seen: set[str] = set()
    for event in facts.events:
        if event["type"] in NOTABLE_TYPES or event["type"] in seen:
            continue
        seen.add(event["type"])
        moments.append({"t": event["t_start"], "event_id": event["event_id"],
                        "text": f"{format_span(event['t_start'], event['t_end'])} first {event['type']}: "
                                f"{event['description'].strip().rstrip('.')}"})
    return sorted(moments, key=lambda m: m["t"])


def _incidents(facts: SummaryFacts) -> str:
    """'Incidents: 2 violent (00:41, 01:07), 1 collapse (00:46).', or 'Incidents: none seen.'."""
    parts = []
    for kind in INCIDENT_TYPES:  # what an owner reads a summary for first: its second line, "none" included
        starts = sorted(e["t_start"] for e in facts.events if e["type"] == kind)
        if starts:
            times = ", ".join(format_mmss(t) for t in starts[:3]) + (", ..." if len(starts) > 3 else "")
            parts.append(f"{len(starts)} {kind} ({times})")
    return f"Incidents: {', '.join(parts)}." if parts else "Incidents: none seen."


def structured_summary(facts: SummaryFacts) -> str:
    """The offline summary: duration, people, objects, events by type and a mm:ss timeline."""
    shape = ", ".join(p for p in (
        f"{facts.width}x{facts.height}" if facts.width and facts.height else "",
        f"{facts.fps:g} fps" if facts.fps else "",
    ) if p)
    duration = format_mmss(facts.duration_s) if facts.duration_s is not None else "unknown length"
    lines = [f"{facts.name}: {duration} of video" + (f" ({shape})." if shape else "."), _incidents(facts)]

    if facts.people:
        people = f"People: {plural(facts.people, 'person')} tracked"
        if facts.staff:  # a staff area is drawn: who among them works there
            people += f", {facts.staff} of them staff (seen in the staff area most of the time)"
        details = [", ".join(f"{n} in {value}" if facet == "clothing_colour" else f"{n} {value}"
                             for value, n in counter.most_common())
                   for facet, counter in facts.people_attributes.items()]
        if details:
            people += f" ({'; '.join(details)})"
        if facts.peak_t is not None:
            people += f"; at most {facts.peak_people} on screen at once ({format_mmss(facts.peak_t)})"
        lines.append(people + ".")
    else:
        lines.append("People: nobody was detected.")
    if facts.objects:
        lines.append("Objects: " + ", ".join(plural(n, cls) for cls, n in facts.objects.most_common()) + ".")

    if facts.events_by_type:
        by_type = sorted(facts.events_by_type.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.append("Events: " + ", ".join(f"{n} {kind}" for kind, n in by_type) + ".")
    else:
        lines.append("Events: none detected.")

    moments = notable_moments(facts)
    lines.append("Timeline:")
    if moments:
        lines.extend(f"- {m['text']}" for m in moments[:MAX_TIMELINE])
        if len(moments) > MAX_TIMELINE:
            lines.append(f"- ... and {len(moments) - MAX_TIMELINE} more")
    else:
        lines.append("- nothing notable")
    return "\n".join(lines)


def overview(app, videos: Sequence[dict], scope: str = "") -> tuple[str, list[int]]:
    """'Summarise fighting1': its structured summary; over several videos, each one's length, people and incidents.

    scope: the asked days or camera in words ('on 2026-12-01'), for the first line.
    Returns the text and the events it rests on (the timeline's, or each video's incidents), for citing.
    """
    where = f" {scope}" if scope else ""
    if not videos:
        return f"No analysed footage{where}, so there is nothing to summarise.", []
    if len(videos) == 1:
        facts = collect_facts(app, videos[0])
        moments = notable_moments(facts)[:MAX_TIMELINE]
        return structured_summary(facts), [m["event_id"] for m in moments if m.get("event_id") is not None]
    lines, cited, total = [], [], Counter()
    for video in videos[:MAX_OVERVIEW]:
        facts = collect_facts(app, video)
        duration = format_mmss(facts.duration_s) if facts.duration_s is not None else "unknown length"
        incidents = _incidents(facts).removeprefix("Incidents: ")
        lines.append(f"- {facts.name}: {duration}, {plural(facts.people, 'person')} tracked; incidents: {incidents}")
        seen = [e for e in facts.events if e["type"] in INCIDENT_TYPES]
        total.update(e["type"] for e in seen)
        cited += [e["event_id"] for e in seen[:CITED_PER_VIDEO]]
    shown = f" (the newest {MAX_OVERVIEW} shown)" if len(videos) > MAX_OVERVIEW else ""
    incidents = ", ".join(f"{total[k]} {k}" for k in INCIDENT_TYPES if total[k]) or "none seen"
    lines.insert(0, f"{len(videos)} analysed videos{where}{shown}. Incidents: {incidents}.")
    if len(videos) > MAX_OVERVIEW:
        lines.append(f"- ... and {plural(len(videos) - MAX_OVERVIEW, 'older video')}.")
    return "\n".join(lines), cited


# ---------------------------------------------------------------------------
# LLM summary
# ---------------------------------------------------------------------------

_SYSTEM = """You summarise the automatic analysis of CCTV footage of a staffless store for its admin.
Use ONLY the facts below; do not guess beyond them. Say how long the video is, how many people
were seen, what events happened by type, and list the notable moments with their mm:ss times.
Security events (theft, collapse, violent) come first. Be brief: at most 10 lines."""

_HUMAN = """Facts:
{facts}

Events (mm:ss, type, description):
{events}"""


def _prompt_events(facts: SummaryFacts) -> str:
    # security events first so a long video's list never cuts them off
    ordered = sorted(facts.events, key=lambda e: (e["type"] not in NOTABLE_TYPES, e["t_start"]))
    chosen = sorted(ordered[:MAX_PROMPT_EVENTS], key=lambda e: e["t_start"])
    lines = [f"- {format_span(e['t_start'], e['t_end'])} {e['type']}: {e['description'].strip()}" for e in chosen]
    if len(facts.events) > len(chosen):
        lines.append(f"- ... and {len(facts.events) - len(chosen)} more routine events")
    return "\n".join(lines) or "(none)"


def llm_summary(chat_model: Any, facts: SummaryFacts) -> str | None:
    """The chat model's summary (LCEL: prompt | model | StrOutputParser()); None if it fails."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    chain = ChatPromptTemplate.from_messages([("system", _SYSTEM), ("human", _HUMAN)]) | chat_model | StrOutputParser()
    try:
        text = chain.invoke({"facts": structured_summary(facts), "events": _prompt_events(facts)}).strip()
    except Exception:  # noqa: BLE001 - a remote model fails in many ways; the structured summary still serves
        log.warning("LLM summary failed; using the structured summary", exc_info=True)
        return None
    return text or None
