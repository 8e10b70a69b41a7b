"""Highlight JPEGs: each event's frame with every box in grey, the event's box in its type's colour, its zones
and its evidence (the person's pose, the points the rule used, one line of why: `highlight_evidence`)."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.clock import format_mmss
from core.runtime.media import encode_jpeg, sample_frames
from core.vocabulary import colour_bgr
from core.zone_drawing import draw_zones
from gpu_jobs.highlight_evidence import draw_caption, draw_evidence, poses_at
from gpu_jobs.types import Event, Track, Zone

# the attributes a rule names a zone in besides the event's own zone (theft: the shelf it was taken from)
_ZONE_ATTRIBUTES = ("shelf", "checkout", "exit", "entrance")


def render_highlights(path: Path, events: list[Event], stats: list[dict], fps: float,
                      zones: Sequence[Zone] = (), tracks: Iterable[Track] = ()) -> dict[int, bytes]:
    """Annotated JPEGs of each event's highlight frame, from one more sequential decode pass."""
    poses = poses_at(tracks, events)
    wanted: dict[int, list[int]] = defaultdict(list)
    for i, event in enumerate(events):
        wanted[event.frame].append(i)
    boxes_at = {s["frame"]: s["detections"] for s in stats}
    out: dict[int, bytes] = {}
    if not wanted:
        return out
    last = max(wanted)
    for frame in sample_frames(path, fps=fps):
        for i in wanted.get(frame.index, ()):
            picture = draw_event(frame.image, events[i], boxes_at.get(frame.index, []), zones, poses[i])
            out[i] = encode_jpeg(picture, max_width=640)
        if frame.index >= last:
            break
    return out


def event_zones(event: Event, zones: Iterable[Zone]) -> list[Zone]:
    """The drawn zones an event involved: its own zone and any zone its attributes name (never a frame third)."""
    names = {event.zone} | {v for k in _ZONE_ATTRIBUTES if isinstance(v := event.attributes.get(k), str)}
    return [z for z in zones if z.name in names and z.kind != "region"]


def zones_tag(zones: Sequence[Zone]) -> str:
    """A short tag of the zones drawn on a picture ('' for none): a picture is kept while its zones stay the same."""
    if not zones:
        return ""
    shape = sorted((z.name, z.kind, [[round(float(x), 1), round(float(y), 1)] for x, y in z.polygon]) for z in zones)
    return hashlib.sha1(json.dumps(shape).encode()).hexdigest()[:8]


def draw_event(image, event: Event, detections: list[dict], zones: Iterable[Zone] = (), pose=None):
    """A copy of the frame with its zones outlined, the other boxes in grey, the event's box, label and evidence.

    pose: the (17, 3) keypoints of the event's person at this frame (`poses_at`), drawn when given.
    """
    import cv2

    img = image.copy()
    # under the boxes and thin, so the zone frames the event without hiding the person
    k = max(1.0, img.shape[1] / 640)  # the JPEG is scaled to 640 wide: lines and labels keep their size
    draw_zones(img, [(z.name, z.kind, z.polygon) for z in event_zones(event, zones)], fill_alpha=0.12,
               thickness=max(1, round(k)), font_scale=0.45 * k)
    for det in detections:
        x1, y1, x2, y2 = (int(v) for v in det["bbox"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (160, 160, 160), 1)
    colour = colour_bgr(event.type)
    draw_evidence(img, event, pose, detections, colour=colour, scale=k)
    x1, y1, x2, y2 = (int(v) for v in event.bbox)
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, 3)
    label = f"{event.type} {format_mmss(event.t_start)}"
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    ty = max(th + 6, y1)
    cv2.rectangle(img, (x1, ty - th - 6), (x1 + tw + 6, ty), colour, -1)
    cv2.putText(img, label, (x1 + 3, ty - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    draw_caption(img, event, colour=colour, scale=k)
    return img
