"""Videos: every video with its thumbnail, duration, status and live progress, filterable by name and status."""

import streamlit as st

from ui import data
from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.format import VIDEO_STATUSES
from ui.nav import UPLOAD
from ui.progress import live, video_rows

require_sign_in()

app = get_app()
st.title("Videos")

a, b, c = st.columns([3, 3, 1], vertical_alignment="bottom")
name = a.text_input("Name contains", key="videos_name", placeholder="e.g. entrance")
statuses = b.multiselect("Status", VIDEO_STATUSES, key="videos_status")
c.page_link(UPLOAD, label="Upload", icon=":material/upload:")

live(lambda: data.poll_progress(app, name=name, statuses=statuses),
     lambda snap: video_rows(app, snap, key="videos",
                             empty="No videos match." if (name or statuses) else "No videos yet: upload some."))
