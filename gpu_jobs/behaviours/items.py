"""Item takes: an item track lifted from a shelf (or, without one, from wherever it lay) and carried by a person.

What picking, concealment and theft judge. A take from a shelf zone is the strongest; without one,
the item must first be seen lying free of the person (not in their hands) before it moves with
them, and a person's own belongings (bag, phone, umbrella) never count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.vocabulary import CARRYABLE
from gpu_jobs.behaviours.events import lasts
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Track
from settings import BehaviourThresholds

# what shoppers carry in with them: taken only from a shelf zone, never "from wherever it lay"
PERSONAL = frozenset({"backpack", "handbag", "suitcase", "umbrella", "cell phone"})
_HOLD_MARGIN = 0.15  # an item this close (body sizes) outside a person's box is still in their hands
_WRIST_REACH = 0.3  # an item this close (body sizes) to a wrist is in that hand


@dataclass(slots=True)
class ItemTake:
    """An item track lifted from a shelf and carried by a person."""

    item: Track
    person: Track
    shelf: str | None  # None: no shelf zone; the item lay free of the person before they took it
    held: np.ndarray  # per item observation: in this person's hands
    grab: int  # item observation index when the person took hold of it
    moved: int  # first item observation index off its place, in the person's hands
    carry_end: int  # last item observation index of the carry
    carried_share: float  # share of the carry's observations with the item in the person's hands
    put_back: bool  # the item was last seen at a shelf again


def held_mask(profile: TrackProfile, item: Track, min_score: float) -> np.ndarray:
    """Per item observation: is it in the person's hands (inside their box, or next to a wrist)?"""
    j = np.array([profile.by_frame.get(o.frame, -1) for o in item.observations])
    seen = j >= 0
    j = np.where(seen, j, 0)
    centres = np.array([o.centre for o in item.observations], float).reshape(-1, 2)
    box, body = profile.boxes[j], profile.body[j]
    m = _HOLD_MARGIN * body
    inside = (
        (centres[:, 0] >= box[:, 0] - m) & (centres[:, 0] <= box[:, 2] + m)
        & (centres[:, 1] >= box[:, 1] - m) & (centres[:, 1] <= box[:, 3] + m)
    )
    wrists = profile.wrists[j]
    reach = np.linalg.norm(wrists[:, :, :2] - centres[:, None, :], axis=2) <= _WRIST_REACH * body[:, None]
    by_wrist = ((wrists[:, :, 2] >= min_score) & reach).any(axis=1)
    return seen & (inside | by_wrist)


def find_item_takes(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[ItemTake]:
    """Items that start at a shelf (or lie free), then move with one person for picking_dwell_s (cached per run)."""
    key = ("takes", id(th), tuple(id(tr) for tr in tracks))
    return scene.cached(key, (list(tracks), th), lambda: _find_item_takes(tracks, scene, th))


def _find_item_takes(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[ItemTake]:
    persons = [(tr, scene.profile(tr, th)) for tr in person_tracks(tracks)]
    takes = []
    for item in tracks:
        if item.class_name not in CARRYABLE or not item.observations:
            continue
        # the carrier is whoever has the item in hand most often
        best = None
        for person, prof in persons:
            held = held_mask(prof, item, th.keypoint_min_score)
            if held.any() and (best is None or held.sum() > best[2].sum()):
                best = (person, prof, held)
        if best is not None:
            take = _take_by(item, *best, scene, th)
            if take is not None:
                takes.append(take)
    return takes


def _take_by(item: Track, person: Track, prof: TrackProfile, held: np.ndarray, scene: Scene,
             th: BehaviourThresholds) -> ItemTake | None:
    obs = item.observations
    centres = np.array([o.centre for o in obs], float)
    body = prof.median_body
    away = np.linalg.norm(centres - centres[0], axis=1) >= th.picking_item_move * body
    candidates = np.flatnonzero(held & away)
    if candidates.size == 0:
        return None
    moved = int(candidates[0])
    margin = th.picking_shelf_margin * body
    shelf = scene.zones.near(*centres[0], "shelf", margin)
    if shelf is None and (item.class_name in PERSONAL or held[0]):
        return None  # the person's own bag or phone, or an item already in their hands when first seen
    grab = moved  # the first observation of the hold that moved it
    while grab > 0 and held[grab - 1] and obs[grab].t - obs[grab - 1].t <= th.max_gap_s:
        grab -= 1
    carry_end = moved
    for k in range(moved + 1, len(obs)):
        if held[k]:
            carry_end = k
        elif obs[k].t - obs[carry_end].t > th.max_gap_s:
            break
    if not lasts(obs[carry_end].t - obs[grab].t, th.picking_dwell_s):
        return None
    return ItemTake(
        item=item, person=person, shelf=shelf, held=held, grab=grab, moved=moved, carry_end=carry_end,
        carried_share=float(held[moved:carry_end + 1].mean()),
        put_back=_put_back(centres, held, shelf, scene, margin, th.picking_item_move * body),
    )


def _put_back(centres: np.ndarray, held: np.ndarray, shelf: str | None, scene: Scene, margin: float,
              near: float) -> bool:
    """Whether the item was last seen out of hand, back where it was taken from (its shelf, or its first place)."""
    if held[-1]:  # vanished while in hand, even beside the shelf: hidden or carried, not put back
        return False
    if shelf is not None:
        return scene.zones.near(*centres[-1], "shelf", margin) is not None
    return bool(np.linalg.norm(centres[-1] - centres[0]) < near)
