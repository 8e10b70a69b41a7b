"""Charts: the event timeline of one video, and events by type over time."""

from __future__ import annotations

from typing import Callable, Sequence

import altair as alt
import pandas as pd
import streamlit as st

from ui.format import EVENT_COLOURS, OTHER_COLOUR, mmss

MIN_BAR_S = 0.6  # instant events still get a bar wide enough to see and click


def _colour_scale(types: Sequence[str]) -> alt.Scale:
    domain = sorted(set(types))
    return alt.Scale(domain=domain, range=[EVENT_COLOURS.get(t, OTHER_COLOUR) for t in domain])


def timeline_frame(events: Sequence[dict], duration_s: float | None) -> pd.DataFrame:
    """One row per event with its bar's start and end, for the timeline chart."""
    rows = []
    for e in events:
        start = float(e["t_start"])
        end = max(float(e["t_end"]), start + MIN_BAR_S)
        if duration_s:
            end = min(end, max(float(duration_s), start + MIN_BAR_S))
        rows.append({"id": int(e["id"]), "type": e["type"], "start": start, "end": end,
                     "at": mmss(start), "description": e.get("description") or ""})
    return pd.DataFrame(rows, columns=["id", "type", "start", "end", "at", "description"])


def timeline_chart(events: Sequence[dict], duration_s: float | None, *, cursor: float | None = None) -> alt.Chart:
    """Bars per event type across the whole video, coloured by type, with the player's time as a rule."""
    data = timeline_frame(events, duration_s)
    top = float(duration_s or (data["end"].max() if len(data) else 1.0))
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    bars = alt.Chart(data).mark_bar(cornerRadius=2, height={"band": 0.8}).encode(
        x=alt.X("start:Q", title="time (s)", scale=alt.Scale(domain=[0, top], nice=False)),
        x2="end:Q",
        y=alt.Y("type:N", title=None, sort=sorted(set(data["type"])), axis=alt.Axis(labelOverlap=False)),
        color=alt.Color("type:N", scale=_colour_scale(list(data["type"])), legend=None),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.55)),
        tooltip=[alt.Tooltip("type:N"), alt.Tooltip("at:N", title="at"), alt.Tooltip("description:N")],
    ).add_params(pick)
    layers = [bars]
    if cursor is not None:
        layers.append(alt.Chart(pd.DataFrame({"t": [float(cursor)]})).mark_rule(color="#333", strokeDash=[4, 3])
                      .encode(x="t:Q"))
    height = 30 * max(1, data["type"].nunique()) + 40
    return alt.layer(*layers).properties(height=height)


def render_timeline(events: Sequence[dict], duration_s: float | None, *, key: str, cursor: float | None = None,
                    on_pick: Callable[[dict], None] | None = None) -> None:
    """The timeline; clicking a bar calls `on_pick(event)` once (in the widget callback, before the rerun)."""
    if not events:
        st.caption("No events on the timeline.")
        return
    by_id = {int(e["id"]): e for e in events}

    def picked() -> None:
        state = st.session_state.get(key) or {}
        chosen = (state.get("selection") or {}).get("pick") or []
        if chosen and on_pick and int(chosen[0].get("id", -1)) in by_id:
            on_pick(by_id[int(chosen[0]["id"])])

    st.altair_chart(timeline_chart(events, duration_s, cursor=cursor), key=key, on_select=picked,
                    selection_mode="pick", width="stretch")


def events_over_time_chart(rows: Sequence[dict]) -> alt.Chart | None:
    """Stacked bars: events per day and type (rows: day, type, n)."""
    if not rows:
        return None
    data = pd.DataFrame([{"day": pd.Timestamp(r["day"]).tz_localize(None) if pd.Timestamp(r["day"]).tzinfo
                          else pd.Timestamp(r["day"]), "type": r["type"], "events": int(r["n"])} for r in rows])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("yearmonthdate(day):O", title="day"),
        y=alt.Y("sum(events):Q", title="events"),
        color=alt.Color("type:N", scale=_colour_scale(list(data["type"])), title="type"),
        tooltip=["type:N", "sum(events):Q", alt.Tooltip("day:T", format="%Y-%m-%d")],
    ).properties(height=260)


def people_per_hour_chart(rows: Sequence[dict]) -> alt.Chart | None:
    """Bars per wall-clock hour: people in (up) and out (down) at the entrance zones (rows: hour, in, out)."""
    if not rows or not any(r["in"] or r["out"] for r in rows):
        return None
    data = pd.DataFrame([{"hour": pd.Timestamp(r["hour"]), "way": way, "people": n}
                         for r in rows for way, n in (("in", int(r["in"])), ("out", -int(r["out"])))])
    return alt.Chart(data).mark_bar().encode(
        x=alt.X("hour:T", title="hour", timeUnit="yearmonthdatehours"),
        y=alt.Y("people:Q", title="people in (up) and out (down)"),
        color=alt.Color("way:N", scale=alt.Scale(domain=["in", "out"], range=["#2e7d32", "#c62828"]), title=""),
        tooltip=[alt.Tooltip("hour:T", format="%Y-%m-%d %H:00"), "way:N",
                 alt.Tooltip("people:Q", title="people (out negative)")],
    ).properties(height=220)
