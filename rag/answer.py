"""Write the answer to a question from the events found, citing them as [E<id>].

Two adapters of the `AnswerGenerator` port:
- `GroundedComposer` (offline default): deterministic sentences built from the events
  alone: yes/no, counts, times as mm:ss, who (attributes) and where (zone).
- `LLMAnswerGenerator`: an LCEL chain `prompt | chat model | StrOutputParser()` with a
  grounded prompt; citations of events that were not retrieved are dropped in code.

`hits` are the reranked events that answer the question; `context` are the neighbours
in time the windowing step added (the LLM may read and cite them; the composer cites
hits only).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from core.cameras import KNOWN_CLOCKS
from core.clock import format_span
from core.phrasing import (DIRECTION_PHRASES, HIDDEN_PLACES, UNSEEN_PEOPLE, describe_places, describe_where,
                           describe_who, known, listed, plural)
from core.vocabulary import CUSTOMER_ONLY_TYPES, REGIONS
from rag.importers import typed_by_category
from rag.query import QueryFilters, contradicts, match_filters

log = logging.getLogger(__name__)

MAX_LISTED_EVENTS = 10  # longer lists are cut with "... and N more"
MAX_LISTED_ALL = 50  # when the question asks for them all
MAX_PROMPT_EVENTS = 50  # a count over a busy day matches thousands: the model sees these and the total


class Answer(BaseModel):
    """The answer text and the ids of the events it cites, in order of first citation."""

    text: str
    cited_event_ids: list[int] = Field(default_factory=list)


@runtime_checkable
class AnswerGenerator(Protocol):
    """Writes a grounded answer from retrieved events."""

    def answer(
        self, question: str, filters: QueryFilters, hits: list[Document], context: list[Document]
    ) -> Answer:
        """An answer citing only events among `hits` (and, for some adapters, `context`)."""
        ...


def event_id(doc: Document) -> int | None:
    """The event's database id from `metadata['event_id']` (or the document id)."""
    value = doc.metadata.get("event_id", doc.id)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _unique_events(docs: Iterable[Document]) -> list[Document]:
    seen: set[int] = set()
    out: list[Document] = []
    for doc in docs:
        eid = event_id(doc)
        if eid is None or eid in seen:
            continue  # an event without an id cannot be cited
        seen.add(eid)
        out.append(doc)
    return out


def _attributes(meta: Mapping[str, Any]) -> Mapping[str, Any]:
    attributes = meta.get("attributes") or {}
    return attributes if isinstance(attributes, Mapping) else {}


def _by_category(doc: Document) -> bool:
    return typed_by_category(_attributes(doc.metadata))


def wall_clock(meta: Mapping[str, Any]) -> str:
    """' (2026-12-01 10:58:10)' when an event's footage clock is known (its file name, the uploader), else ''."""
    at = meta.get("starts_at")
    return f" ({at:%Y-%m-%d %H:%M:%S})" if at and meta.get("clock_from") in KNOWN_CLOCKS else ""


def event_line(doc: Document, *, video: bool = False) -> str:
    """'- 01:03–01:09 theft on the right, person in grey: ... [E29]'; led by its video's name when `video`.

    The footage's wall clock follows the span when it is known: '- 00:10–00:16 (2026-12-01 10:58:10) theft'.
    """
    meta = doc.metadata
    who = describe_who(_attributes(meta))
    kind = meta.get("type") or "event"
    if _by_category(doc):
        kind += " (video category)"
    span = format_span(meta.get("t_start"), meta.get("t_end"))
    head = f"{span}{wall_clock(meta)} {kind}{describe_where(meta.get('zone'))}"
    if who:
        head += f", {who}"
    description = doc.page_content.strip().rstrip(".")
    body = f": {description}" if description else ""
    where = f"{meta['video_name']} " if video and meta.get("video_name") else ""
    return f"- {where}{head}{body} [E{event_id(doc)}]"


# a hiding place a question names, and the places the concealment rule reports that fit it
_PLACES_ASKED = {
    "bag": (r"\b(?:(?:hand|back)?bags?|backpacks?|purses?|rucksacks?)\b", {"bag"}),
    "pocket": (r"\bpocket(?:s|ed|ing)?\b", {"pocket", "waist"}),
    "waist": (r"\b(?:waist(?:band)?|trousers|pants|belt)\b", {"waist", "pocket"}),
    "clothing": (r"\b(?:jackets?|coats?|cloth(?:es|ing)|shirts?|hoodies?|sleeves?|tops?)\b", {"clothing"}),
}


