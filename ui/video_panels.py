"""The panels of the video page: summary, frame chat, download, delete (with confirmation), restore."""

from __future__ import annotations

import logging

import streamlit as st

from db.objects import FolderStore
from core.clock import parse_mmss
from core.phrasing import UNSEEN_PEOPLE
from ui import data
from ui.format import ago, list_breaks, mmss
from ui.nav import VIDEOS
from ui.notify import flash

log = logging.getLogger(__name__)

def parse_time(text: str | None) -> float | None:
    """'1:23', '01:02:03' or '83' (seconds) -> seconds; None when the box is empty or not a time."""
    try:
        return parse_mmss(text or "")
    except ValueError:
        return None


def restore(app, video: dict) -> None:
    """Ask for an archived video back and say what happened."""
    from services.storage import restore_video

    result = restore_video(app, video_id=video["id"])
    flash(result.message)
    st.rerun()


# ---- summary ------------------------------------------------------------------------------------

def no_events_caption(nobody_detected: bool) -> str:
    """What an analysed video without events says; `nobody_detected`: not even a person track was found."""
    if not nobody_detected:
        return "The analysis found no events in this video."
    return f"The analysis found no events in this video and detected nobody in it: {UNSEEN_PEOPLE}."


def summary_panel(app, video: dict) -> None:
    """The cached summary with its status; generate or regenerate it in the background."""
    from services.summaries import generate_summary, get_summary
    from ui.fragments import fragment_rerun

    st.subheader("Summary")
    if video["status"] != "completed":
        st.caption("The summary can be written once the analysis has completed.")
        return

    def generate() -> None:
        generate_summary(app, video_id=video["id"], wait=False)

    row = get_summary(app, video_id=video["id"])
    if row is None:
        st.button("Generate summary", icon=":material/summarize:", key="summary_generate", on_click=generate)
        return
    if row["stale"] and row["status"] == "completed":
        # re-analysed since it was written; a failed rewrite is not retried on every rerun
        row = generate_summary(app, video_id=video["id"], wait=False)

    @st.fragment(run_every=2.0 if row["status"] in ("pending", "processing") else None)
    def show() -> None:
        current = get_summary(app, video_id=video["id"]) or row
        if current["status"] in ("pending", "processing"):
            st.info(f":material/hourglass_top: The summary is being written ({current['status']})...")
            if current.get("text"):
                st.caption("Previous summary (of an earlier analysis):" if current.get("stale")
                           else "Previous summary:")
                st.markdown(current["text"])
            return
        if row["status"] in ("pending", "processing") and fragment_rerun():
            st.rerun(scope="app")  # it just finished: show it with its buttons
        if current["status"] == "failed":
            st.error(f"The summary could not be written: {current.get('error') or 'unknown error'}")
        if current.get("text"):
            with st.container(border=True):
                st.markdown(current["text"])
            st.caption(f"{current.get('model') or 'structured'} · {ago(current.get('updated_at'))}")
            if current.get("stale"):
                st.warning("This summary describes an earlier analysis of the video; regenerate it for the latest.")
        st.button("Regenerate", icon=":material/refresh:", key="summary_regenerate", on_click=generate)

    show()


# ---- frame chat ---------------------------------------------------------------------------------

def frame_chat(app, video: dict, t: float) -> None:
    """Questions about the moment the player was sent to (adjustable), answered from the stored analysis."""
    st.subheader("Ask about this moment")
    if video["status"] != "completed":
        st.caption("Available once the analysis has completed.")
        return
    top = float(video["duration_s"] or 0) or None
    # keyed by t, so seeking elsewhere resets the field to the new position
    at = st.number_input("At (seconds)", min_value=0.0, max_value=top, value=min(float(t), top or float(t)),
                         step=1.0, key=f"frame-t-{video['id']}-{int(t)}")
    history = st.session_state.setdefault(f"frame-chat-{video['id']}", [])
    with st.form(f"frame-chat-form-{video['id']}", clear_on_submit=True, border=False):
        question = st.text_input("Question", placeholder="who is on screen? what are they doing?",
                                 key=f"frame-q-{video['id']}")
        asked = st.form_submit_button("Ask", icon=":material/send:")
    if asked and question.strip():
        from services.ask import ask_frame

        try:
            with st.spinner("Looking at the frame..."):
                answer = ask_frame(app, video_id=video["id"], t=at, question=question)
            history.append({"t": answer.t, "question": question, "answer": answer.text})
        except (ValueError, LookupError) as exc:
            st.warning(str(exc))
    for turn in reversed(history[-5:]):
        with st.chat_message("user"):
            st.markdown(f"**{mmss(turn['t'])}** · {turn['question']}")
        with st.chat_message("assistant"):
            st.markdown(list_breaks(turn["answer"]))


