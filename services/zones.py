"""Store layout: zones per camera (drawn once for all its videos) and per video (added or overriding by name),
and re-deriving a video's events on the current zones and thresholds.

Polygons cross this boundary in the video's pixels, like an event's bbox; they are stored as
0..1 of the frame so one camera's zones fit each of its videos.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from uuid import UUID

from core.cameras import clean_camera
from core.vocabulary import ZONE_KINDS
from services.videos import video_by_id
from db.repos import zones as zones_repo

KINDS = ZONE_KINDS
MAX_ZONES = 64
MAX_POINTS = 256
MAX_NAME = 100
MAX_LOITER_S = 86400.0

log = logging.getLogger(__name__)


class ZoneInvalid(ValueError):
    """Zones refused, with one sentence that says why."""


class CameraNotFound(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No camera named {name!r}; a camera is named when a video is uploaded.")


class RulesUnavailable(RuntimeError):
    """Nothing is stored to re-derive the video's events from."""


def validate(zones: Sequence[dict], frame_size: tuple[int, int]) -> list[dict]:
    """Zones checked against the frame (pixels); returns them clean. ZoneInvalid says what is wrong."""
    width, height = frame_size
    if not isinstance(zones, (list, tuple)):
        raise ZoneInvalid("zones must be a list.")
    if len(zones) > MAX_ZONES:
        raise ZoneInvalid(f"At most {MAX_ZONES} zones are allowed; {len(zones)} were given.")
    if not width or not height:
        raise ZoneInvalid("The frame size of this video is unknown, so its zones cannot be checked.")
    clean, seen = [], set()
    for n, zone in enumerate(zones, 1):
        if not isinstance(zone, dict):
            raise ZoneInvalid(f"Zone {n} must be an object with name, kind and polygon.")
        name = str(zone.get("name") or "").strip()
        label = f"Zone {name!r}" if name else f"Zone {n}"
        if not name:
            raise ZoneInvalid(f"Zone {n} has no name.")
        if len(name) > MAX_NAME or any(ord(c) < 32 for c in name):
            raise ZoneInvalid(f"{label} needs a name of at most {MAX_NAME} printable characters.")
        if name in seen:
            raise ZoneInvalid(f"Two zones are named {name!r}; names must be unique.")
        seen.add(name)
        kind = zone.get("kind")
        if kind not in KINDS:
            raise ZoneInvalid(f"{label} has the unknown kind {kind!r}; use one of {', '.join(KINDS)}.")
        points = _points(zone.get("polygon"), label)
        if len(points) < 3:
            raise ZoneInvalid(f"{label} has {len(points)} points; a polygon needs at least 3.")
        if len(points) > MAX_POINTS:
            raise ZoneInvalid(f"{label} has {len(points)} points; at most {MAX_POINTS} are allowed.")
        for x, y in points:
            if not (0 <= x <= width and 0 <= y <= height):
                raise ZoneInvalid(f"{label} has the point ({x:g}, {y:g}) outside the {width}x{height} frame.")
        if _collinear(points):
            raise ZoneInvalid(f"{label} has no area; its points lie on one line.")
        if _self_crossing(points):
            raise ZoneInvalid(f"{label} crosses itself; draw its outline without crossing lines.")
        clean.append({"name": name, "kind": kind, "polygon": points,
                      "loiter_s": _loiter_s(zone.get("loiter_s"), label)})
    return clean


