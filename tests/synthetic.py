"""Synthetic tracks for the behaviour rule tests: people and items on paths, COCO skeletons, the store's zones."""

from __future__ import annotations

import numpy as np

from gpu_jobs.behaviours import Scene, region_of
from gpu_jobs.types import KEYPOINTS, Observation, Track, Zone
from settings import BehaviourThresholds

W, H = 1280, 720
FPS = 5.0
DT = 1 / FPS
TOL = 0.6  # seconds of slack for event timing: the speed window smooths over about a second
TH = BehaviourThresholds(_env_file=None)
KP = {name: i for i, name in enumerate(KEYPOINTS)}

SHELF = Zone("drinks shelf", "shelf", [(0, 200), (250, 200), (250, 500), (0, 500)])
CHECKOUT = Zone("till", "checkout", [(600, 630), (800, 630), (800, 720), (600, 720)])
EXIT = Zone("door", "exit", [(1100, 450), (1280, 450), (1280, 720), (1100, 720)])
STORE = [SHELF, CHECKOUT, EXIT]


def times(t0: float, t1: float) -> list[float]:
    """Sample times from t0 to t1 inclusive at the analysis rate."""
    return [round(t0 + k * DT, 3) for k in range(int(round((t1 - t0) / DT)) + 1)]


def line(*waypoints: tuple[float, float, float]):
    """A foot path through (t, x, y) waypoints, linear between them, held before and after."""
    ts = [w[0] for w in waypoints]
    xs, ys = [w[1] for w in waypoints], [w[2] for w in waypoints]
    return lambda t: (float(np.interp(t, ts, xs)), float(np.interp(t, ts, ys)))


def at(value_or_fn, t):
    return value_or_fn(t) if callable(value_or_fn) else value_or_fn


def skeleton(foot, height, *, sitting=False, wrists=((-0.15, 0.0), (0.15, 0.0))) -> np.ndarray:
    """COCO keypoints of an upright (or sitting) person; wrists are offsets from the box centre in body sizes."""
    x, y = foot
    top = y - height
    kp = np.zeros((17, 3))
    kp[:, 2] = 0.9
    shoulder_y = top + 0.2 * height
    hip_y = top + (0.6 if sitting else 0.5) * height
    knee = (x + 0.25 * height, hip_y + 0.05 * height) if sitting else (x, top + 0.75 * height)
    for side, sx in (("left", -1), ("right", 1)):
        kp[KP[f"{side}_shoulder"], :2] = (x + sx * 0.1 * height, shoulder_y)
        kp[KP[f"{side}_hip"], :2] = (x + sx * 0.06 * height, hip_y)
        kp[KP[f"{side}_knee"], :2] = (knee[0] + sx * 0.05 * height, knee[1])
        kp[KP[f"{side}_ankle"], :2] = (x + sx * 0.05 * height, y)
    kp[KP["nose"], :2] = (x, top + 0.07 * height)
    cy = y - height / 2
    for name, (dx, dy) in zip(("left_wrist", "right_wrist"), wrists):
        kp[KP[name], :2] = (x + dx * height, cy + dy * height)
    return kp


def person(number, t0, t1, foot, *, height=200.0, aspect=3.0, keypoints=None, attributes=None, conf=0.9) -> Track:
    """A person track; foot, height and aspect may be constants or functions of time.

    keypoints(t, foot, height) returns a (17, 3) array or None.
    """
    observations = []
    for t in times(t0, t1):
        x, y = at(foot, t)
        h = at(height, t)
        w = h / at(aspect, t)
        observations.append(Observation(
            t=t, frame=int(round(t * FPS)), bbox=(x - w / 2, y - h, x + w / 2, y), confidence=conf,
            keypoints=keypoints(t, (x, y), h) if keypoints else None, region=region_of(x, W),
        ))
    return Track(number, "person", observations, dict(attributes or {}))


def item(number, cls, t0, t1, centre, size=(20.0, 30.0)) -> Track:
    """An item track; centre may be a constant or a function of time."""
    w, h = size
    observations = []
    for t in times(t0, t1):
        x, y = at(centre, t)
        box = (x - w / 2, y - h / 2, x + w / 2, y + h / 2)
        observations.append(Observation(t=t, frame=int(round(t * FPS)), bbox=box, confidence=0.8,
                                        region=region_of(x, W)))
    return Track(number, cls, observations)


def detect(rule_cls, tracks, zones=(), th=TH):
    return rule_cls(th).detect(tracks, Scene.build(zones, (W, H), FPS))


def of_type(events, type_):
    return [e for e in events if e.type == type_]


# ---- a store day for counting: known crossings at the door, one long stay at the till ----------

DOOR_ZONE = {"name": "front door", "kind": "entrance", "polygon": [[1100, 300], [1280, 300], [1280, 720], [1100, 720]]}
TILL_ZONE = {"name": "till", "kind": "checkout", "polygon": [[500, 500], [800, 500], [800, 720], [500, 720]]}
INSIDE = (600, 400)  # the shop floor, away from the door


def _walk(number: int, t0: float, waypoints) -> Track:
    return person(number, t0, waypoints[-1][0], line(*waypoints), height=200.0)


def store_day() -> list[Track]:
    """Counting: 5 come in through the door, 3 go out through it, 2 pass the door without entering, 1 never nears it."""
    tracks, n = [], 0
    for k in range(5):  # born at the door, walk into the shop: in
        n += 1
        t = 10.0 + 30 * k
        tracks.append(_walk(n, t, [(t, 1200, 600), (t + 4, 1200, 600), (t + 10, *INSIDE)]))
    for k in range(3):  # walk from the shop into the door and are not seen again: out
        n += 1
        t = 200.0 + 40 * k
        tracks.append(_walk(n, t, [(t, *INSIDE), (t + 8, 1200, 650), (t + 10, 1220, 650)]))
    for k in range(2):  # seen only at the door (walked past it outside): neither
        n += 1
        t = 400.0 + 20 * k
        tracks.append(_walk(n, t, [(t, 1150, 500), (t + 6, 1250, 650)]))
    n += 1  # at the till (within reach) from about 21.4 s to 68.8 s, never near the door
    tracks.append(_walk(n, 20.0, [(20.0, *INSIDE), (25.0, 650, 600), (65.0, 700, 620), (70.0, *INSIDE)]))
    return tracks