# ---- recording clock -----------------------------------------------------------------------------

def recording_clock(app, video: dict) -> None:
    """When the footage starts on the camera's clock (counts by the hour read it): shown, set, corrected or cleared."""
    from services.videos import set_recorded_at

    current = video.get("recorded_at")
    shown = current.strftime("%Y-%m-%d %H:%M:%S") if current else ""
    label = f"Recording started at {shown}" if shown else "Recording start: not set"
    with st.expander(label, icon=":material/schedule:"):
        with st.form(f"recorded-at-{video['id']}", border=False):
            text = st.text_input("Recording started at (the camera's clock)", value=shown, max_chars=40,
                                 placeholder="2026-12-01 10:00", key=f"recorded-at-text-{video['id']}",
                                 help="Counts by the hour and questions like 'between 10:00 and 11:00' use it; "
                                      "leave it empty to use a time in the file name, if any.")
            saved = st.form_submit_button("Save", icon=":material/save:")
        if saved:
            try:
                set_recorded_at(app, video_id=video["id"], recorded_at=text or None)
            except ValueError as exc:  # the service's one sentence; nothing is stored, the old time stays
                st.error(str(exc))
                return
            flash(f"Recording start set to {text.strip()}." if text.strip() else "Recording start cleared.")
            st.rerun()


# ---- download and delete ------------------------------------------------------------------------

def download_button(app, video: dict) -> None:
    """The original file: a presigned link on S3; from the server on the folder store (read on click)."""
    from services.storage import playable

    ok, reason = playable(video)
    if not ok:
        st.button("Download original", icon=":material/download:", disabled=True, help=reason, key="download")
        return
    key = video["storage_key"]
    if isinstance(app.store, FolderStore):
        st.download_button("Download original", data=lambda: app.store.get_bytes(key),
                           file_name=video["original_filename"] or video["name"], icon=":material/download:",
                           mime="application/octet-stream", key="download", on_click="ignore")
    else:
        st.link_button("Download original", app.store.url(key), icon=":material/download:")


_CONFIRM = "confirm_delete_video"  # the id of the video whose delete dialog is open


def _close_confirmation() -> None:
    st.session_state.pop(_CONFIRM, None)


# the dialog stays open from session state, so a click inside it finds it again on any rerun
@st.dialog("Delete this video?", on_dismiss=_close_confirmation)
def _confirm_delete(app, video: dict) -> None:
    st.write(f"**{video['name']}** will be deleted for good: the stored file, its thumbnail and highlights, "
             "its events, tracks, jobs and summary.")
    a, b = st.columns(2)
    if a.button("Delete for good", type="primary", icon=":material/delete_forever:", key="confirm_delete"):
        _close_confirmation()
        try:
            result = data.delete_video(app, video_id=video["id"])
        except Exception as exc:  # objects go first: a failure leaves the rows, so it can be retried
            log.exception("deleting video %s failed", video["id"])
            st.error(f"Could not delete the video: {exc}")
            return
        flash(f"Deleted {result.name}: {len(result.deleted_keys)} stored objects and {result.events} events.")
        st.switch_page(VIDEOS)
    if b.button("Cancel", key="cancel_delete"):
        _close_confirmation()
        st.rerun()


def delete_button(app, video: dict) -> None:
    """Delete, after a confirmation dialog."""
    if st.button("Delete video", icon=":material/delete:", key="delete"):
        st.session_state[_CONFIRM] = str(video["id"])
    if st.session_state.get(_CONFIRM) == str(video["id"]):
        _confirm_delete(app, video)
