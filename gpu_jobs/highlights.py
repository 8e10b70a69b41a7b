"""Highlight JPEGs: each event's frame with every box in grey and the event's box in its type's colour."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from core.clock import format_mmss
from core.runtime.media import encode_jpeg, sample_frames
from core.vocabulary import colour_bgr
from gpu_jobs.types import Event


def render_highlights(path: Path, events: list[Event], stats: list[dict], fps: float) -> dict[int, bytes]:
    """Annotated JPEGs of each event's highlight frame, from one more sequential decode pass."""
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
            out[i] = encode_jpeg(draw_event(frame.image, events[i], boxes_at.get(frame.index, [])), max_width=640)
        if frame.index >= last:
            break
    return out


def draw_event(image, event: Event, detections: list[dict]):
    """A copy of the frame with the other boxes in grey and the event's box and label in its colour."""
    import cv2

    img = image.copy()
    for det in detections:
        x1, y1, x2, y2 = (int(v) for v in det["bbox"])
        cv2.rectangle(img, (x1, y1), (x2, y2), (160, 160, 160), 1)
    colour = colour_bgr(event.type)
    x1, y1, x2, y2 = (int(v) for v in event.bbox)
    cv2.rectangle(img, (x1, y1), (x2, y2), colour, 3)
    label = f"{event.type} {format_mmss(event.t_start)}"
    (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
    ty = max(th + 6, y1)
    cv2.rectangle(img, (x1, ty - th - 6), (x1 + tw + 6, ty), colour, -1)
    cv2.putText(img, label, (x1 + 3, ty - 4), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2)
    return img
