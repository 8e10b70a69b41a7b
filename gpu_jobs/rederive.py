"""Re-derive a video's events from its stored rule inputs: the current zones and thresholds, no decoding or detection.

The current run keeps its tracks and frame stats; its events (with descriptions, highlights and
embeddings) are replaced in one transaction. A highlight whose event is unchanged (same type,
frame, box and start) is kept; only new events' frames are read from the video.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from uuid import UUID

import numpy as np

from gpu_jobs.analysis import Analyzer
from gpu_jobs.highlights import event_zones, zones_tag
from gpu_jobs.pipeline import event_row, load_zones
from gpu_jobs.types import Event, Track, Zone
from settings import Settings

log = logging.getLogger(__name__)


class RulesUnavailable(RuntimeError):
    """The video's current run stored nothing to re-derive from (analysed before rule inputs were kept)."""


class _NotLoaded:
    """Stands in for the models a rules-only Analyzer never calls."""

    def __getattr__(self, name):
        raise RuntimeError("This Analyzer only runs the behaviour rules.")


_rule_analyzers: dict[str, Analyzer] = {}
_lock = threading.Lock()


def rules_analyzer(settings: Settings) -> Analyzer:
    """An Analyzer that runs the rules and descriptions only (no detector, pose or face models loaded)."""
    key = settings.model_dump_json()
    with _lock:
        if key not in _rule_analyzers:
            _rule_analyzers[key] = Analyzer(settings, detector=_NotLoaded(), pose=_NotLoaded(),
                                            attributes=_NotLoaded())
        return _rule_analyzers[key]


def apply_zones(tracks: list[Track], zones: list[Zone]) -> None:
    """Each observation's zone names from these zones (where the person stands, as the frame scan does)."""
    for track in tracks:
        boxes = np.array([obs.bbox for obs in track.observations], float).reshape(-1, 4)
        held = [(z.name, z.holds_boxes(boxes)) for z in zones]
        for k, obs in enumerate(track.observations):
            obs.zones = tuple(name for name, mask in held if mask[k])


def derive(app, video_id: UUID, *, fail_before_commit=None) -> dict:
    """Run the rules again on the current run's stored inputs and replace its events; return the summary.

    Raises LookupError for an unknown video, RulesUnavailable when nothing is stored to re-derive from.
    `fail_before_commit` (tests) is called inside the write, before it commits.
    """
    from core.runtime.embeddings import embed_texts
    from db.repos import runs, videos
    from gpu_jobs import alerts, rule_inputs

    started = time.monotonic()
    with app.db.connection() as conn:
        video = videos.get(conn, video_id)
        if video is None:
            raise LookupError(f"No video {video_id}.")
        stored = runs.rule_inputs_for(conn, video["id"]) if video["current_run_id"] else None
        old = runs.current_events(conn, video["id"]) if stored else []
    if stored is None:
        raise RulesUnavailable("This video was analysed before rule inputs were kept; "
                               "analyse it again to re-derive its events.")
    video_id, run_id = video["id"], stored["run_id"]
    frame_size = (int(stored["frame_width"]), int(stored["frame_height"]))
    tracks, signals = rule_inputs.unpack(bytes(stored["data"]))
    picture = rule_inputs.stored_picture(bytes(stored["data"]))  # None where stored before black bars were found
    zones = load_zones(app, video_id, frame_size)
    apply_zones(tracks, zones)
    events = rules_analyzer(app.settings).derive_events(tracks, zones, frame_size, float(stored["fps"]),
                                                        signals=signals, picture=picture)
    embeddings = embed_texts([e.description for e in events], app.settings) if events else []
    kept = {_picture_key(o["type"], o["frame"], o["bbox"], o["t_start"]): o["highlight_key"]
            for o in old if o["highlight_key"]}
    tags = [zones_tag(event_zones(e, zones)) for e in events]
    keys: list[str | None] = [_same_zones(kept.get(_picture_key(e.type, e.frame, e.bbox, e.t_start)), tags[i])
                              for i, e in enumerate(events)]
    new_keys = _render_new(app, video, run_id, events, keys, zones, tags, tracks)
    rows = [event_row(e, embeddings[i], keys[i]) for i, e in enumerate(events)]
    try:
        with app.db.connection() as conn:
            with conn.transaction():
                runs.replace_events(conn, video_id=video_id, run_id=run_id, events=rows)
                if fail_before_commit is not None:
                    fail_before_commit()
    except BaseException:
        for key in new_keys:  # a failed write leaves the old events and no stray pictures
            app.store.delete(key)
        raise
    in_use = set(keys)
    for o in old:
        if o["highlight_key"] and o["highlight_key"] not in in_use:
            app.store.delete(o["highlight_key"])
    alerts.after_run(app, video_id)  # a zone drawn later may reveal a theft: alert it, once
    by_type = Counter(e.type for e in events)
    return {"video_id": str(video_id), "run_id": str(run_id), "zones": len(zones),
            "events_by_type": dict(sorted(by_type.items())), "events": len(events),
            "highlights_rendered": len(new_keys), "elapsed_s": round(time.monotonic() - started, 3)}


