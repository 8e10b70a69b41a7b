"""Pictures and the video player: thumbnails from the object store, and a player that seeks.

The player plays a presigned URL (S3) or a signed URL of ui/media_server.py (folder store), so the
browser streams byte ranges and the server never holds a whole video in memory. Originals a browser
cannot decode are played from a preview copy (see gpu_jobs/preview.py), made once in the background.
An archived original shows "archived — restore" and a restore button instead of a broken player.
"""

from __future__ import annotations

import base64
import io
import logging
from typing import Callable
from urllib.parse import urlsplit

import streamlit as st

from db.objects import BlobNotFound, FolderStore, ObjectArchived
from gpu_jobs.preview import PreviewMaker, browser_playable, preview_key
from ui.media_server import MediaServer

log = logging.getLogger(__name__)

THUMB_WIDTH = 240


@st.cache_data(max_entries=4000, ttl=3600, show_spinner=False)
def _thumbnail(_store, key: str, width: int) -> bytes | None:
    """A small JPEG of a stored picture (keys are unique per object, so caching by key is safe)."""
    try:
        data = _store.get_bytes(key)
    except (BlobNotFound, ObjectArchived, OSError):
        return None
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            img.thumbnail((width, width * 3))
            out = io.BytesIO()
            img.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue()
    except Exception:  # not a picture PIL reads: show the original bytes
        return data


def thumbnail_bytes(app, key: str | None, width: int = THUMB_WIDTH) -> bytes | None:
    """The picture under `key`, shrunk to `width` pixels, or None when there is none."""
    return _thumbnail(app.store, key, width) if key else None


def thumbnail_uri(app, key: str | None, width: int = 160) -> str | None:
    """A data: URI of a thumbnail, for image columns of st.dataframe (file:// URLs do not load there)."""
    data = thumbnail_bytes(app, key, width)
    return "data:image/jpeg;base64," + base64.b64encode(data).decode() if data else None


def show_picture(app, key: str | None, *, width: int = THUMB_WIDTH, caption: str | None = None) -> None:
    data = thumbnail_bytes(app, key, width)
    if data:
        st.image(data, caption=caption, width="stretch")
    else:
        st.caption(":material/image_not_supported: no picture")


@st.cache_resource(show_spinner=False)
def preview_maker() -> PreviewMaker:
    """One background maker of preview copies per server process."""
    return PreviewMaker()


def _source(app, video: dict) -> tuple[str | None, str | None]:
    """(what st.video plays, key of the object) for a playable video, or (None, preview key) while it is made."""
    key = video["storage_key"]
    if not browser_playable(key, video.get("codec")):
        key = preview_key(video["id"])
        if not app.store.exists(key):
            return None, key
    if isinstance(app.store, FolderStore):
        server = media_server(app.store, str(app.store.root), app.settings.media_port)
        with app.store.local_path(key) as path:  # a missing or archived file says so here, not as a broken player
            return (server.url(key, host=_browser_host()) if server else str(path)), key
    return _presigned(app.store, getattr(app.store, "bucket", ""), key), key


@st.cache_data(ttl=1800, show_spinner=False)
def _presigned(_store, bucket: str, key: str) -> str:
    """One presigned URL (valid 1 h) for half an hour: a new URL on every rerun would reload the player."""
    return _store.url(key, expires_s=3600)


@st.cache_resource(show_spinner=False)
def media_server(_store: FolderStore, root: str, port: int) -> MediaServer | None:
    """One signed-URL server per folder and process, on the address Streamlit listens on (None: could not bind)."""
    try:
        return MediaServer(_store, host=st.get_option("server.address") or "127.0.0.1", port=port).start()
    except OSError:
        log.warning("no media server (port %s); videos are read whole into memory instead", port, exc_info=True)
        return None


def _browser_host() -> str | None:
    """The host name the browser reached the app by, so the video URL works from another machine too."""
    try:
        return urlsplit(st.context.url or "").hostname
    except Exception:  # no browser session (scripts, AppTest)
        return None


def render_player(app, video: dict, *, start: float = 0.0, on_restore: Callable[[], None] | None = None) -> None:
    """The video at `start` seconds; changing `start` between reruns seeks the same player."""
    from services.storage import playable

    ok, reason = playable(video)
    if not ok:
        _render_unplayable(app, video, reason, on_restore)
        return
    try:
        source, key = _source(app, video)
    except (BlobNotFound, ObjectArchived) as exc:
        st.error(f"The video file cannot be read: {exc}")
        return
    if source is None:
        _render_preview_progress(app, video, key)
        return
    # st.video seeks when start_time changes; the container keeps one player per video
    with st.container(key=f"player-{video['id']}"):
        st.video(source, start_time=int(start), alt=f"Video {video['name']}")


def _render_unplayable(app, video: dict, reason: str, on_restore: Callable[[], None] | None) -> None:
    from services.storage import REASON_ARCHIVED, REASON_RESTORING

    with st.container(border=True):
        st.markdown(f"### :material/inventory_2: {reason}")
        if reason == REASON_ARCHIVED:
            st.caption("The original is in the archive tier. Its events, highlights and summary stay available.")
            if st.button("Restore", icon=":material/unarchive:", key=f"restore-{video['id']}", type="primary"):
                if on_restore:
                    on_restore()
        elif reason == REASON_RESTORING:
            st.caption("A restore was requested; the player appears when it completes.")
            if st.button("Check restore status", icon=":material/refresh:", key=f"poll-{video['id']}"):
                from services.storage import poll_restores

                poll_restores(app)
                st.rerun()
        else:
            st.caption("This video has no stored file (its events were imported).")


def _render_preview_progress(app, video: dict, key: str) -> None:
    """A placeholder that polls the background preview maker and reruns the page when the copy is ready."""
    from ui.fragments import fragment_rerun

    maker = preview_maker()

    @st.fragment(run_every=1.0)
    def wait() -> None:
        state, pct, error = maker.status(app, video, key)
        if state == "ready" and fragment_rerun():
            st.rerun(scope="app")  # show the player
        elif state == "failed":
            st.error(f"Could not prepare the video for the browser: {error}")
            if st.button("Try again", key=f"preview-retry-{video['id']}"):
                maker.forget(key)
                st.rerun(scope="app")
        else:
            st.info(":material/movie: Preparing a browser-playable copy of this video...")
            st.progress(int(pct), text=f"{pct:.0f}%")

    wait()
