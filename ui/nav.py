"""Where each page lives, and moving between them (a video at a time is a link with query params)."""

from __future__ import annotations

from uuid import UUID

import streamlit as st

DASHBOARD = "pages/dashboard.py"
UPLOAD = "pages/upload.py"
VIDEOS = "pages/videos.py"
VIDEO = "pages/video.py"
ASK = "pages/ask.py"
EVENTS = "pages/events.py"
STORAGE = "pages/storage.py"
SYSTEM = "pages/system.py"


def video_params(video_id: UUID | str, t: float | None = None) -> dict[str, str]:
    """The query params of the video page: ?video=<id>&t=<seconds>."""
    params = {"video": str(video_id)}
    if t is not None:
        params["t"] = str(int(max(0.0, t)))
    return params


def open_video(video_id: UUID | str, t: float | None = None) -> None:
    """Show the video page at time t (the same page with a new t just seeks its player)."""
    st.switch_page(VIDEO, query_params=video_params(video_id, t))


def requested_video() -> tuple[str | None, float]:
    """The video id and time the current URL asks for (?video=...&t=...)."""
    video_id = st.query_params.get("video")
    try:
        t = max(0.0, float(st.query_params.get("t", 0) or 0))
    except ValueError:
        t = 0.0
    return video_id, t


def video_link(video_id: UUID | str, label: str, *, t: float | None = None, icon: str | None = None,
               help: str | None = None) -> None:
    """A link to the video page (a real link: no rerun of the current page first)."""
    st.page_link(VIDEO, label=label, icon=icon, help=help, query_params=video_params(video_id, t))
