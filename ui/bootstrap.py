"""The app's adapters for Streamlit, built once per server process."""

from __future__ import annotations

import streamlit as st


@st.cache_resource(show_spinner="Starting the database...")
def get_app():
    """The process-wide App (database pool, object store, runner)."""
    from bootstrap import get_app as build

    return build()
