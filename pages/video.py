"""One video: the seekable player, the event timeline and gallery, summary, frame chat, download and delete.

The URL says what to show: ?video=<id>&t=<seconds>. Clicking an event (on the timeline, in the
gallery, or in an Ask answer) changes t, and the player seeks there.
"""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.cards import event_grid
from ui.format import duration, human_bytes, mmss
from ui.media import render_player
from ui.nav import VIDEOS, open_video, requested_video
from ui.progress import live, video_rows
from ui.timeline import render_timeline
from ui.video_panels import (
    delete_button, download_button, frame_chat, no_events_caption, parse_time, recording_clock, restore, summary_panel,
)
from ui.zone_editor import zone_editor

require_sign_in()

app = get_app()
video_id, t = requested_video()
video = data.get_video(app, video_id=video_id)
if video is None:
    st.title("Video")
    st.warning("No such video: it may have been deleted. Pick one from the list.")
    st.page_link(VIDEOS, label="All videos", icon=":material/video_library:")
    st.stop()

st.title(video["name"])
st.caption(" · ".join(x for x in [
    duration(video["duration_s"]),
    f"{video['width']}×{video['height']}" if video["width"] else "",
    f"{video['fps']:.3g} fps" if video["fps"] else "",
    video["codec"] or "", human_bytes(video["size_bytes"]), f"tier: {video['storage_tier']}",
    f"camera: {video['camera']}" if video.get("camera") else "",
] if x))
recording_clock(app, video)

if video["status"] != "completed":
    live(lambda: data.poll_progress(app, video_ids=[video["id"]]), lambda s: video_rows(app, s, key="video"))

events = data.list_events(app, video_id=video["id"], limit=5000)
player, side = st.columns([3, 2])
with player:
    render_player(app, video, start=t, on_restore=lambda: restore(app, video))
    a, b = st.columns([2, 1], vertical_alignment="bottom")
    jump = a.text_input("Jump to (mm:ss or seconds)", key=f"jump-{video['id']}", placeholder=mmss(t))
    if b.button("Seek", icon=":material/fast_forward:", key="seek") and parse_time(jump) is not None:
        open_video(video["id"], parse_time(jump))
    st.caption(f"Player position: {mmss(t)}")
with side:
    frame_chat(app, video, t)

st.subheader("Timeline")


def seek_to(event: dict) -> None:
    # in the chart's callback, before the rerun: the page then renders the player at the new time
    st.query_params["t"] = str(int(event["t_start"]))


render_timeline(events, video["duration_s"], key=f"timeline-{video['id']}", cursor=t, on_pick=seek_to)

summary_panel(app, video)

st.subheader(f"Events ({len(events)})")
if events:
    types = sorted({e["type"] for e in events})
    chosen = st.pills("Types", types, selection_mode="multi", key=f"gallery-types-{video['id']}")
    shown = [e for e in events if not chosen or e["type"] in chosen]
    limit = st.session_state.get("gallery_limit", 24)
    event_grid(app, shown[:limit], key="gallery", columns=4, show_video=False)
    if len(shown) > limit and st.button(f"Show more ({len(shown) - limit} left)", key="gallery_more"):
        st.session_state["gallery_limit"] = limit + 24
        st.rerun()
elif video["status"] == "completed":
    st.caption(no_events_caption(data.nobody_detected(app, video_id=video["id"])))

zone_editor(app, video, t)

st.divider()
a, b = st.columns(2)
with a:
    download_button(app, video)
with b:
    delete_button(app, video)
