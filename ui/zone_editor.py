"""The zone editor on the video page: click a polygon on a frame, name it, pick its kind, save it for the camera
or the video; edit and delete zones; then re-run the rules so the events follow the new layout.

Points are kept in the video's pixels; the frame is shown scaled to its column, so each click is
converted with the shown size the component reports.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from core.zone_drawing import draw_zones
from services import zones as zone_service
from ui.notify import flash

SHOWN_MAX_WIDTH = 960  # the frame sent to the browser; wider videos are scaled down (clicks are scaled back)
CLOSE_RADIUS = 12  # shown pixels: a click this near the first point closes the polygon
KIND_BADGES = {"shelf": "orange", "checkout": "green", "exit": "red", "entrance": "blue", "staff": "gray",
               "custom": "violet"}
DRAWING_HINT = ("Shelf, checkout, exit and entrance zones drive picking, theft, paid and left-the-store. Draw a shelf "
                "or checkout over the fixture itself (people standing against it are at it), an exit or entrance "
                "on the floor people walk across, a staff area around where staff are seen behind the counter "
                "(whoever is there most of the time is staff: their reaches are not picks).")
SCOPE_LABELS = {"camera": "Camera: every video of {camera}", "video": "This video only"}


# ---- pure helpers (unit-tested) ------------------------------------------------------------------

def to_video_pixels(click: dict, frame_size: tuple[int, int]) -> tuple[float, float]:
    """A click on the shown image ({x, y, width, height} in shown pixels) as a point in the video's pixels."""
    w, h = frame_size
    shown_w, shown_h = float(click.get("width") or w), float(click.get("height") or h)
    x = float(click["x"]) * w / shown_w
    y = float(click["y"]) * h / shown_h
    return round(min(max(x, 0.0), float(w)), 1), round(min(max(y, 0.0), float(h)), 1)


def to_shown_pixels(point, frame_size: tuple[int, int], shown_size: tuple[float, float]) -> tuple[float, float]:
    """A point in the video's pixels as shown pixels (what the browser test clicks)."""
    return point[0] * shown_size[0] / frame_size[0], point[1] * shown_size[1] / frame_size[1]


def closes(draft: list, point, click: dict, frame_size: tuple[int, int]) -> bool:
    """Whether a click lands on the first point of a draft of 3 or more points (measured on screen)."""
    if len(draft) < 3:
        return False
    sx = float(click.get("width") or frame_size[0]) / frame_size[0]
    sy = float(click.get("height") or frame_size[1]) / frame_size[1]
    return np.hypot((point[0] - draft[0][0]) * sx, (point[1] - draft[0][1]) * sy) <= CLOSE_RADIUS


