"""The baseline both tracking benchmarks compare against: ultralytics' own tracking loop.

`YOLO(checkpoint).track(source, stream=True, persist=True)` over every frame, written as
MOT challenge lines (1-based frame, id, x, y, w, h, confidence, -1, -1, -1).
"""

from __future__ import annotations

from pathlib import Path


def ultralytics_track_mot(model, video: Path, **track_kwargs) -> tuple[list[str], int]:
    """(MOT lines, frames read) of a loaded `ultralytics.YOLO` tracking `video`; kwargs go to `track`."""
    lines, frames = [], 0
    for i, r in enumerate(model.track(str(video), stream=True, persist=True, verbose=False, **track_kwargs)):
        frames += 1
        if r.boxes.id is None:
            continue
        for (x1, y1, x2, y2), tid, conf in zip(r.boxes.xyxy.tolist(), r.boxes.id.tolist(), r.boxes.conf.tolist()):
            lines.append(f"{i + 1},{int(tid)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{conf:.3f},-1,-1,-1")
    return lines, frames
