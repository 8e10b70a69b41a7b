"""System: the health of every component, the models and runner in use, the job queue and the alerts."""

import streamlit as st

from ui.auth import require_sign_in
from ui.bootstrap import get_app
from ui.health import render_alerts, render_health, render_jobs, render_models

require_sign_in()

st.title("System")
app = get_app()
st.subheader("Health")
render_health(app)
st.caption(f"Runner: {app.settings.runner} · data folder: {app.settings.data_dir}")

st.subheader("Models and runner")
render_models(app.settings)

st.subheader("Job queue")
render_jobs(app)

st.subheader("Alerts")
render_alerts(app)
