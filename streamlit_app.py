"""Sentinel's Streamlit entry point: a router over pages/."""

import sys
from pathlib import Path

import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

st.set_page_config(page_title="Sentinel", page_icon=":material/videocam:", layout="wide")

pages = {
    "Admin": [
        st.Page("pages/system.py", title="System", icon=":material/monitor_heart:"),
    ],
}
st.navigation(pages).run()
