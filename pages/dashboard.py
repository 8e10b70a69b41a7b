"""Dashboard: videos by status, events by type over time, the latest notable events, running jobs."""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.cards import event_grid
from ui.format import INCIDENT_TYPES, NOTABLE_TYPES, VIDEO_STATUSES, ago, status_label
from ui.nav import UPLOAD, video_link
from ui.progress import live
from ui.timeline import events_over_time_chart, people_per_hour_chart

require_sign_in()

app = get_app()
st.title("Dashboard")

counts = data.video_counts(app)
if not counts:
    st.info("No videos yet. Upload CCTV footage to analyse it.")
    st.page_link(UPLOAD, label="Upload videos", icon=":material/upload:")

cols = st.columns(len(VIDEO_STATUSES) + 1)
cols[0].metric("Videos", sum(counts.values()))
for col, status in zip(cols[1:], VIDEO_STATUSES):
    col.metric(status.capitalize(), counts.get(status, 0))

st.subheader("Events by type over time")
period, shown = st.columns([3, 2])
with period:
    days = st.segmented_control("Period", [7, 30, 90, 365], default=30, format_func=lambda d: f"{d} days",
                                key="dash_days") or 30
with shown:
    which = st.segmented_control("Show", ["incidents", "all events"], default="all events", key="dash_types")
rows = data.events_per_day(app, days=days)
incidents = which == "incidents"  # thefts, concealments, falls and fights: what walking would bury
chart = events_over_time_chart([r for r in rows if r["type"] in INCIDENT_TYPES] if incidents else rows)
if chart is None:
    st.caption("No incidents in this period." if incidents else "No events in this period.")
else:
    st.altair_chart(chart, width="stretch")
by_type = data.event_types(app)
if by_type:
    st.caption(" · ".join(f"{t}: {n}" for t, n in by_type.items()))

st.subheader("People in and out per hour")
flow = data.people_per_hour(app, days=days)
flow_chart = people_per_hour_chart(flow.hours)
if flow_chart is not None:
    st.altair_chart(flow_chart, width="stretch")
    st.caption("Counted at entrance zones; hours follow the time stamp in each file's name, else its upload time.")
elif flow.hours:
    st.caption(f"{flow.people} people seen in this period, but no entrance zone counted anyone "
               "in or out: draw an entrance zone over the door on a video's page.")
else:
    st.caption("No analysed footage in this period.")

st.subheader("Latest notable events")
notable = data.latest_notable(app, types=NOTABLE_TYPES, limit=8)
if notable:
    event_grid(app, notable, key="notable", columns=4)
else:
    st.caption("No theft, collapse or violent events so far.")

st.subheader("Running jobs")


def fetch() -> data.ProgressSnapshot:
    # job states as video states, so the snapshot keeps polling while any job is queued or running
    as_video = {"queued": "pending", "running": "processing"}
    return data.ProgressSnapshot([{**j, "job": j["status"], "status": as_video[j["status"]]}
                                  for j in data.running_jobs(app)])


def render(snap: data.ProgressSnapshot) -> None:
    if not snap.rows:
        st.caption("No analysis is running.")
        return
    for job in snap.rows:
        with st.container(border=True):
            a, b = st.columns([3, 2], vertical_alignment="center")
            with a:
                video_link(job["video_id"], job["video_name"], icon=":material/movie:")
                st.caption(f"job {str(job['id'])[:8]} · {job['runner']} · started {ago(job['started_at'])}")
            with b:
                video = data.get_video(app, video_id=job["video_id"])
                pct = float(video["progress"] if video else job["progress"])
                if job["job"] == "running":
                    st.progress(int(pct), text=status_label("processing", pct))
                else:
                    st.markdown(status_label("queued"))


live(fetch, render)