def _same_zones(key: str | None, tag: str) -> str | None:
    """A kept picture's key if it shows the event's zones as they are now (its name ends with their tag), else None."""
    if key is None:
        return None
    found = re.search(r"-z([0-9a-f]{8})\.jpg$", key)
    return key if (found.group(1) if found else "") == tag else None


def _picture_key(kind: str, frame, bbox, t_start) -> tuple:
    return (kind, int(frame) if frame is not None else None,
            tuple(round(float(v), 1) for v in bbox) if bbox is not None else None, round(float(t_start), 3))


@contextmanager
def _video_file(app, video: dict):
    """The video's path or presigned URL (read by seeking), or None when unreadable now (archived, store down)."""
    try:
        cm = app.store.media_source(video["storage_key"])
        path = cm.__enter__()
    except Exception:
        log.warning("video %s unreadable: re-derived events get no new highlights", video["id"], exc_info=True)
        yield None
        return
    try:
        yield path
    except BaseException as exc:
        if not cm.__exit__(type(exc), exc, exc.__traceback__):
            raise
    else:
        cm.__exit__(None, None, None)


def _render_new(app, video: dict, run_id: UUID, events: list[Event], keys: list[str | None],
                zones: list[Zone], tags: list[str], tracks: list[Track]) -> list[str]:
    """Highlight JPEGs of the events without a kept picture (their frames read by seeking); fills `keys`."""
    from core.runtime.media import encode_jpeg, read_frame_at
    from db.repos import runs
    from gpu_jobs.highlight_evidence import poses_at
    from gpu_jobs.highlights import draw_event

    todo = [i for i, key in enumerate(keys) if key is None]
    if not todo or not video.get("storage_key"):
        return []
    poses = poses_at(tracks, events)
    with app.db.connection() as conn:
        stats = {s["frame"]: s for s in runs.frame_stats_at_frames(conn, video["id"], run_id,
                                                                    sorted({events[i].frame for i in todo}))}
    batch = uuid.uuid4().hex[:8]
    written: list[str] = []
    try:
        with _video_file(app, video) as path:
            if path is None:
                return []
            images: dict[int, object] = {}
            for i in todo:
                event = events[i]
                stat = stats.get(event.frame)
                if event.frame not in images:
                    t = stat["t"] if stat else event.t_start
                    try:
                        images[event.frame] = read_frame_at(path, float(t))
                    except Exception:  # an unreadable frame costs the picture, not the events
                        log.warning("no frame at %.2f s for a highlight", float(t), exc_info=True)
                        images[event.frame] = None
                image = images[event.frame]
                if image is None:
                    continue
                jpeg = encode_jpeg(draw_event(image, event, stat["detections"] if stat else [], zones, poses[i]),
                                   max_width=640)
                tag = f"-z{tags[i]}" if tags[i] else ""  # a redrawn zone draws the picture again
                key = f"highlights/{video['id']}/{run_id}/{batch}_{i:05d}_{event.type}{tag}.jpg"
                app.store.put_bytes(key, jpeg, content_type="image/jpeg")
                written.append(key)
                keys[i] = key
    except BaseException:
        for key in written:
            app.store.delete(key)
        raise
    return written