def _loiter_s(value, label: str) -> float | None:
    """A zone's own loitering limit: None, or seconds above 0 and at most a day."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_LOITER_S:
        raise ZoneInvalid(f"{label} needs loiter_s in seconds, above 0 and at most {MAX_LOITER_S:g} (or none).")
    return float(value)


def _points(polygon, label: str) -> list[tuple[float, float]]:
    if not isinstance(polygon, (list, tuple)):
        raise ZoneInvalid(f"{label} needs a polygon: a list of [x, y] points.")
    points = []
    for p in polygon:
        if (not isinstance(p, (list, tuple)) or len(p) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p)):
            raise ZoneInvalid(f"{label} has a point that is not a pair of numbers [x, y].")
        points.append((float(p[0]), float(p[1])))
    return points


def _collinear(points: list[tuple[float, float]]) -> bool:
    """Whether every point lies on one line (or on one spot)."""
    a = points[0]
    b = next((p for p in points if p != a), None)
    return b is None or all(abs(_orient(a, b, p)) < 1e-9 for p in points)


def _orient(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _on_segment(a, b, p) -> bool:
    return min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _segments_meet(p1, p2, q1, q2) -> bool:
    d1, d2, d3, d4 = _orient(q1, q2, p1), _orient(q1, q2, p2), _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0 > d2) or (d1 < 0 < d2)) and ((d3 > 0 > d4) or (d3 < 0 < d4)):
        return True
    return ((d1 == 0 and _on_segment(q1, q2, p1)) or (d2 == 0 and _on_segment(q1, q2, p2))
            or (d3 == 0 and _on_segment(p1, p2, q1)) or (d4 == 0 and _on_segment(p1, p2, q2)))


def _self_crossing(points: list[tuple[float, float]]) -> bool:
    """Whether any two edges that are not neighbours meet (or neighbours fold back over each other)."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]
    if any(a == b for a, b in edges):
        return True  # a repeated point
    for i in range(n):
        for j in range(i + 1, n):
            if j == i + 1 or (i == 0 and j == n - 1):
                # neighbours share a point; they cross only by folding back along one line
                a, b = edges[i]
                c, d = edges[j]
                shared, far_i, far_j = (b, a, d) if j == i + 1 else (a, b, c)
                if _orient(far_i, shared, far_j) == 0 and _dot(far_i, shared, far_j) > 0:
                    return True
                continue
            if _segments_meet(*edges[i], *edges[j]):
                return True
    return False


def _dot(a, o, b) -> float:
    """(a - o) . (b - o): positive when a and b lie on the same side of o."""
    return (a[0] - o[0]) * (b[0] - o[0]) + (a[1] - o[1]) * (b[1] - o[1])


def _to_unit(zones: list[dict], frame_size: tuple[int, int]) -> list[dict]:
    w, h = frame_size
    return [{**z, "polygon": [[x / w, y / h] for x, y in z["polygon"]]} for z in zones]


def _to_pixels(rows: list[dict], frame_size: tuple[int, int] | None) -> list[dict]:
    w, h = frame_size if frame_size and all(frame_size) else (1, 1)
    out = []
    for r in rows:
        zone = {"name": r["name"], "kind": r["kind"],
                "polygon": [[round(float(x) * w, 2), round(float(y) * h, 2)] for x, y in r["polygon"]]}
        if r.get("loiter_s") is not None:
            zone["loiter_s"] = float(r["loiter_s"])
        if "source" in r:
            zone["source"] = r["source"]
        out.append(zone)
    return out


def _frame(video: dict) -> tuple[int, int]:
    return int(video.get("width") or 0), int(video.get("height") or 0)


def video_zones(app, *, video_id: UUID | str) -> dict:
    """A video's own zones (`zones`), its camera, and every zone that applies to it (`effective`, with source)."""
    video = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        own = zones_repo.of_owner(conn, video_id=video["id"])
        effective = zones_repo.for_video(conn, video["id"])
    size = _frame(video)
    return {"video_id": str(video["id"]), "camera": video.get("camera"), "width": size[0], "height": size[1],
            "zones": _to_pixels(own, size), "effective": _to_pixels(effective, size)}


def set_video_zones(app, *, video_id: UUID | str, zones: Sequence[dict]) -> dict:
    """Replace a video's own zones (pixels of the video); they add to or override its camera's by name."""
    video = video_by_id(app, video_id=video_id)
    clean = validate(zones, _frame(video))
    with app.db.connection() as conn:
        zones_repo.replace(conn, _to_unit(clean, _frame(video)), video_id=video["id"])
    return video_zones(app, video_id=video["id"])