def hiding_place_note(question: str, matching: Sequence[Document]) -> str:
    """'; none was seen hidden in a bag (seen at the waist)' when the events contradict the place asked; else ''."""
    hidden = [d for d in matching if d.metadata.get("type") in ("concealment", "theft")]
    asked = next((place for place, (pattern, _) in _PLACES_ASKED.items()
                  if re.search(pattern, question, re.IGNORECASE)), None)
    if asked is None or not hidden:
        return ""
    seen = {str(_attributes(d.metadata).get("hidden_at") or "") for d in hidden} - {""}
    if seen & _PLACES_ASKED[asked][1]:
        return ""
    where = ", ".join(HIDDEN_PLACES.get(place, place) for place in sorted(seen))
    detail = f"seen {where}" if seen else "where the item went was not seen"
    return f"; none was seen hidden {HIDDEN_PLACES[asked]} ({detail})"


_FACET_WORDS = {"gender": "gender", "age_group": "age", "colour": "clothing colour", "item": "item"}


def unknown_facets(filters: QueryFilters, matching: Sequence[Document]) -> dict[str, int]:
    """Per asked person facet or item ('gender', 'item'...), how many matching events leave it unknown."""
    counts = dict.fromkeys(_FACET_WORDS, 0)
    for doc in matching:
        checks = match_filters(filters, doc.metadata)
        for facet in _FACET_WORDS:
            counts[facet] += checks.get(facet, False) is None
    return {facet: n for facet, n in counts.items() if n}


def unrecognised_note(unknown: Mapping[str, int], matching: int) -> str:
    """' (the gender was not recognised)' for the facets `unknown_facets` found unknown; else ''."""
    notes = [f"the {_FACET_WORDS[facet]} was not recognised" if n == matching
             else f"{n} of them with the {_FACET_WORDS[facet]} not recognised" for facet, n in unknown.items()]
    return f" ({'; '.join(notes)})" if notes else ""


def duration_s(doc: Document) -> float:
    meta = doc.metadata
    return max(0.0, float(meta.get("t_end") or 0.0) - float(meta.get("t_start") or 0.0))


def people_in(doc: Document) -> int:
    """How many people an event involves: a crowd's count, else its own person and the related ones."""
    attributes = _attributes(doc.metadata)
    if isinstance(attributes.get("people"), int | float):
        return int(attributes["people"])
    related = attributes.get("related_tracks")
    return (doc.metadata.get("track_number") is not None) + (len(related) if isinstance(related, list) else 0)


def _wall_s(doc: Document) -> float:
    """When an event begins, in seconds on its footage's wall clock (`starts_at`, set by the ask path), else in it."""
    at = doc.metadata.get("starts_at")
    if at is None:
        return float(doc.metadata.get("t_start") or 0.0)
    return (at - datetime(1970, 1, 1)).total_seconds()


def ranked(filters: QueryFilters, docs: list[Document]) -> list[Document]:
    """docs longest, shortest or largest first when the question asks, else as they came; ties: earlier first."""
    if filters.rank_by is None:
        return docs
    size = {"longest": lambda d: -duration_s(d), "shortest": duration_s, "largest": lambda d: -people_in(d),
            "latest": lambda d: -_wall_s(d), "earliest": _wall_s}
    return sorted(docs, key=lambda d: (size[filters.rank_by](d), float(d.metadata.get("t_start") or 0.0)))


def _shown(matching: list[Document], limit: int) -> list[Document]:
    """At most `limit` of the matching events, in their order: the reranked ones first, then the earliest others."""
    if len(matching) <= limit:
        return matching
    best = sorted((d for d in matching if d.metadata.get("rerank_score") is not None),
                  key=lambda d: -float(d.metadata["rerank_score"]))
    chosen = {id(d) for d in best[:limit]}
    for doc in matching:
        if len(chosen) >= limit:
            break
        chosen.add(id(doc))
    return [d for d in matching if id(d) in chosen]


def _an(item: str) -> str:
    """'a bottle', 'an apple', 'scissors'."""
    if item.endswith("s"):
        return item
    return f"{'an' if item[0] in 'aeiou' else 'a'} {item}"


