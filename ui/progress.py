"""Live analysis progress: a fragment that polls while anything is running, and the video rows it shows.

Only the fragment reruns on each tick (no full-page flicker); once every watched video has
finished, one full rerun refreshes the rest of the page and the timer stops.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from ui import auth
from ui.data import ProgressSnapshot, submit_analysis
from ui.fragments import fragment_rerun
from ui.format import duration, human_bytes, mmss, status_label
from ui.media import thumbnail_bytes
from ui.nav import video_link

POLL_S = 2.0


def live(fetch: Callable[[], ProgressSnapshot], render: Callable[[ProgressSnapshot], None], *,
         every: float = POLL_S) -> ProgressSnapshot:
    """Render `fetch()` with `render`, re-polling every `every` seconds while anything is active."""
    first = fetch()

    @st.fragment(run_every=every if first.active else None)
    def body() -> None:
        # a timer tick reruns only this fragment, not the router: check the session here
        ticking = fragment_rerun()
        if ticking and auth.expired():
            st.rerun(scope="app")  # the router shows the sign-in page
        snap = fetch()
        render(snap)
        if ticking and first.active and not snap.active:
            st.rerun(scope="app")  # done: refresh the whole page once; the next run starts no timer

    body()
    return first


def video_rows(app, snap: ProgressSnapshot, *, key: str, empty: str = "No videos yet.") -> None:
    """One row per video: thumbnail, name (a link to it), duration, size, status with live progress, events."""
    if not snap.rows:
        st.caption(empty)
        return
    widths = [1.2, 2.6, 1, 1, 2.4, 0.8, 1.8]
    head = st.columns(widths)
    for col, title in zip(head, ["", "video", "duration", "size", "status", "events", ""]):
        col.caption(title)
    for v in snap.rows:
        with st.container(key=f"{key}-row-{v['id']}"):
            cols = st.columns(widths, vertical_alignment="center")
            thumb = thumbnail_bytes(app, v.get("thumbnail_key"), 160)
            if thumb:
                cols[0].image(thumb, width="stretch")
            with cols[1]:
                video_link(v["id"], v["name"], icon=":material/movie:")
            cols[2].write(duration(v.get("duration_s")))
            cols[3].write(human_bytes(v.get("size_bytes")))
            with cols[4]:
                st.markdown(video_status(v))
                if v["status"] == "processing":
                    st.progress(int(v.get("progress") or 0))
                    chunk_bars(v.get("chunks") or [])
                elif v["status"] == "failed" and v.get("error"):
                    st.caption(v["error"])
                elif v["status"] == "pending" and v.get("error"):
                    st.caption(v["error"])
            cols[5].write(str(v.get("event_count", "")) if v["status"] == "completed" else "")
            with cols[6]:
                _analyze_button(app, v, key=key)


def chunk_bars(chunks: list[dict]) -> None:
    """A small bar per chunk of a long video's analysis (nothing for a video analysed whole)."""
    if len(chunks) < 2:
        return
    for c in chunks:
        st.progress(int(c["progress"] or 0), text=chunk_label(c))


def chunk_label(c: dict) -> str:
    """'chunk 2 · 04:56-10:00 · running' for a chunk's bar."""
    return f"chunk {c['index'] + 1} · {mmss(c['t_start'])}-{mmss(c['t_end'])} · {c['status']}"


def video_status(v: dict) -> str:
    """The status as people read it: a pending video is either waiting in the queue or not analysed yet."""
    if v["status"] == "pending":
        return status_label("queued") if v.get("job") else ":material/upload_file: uploaded, not analysed"
    return status_label(v["status"], v.get("progress"))


def _analyze_button(app, v: dict, *, key: str) -> None:
    """'Analyze' for a video that has never been analysed or failed; 'Re-analyze' for a finished one."""
    if v["status"] == "processing" or not v.get("storage_key"):
        return
    label = {"pending": "Analyze", "failed": "Retry", "completed": "Re-analyze"}[v["status"]]
    if v.get("job"):
        return  # already queued or running
    if st.button(label, key=f"{key}-analyze-{v['id']}", icon=":material/play_circle:",
                 type="primary" if v["status"] == "pending" else "secondary"):
        submit_analysis(app, video_id=v["id"])
        st.rerun(scope="app")  # start polling from a full run
