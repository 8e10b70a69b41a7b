"""Zone geometry: the video's zones by name and kind, the frame's regions and the point tests on them."""

from __future__ import annotations

from collections import Counter
from typing import Iterable, Sequence

import numpy as np

from core.counts import CountZone, PersonPath, staff_area, visits
from core.geometry import distance_to_outline, standing_at
from core.vocabulary import REGIONS, STAFF_KIND
from gpu_jobs.types import Observation, Zone

ZONE_PRIORITY = ("shelf", "checkout", "exit", "staff", "custom")  # a named zone says more than a third of the frame


def default_regions(w: float, h: float) -> list[Zone]:
    """The left, centre and right thirds of a w x h frame, as zones of kind 'region'."""
    third = w / 3
    return [
        Zone(name, "region",
             [(i * third, 0.0), ((i + 1) * third, 0.0), ((i + 1) * third, float(h)), (i * third, float(h))])
        for i, name in enumerate(REGIONS)
    ]


def region_of(x: float, width: float) -> str:
    """The third of the frame a horizontal position falls in."""
    return REGIONS[min(2, max(0, int(3 * x / max(width, 1.0))))]


def observed_path(number: int, observations: Sequence[Observation]) -> PersonPath:
    """A person's sampled observations as counting reads them: times, foot points, box heights."""
    return PersonPath(number, np.array([o.t for o in observations], float),
                      np.array([o.foot for o in observations], float).reshape(-1, 2),
                      np.array([o.height for o in observations], float))


class ZoneMap:
    """The video's zones by name and kind, with the point tests the rules need."""

    def __init__(self, zones: Iterable[Zone]):
        self.zones = list(zones)
        self.by_name = {zone.name: zone for zone in self.zones}
        self._foot: dict[int, tuple[Observation, tuple[str, ...]]] = {}

    def kind(self, name: str) -> str:
        """The kind of a zone; names only the tracker knows count as custom."""
        zone = self.by_name.get(name)
        return zone.kind if zone else "custom"

    def at_point(self, x: float, y: float, kind: str | None = None) -> list[str]:
        """Names of the zones (of one kind, if given) containing a point."""
        return [z.name for z in self.zones if (kind is None or z.kind == kind) and z.contains(x, y)]

    def at_foot(self, obs: Observation) -> tuple[str, ...]:
        """Zones the person stands at: the tracker's list plus our own test (core.geometry.standing_at)."""
        cached = self._foot.get(id(obs))
        if cached is not None and cached[0] is obs:
            return cached[1]
        names = tuple(dict.fromkeys([*obs.zones, *(z.name for z in self.zones if z.holds(obs.bbox))]))
        self._foot[id(obs)] = (obs, names)
        return names

    def prefetch(self, observations: Sequence[Observation]) -> None:
        """Compute the zones of many observations at once (one array test per zone)."""
        if not observations:
            return
        feet = np.array([o.foot for o in observations], float)
        heights = np.array([o.bbox[3] - o.bbox[1] for o in observations], float)
        inside = {z.name: standing_at(feet, heights, z.polygon, z.kind) for z in self.zones}
        for k, obs in enumerate(observations):
            names = tuple(dict.fromkeys([*obs.zones, *(name for name, mask in inside.items() if mask[k])]))
            self._foot[id(obs)] = (obs, names)

    def stands_at(self, obs: Observation, kind: str) -> str | None:
        """The first zone of a kind the person stands at, if any."""
        return next((n for n in self.at_foot(obs) if self.kind(n) == kind), None)

    def stopped_at(self, observations: Sequence[Observation], kind: str) -> str | None:
        """The first zone of a kind where the person stopped, as a visit counts (core.counts.visits); None if none."""
        names = [n for n in dict.fromkeys(n for o in observations for n in self.at_foot(o)) if self.kind(n) == kind]
        if not names or not observations:
            return None
        zones = [CountZone(n, kind, self.by_name[n].polygon) for n in names if n in self.by_name]
        found = visits([observed_path(0, observations)], zones)
        return found[0].zone if found else None

    def staff_area(self, observations: Sequence[Observation]) -> str | None:
        """The staff area a person was seen in most of the time (core.counts.staff_area); None: not staff."""
        areas = [CountZone(z.name, z.kind, z.polygon) for z in self.zones if z.kind == STAFF_KIND]
        return staff_area(observed_path(0, observations), areas) if areas else None

    def near(self, x: float, y: float, kind: str, margin: float) -> str | None:
        """The zone of a kind containing the point, or the closest within margin pixels."""
        best, best_d = None, float("inf")
        for zone in self.zones:
            if zone.kind != kind or len(zone.polygon) < 2:
                continue
            if zone.contains(x, y):
                return zone.name
            d = float(distance_to_outline(np.array([[x, y]]), zone.polygon)[0])
            if d <= margin and d < best_d:
                best, best_d = zone.name, d
        return best

    def label(self, obs: Observation) -> tuple[str, str]:
        """(name, kind) of the most telling place of an observation: a named zone, else its region."""
        named = [n for n in self.at_foot(obs) if self.kind(n) != "region"]
        if not named:
            return obs.region, "region"
        rank = {k: i for i, k in enumerate(ZONE_PRIORITY)}
        best = min(named, key=lambda n: rank.get(self.kind(n), len(rank)))
        return best, self.kind(best)

    def dominant_label(self, observations: Sequence[Observation]) -> tuple[str, str]:
        """The place label seen most often over some observations (first seen wins ties)."""
        counts = Counter(self.label(o) for o in observations)
        return counts.most_common(1)[0][0]
