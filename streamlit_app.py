"""Sentinel's Streamlit entry point: a router over pages/, behind a sign-in when a password is set."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ui import auth  # noqa: E402  (needs the repo root on sys.path)
from ui.bootstrap import get_app  # noqa: E402

st.set_page_config(page_title="Sentinel", page_icon=":material/videocam:", layout="wide")

settings = get_app().settings

if not auth.signed_in(settings):
    # st.navigation is always called, so the pages/ folder is not served around the sign-in (and every
    # page checks again: Streamlit runs pages/ files directly until a session has called st.navigation)
    st.navigation([st.Page(auth.login_page, title="Sign in", icon=":material/login:")], position="hidden").run()
    st.stop()

pages = {
    "Monitor": [
        st.Page("pages/dashboard.py", title="Dashboard", icon=":material/dashboard:", default=True),
        st.Page("pages/ask.py", title="Ask", icon=":material/forum:"),
    ],
    "Footage": [
        st.Page("pages/upload.py", title="Upload", icon=":material/upload:"),
        st.Page("pages/videos.py", title="Videos", icon=":material/video_library:"),
        st.Page("pages/video.py", title="Video", icon=":material/play_circle:", visibility="hidden"),
        st.Page("pages/events.py", title="Events", icon=":material/event_note:"),
    ],
    "Admin": [
        st.Page("pages/storage.py", title="Storage", icon=":material/inventory_2:"),
        st.Page("pages/system.py", title="System", icon=":material/monitor_heart:"),
    ],
}
page = st.navigation(pages)
auth.return_to_deep_link()
# each page starts with auth.require_sign_in(): it draws the sidebar notice and pending messages
page.run()
