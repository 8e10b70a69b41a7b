"""Exports of a video's analysis: MOTChallenge tracks for every frame, or events and tracks as JSON."""

from __future__ import annotations

from typing import Iterable, Iterator


def interpolate_path(path: list[list[float]]) -> Iterator[tuple[int, float, float, float, float, float]]:
    """(frame, x1, y1, x2, y2, conf) for every frame from a track's first to last sighting.

    Frames between two sampled sightings get linearly interpolated boxes; gaps longer than
    two seconds at the sampling rate are left empty rather than invented.
    """
    pts = sorted(path, key=lambda p: p[0])
    for (f0, *a), (f1, *b) in zip(pts, pts[1:]):
        yield (int(f0), *a)
        gap = int(f1) - int(f0)
        if gap <= 1 or gap > 60:
            continue
        for k in range(1, gap):
            w = k / gap
            yield (int(f0) + k, *[(1 - w) * u + w * v for u, v in zip(a, b)])
    if pts:
        yield (int(pts[-1][0]), *pts[-1][1:])


def mot_lines(tracks: Iterable[dict], *, classes: tuple[str, ...] = ("person",)) -> list[str]:
    """MOTChallenge lines `frame,id,left,top,width,height,conf,-1,-1,-1`, frame 1 = the first frame."""
    rows = []
    for track in tracks:
        if classes and track["class_name"] not in classes:
            continue
        for frame, x1, y1, x2, y2, conf in interpolate_path(track["path"]):
            rows.append((frame + 1, track["track_number"], x1, y1, x2 - x1, y2 - y1, conf))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [f"{frame},{track_id},{left:.2f},{top:.2f},{width:.2f},{height:.2f},{conf:.3f},-1,-1,-1"
            for frame, track_id, left, top, width, height, conf in rows]
