"""What a highlight shows besides the event's box: the person's pose, the points the rule used and one line of why.

An owner trusts an event they can check on its picture: a collapse shows the body lying and for
how long, a pick the wrist out at the shelf, a concealment the hand at the waist, a fight the
other person. The drawing reads only the event (its facts and related tracks), the frame's
boxes and the person's keypoints at the highlight frame.

Example:
    >>> poses = poses_at(tracks, events)  # keypoints of each event's person at its frame, or None
    >>> draw_evidence(img, events[0], poses[0], detections, scale=1.0)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from gpu_jobs.types import KEYPOINT_INDEX, Event, Track

_K = KEYPOINT_INDEX
# the limbs drawn, COCO keypoint pairs; the face gets dots only, lines there would hide it
SKELETON = tuple((_K[a], _K[b]) for a, b in (
    ("left_shoulder", "right_shoulder"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"), ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"), ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"), ("right_hip", "right_knee"), ("right_knee", "right_ankle")))
MIN_SCORE = 0.3  # keypoints below this MoveNet score are not drawn: a guessed limb would mislead
# event types whose rule reads the pose: their person's skeleton is drawn
POSE_TYPES = frozenset({"collapse", "picking", "concealment", "theft", "violent", "sitting"})
# facts that are points in the frame (x, y pixels) and the word drawn beside each
POINTS = (("reach_point", "reach"), ("pick_reach_point", "reach"), ("hand_point", "hand"))


def poses_at(tracks: Iterable[Track], events: Sequence[Event]) -> list[np.ndarray | None]:
    """The (17, 3) keypoints of each event's person at its highlight frame; None without a track or a pose."""
    by_number = {t.number: t for t in tracks}
    out: list[np.ndarray | None] = []
    for event in events:
        track = by_number.get(event.track_number) if event.type in POSE_TYPES else None
        obs = next((o for o in track.observations if o.frame == event.frame), None) if track else None
        out.append(obs.keypoints if obs is not None else None)
    return out


def caption(event: Event) -> str:
    """One line of why the event fired, from the rule's facts ('' when they say nothing to show)."""
    a = event.attributes
    parts: list[str] = []
    if event.type == "collapse":
        if a.get("lying_s") is not None:
            parts.append(f"lying {float(a['lying_s']):.1f} s after the fall")
        if a.get("fall_flag"):
            parts.append("fall detector agrees")
    elif event.type == "violent":
        if a.get("fight_probability") is not None:
            parts.append(f"fight model {float(a['fight_probability']):.2f}")
        if a.get("limb_speed") is not None:
            parts.append(f"limbs {float(a['limb_speed']):.1f} body lengths/s")
    elif event.type in ("picking", "concealment", "theft"):
        if a.get("item"):
            parts.append(f"{a['item']} taken")
        elif a.get("reach") is not None:
            parts.append(f"{a.get('wrist', 'a')} wrist reached {float(a['reach']):.1f} torso lengths out")
        elif a.get("dwell_s") is not None:
            parts.append(f"hand in the shelf {float(a['dwell_s']):.1f} s")
        if a.get("hidden_at"):
            parts.append(f"hand to the {str(a['hidden_at']).replace('_', ' ')}")
        if a.get("item_vanished"):
            parts.append("item no longer seen")
        unchecked = a.get("payment_checked") is False  # no checkout zone: nobody could be seen paying
        if a.get("carried_out"):
            parts.append("carried out, no checkout zone drawn" if unchecked else "carried out, no checkout")
        elif event.type == "theft" and unchecked:
            parts.append("no checkout zone drawn")
    return ", ".join(parts)


def draw_evidence(img: np.ndarray, event: Event, pose: np.ndarray | None, detections: list[dict], *,
                  colour: tuple[int, int, int], scale: float) -> None:
    """Draws on img in place: the tracks the event names, the person's pose and the rule's evidence points."""
    import cv2

    width = max(1, round(2 * scale))
    for det in detections:  # a fight's other person, a theft's item: the tracks the event names
        if det.get("track") is not None and det["track"] in event.related_tracks:
            x1, y1, x2, y2 = (int(v) for v in det["bbox"])
            cv2.rectangle(img, (x1, y1), (x2, y2), colour, width)
    if pose is not None:
        pts = np.asarray(pose, np.float32)
        for i, j in SKELETON:
            if pts[i, 2] >= MIN_SCORE and pts[j, 2] >= MIN_SCORE:
                cv2.line(img, (int(pts[i, 0]), int(pts[i, 1])), (int(pts[j, 0]), int(pts[j, 1])), colour, width,
                         cv2.LINE_AA)
        for x, y, s in pts:
            if s >= MIN_SCORE:
                cv2.circle(img, (int(x), int(y)), width + 1, (255, 255, 255), -1, cv2.LINE_AA)
    for key, word in POINTS:
        point = event.attributes.get(key)
        if isinstance(point, (list, tuple)) and len(point) == 2:
            x, y = int(point[0]), int(point[1])
            cv2.circle(img, (x, y), round(7 * scale), colour, width, cv2.LINE_AA)
            cv2.putText(img, word, (x + round(9 * scale), y), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, colour,
                        width, cv2.LINE_AA)


def draw_caption(img: np.ndarray, event: Event, *, colour: tuple[int, int, int], scale: float) -> None:
    """The caption in a strip along the bottom (drawn last, over every box), readable on any scene."""
    import cv2

    text = caption(event)
    if not text:
        return
    width, size = max(1, round(scale)), 0.5 * scale
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, width)
    if tw > img.shape[1] - 12 * scale:  # a long line gets smaller letters, never cut off
        size *= (img.shape[1] - 12 * scale) / tw
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, size, width)
    h = img.shape[0]
    cv2.rectangle(img, (0, h - th - base - round(8 * scale)), (min(img.shape[1], tw + round(12 * scale)), h),
                  colour, -1)
    cv2.putText(img, text, (round(6 * scale), h - base - round(4 * scale)), cv2.FONT_HERSHEY_SIMPLEX, size,
                (255, 255, 255), width, cv2.LINE_AA)
