"""System: the health of every component."""

import streamlit as st

from ui.bootstrap import get_app
from ui.health import render_health

st.title("System")
app = get_app()
st.subheader("Health")
render_health(app)
st.caption(f"Runner: {app.settings.runner} · data folder: {app.settings.data_dir}")
