"""Retail counts from people's foot paths and the store's zones: visits, dwell, and people in and out at the door.

Pure logic over plain numbers, shared by the rules (per-zone loitering), the services (the
counts API, the dashboard) and the ask path (count questions):

- a visit is one stay of one person at one zone (`core.geometry.standing_at`: the foot point inside, or
  within reach of a shelf or checkout), gaps under `VISIT_GAP_S` bridged; at a shelf or checkout only a
  stay in which the person stops (`stopped`) is a visit, so walking past one is not;
- at an `entrance` zone, a person who is first seen there and leaves it into the store came
  in (counted when they step out of the zone), and one who walks into it from the store and is
  not seen again went out (counted when they step in). Someone who is seen only at the door
  walked past it and is neither;
- distinct people are the person tracks after identity linking;
- staff are whoever is seen in a `staff` zone for at least `STAFF_SHARE` of their samples (`staff_area`).

Example:
    >>> paths = [PersonPath(1, np.array([0.0, 1.0, 2.0]), np.array([[5, 5], [50, 50], [90, 90]]))]
    >>> zones = [CountZone("door", "entrance", [(0, 0), (20, 0), (20, 20), (0, 20)])]
    >>> tally(paths, zones).people_in
    1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from core.geometry import standing_at
from core.vocabulary import FIXTURE_KINDS, PERSON, STAFF_KIND

VISIT_GAP_S = 1.0  # a foot point flickering over a zone's edge, or a missed detection, does not end a visit
STOP_S = 1.0  # a stop at a shelf or till: this long with the foot drifting under STOP_DRIFT body heights
STOP_DRIFT = 0.2  # a walk covers 0.25 body heights a second and more
HOUR_S = 3600.0
STAFF_SHARE = 0.5  # staff spend most of their time seen in their area; a customer stepping into it does not


@dataclass(frozen=True, slots=True)
class CountZone:
    """A zone as counting needs it: name, kind, polygon in pixels, and its own loitering threshold if any."""

    name: str
    kind: str
    polygon: Sequence[Sequence[float]]
    loiter_s: float | None = None


@dataclass(frozen=True, slots=True)
class PersonPath:
    """One person track's sampled times, foot points and box heights (pixels)."""

    track: int
    t: np.ndarray  # (n,) seconds, ascending
    foot: np.ndarray  # (n, 2)
    height: np.ndarray | None = None  # (n,); None: only a foot point inside a zone is at it


@dataclass(frozen=True, slots=True)
class Visit:
    """One stay of one person in one zone; `first`/`last`: the track began or ended inside the stay."""

    track: int
    zone: str
    kind: str
    t_enter: float
    t_exit: float
    first: bool
    last: bool

    @property
    def dwell_s(self) -> float:
        return self.t_exit - self.t_enter

    @property
    def direction(self) -> str | None:
        """At an entrance: 'in', 'out', or None for someone only passing the door."""
        if self.kind != "entrance" or self.first == self.last:
            return None
        return "in" if self.first else "out"

    @property
    def counted_at(self) -> float:
        """When a crossing is counted: stepping out of the door zone (in), or into it (out)."""
        return self.t_exit if self.direction == "in" else self.t_enter


@dataclass(slots=True)
class Tally:
    """The counts of one window: distinct people, people in and out, and per-zone visits and dwell."""

    people: int = 0
    people_in: int = 0
    people_out: int = 0
    entrances: list[str] = field(default_factory=list)
    zones: dict[str, dict] = field(default_factory=dict)  # name -> kind, visits, people, dwell mean/max/total
    hours: list[dict] = field(default_factory=list)  # hour index from the footage start -> in, out, people

    def as_dict(self) -> dict:
        return {"people": self.people, "people_in": self.people_in, "people_out": self.people_out,
                "entrances": list(self.entrances), "zones": self.zones, "hours": self.hours}


def paths_from_tracks(rows: Iterable[dict], fps: float) -> list[PersonPath]:
    """Person paths from stored track rows (`path`: [[frame, x1, y1, x2, y2, conf], ...]); t = frame / fps."""
    out = []
    for row in rows:
        if row.get("class_name", "person") != "person" or not row.get("path"):
            continue
        path = np.asarray([p[:5] for p in row["path"]], float)
        order = np.argsort(path[:, 0], kind="stable")
        path = path[order]
        foot = np.stack([(path[:, 1] + path[:, 3]) / 2, path[:, 4]], axis=1)
        out.append(PersonPath(int(row["track_number"]), path[:, 0] / max(float(fps), 1e-6), foot,
                              path[:, 4] - path[:, 2]))
    return out


def stopped(t: np.ndarray, foot: np.ndarray, height: np.ndarray) -> bool:
    """Whether a person stood still somewhere in these samples: STOP_S long within STOP_DRIFT body heights."""
    for i in range(len(t)):
        j = int(np.searchsorted(t, t[i] + STOP_S - 1e-6))
        if j >= len(t):
            return False
        if np.max(np.linalg.norm(foot[i:j + 1] - foot[i], axis=1)) <= STOP_DRIFT * height[i]:
            return True
    return False


