"""Event cards: highlight thumbnail, type, video, mm:ss and description; each jumps to the video there."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, Iterable, Mapping

import streamlit as st

from core.cameras import KNOWN_CLOCKS
from rag.importers import typed_by_category
from ui.format import attributes_text, mmss, span, type_badge
from ui.media import show_picture
from ui.nav import open_video


def as_mapping(item: Any) -> Mapping[str, Any]:
    """An event or citation as a mapping, whether it is a row, a dataclass or a pydantic model."""
    if isinstance(item, Mapping):
        return item
    if is_dataclass(item):
        return asdict(item)
    if hasattr(item, "model_dump"):
        return item.model_dump()
    return vars(item)


def card_details(e: dict, *, show_score: bool = False) -> list[str]:
    """The caption under an event: who, where, score or confidence, and whether only the video's category typed it."""
    attributes = e.get("attributes") or {}
    details = [f"at {e['at']}" if e.get("at") and e.get("clock") in KNOWN_CLOCKS else "",
               "type from the video's category" if typed_by_category(attributes) else "",
               attributes_text(attributes), f"zone: {e['zone']}" if e.get("zone") else ""]
    if show_score and e.get("score") is not None:
        details.append(f"score {float(e['score']):.2f}")
    elif e.get("confidence") is not None:
        details.append(f"confidence {float(e['confidence']):.2f}")
    return [d for d in details if d]


def event_card(app, event: Any, *, key: str, show_video: bool = True, show_score: bool = False) -> None:
    """One event as a bordered card; its button opens the video at the event's start."""
    e = as_mapping(event)
    event_id = e.get("event_id", e.get("id"))
    with st.container(border=True, key=f"card-{key}-{event_id}"):
        show_picture(app, e.get("highlight_key"))
        head = f"{type_badge(e['type'])} **{span(e.get('t_start'), e.get('t_end'))}**"
        if show_video and e.get("video_name"):
            head += f" · {e['video_name']}"
        st.markdown(head)
        if e.get("description"):
            st.caption(e["description"])
        details = card_details(e, show_score=show_score)
        if details:
            st.caption(" · ".join(details))
        if st.button(f"Play at {mmss(e.get('t_start'))}", key=f"jump-{key}-{event_id}", icon=":material/play_arrow:",
                     help="Open the video at this moment", width="stretch"):
            open_video(e["video_id"], float(e.get("t_start") or 0))


def event_grid(app, events: Iterable[Any], *, key: str, columns: int = 4, **card_options: Any) -> int:
    """Cards in rows of `columns`; returns how many were shown."""
    items = list(events)
    for start in range(0, len(items), columns):
        cols = st.columns(columns)
        for col, event in zip(cols, items[start:start + columns]):
            with col:
                event_card(app, event, key=key, **card_options)
    return len(items)
