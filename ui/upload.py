"""Storing uploads and imports with visible progress, and one clear outcome per file."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import BinaryIO

import streamlit as st

from gpu_jobs.ingest import IngestError
from services import videos as video_service
from ui.format import human_bytes

log = logging.getLogger(__name__)


@dataclass(slots=True)
class UploadOutcome:
    """What happened to one file: stored, duplicate (an earlier upload of the same bytes) or error."""

    name: str
    state: str
    message: str
    video_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _outcome(name: str, result) -> UploadOutcome:
    video = result.video
    if result.duplicate:
        return UploadOutcome(name, "duplicate", f"Already uploaded as “{video['name']}” ({video['status']}); "
                             "it is not analysed twice.", str(video["id"]))
    queued = " and queued for analysis" if result.job else ""
    return UploadOutcome(name, "stored", f"Stored{queued}.", str(video["id"]))


def _start_preview(app, video: dict) -> None:
    """Begin the browser-playable copy now, so the player is ready when someone opens the video."""
    from gpu_jobs.preview import browser_playable, preview_key
    from ui.media import preview_maker

    if video.get("storage_key") and not browser_playable(video["storage_key"], video.get("codec")):
        preview_maker().status(app, video, preview_key(video["id"]))


def recorded_at_error(text: str | None) -> str | None:
    """The one-sentence problem with a typed recording start, or None when it is blank or good."""
    from core.cameras import parse_recorded_at

    if not (text or "").strip():
        return None
    try:
        parse_recorded_at(text)
    except ValueError as exc:
        return str(exc)
    return None


def _set_recorded_at(app, video: dict, recorded_at: str | None) -> dict:
    if not (recorded_at or "").strip():
        return video
    return video_service.set_recorded_at(app, video_id=video["id"], recorded_at=recorded_at)


def store_upload(app, stream: BinaryIO, name: str, size: int | None, *, submit: bool,
                 camera: str | None = None, recorded_at: str | None = None) -> UploadOutcome:
    """Ingest one uploaded file, showing a progress bar while its bytes are stored.

    camera: the camera it belongs to (its zones apply); None or blank: one from the file name.
    recorded_at: when its footage starts on the camera's clock (checked with recorded_at_error first).
    """
    bar = st.progress(0, text=f"Storing {name}...")

    def on_bytes(done: int) -> None:
        if size:
            bar.progress(min(1.0, done / size), text=f"Storing {name}: {human_bytes(done)} of {human_bytes(size)}")

    try:
        result = video_service.upload(app, stream=stream, filename=name, submit=submit, on_bytes=on_bytes,
                                      camera=(camera or "").strip() or None)
        result.video = _set_recorded_at(app, result.video, recorded_at)
        outcome = _outcome(name, result)
        if not result.duplicate:
            _start_preview(app, result.video)
    except IngestError as exc:
        outcome = UploadOutcome(name, "error", str(exc))
    except Exception as exc:  # a store or database failure: one line for the user, details in the log
        log.exception("storing the upload %s failed", name)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        outcome = UploadOutcome(name, "error", f"Could not store the file ({first}); try again.")
    bar.empty()
    return outcome


def import_s3(app, uri: str, *, submit: bool, camera: str | None = None,
              recorded_at: str | None = None) -> UploadOutcome:
    """Copy an s3:// object in through the store, as an upload (camera and recorded_at as in `store_upload`)."""
    name = uri.strip().rsplit("/", 1)[-1] or uri
    with st.spinner(f"Importing {uri}..."):
        try:
            result = video_service.import_s3(app, uri=uri, submit=submit, camera=(camera or "").strip() or None)
            result.video = _set_recorded_at(app, result.video, recorded_at)
            if not result.duplicate:
                _start_preview(app, result.video)
            return _outcome(name, result)
        except IngestError as exc:
            return UploadOutcome(name, "error", str(exc))
        except Exception as exc:
            log.exception("importing %s failed", uri)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return UploadOutcome(name, "error", f"Could not import {uri} ({first}).")


def show_outcome(outcome: UploadOutcome) -> None:
    if outcome.state == "error":
        st.error(f"**{outcome.name}**: {outcome.message}", icon=":material/error:")
    elif outcome.state == "duplicate":
        st.info(f"**{outcome.name}**: {outcome.message}", icon=":material/content_copy:")
    else:
        st.success(f"**{outcome.name}**: {outcome.message}", icon=":material/check_circle:")
