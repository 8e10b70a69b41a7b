"""The scene of one run: zones, frame size, where the picture lies in it, sampling rate, and the per-run caches."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from gpu_jobs.behaviours.kinematics import TrackProfile, profile_track
from gpu_jobs.behaviours.zones import ZoneMap
from gpu_jobs.types import FrameSignal, Track, Zone
from settings import BehaviourThresholds


@dataclass
class Scene:
    """What every rule needs besides the tracks: zones, frame size, sampling rate, per-frame signals; caches per run."""

    zones: ZoneMap
    frame_size: tuple[int, int]
    fps: float
    signals: tuple[FrameSignal, ...] = ()  # per sampled frame, motion where people are (may be empty)
    picture: tuple[int, int, int, int] | None = None  # (x1, y1, x2, y2) inside black bars; None: the whole frame
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, zones: Iterable[Zone] = (), frame_size: tuple[int, int] = (1280, 720), fps: float = 5.0, *,
              signals: Sequence[FrameSignal] | None = None, picture: Sequence[int] | None = None) -> Scene:
        return cls(ZoneMap(zones), (int(frame_size[0]), int(frame_size[1])), float(fps) if fps > 0 else 5.0,
                   tuple(signals or ()), tuple(int(v) for v in picture) if picture is not None else None)

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """The picture's (x1, y1, x2, y2): what a box is cut by (the frame, or the black bars around the picture)."""
        return self.picture if self.picture is not None else (0, 0, *self.frame_size)

    def cached(self, key: tuple, keep: object, compute):
        """compute() once per key; keep is held so the ids in key stay unique while cached."""
        entry = self._cache.get(key)
        if entry is None:
            entry = self._cache[key] = (keep, compute())
        return entry[1]

    def profile(self, track: Track, th: BehaviourThresholds) -> TrackProfile:
        """The track's measurements, computed once per run."""
        def compute() -> TrackProfile:
            self.zones.prefetch(track.observations)
            return profile_track(track, th, self.fps)

        return self.cached(("profile", id(track), id(th)), (track, th), compute)
