"""What happened after, before or around an event: "what did the thief do after the theft?", "just before he fell?".

The anchors are the events of the asked types (in the asked window, days and video); for each of
the first `MAX_ANCHORS`, the events that begin within `relation_s` after it (or end within that
before it, or overlap either side: "before and after", "during") in its video, of the same person
when the question follows one ("he", "the thief").

Example:
    >>> text, cited = compose(filters, [(theft, [walk])], anchors_found=1)
    >>> text.splitlines()[0]
    'After the theft at 01:03–01:09 in shoplifting2.mp4 [E5], the same person within 1 min:'
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.documents import Document

from core.clock import format_span
from core.phrasing import plural
from rag.answer import event_id, event_line, wall_clock
from rag.query import QueryFilters

# an event type as the noun of "after the ...": "after the fight at 00:41"
_NOUNS = {"violent": "fight", "picking": "pick-up", "crowding": "crowd", "walking": "walk", "standing": "standstill",
          "sitting": "sit-down", "anomaly": "unusual movement"}
_HEADS = {"after": "After", "before": "Before", "around": "Around"}
MAX_ANCHORS = 3  # more anchors than this are counted, not followed: the owner names a time or a video
MAX_LINES = 10


def _span(doc: Document) -> tuple[float, float]:
    start = float(doc.metadata.get("t_start") or 0.0)
    return start, float(doc.metadata.get("t_end") or start)


def _person(doc: Document) -> tuple[str, int] | None:
    track = doc.metadata.get("track_number")
    return None if track is None else (str(doc.metadata.get("video_id")), int(track))


def distinct_anchors(docs: Sequence[Document]) -> list[Document]:
    """The anchors in time order, one per moment: a theft and the concealment it holds, of one person, are one."""
    kept: list[Document] = []
    for doc in sorted(docs, key=lambda d: (str(d.metadata.get("video_id")), *_span(d))):
        last = kept[-1] if kept else None
        if (last is not None and _person(doc) is not None and _person(doc) == _person(last)
                and _span(doc)[0] <= _span(last)[1]):
            continue
        kept.append(doc)
    return sorted(kept, key=lambda d: (_span(d)[0], str(d.metadata.get("video_id"))))


def window(filters: QueryFilters, anchor: Document, *, outside: bool = False) -> tuple[float, float]:
    """The stretch of the anchor's video the question asks about.

    outside: without the anchor's own span (a count after a theft starts when it ends); else events
    from the anchor's start count too (what he did while it went on).
    """
    start, end = _span(anchor)
    if filters.relation == "before":
        return max(0.0, start - filters.relation_s), start if outside else end
    if filters.relation == "around":
        return max(0.0, start - filters.relation_s), end + filters.relation_s
    return end if outside else start, end + filters.relation_s


def follows(filters: QueryFilters, anchor: Document, doc: Document) -> bool:
    """Whether an event of the anchor's video is one the question asks about, around that anchor."""
    if event_id(doc) == event_id(anchor) or str(doc.metadata.get("video_id")) != str(anchor.metadata.get("video_id")):
        return False
    (a_start, a_end), (start, end) = _span(anchor), _span(doc)
    if filters.relation == "before":
        timed = a_start - filters.relation_s <= end <= a_end and start < a_start
    elif filters.relation == "around":  # "before and after the fall": what overlaps the minute either side
        timed = a_start - filters.relation_s <= end and start <= a_end + filters.relation_s
    else:
        timed = a_start < start <= a_end + filters.relation_s
    if not timed:
        return False
    person = _person(anchor)
    if not filters.same_person or person is None:
        return True
    related = doc.metadata.get("attributes", {}).get("related_tracks") or []
    return _person(doc) == person or person[1] in related


def heading(filters: QueryFilters, anchor: Document) -> str:
    """'After the theft at 01:03–01:09 in shoplifting2.mp4 [E5]'."""
    meta = anchor.metadata
    where = f" in {meta['video_name']}" if meta.get("video_name") else ""
    kind = str(meta.get("type") or "event")
    return (f"{_HEADS[filters.relation]} the {_NOUNS.get(kind, kind)} at "
            f"{format_span(meta.get('t_start'), meta.get('t_end'))}{wall_clock(meta)}{where} [E{event_id(anchor)}]")


def nothing_to_follow(filters: QueryFilters, window_label: str = "", *, what: str = "look") -> str:
    """'No theft events match, so there is nothing to look after.'"""
    kinds = " or ".join(filters.anchor_types) or "matching"
    suffix = f" {window_label}" if window_label else ""
    look = "around" if filters.relation == "around" else filters.relation
    return f"No {kinds} events match{suffix}, so there is nothing to {what} {look}."


def more_anchors(filters: QueryFilters, rest: int, window_label: str = "") -> str:
    kinds = " or ".join(filters.anchor_types) or "matching"
    suffix = f" {window_label}" if window_label else ""
    return (f"... and {plural(rest, 'more ' + kinds + ' event')}{suffix}; "
            "name a time or a video to ask about one of them.")


def _how_long(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g} s"


def compose(filters: QueryFilters, followed: Sequence[tuple[Document, Sequence[Document]]], *,
            anchors_found: int, window_label: str = "") -> tuple[str, list[int]]:
    """The answer: per anchor a line saying which and what follows, then its events; and the ids cited."""
    if not followed:
        return nothing_to_follow(filters, window_label), []
    asked = f" ({' or '.join(filters.event_types)})" if filters.event_types else ""
    blocks: list[str] = []
    cited: list[int] = []
    for anchor, events in followed:
        # a crowd has no one person to follow
        who = "the same person" if filters.same_person and _person(anchor) is not None else "everyone"
        head = f"{heading(filters, anchor)}, {who}{asked} within {_how_long(filters.relation_s)}:"
        shown = sorted(events, key=lambda d: _span(d))[:MAX_LINES]
        lines = [event_line(d) for d in shown] or ["- nothing of that was seen."]
        if len(events) > len(shown):
            lines.append(f"- ... and {len(events) - len(shown)} more.")
        blocks.append("\n".join([head, *lines]))
        cited += [i for i in (event_id(anchor), *map(event_id, shown)) if i is not None]
    if anchors_found > len(followed):
        blocks.append(more_anchors(filters, anchors_found - len(followed), window_label))
    return "\n\n".join(blocks), list(dict.fromkeys(cited))  # a blank line ends a markdown list