def staff_area(path: PersonPath, zones: Iterable[CountZone]) -> str | None:
    """The staff area a person was seen in for at least STAFF_SHARE of their samples (the one seen most); None:
    a customer, or no staff area is drawn."""
    areas = [z for z in zones if z.kind == STAFF_KIND]
    if not areas or not len(path.t):
        return None
    inside = np.stack([standing_at(path.foot, path.height, z.polygon, z.kind) for z in areas])
    if inside.any(axis=0).sum() < STAFF_SHARE * len(path.t):
        return None
    return areas[int(np.argmax(inside.sum(axis=1)))].name


def staff_tracks(paths: Iterable[PersonPath], zones: Sequence[CountZone]) -> dict[int, str]:
    """Track number -> staff area, for the people who are staff."""
    return {p.track: area for p in paths if (area := staff_area(p, zones)) is not None}


def visits(paths: Iterable[PersonPath], zones: Iterable[CountZone], *, gap_s: float = VISIT_GAP_S) -> list[Visit]:
    """Every visit of every person to every zone, in time order."""
    found = []
    for path in paths:
        if not len(path.t):
            continue
        for zone in zones:
            inside = standing_at(path.foot, path.height, zone.polygon, zone.kind)
            idx = np.flatnonzero(inside)
            if not idx.size:
                continue
            # runs of inside samples, joined over gaps shorter than gap_s
            breaks = np.flatnonzero(np.diff(path.t[idx]) > gap_s)
            starts = np.concatenate([[0], breaks + 1])
            ends = np.concatenate([breaks, [idx.size - 1]])
            fixture = zone.kind in FIXTURE_KINDS and path.height is not None
            for s, e in zip(starts, ends):
                i, j = int(idx[s]), int(idx[e])
                run = idx[s:e + 1]
                if fixture and not stopped(path.t[run], path.foot[run], path.height[run]):
                    continue
                found.append(Visit(path.track, zone.name, zone.kind, float(path.t[i]), float(path.t[j]),
                                   first=i == 0, last=j == len(path.t) - 1))
    return sorted(found, key=lambda v: (v.t_enter, v.track, v.zone))


def tally(paths: Sequence[PersonPath], zones: Sequence[CountZone], *, t_from: float | None = None,
          t_to: float | None = None, clock_offset_s: float = 0.0) -> Tally:
    """Counts within [t_from, t_to] (seconds of the footage; None: open): people, in/out, per-zone dwell, per hour.

    clock_offset_s: how far past a full hour the footage starts, so hours follow the wall clock.
    """
    lo = -np.inf if t_from is None else float(t_from)
    hi = np.inf if t_to is None else float(t_to)
    result = Tally(entrances=[z.name for z in zones if z.kind == "entrance"])
    seen = [p for p in paths if len(p.t) and p.t[-1] >= lo and p.t[0] <= hi]
    result.people = len({p.track for p in seen})
    hours: dict[int, dict] = {}

    def hour(t: float) -> dict:
        k = int((t + clock_offset_s) // HOUR_S)
        return hours.setdefault(k, {"hour": k, "t_start": k * HOUR_S - clock_offset_s, "in": 0, "out": 0,
                                    "people": set()})

    for p in seen:
        for k in set(((p.t[(p.t >= lo) & (p.t <= hi)] + clock_offset_s) // HOUR_S).astype(int).tolist()):
            hour(k * HOUR_S - clock_offset_s)["people"].add(p.track)
    all_visits = visits(seen, zones)
    for v in all_visits:
        if v.direction and lo <= v.counted_at <= hi:
            if v.direction == "in":
                result.people_in += 1
            else:
                result.people_out += 1
            hour(v.counted_at)[v.direction] += 1
    for zone in zones:
        mine = [v for v in all_visits if v.zone == zone.name and v.t_exit >= lo and v.t_enter <= hi]
        dwell = [min(v.t_exit, hi) - max(v.t_enter, lo) for v in mine]
        result.zones[zone.name] = {
            "kind": zone.kind, "visits": len(mine), "people": len({v.track for v in mine}),
            "mean_dwell_s": round(float(np.mean(dwell)), 2) if dwell else 0.0,
            "max_dwell_s": round(float(np.max(dwell)), 2) if dwell else 0.0,
            "total_dwell_s": round(float(np.sum(dwell)), 2),
            "loiter_s": zone.loiter_s,
            "loitering": sum(1 for d in dwell if zone.loiter_s is not None and d >= zone.loiter_s),
        }
    result.hours = [{**h, "people": len(h["people"])} for _, h in sorted(hours.items())]
    return result


def busiest_frame(stats: Iterable[dict], *, t_from: float | None = None, t_to: float | None = None
                  ) -> tuple[float | None, int]:
    """(time, people) of the first analysed frame with the most people detected in [t_from, t_to]; (None, 0) if none.

    From the frame stats, so the summary's "at most N on screen at once" and the busiest answer agree.
    """
    best_t, best = None, 0
    for stat in stats:
        if (t_from is not None and stat["t"] < t_from) or (t_to is not None and stat["t"] > t_to):
            continue
        people = int((stat.get("counts") or {}).get(PERSON, 0))
        if people > best:
            best_t, best = float(stat["t"]), people
    return best_t, best