class Draft:
    """The polygon being drawn for one video, kept in session state across reruns."""

    def __init__(self, video_id: str) -> None:
        self.prefix = f"zones-{video_id}"

    def key(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    @property
    def points(self) -> list[list[float]]:
        return st.session_state.setdefault(self.key("points"), [])

    @property
    def closed(self) -> bool:
        return bool(st.session_state.get(self.key("closed")))

    @property
    def editing(self) -> tuple[str, str] | None:
        value = st.session_state.get(self.key("editing"))
        return tuple(value) if value else None

    def take_click(self, click: dict | None, frame_size: tuple[int, int]) -> bool:
        """Add a new click's point (a click on the first point closes the polygon); False for one already taken."""
        if not click or click.get("unix_time") == st.session_state.get(self.key("last-click")):
            return False  # the component repeats its last value on every rerun
        st.session_state[self.key("last-click")] = click.get("unix_time")
        if self.closed:
            return False
        point = to_video_pixels(click, frame_size)
        if closes(self.points, point, click, frame_size):
            st.session_state[self.key("closed")] = True
        else:
            self.points.append(list(point))
        return True

    def undo(self) -> None:
        if self.points:
            self.points.pop()
        st.session_state[self.key("closed")] = False

    def clear(self) -> None:
        st.session_state[self.key("points")] = []
        st.session_state[self.key("closed")] = False

    def close(self) -> None:
        st.session_state[self.key("closed")] = len(self.points) >= 3

    def reset(self) -> None:
        """Back to a new, empty zone (after a save, or on cancel)."""
        self.clear()
        st.session_state[self.key("editing")] = None
        st.session_state[self.key("name")] = ""
        st.session_state[self.key("loiter")] = None

    def load(self, zone: dict) -> None:
        """Edit an existing zone: its points, name, kind and scope go into the form."""
        st.session_state[self.key("points")] = [list(p) for p in zone["polygon"]]
        st.session_state[self.key("closed")] = True
        st.session_state[self.key("editing")] = (zone["scope"], zone["name"])
        st.session_state[self.key("name")] = zone["name"]
        st.session_state[self.key("kind")] = zone["kind"]
        st.session_state[self.key("scope")] = zone["scope"]
        st.session_state[self.key("loiter")] = zone.get("loiter_s")


# ---- the frame ------------------------------------------------------------------------------------

@st.cache_data(max_entries=16, show_spinner=False)
def _frame_jpeg(_app, video_id: str, at_s: float) -> bytes:
    """The frame scaled to at most SHOWN_MAX_WIDTH, as JPEG (the zones are drawn on it each run)."""
    from core.runtime.media import encode_jpeg

    return encode_jpeg(zone_service.zone_frame(_app, video_id=video_id, at_s=at_s), max_width=SHOWN_MAX_WIDTH,
                       quality=90)


def overlay(frame_bgr: np.ndarray, frame_size: tuple[int, int], zones: list[dict], draft: list,
            closed: bool, editing: tuple[str, str] | None) -> np.ndarray:
    """The frame (RGB) with every applying zone and the draft drawn on it; the zone being edited is left out."""
    import cv2

    img = frame_bgr.copy()
    scale = img.shape[1] / frame_size[0]
    shown = [z for z in zones if z["active"] and (z["scope"], z["name"]) != editing]
    draw_zones(img, [(z["name"], z["kind"], z["polygon"]) for z in shown], scale=scale, fill_alpha=0.2)
    if draft:
        pts = np.round(np.asarray(draft, float) * scale).astype(np.int32)
        cv2.polylines(img, [pts], closed, (255, 255, 255), 2, cv2.LINE_AA)
        for k, (x, y) in enumerate(pts):
            cv2.circle(img, (int(x), int(y)), 5 if k == 0 else 4, (0, 220, 255) if k == 0 else (255, 255, 255), -1,
                       cv2.LINE_AA)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


# ---- the editor -----------------------------------------------------------------------------------

def zone_editor(app, video: dict, t: float = 0.0) -> None:
    """The Zones section of the video page."""
    st.subheader("Zones")
    size = (int(video.get("width") or 0), int(video.get("height") or 0))
    if not all(size):
        st.caption("This video's frame size is unknown, so zones cannot be drawn on it.")
        return
    draft = Draft(str(video["id"]))
    if st.session_state.pop(draft.key("reset-pending"), False):
        draft.reset()
    listing = zone_service.editable_zones(app, video_id=video["id"])
    camera = listing["camera"]
    st.caption(f"{DRAWING_HINT} Zones saved for camera {camera!r} serve every video of it; this video's own zones "
               f"add to them and override one of the same name." if camera else DRAWING_HINT)
    picture, form = st.columns([3, 2])
    with picture:
        _picture(app, video, size, listing["zones"], draft, t)
    with form:
        _form(app, video, size, camera, draft)
    _after_save(app, video, draft)
    _zone_list(app, video, listing["zones"], draft)


def _picture(app, video: dict, size: tuple[int, int], zones: list[dict], draft: Draft, t: float) -> None:
    from PIL import Image
    from streamlit_image_coordinates import streamlit_image_coordinates

    try:
        jpeg = _frame_jpeg(app, str(video["id"]), float(t) if t else 1.0)
    except zone_service.FrameUnavailable as exc:
        st.info(str(exc))
        return
    import cv2

    frame = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    image = Image.fromarray(overlay(frame, size, zones, draft.points, draft.closed, draft.editing))
    click = streamlit_image_coordinates(image, key=draft.key("frame"), width="stretch", image_format="JPEG",
                                        jpeg_quality=90, cursor="crosshair")
    if draft.take_click(click, size):
        st.rerun()  # draw the new point at once
    n = len(draft.points)
    if draft.closed:
        st.caption(f"Polygon closed ({n} points). Undo a point to change it, or name it and save.")
    else:
        st.caption(f"{n} point{'s' * (n != 1)}. Click on the frame to add points; click the first one "
                   f"(or Close) to close the polygon.")
    a, b, c = st.columns(3)
    a.button("Undo point", key=draft.key("undo"), icon=":material/undo:", on_click=draft.undo, disabled=not n,
             width="stretch")
    b.button("Close", key=draft.key("close"), icon=":material/pentagon:", on_click=draft.close,
             disabled=n < 3 or draft.closed, width="stretch")
    c.button("Clear", key=draft.key("clear"), icon=":material/delete_sweep:", on_click=draft.clear,
             disabled=not n, width="stretch")


def _form(app, video: dict, size: tuple[int, int], camera: str | None, draft: Draft) -> None:
    editing = draft.editing
    st.markdown(f"**Edit zone {editing[1]!r}**" if editing else "**New zone**")
    name = st.text_input("Name", key=draft.key("name"), placeholder="e.g. drinks shelf", max_chars=100)
    kind = st.selectbox("Kind", zone_service.KINDS, key=draft.key("kind"))
    loiter_s = st.number_input("Loitering limit in seconds (optional)", key=draft.key("loiter"), value=None,
                               min_value=1.0, max_value=zone_service.MAX_LOITER_S, step=10.0,
                               help="A stay in this zone this long is loitering, even if the person moves about")
    scopes = [s for s in zone_service.SCOPES if s == "video" or camera]
    if st.session_state.get(draft.key("scope")) not in scopes:
        st.session_state[draft.key("scope")] = scopes[0]
    scope = st.radio("Save for", scopes, key=draft.key("scope"),
                     format_func=lambda s: SCOPE_LABELS[s].format(camera=camera))
    a, b = st.columns(2)
    save = a.button("Save zone", key=draft.key("save"), type="primary", icon=":material/save:",
                    width="stretch")
    if editing:
        b.button("Cancel", key=draft.key("cancel"), on_click=draft.reset, width="stretch")
    if save:
        zone = {"name": name, "kind": kind, "polygon": [list(p) for p in draft.points], "loiter_s": loiter_s}
        try:
            zone_service.save_zone(app, video_id=video["id"], zone=zone, scope=scope, replacing=editing)
        except zone_service.ZoneInvalid as exc:
            st.error(str(exc))  # the draft, name and kind stay as they were
            return
        st.session_state[draft.key("changed")] = f"Saved zone {name.strip()!r} ({kind})."
        # the form's widgets are drawn already this run: they are cleared before the next run draws them
        st.session_state[draft.key("reset-pending")] = True
        st.rerun()


def _after_save(app, video: dict, draft: Draft) -> None:
    """After a change: offer to re-run the rules, then show what they found."""
    done = st.session_state.pop(draft.key("rules-result"), None)
    if done:
        st.success(done)
    changed = st.session_state.get(draft.key("changed"))
    if not changed:
        return
    if video["status"] != "completed":
        st.info(f"{changed} The analysis uses the zones saved when it runs.")
        return
    st.info(f"{changed} The events still follow the old zones until the rules run again.")
    if st.button("Re-run rules now", key=draft.key("rerun-rules"), icon=":material/replay:"):
        try:
            with st.spinner("Re-running the behaviour rules on the stored tracks…"):
                result = zone_service.rederive_events(app, video_id=video["id"])
        except zone_service.RulesUnavailable as exc:
            st.error(str(exc))
            return
        st.session_state.pop(draft.key("changed"), None)
        counts = ", ".join(f"{n} {kind}" for kind, n in result["events_by_type"].items()) or "no events"
        message = f"Rules re-run in {result['elapsed_s']:.1f} s: {counts}."
        st.session_state[draft.key("rules-result")] = message
        flash(message)
        st.rerun()  # the timeline and the gallery read the new events


def _zone_list(app, video: dict, zones: list[dict], draft: Draft) -> None:
    if not zones:
        st.caption("No zones yet: events can only say left, centre or right.")
        return
    for zone in zones:
        row = st.container(key=f"{draft.key('row')}-{zone['scope']}-{_slug(zone['name'])}")
        a, b, c, d = row.columns([4, 3, 1, 1], vertical_alignment="center")
        badge = KIND_BADGES.get(zone["kind"], "gray")
        limit = f" · loitering after {zone['loiter_s']:g} s" if zone.get("loiter_s") else ""
        a.markdown(f"**{_escape(zone['name'])}** :{badge}-badge[{zone['kind']}]{limit}")
        scope = {"video": "this video", "camera": f"camera {video.get('camera')}", "global": "every video"}
        b.caption(scope[zone["scope"]] + ("" if zone["active"] else " · overridden by this video's zone"))
        if zone["scope"] == "global":
            c.caption("read-only")
            continue
        c.button("Edit", key=f"{draft.key('edit')}-{zone['scope']}-{zone['name']}", icon=":material/edit:",
                 on_click=draft.load, args=(zone,), help="Rename, change the kind or redraw")
        d.button("Delete", key=f"{draft.key('delete')}-{zone['scope']}-{zone['name']}", icon=":material/delete:",
                 on_click=_delete, args=(app, video, zone, draft))


def _delete(app, video: dict, zone: dict, draft: Draft) -> None:
    zone_service.delete_zone(app, video_id=video["id"], scope=zone["scope"], name=zone["name"])
    if draft.editing == (zone["scope"], zone["name"]):
        draft.reset()
    st.session_state[draft.key("changed")] = f"Deleted zone {zone['name']!r}."


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())[:40]


def _escape(text: str) -> str:
    return "".join("\\" + c if c in "*_`[]:#<>\\$~" else c for c in text)

