"""What a rule is: the Rule protocol, the thresholds base the rules share, and the tracks they look at."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable, Protocol, Sequence

from core.vocabulary import PERSON
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track
from settings import BehaviourThresholds


class Rule(Protocol):
    """A small, explainable unit that turns the tracks of one run into events."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]: ...


class ThresholdRule(ABC):
    """A rule configured by the behaviour thresholds alone (every rule the engine runs)."""

    def __init__(self, thresholds: BehaviourThresholds):
        self.th = thresholds

    @abstractmethod
    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        """The events this rule finds in the tracks."""


def person_tracks(tracks: Iterable[Track]) -> list[Track]:
    """The person tracks with observations: what most rules judge."""
    return [tr for tr in tracks if tr.class_name == PERSON and tr.observations]


def staff_area_of(track: Track, scene: Scene) -> str | None:
    """The staff area whose staff the person is (ZoneMap.staff_area), once per run; None: a customer."""
    return scene.cached(("staff", id(track)), track, lambda: scene.zones.staff_area(track.observations))


def customer_tracks(tracks: Iterable[Track], scene: Scene) -> list[Track]:
    """The person tracks that are not staff: whose picks and stays the store rules judge."""
    return [tr for tr in person_tracks(tracks) if staff_area_of(tr, scene) is None]
