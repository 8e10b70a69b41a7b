"""Messages that outlive a rerun: set before st.rerun / st.switch_page, shown as a toast by the router."""

from __future__ import annotations

import streamlit as st

_KEY = "sentinel_flash"


def flash(message: str) -> None:
    """A message for the next page run."""
    st.session_state.setdefault(_KEY, []).append(message)


def show_flash() -> None:
    for message in st.session_state.pop(_KEY, []):
        st.toast(message)