def _how_long(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# past tense for counting people: (one person, several people)
_DID = {
    "walking": ("walked by", "walked by"),
    "standing": ("stood still", "stood still"),
    "sitting": ("sat down", "sat down"),
    "picking": ("picked up an item", "picked up items"),
    "concealment": ("hid an item", "hid items"),
    "theft": ("was flagged for theft", "were flagged for theft"),
    "collapse": ("collapsed", "collapsed"),
    "loitering": ("loitered", "loitered"),
    "anomaly": ("moved unusually", "moved unusually"),
}


_BETWEEN_PEOPLE = ("violent",)  # event types whose related tracks are people, not items


def _people(docs: Sequence[Document]) -> int:
    """Distinct people: one per track number (a fight's other people too), one per event whose track is unknown."""
    tracks = {(d.metadata.get("video_id"), d.metadata.get("track_number")) for d in docs
              if d.metadata.get("track_number") is not None}
    for d in docs:
        if d.metadata.get("type") in _BETWEEN_PEOPLE:  # elsewhere related tracks are the items taken
            related = (d.metadata.get("attributes") or {}).get("related_tracks") or ()
            tracks |= {(d.metadata.get("video_id"), n) for n in related if isinstance(n, int)}
    untracked = sum(1 for d in docs if d.metadata.get("track_number") is None)
    return len(tracks) + untracked


def no_match(filters: QueryFilters, suffix: str) -> str:
    """'No theft events involving a woman match on 2026-12-01.' (suffix: the window in words, led by a space)."""
    kinds = " or ".join(filters.event_types)
    who = describe_who({
        "age_group": filters.age_groups[0] if len(filters.age_groups) == 1 else None,
        "gender": filters.genders[0] if len(filters.genders) == 1 else None,
        "clothing_colour": filters.colours or None,
    })
    where = describe_places(filters.places, [z for z in filters.zones if z in REGIONS])
    involving = f" involving a {who}" if who else ""
    item = f" of {' or '.join(map(_an, filters.items))}" if filters.items else ""
    subject = f"No {kinds} events" if kinds else "No events"
    by = {"staff": " by staff", "customer": " by customers"}.get(filters.role or "", "")
    unjudged = [t for t in filters.event_types if t in CUSTOMER_ONLY_TYPES] if filters.role == "staff" else []
    why = f" Staff are not judged for {' or '.join(unjudged)}: handling stock is their job." if unjudged else ""
    return f"{subject}{item}{by}{involving}{where} match{suffix}.{why}"


def colours_seen_note(colours: Iterable[Any], most: int = 4) -> str:
    """The colours people were read as (one value per person; unknowns skipped), as a sentence; '' when none is known.

    On real cameras a pale or dim top is often read as grey or white (bench/results/colour.md), so a
    colour asked and not found points the owner at the colours that were seen.
    """
    counts = Counter(colour for value in colours if (colour := known(value))).most_common(most)
    if not counts:
        return ""
    read = ", ".join(f"{colour} ({plural(n, 'person')})" for colour, n in counts)
    return (f" The people who fit the rest of the question were read as {read}; colours are read "
            "from the camera's picture, and a pale or dim top often reads as grey or white.")


def nobody_seen_note(names: Sequence[str], most: int = 3) -> str:
    """' Nobody was detected at all in robbery1.mp4 ...': an empty answer there says nothing of what happened."""
    if not names:
        return ""
    shown = [*names[:most], *([f"{len(names) - most} more"] if len(names) > most else [])]
    return f" Nobody was detected at all in {listed(shown)}: {UNSEEN_PEOPLE}."


def colours_of_people(docs: Iterable[Document]) -> list[Any]:
    """Each person's clothing colour among these events, each person (video and track) once."""
    return list({(str(d.metadata.get("video_id")), d.metadata.get("track_number")):
                 dict(d.metadata.get("attributes") or {}).get("clothing_colour")
                 for d in docs if d.metadata.get("track_number") is not None}.values())


class GroundedComposer:
    """Deterministic answers from the events alone; cites hits as [E<id>].

    An event counts as matching unless it is known to contradict a filter (an unknown
    gender is no contradiction). Counts cover the hits the pipeline passed in, so the
    caller sets how many candidates a count question keeps.

    Example:
        >>> GroundedComposer().answer("any theft between minute 3 and 5?", filters, [], []).text
        'No theft events match between 03:00 and 05:00.'
    """

    def answer(
        self, question: str, filters: QueryFilters, hits: list[Document], context: list[Document]
    ) -> Answer:
        """Yes/no, a count or a list of the matching hits, with citations."""
        matching = ranked(filters, sorted(
            (d for d in _unique_events(hits) if not contradicts(filters, d.metadata)),
            key=lambda d: (float(d.metadata.get("t_start") or 0.0), event_id(d) or 0),
        ))
        window = filters.window_label()
        suffix = f" {window}" if window else ""
        if not matching:
            return Answer(text=no_match(filters, suffix))

        listed = _shown(matching, MAX_LISTED_ALL if filters.list_all else MAX_LISTED_EVENTS)
        # then each line says which video: matches in several, or footage from several asked about
        several = (len({str(d.metadata.get("video_id")) for d in matching}) > 1
                   or any(d.metadata.get("among_videos") for d in matching))
        lines = [event_line(d, video=several) for d in listed]
        if len(matching) > len(listed):
            lines.append(f"- ... and {len(matching) - len(listed)} more.")  # a list item: markdown keeps it apart
        kinds = sorted({str(d.metadata.get("type") or "event") for d in matching})
        what = plural(len(matching), f"{kinds[0]} event" if len(kinds) == 1 else "matching event")
        unknown = unknown_facets(filters, matching)

        if filters.rank_by:
            first = matching[0]
            measure = (f"had {plural(people_in(first), 'person')}" if filters.rank_by == "largest"
                       else f"lasted {_how_long(duration_s(first))}")
            if filters.rank_by in ("latest", "earliest"):
                at = first.metadata.get("starts_at")
                when = f", {at:%Y-%m-%d %H:%M:%S} {first.metadata.get('clock') or ''}".rstrip() if at else ""
                measure = f"was in {first.metadata.get('video_name') or 'its video'}{when}"
            of = f"{filters.rank_by} of {what}" if len(matching) > 1 else f"only {what.split(' ', 1)[1]}"
            head = (f"The {of}{suffix} {measure} "
                    f"({format_span(first.metadata.get('t_start'), first.metadata.get('t_end'))}) "
                    f"[E{event_id(first)}]" + (f"; {filters.rank_by} first" if len(matching) > 1 else ""))
        elif filters.is_count:
            head = self._count(filters, matching, what, suffix)
        elif filters.is_yes_no:
            # "did a woman steal?" over a thief whose face was not seen: not known to be a yes
            lead = "Possibly" if len(matching) in unknown.values() else "Yes"
            head = f"{lead}. {what[0].upper()}{what[1:]}{suffix}"
        else:
            head = f"Found {what}{suffix}"
        head += hiding_place_note(question, matching) + unrecognised_note(unknown, len(matching))
        inferred = sum(map(_by_category, matching))
        if inferred:
            # a Shoplifting video's every sentence is typed theft: say how many only the category backs
            share = "all" if inferred == len(matching) else f"{inferred} of {len(matching)}"
            head += f" ({share} typed only by their video's category; the annotation does not say so)"
        head += ":"
        ids = [event_id(d) for d in listed]
        return Answer(text="\n".join([head, *lines]), cited_event_ids=[i for i in ids if i is not None])

    @staticmethod
    def _count(filters: QueryFilters, matching: Sequence[Document], what: str, suffix: str) -> str:
        kinds = {d.metadata.get("type") for d in matching}
        kind = next(iter(kinds)) if len(kinds) == 1 else None
        if kind in _DID and kind not in _BETWEEN_PEOPLE:  # "how many fights?" counts fights, with who was in them
            people = _people(matching)
            one, many = _DID[kind]
            verb = one if people == 1 else many
            if kind == "walking" and filters.directions:  # "walked by" would hide the heading asked
                verb = "walked " + " or ".join(DIRECTION_PHRASES[d] for d in filters.directions)
            noun = "person" if people == 1 else "people"
            extra = f" ({what})" if people != len(matching) else ""
            return f"{people} {noun} {verb}{suffix}{extra}"
        people = _people(matching)
        return f"{what[0].upper()}{what[1:]}{suffix} ({people} {'person' if people == 1 else 'people'} involved)"


# ---------------------------------------------------------------------------
# LLM answers
# ---------------------------------------------------------------------------

_SYSTEM = """You answer questions about CCTV footage of a staffless store.
Use ONLY the events listed below; do not guess beyond them.
Each event has an id such as E12. Cite every event you rely on right after the claim, as [E12].
Never cite an id that is not listed.
If no listed event answers the question, say plainly that no matching events were found
(and name the time window if the question asked for one).
Times are mm:ss from the start of the video. Answer in one to four sentences."""

_HUMAN = """Question: {question}
Time window asked: {window}
Filters: {filters}

Events that best match (best first; {shown} of the {total} that match):
{events}

Neighbouring events, for context:
{context}"""

# "[E1]", "[E1, E2]", "(E3; E4)"
_CITATION = re.compile(r"\s?[\[(]\s*(E\d+(?:\s*[,;]\s*E?\d+)*)\s*[\])]", re.IGNORECASE)


def keep_valid_citations(text: str, valid_ids: Iterable[int]) -> tuple[str, list[int]]:
    """Drop citations of ids not in `valid_ids` from `text`; return it and the kept ids.

    Kept citations are rewritten as [E1][E2]; a citation with no valid id left is
    removed with its leading space.
    """
    valid = set(valid_ids)
    kept: list[int] = []

    def rewrite(match: re.Match[str]) -> str:
        ids = [int(n) for n in re.findall(r"\d+", match.group(1))]
        good = [i for i in ids if i in valid]
        dropped = [i for i in ids if i not in valid]
        if dropped:
            log.warning("dropped citations of events that were not retrieved: %s", dropped)
        for i in good:
            if i not in kept:
                kept.append(i)
        if not good:
            return ""
        lead = " " if match.group(0)[:1].isspace() else ""
        return lead + "".join(f"[E{i}]" for i in good)

    cleaned = _CITATION.sub(rewrite, text)
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned).strip()
    return cleaned, kept


