"""Planning a long video as overlapping chunks, each analysed by its own job, side by side.

A video up to `chunk_s` (plus a short tail) stays one job. A longer one is cut every `chunk_s`
seconds; each chunk after the first starts `overlap_s` before its cut, at the keyframe there when
one is near (decoding then starts exactly where the chunk does), so neighbours see the same
people in the overlap and `gpu_jobs.stitch` can join their tracks.

Example:
    >>> [(c.t_start, c.t_end) for c in plan_chunks(700, chunk_s=300, overlap_s=4)]
    [(0.0, 300.0), (296.0, 600.0), (596.0, 700.0)]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """One chunk's seconds of the video: it decodes [t_start, t_end]."""

    index: int
    t_start: float
    t_end: float


def min_tail_s(chunk_s: float, overlap_s: float) -> float:
    """The shortest last chunk worth its own job; a shorter remainder joins the chunk before it."""
    return max(2 * overlap_s, 0.1 * chunk_s)


def chunk_count(duration_s: float, *, chunk_s: float, overlap_s: float) -> int:
    if chunk_s <= 0 or duration_s <= chunk_s:
        return 1
    n = math.ceil(duration_s / chunk_s)
    if duration_s - (n - 1) * chunk_s < min_tail_s(chunk_s, overlap_s):
        n -= 1
    return max(1, n)


def snap_to_keyframe(t: float, keyframes: Sequence[float] | None, *, overlap_s: float) -> float:
    """The last keyframe at or before t, unless it lies more than two overlaps back (then t itself)."""
    before = [k for k in keyframes or () if t - 2 * overlap_s - 1e-6 <= k <= t + 1e-6]
    return float(round(max(before) if before else t, 4))


def plan_chunks(duration_s: float, *, chunk_s: float, overlap_s: float,
                keyframes: Sequence[float] | None = None) -> list[ChunkSpan]:
    """The chunks of a video of this length; one span covering it all when it is short (or chunk_s is 0)."""
    n = chunk_count(duration_s, chunk_s=chunk_s, overlap_s=overlap_s)
    spans = []
    for k in range(n):
        start = 0.0 if k == 0 else snap_to_keyframe(k * chunk_s - overlap_s, keyframes, overlap_s=overlap_s)
        end = float(duration_s) if k == n - 1 else float((k + 1) * chunk_s)
        spans.append(ChunkSpan(k, start, end))
    return spans
