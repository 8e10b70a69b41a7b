"""Events: a table filterable by video, type, time range, attributes, zone and confidence; CSV and JSON export."""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.event_table import PEOPLE, event_frame, export_csv, export_json, table_config, zone_choices
from ui.nav import open_video
from ui.video_panels import parse_time

require_sign_in()

app = get_app()
st.title("Events")

choices = data.video_choices(app)
a, b, c, d = st.columns([3, 3, 1.3, 1.3])
video_id = a.selectbox("Video", ["", *choices], format_func=lambda v: choices.get(v, "All videos"),
                       key="ev_video") or None
types = b.multiselect("Types", list(data.event_types(app)), key="ev_types")
t_from = parse_time(c.text_input("From (mm:ss)", key="ev_from", placeholder="00:00"))
t_to = parse_time(d.text_input("To (mm:ss)", key="ev_to", placeholder="end"))

scope = data.list_events(app, video_id=video_id, limit=5000)
zones = zone_choices(scope)
a, w, b, c = st.columns([2, 1.5, 2, 2])
zone = a.selectbox("Zone", ["", *zones], format_func=lambda z: z or "Any zone", key="ev_zone") or None
staff = PEOPLE[w.selectbox("People", list(PEOPLE), key="ev_people")]
min_conf = b.slider("Minimum confidence", 0.0, 1.0, 0.0, 0.05, key="ev_conf")
attributes = {}
with c.popover("Attributes", icon=":material/person_search:", width="stretch"):
    known = data.attribute_values(scope)
    for name, values in known.items():
        chosen = st.selectbox(name.replace("_", " "), [None, *values],
                              format_func=lambda v: "Any" if v is None else str(v), key=f"ev_attr_{name}")
        if chosen is not None:
            attributes[name] = chosen
    if not known:
        st.caption("No attributes on these events.")

rows = data.on_the_wall_clock(app, data.list_events(
    app, video_id=video_id, types=types or None, t_from=t_from, t_to=t_to, zone=zone,
    min_confidence=min_conf or None, attributes=attributes or None, staff=staff, limit=1000))
st.caption(f"{len(rows)} event{'s' if len(rows) != 1 else ''}" + (" (first 1000)" if len(rows) == 1000 else "")
           + " · select a row to play the video there")


def open_selected() -> None:
    # the selection callback runs before the rerun; the page opens the video after drawing
    picked = st.session_state["ev_table"]["selection"]["rows"]
    if picked:
        st.session_state["ev_open"] = picked[0]


if rows:
    frame = event_frame(app, rows)
    st.dataframe(frame, column_config=table_config(), hide_index=True, width="stretch", key="ev_table",
                 on_select=open_selected, selection_mode="single-row", row_height=60,
                 column_order=[col for col in frame.columns if col not in ("id", "video_id")])
    a, b, _ = st.columns([1, 1, 4])
    a.download_button("CSV", export_csv(rows), "events.csv", "text/csv", icon=":material/download:",
                      key="ev_csv", on_click="ignore")
    b.download_button("JSON", export_json(rows), "events.json", "application/json", icon=":material/download:",
                      key="ev_json", on_click="ignore")
else:
    st.info("No events match these filters.")

picked = st.session_state.pop("ev_open", None)
if picked is not None and picked < len(rows):
    open_video(rows[picked]["video_id"], rows[picked]["t_start"])
