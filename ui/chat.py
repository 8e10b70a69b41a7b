"""The Ask chat: turns with their cited events as cards, the filters understood, the time taken; sessions."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import streamlit as st

from ui import data
from ui.cards import event_grid
from ui.format import list_breaks, mmss

log = logging.getLogger(__name__)

SESSION = "ask_session_id"
DETAILS = "ask_details"  # turn id -> timings of turns asked in this browser session


@dataclass(slots=True)
class TurnView:
    """One question and its answer, as shown: from a fresh AskResult or from a saved turn."""

    turn_id: int | None
    question: str
    answer: str
    citations: list[dict] = field(default_factory=list)
    filters: dict = field(default_factory=dict)
    search_method: str = ""
    took_ms: float | None = None
    timings_ms: dict = field(default_factory=dict)
    result_count: int = 0


@st.cache_resource(show_spinner=False)
def warm_up(_app) -> threading.Thread:
    """Load the ask models once per server in the background, while the first question is being typed."""
    from services.ask import warm_up as load_models

    def run() -> None:
        try:
            load_models(_app)
        except Exception:  # the question itself will report what is wrong
            log.warning("warming up the ask models failed", exc_info=True)

    thread = threading.Thread(target=run, name="ask-warm-up", daemon=True)
    thread.start()
    return thread


def from_result(question: str, result: Any) -> TurnView:
    """A fresh `rag.ask.AskResult`."""
    return TurnView(result.turn_id, question, result.answer, list(result.citations), dict(result.filters),
                    result.search_method, (result.timings_ms or {}).get("total"), dict(result.timings_ms or {}),
                    result.result_count)


def saved_turns(app, session_id: str) -> list[TurnView]:
    """A session's saved turns, their cited events looked up again (in citation order)."""
    rows = data.chat_turns(app, session_id=session_id)
    ids = [i for r in rows for i in (r["cited_event_ids"] or [])]
    # looked up again with their wall clock, as the fresh answer's citations have it
    events = {e["id"]: e for e in data.on_the_wall_clock(app, list(data.events_by_id(app, ids=ids).values()))}
    details = st.session_state.get(DETAILS, {})
    views = []
    for r in rows:
        cited = [{**events[i], "event_id": i} for i in (r["cited_event_ids"] or []) if i in events]
        views.append(TurnView(r["id"], r["question"], r["answer"], cited, dict(r["filters"] or {}),
                              r["search_method"], r["latency_ms"], details.get(r["id"], {}), r["result_count"]))
    return views


def _days(start: str, end: str) -> str:
    """'2026-12-01' or '2026-11-25 to 2026-12-01' from the saved filters' day range (its end exclusive)."""
    first, last = date.fromisoformat(start[:10]), date.fromisoformat(end[:10]) - timedelta(days=1)
    return first.isoformat() if last <= first else f"{first.isoformat()} to {last.isoformat()}"


def filters_text(filters: dict) -> str:
    """The filters a question was understood as, in a few words ('' when none)."""
    parts = []
    if filters.get("event_types"):
        parts.append("types: " + ", ".join(filters["event_types"]))
    t_from, t_to, last = filters.get("t_from"), filters.get("t_to"), filters.get("last_s")
    if t_from is not None or t_to is not None:
        parts.append(f"time: {mmss(t_from or 0)}–{mmss(t_to) if t_to is not None else 'end'}")
    elif last:
        parts.append(f"time: last {mmss(last)}")
    shown = {**filters, "zones": [*(filters.get("zone_names") or []), *(filters.get("zones") or [])]}
    for key, label in (("age_groups", "age"), ("genders", "gender"), ("colours", "colour"), ("zones", "zone"),
                       ("items", "item"), ("directions", "heading")):
        if shown.get(key):
            parts.append(f"{label}: " + ", ".join(shown[key]))
    if filters.get("relation") and filters.get("anchor_types"):
        who = ", the same person" if filters.get("same_person") else ""
        parts.append(f"{filters['relation']}: {' or '.join(filters['anchor_types'])}{who}")
    for start, end, label in (("day_from", "day_to", "days"), ("compare_from", "compare_to", "against")):
        if filters.get(start) and filters.get(end):
            parts.append(f"{label}: {_days(filters[start], filters[end])}")
    if filters.get("group_by"):
        parts.append(f"by {filters['group_by']}")
    if filters.get("video"):
        parts.append("two videos" if filters.get("compare_video") else "one video")
    elif filters.get("videos"):
        parts.append(f"{len(filters['videos'])} videos")
    if filters.get("camera"):
        parts.append(f"camera: {filters['camera']}")
    # turns saved before comparisons took n cameras stored one, as compare_camera
    others = filters.get("compare_cameras") or ([filters["compare_camera"]] if filters.get("compare_camera") else [])
    if others:
        parts.append(f"against: camera{'s' if len(others) > 1 else ''} {', '.join(others)}")
    if filters.get("is_count"):
        parts.append("count")
    if filters.get("text"):
        parts.append(f"text: “{filters['text']}”")
    return " · ".join(parts)


def render_turn(app, turn: TurnView, *, key: str) -> None:
    with st.chat_message("user"):
        st.markdown(turn.question)
    with st.chat_message("assistant"):
        st.markdown(list_breaks(turn.answer))
        meta = [f"filters: {filters_text(turn.filters) or 'none'}"]
        if turn.search_method:
            meta.append(f"search: {turn.search_method}")
        if turn.took_ms is not None:
            meta.append(f"took {float(turn.took_ms) / 1000:.2f} s")
        st.caption(" · ".join(meta), help=_timings_help(turn.timings_ms))
        if turn.citations:
            event_grid(app, turn.citations, key=f"{key}-{turn.turn_id}", columns=4, show_score=True)


def _timings_help(timings: dict) -> str | None:
    if not timings:
        return None
    return "  \n".join(f"{k}: {v:.0f} ms" for k, v in timings.items())


def remember_timings(turn: TurnView) -> None:
    if turn.turn_id is not None:
        st.session_state.setdefault(DETAILS, {})[turn.turn_id] = turn.timings_ms


def sessions_sidebar(app) -> None:
    """New chat, the saved sessions to reopen, and renaming the open one."""
    with st.sidebar:
        st.subheader("Chats")
        if st.button("New chat", icon=":material/add_comment:", key="ask_new", width="stretch"):
            st.session_state.pop(SESSION, None)
            st.rerun()
        current = st.session_state.get(SESSION)
        session = data.get_chat_session(app, session_id=current)
        if session:
            with st.form("ask-rename", border=False):
                title = st.text_input("Rename this chat", value=session["title"], key=f"ask_title_{current}")
                if st.form_submit_button("Rename", icon=":material/edit:"):
                    data.rename_chat(app, session_id=current, title=title)
                    st.rerun()
        for s in data.chat_sessions(app, limit=30):
            sid = str(s["id"])
            if st.button(s["title"], key=f"ask_open_{sid}", width="stretch",
                         type="primary" if sid == current else "tertiary", icon=":material/chat:"):
                st.session_state[SESSION] = sid
                st.rerun()