def list_cameras(app) -> list[dict]:
    """Every camera: name, how many videos and zones it has, and the frame size its zones are drawn on."""
    with app.db.connection() as conn:
        return [dict(c) for c in zones_repo.cameras(conn)]


def _camera(app, name: str) -> dict:
    try:
        name = clean_camera(name)
    except ValueError:
        raise CameraNotFound(str(name)) from None
    with app.db.connection() as conn:
        row = zones_repo.camera(conn, name)
    if row is None:
        raise CameraNotFound(name)
    return dict(row)


def camera_zones(app, *, name: str) -> dict:
    """A camera's zones in the pixels of its latest video."""
    cam = _camera(app, name)
    with app.db.connection() as conn:
        rows = zones_repo.of_owner(conn, camera=cam["name"])
    return {"camera": cam["name"], "width": cam["width"], "height": cam["height"],
            "zones": _to_pixels(rows, (cam["width"], cam["height"]))}


def set_camera_zones(app, *, name: str, zones: Sequence[dict]) -> dict:
    """Replace a camera's zones (pixels of its latest video); every video of the camera uses them."""
    cam = _camera(app, name)
    size = (int(cam["width"] or 0), int(cam["height"] or 0))
    clean = validate(zones, size)
    with app.db.connection() as conn:
        zones_repo.replace(conn, _to_unit(clean, size), camera=cam["name"])
    return camera_zones(app, name=cam["name"])


def set_camera(app, *, video_id: UUID | str, camera: str) -> dict:
    """Move a video to another camera (its zones come from that camera from now on)."""
    from db.repos import videos

    video = video_by_id(app, video_id=video_id)
    with app.db.connection() as conn:
        return videos.update(conn, video["id"], camera=clean_camera(camera))


def rederive_events(app, *, video_id: UUID | str) -> dict:
    """Run the behaviour rules again on the stored tracks with the current zones and thresholds.

    Replaces the current run's events (descriptions, highlights, embeddings) in one transaction;
    returns events_by_type and elapsed_s. RulesUnavailable for a video analysed before rule inputs were kept.
    """
    from gpu_jobs import rederive

    video = video_by_id(app, video_id=video_id)
    try:
        return rederive.derive(app, video["id"])
    except rederive.RulesUnavailable as exc:
        raise RulesUnavailable(str(exc)) from None


# ---- the zone editor: one zone at a time, for the camera or the video, in the video's pixels ----

SCOPES = ("camera", "video")


class FrameUnavailable(RuntimeError):
    """No frame of the video can be read now (archived, or the store is unreachable)."""


def zone_frame(app, *, video_id: UUID | str, at_s: float = 1.0):
    """The video's BGR frame nearest at_s (within its length), to draw zones on. FrameUnavailable when unreadable."""
    from core.runtime.media import read_frame_at

    video = video_by_id(app, video_id=video_id)
    if not video.get("storage_key"):
        raise FrameUnavailable("This video has no stored file, so no frame can be shown.")
    if video.get("storage_tier") == "archive" and video.get("restore_state") != "restored":
        raise FrameUnavailable("This video is archived: restore it to draw zones on its frame.")
    duration = float(video.get("duration_s") or 0.0)
    t = max(0.0, min(float(at_s), duration / 2) if duration else float(at_s))
    try:
        with app.store.media_source(video["storage_key"]) as path:
            return read_frame_at(path, t)
    except Exception as exc:
        log.warning("no frame of video %s at %.2f s", video["id"], t, exc_info=True)
        raise FrameUnavailable(f"No frame of this video can be read now ({exc}); try again later.") from exc