def _prompt_line(doc: Document) -> str:
    meta = doc.metadata
    parts = [f"[E{event_id(doc)}] {format_span(meta.get('t_start'), meta.get('t_end'))}{wall_clock(meta)} "
             f"{meta.get('type') or 'event'}"]
    if _by_category(doc):
        parts.append("type taken from the video's category, not stated")
    if meta.get("zone"):
        parts.append(f"zone {meta['zone']}")
    if meta.get("confidence") is not None:
        parts.append(f"confidence {float(meta['confidence']):.2f}")
    who = describe_who(_attributes(meta))
    if who:
        parts.append(who)
    return ", ".join(parts) + f": {doc.page_content.strip()}"


class LLMAnswerGenerator:
    """Grounded answers from a LangChain chat model: `prompt | llm | StrOutputParser()`.

    The model sees the events with their ids and is told to cite them as [E<id>]; any
    cited id that is not among the retrieved events (hits and context) is removed from
    the text and from `cited_event_ids`. With no events at all, or when the model call
    fails, the `fallback` (the grounded composer) answers instead.

    Args:
        chat_model: any LangChain chat model (or a fake one in tests).
        fallback: the generator used when the model cannot be.
    """

    def __init__(self, chat_model: Any, *, fallback: AnswerGenerator | None = None) -> None:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate

        prompt = ChatPromptTemplate.from_messages([("system", _SYSTEM), ("human", _HUMAN)])
        self.chain = prompt | chat_model | StrOutputParser()
        self.fallback = fallback or GroundedComposer()

    def answer(
        self, question: str, filters: QueryFilters, hits: list[Document], context: list[Document]
    ) -> Answer:
        """The model's answer with only valid citations."""
        hits = _unique_events(hits)
        total = len(hits)
        hits = _shown(hits, MAX_PROMPT_EVENTS)
        hit_ids = {event_id(d) for d in hits}
        context = [d for d in _unique_events(context) if event_id(d) not in hit_ids]
        if not hits and not context:
            # nothing to ground on: the composer's plain "No ... events match" is exact
            return self.fallback.answer(question, filters, hits, context)
        inputs = {
            "question": question,
            "window": filters.window_label() or "none",
            "filters": filters.model_dump_json(exclude_defaults=True, exclude={"text"}),
            "events": "\n".join(_prompt_line(d) for d in hits) or "(none)",
            "shown": len(hits),
            "total": total,
            "context": "\n".join(_prompt_line(d) for d in context) or "(none)",
        }
        try:
            raw = self.chain.invoke(inputs)
        except Exception:  # noqa: BLE001 - a remote model fails in many ways; the question still gets answered
            log.warning("LLM answer failed; using the grounded composer", exc_info=True)
            return self.fallback.answer(question, filters, hits, context)
        valid = [i for i in (event_id(d) for d in [*hits, *context]) if i is not None]
        text, cited = keep_valid_citations(raw, valid)
        return Answer(text=text, cited_event_ids=cited)