def editable_zones(app, *, video_id: UUID | str) -> dict:
    """Every zone the editor shows, in the video's pixels: scope (video, camera or global) and whether it applies.

    A camera zone that the video overrides by name is listed with active False.
    """
    video = video_by_id(app, video_id=video_id)
    size = _frame(video)
    with app.db.connection() as conn:
        own = zones_repo.of_owner(conn, video_id=video["id"])
        cam = zones_repo.of_owner(conn, camera=video["camera"]) if video.get("camera") else []
        effective = {(r["name"], r["source"]) for r in zones_repo.for_video(conn, video["id"])}
        glob = conn.execute("SELECT * FROM zones WHERE video_id IS NULL AND camera IS NULL ORDER BY name").fetchall()
    zones = []
    for scope, rows in (("video", own), ("camera", cam), ("global", glob)):
        for zone in _to_pixels(rows, size):
            zones.append({**zone, "scope": scope, "active": (zone["name"], scope) in effective})
    return {"video_id": str(video["id"]), "camera": video.get("camera"), "width": size[0], "height": size[1],
            "zones": zones}


def _scope_zones(conn, video: dict, scope: str) -> list[dict]:
    rows = (zones_repo.of_owner(conn, video_id=video["id"]) if scope == "video"
            else zones_repo.of_owner(conn, camera=video["camera"]))
    return [{"name": z["name"], "kind": z["kind"], "polygon": z["polygon"], "loiter_s": z.get("loiter_s")}
            for z in _to_pixels(rows, _frame(video))]


def _check_scope(video: dict, scope: str) -> None:
    if scope not in SCOPES:
        raise ZoneInvalid(f"A zone is saved for the camera or for the video, not {scope!r}.")
    if scope == "camera" and not video.get("camera"):
        raise ZoneInvalid("This video has no camera; save the zone for this video only.")


def _write_scope(conn, video: dict, scope: str, zones: list[dict]) -> None:
    unit = _to_unit(zones, _frame(video))
    if scope == "video":
        zones_repo.replace(conn, unit, video_id=video["id"])
    else:
        zones_repo.replace(conn, unit, camera=video["camera"])


def save_zone(app, *, video_id: UUID | str, zone: dict, scope: str,
              replacing: tuple[str, str] | None = None) -> dict:
    """Add a zone (pixels of this video) for the camera or the video, or replace `replacing` (scope, name) with it.

    Renaming, redrawing, a new kind and a move between camera and video are all a replace. ZoneInvalid
    says what is wrong and nothing is written. Returns editable_zones.
    """
    video = video_by_id(app, video_id=video_id)
    _check_scope(video, scope)
    if replacing is not None:
        _check_scope(video, replacing[0])
    size = _frame(video)
    with app.db.connection() as conn:
        with conn.transaction():
            lists = {s: _scope_zones(conn, video, s) for s in {scope, *(replacing[:1] if replacing else ())}}
            if replacing is not None:
                lists[replacing[0]] = [z for z in lists[replacing[0]] if z["name"] != replacing[1]]
            name = str(zone.get("name") or "").strip()
            if not name:
                raise ZoneInvalid("Give the zone a name.")
            if any(z["name"] == name for z in lists[scope]):
                where = "this camera" if scope == "camera" else "this video"
                raise ZoneInvalid(f"A zone named {name!r} already exists for {where}; pick another name or edit it.")
            lists[scope].append({"name": zone.get("name"), "kind": zone.get("kind"), "polygon": zone.get("polygon"),
                                 "loiter_s": zone.get("loiter_s")})
            checked = {s: validate(zs, size) for s, zs in lists.items()}
            for s, zs in checked.items():
                _write_scope(conn, video, s, zs)
    return editable_zones(app, video_id=video["id"])


def delete_zone(app, *, video_id: UUID | str, scope: str, name: str) -> dict:
    """Remove one zone of the camera or of the video; returns editable_zones."""
    video = video_by_id(app, video_id=video_id)
    _check_scope(video, scope)
    with app.db.connection() as conn:
        with conn.transaction():
            _write_scope(conn, video, scope, [z for z in _scope_zones(conn, video, scope) if z["name"] != name])
    return editable_zones(app, video_id=video["id"])
