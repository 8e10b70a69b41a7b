"""concealment: after a pick, the hand takes what it held into a pocket, the waistband, a bag or the
clothing, and it is no longer seen.

Signals, strongest first:

- item_vanished: the picked item track ends in the person's hands, away from any shelf, while the
  person stays in view (theft_conceal_grace_s) and it is never seen in their hands again.
- hand_to_body: within conceal_window_s after a pick, while the person stands still, a wrist goes
  to the waist (conceal_waist torso lengths from a hip, level with it or above, not hanging below
  it) or onto the torso between chest and hips (conceal_torso) and goes out of sight right there
  while that side of the body stays seen, or it reaches a bag track (conceal_bag_reach); either
  for conceal_dwell_s. A hand merely resting by the hip stays in sight and never counts, nor does
  a seated person's (the lap is at the hips) or a moving one's. The picking hand is looked at
  first, then the other one.

Pose alone is weaker evidence than an item seen vanishing. The event's attributes say which
signals fired, which wrist, where it went (hidden_at) and the pick's wrist, reach and item
(pick_*); its box takes in the pick's reach, the hiding hand and the item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.arms import SIDES, ArmProfile
from gpu_jobs.behaviours.events import EPS, make_event, mean_confidence, saturate
from gpu_jobs.behaviours.items import ItemTake
from gpu_jobs.behaviours.kinematics import hand_points
from gpu_jobs.behaviours.picking import Pick, arms_of, evidence_box, find_picks, pick_facts
from gpu_jobs.behaviours.rule import ThresholdRule
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Observation, Track
from settings import BehaviourThresholds

BAGS = frozenset({"backpack", "handbag", "suitcase"})
_CHEST, _HIPS = 0.2, 0.95  # "on the torso" is between these shares of the shoulder-to-hip line
_BELOW_HIP = 0.15  # a wrist lower than this (torso lengths) under the hip hangs; it is not in a pocket
_OUT_OF_SIGHT_S = 0.6  # a wrist last seen at the hiding place this recently, now unseen, is still there
_POINT_PAD = 0.1  # torso lengths around the evidence points in the event's box


@dataclass(slots=True)
class Concealment:
    """A pick followed by its hiding: where, with which hand, and what shows it."""

    pick: Pick
    t_start: float
    t_end: float
    highlight: int  # person observation index
    hidden_at: str | None  # waist | clothing | bag; None when only the item's vanishing shows it
    side: int | None
    point: tuple[float, float] | None  # the hiding hand (pixels)
    item_vanished: bool
    evidence: float
    bag: Track | None = None

    @property
    def person(self) -> Track:
        return self.pick.person

    @property
    def wrist(self) -> str | None:
        return None if self.side is None else SIDES[self.side]


def find_concealments(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[Concealment]:
    """Every pick that is followed by its concealment, at most one concealment per pick (cached per run)."""
    key = ("concealments", id(th), tuple(id(tr) for tr in tracks))
    return scene.cached(key, (list(tracks), th), lambda: _find(tracks, scene, th))


def _find(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[Concealment]:
    picks = find_picks(tracks, scene, th)
    bags = [tr for tr in tracks if tr.class_name in BAGS and tr.observations]
    found = []
    for k, pick in enumerate(picks):
        # the next pick of the same person ends the search: what is hidden then belongs to it
        later = [p.t_start for p in picks[k + 1:] if p.person is pick.person]
        until = min([pick.t_end + th.conceal_window_s, *later])
        vanished = _item_vanished(pick.take, scene, th) if pick.take is not None else None
        if pick.take is not None and vanished is None and _seen_in_hand_after(pick.take, until):
            continue  # the item is still seen in the hand: nothing was hidden
        hidden = _hand_hides(pick, bags, until, scene, th)
        if vanished is None and hidden is None:
            continue
        found.append(_concealment(pick, vanished, hidden, scene, th))
    return found


def _item_vanished(take: ItemTake, scene: Scene, th: BehaviourThresholds) -> int | None:
    """The person observation index where the taken item vanished in their hands, away from a shelf."""
    if take.put_back:
        return None
    prof = scene.profile(take.person, th)
    last = take.item.observations[-1]
    j = prof.by_frame.get(last.frame)
    if j is None or not take.held[-1]:
        return None
    if take.person.t_end - last.t < th.theft_conceal_grace_s - EPS:
        return None  # person and item left the view together: carried, not hidden
    if _at_shelf(take.person.observations[j], scene, th):
        return None  # at the shelf an item out of sight may be back on it
    return j


def _at_shelf(obs: Observation, scene: Scene, th: BehaviourThresholds) -> bool:
    points, _ = hand_points(obs, th.keypoint_min_score)
    # the foot inside, not within reach: hiding something while standing at a shelf is still hiding it
    return any(scene.zones.at_point(x, y, "shelf") for x, y in [obs.foot, *points])


def _seen_in_hand_after(take: ItemTake, t: float) -> bool:
    return any(held and o.t > t for o, held in zip(take.item.observations, take.held))


def _hiding_place(arms: ArmProfile, i: int, s: int, bag_boxes: list[tuple[float, float, float, float]],
                   th: BehaviourThresholds) -> str | None:
    """Where wrist s is at observation i, if it is at a hiding place."""
    if not arms.seen[i, s]:
        return None
    x, y = arms.wrist[i, s]
    torso = arms.torso[i]
    for x1, y1, x2, y2 in bag_boxes:
        dx = max(x1 - x, 0.0, x - x2)
        dy = max(y1 - y, 0.0, y - y2)
        if np.hypot(dx, dy) <= th.conceal_bag_reach * torso + EPS:
            return "bag"
    hip_y = arms.hip_mid[i, 1]
    if arms.waist[i, s] <= th.conceal_waist + EPS and y <= hip_y + _BELOW_HIP * torso:
        return "waist"
    if arms.reach[i, s] <= th.conceal_torso + EPS and _CHEST <= arms.along[i, s] <= _HIPS:
        return "clothing"
    return None


def _hand_hides(pick: Pick, bags: list[Track], until: float, scene: Scene, th: BehaviourThresholds):
    """(first, last, place, side, bag) of the hand's first stay at a hiding place after the pick, or None.

    Only while the person stands still (sitting, the hands rest in the lap, at the hips; moving,
    they swing or break a fall). At a bag the hand counts as it is seen. At the waist or on the
    torso, where hands also simply rest, it counts only once it goes out of sight right there
    (into the pocket, the waistband or the clothing) while that side of the body stays seen.
    """
    arms = arms_of(scene, pick.person, th)
    prof = scene.profile(pick.person, th)
    obs = pick.person.observations
    window = [int(i) for i in np.flatnonzero((arms.t >= pick.t_end - EPS) & (arms.t <= until + EPS))]
    sides = [pick.side, 1 - pick.side] if pick.side is not None else [0, 1]
    for s in sides:
        run: list[tuple[int, str, Track | None]] = []
        last_at: tuple[int, str, Track | None] | None = None  # last seen at the waist or torso
        for i in window:
            if prof.posture[i] != "upright" or not arms.still[i]:
                run, last_at = [], None
                continue
            place, bag, counts = None, None, False
            if arms.seen[i, s]:
                frame_bags = _bags_at(bags, obs[i].frame)
                place = _hiding_place(arms, i, s, [b for b, _ in frame_bags], th)
                if place == "bag":
                    bag, counts = _nearest_bag(arms.wrist[i, s], frame_bags), True
                last_at = (i, place, None) if place in ("waist", "clothing") else None
                if not counts:
                    run = []
            elif (arms.side_seen[i, s] and last_at is not None
                  and arms.t[i] - arms.t[last_at[0]] <= _OUT_OF_SIGHT_S + EPS):
                # gone out of sight right at the waist or torso: the moment it was last seen there counts too
                _, place, bag = last_at
                counts = True
                if not run or run[-1][0] < last_at[0]:
                    run = [last_at]
            else:
                run, last_at = [], None
            if not counts:
                continue
            run.append((i, place, bag))
            first, last = run[0][0], run[-1][0]
            if arms.t[last] - arms.t[first] >= th.conceal_dwell_s - EPS:
                places = [p for _, p, _ in run]
                return first, last, _most_common(places), s, next((b for _, _, b in run if b is not None), None)
    return None


def _nearest_bag(point: np.ndarray, frame_bags: list) -> Track | None:
    def gap(box):
        x1, y1, x2, y2 = box
        return np.hypot(max(x1 - point[0], 0.0, point[0] - x2), max(y1 - point[1], 0.0, point[1] - y2))
    return min(frame_bags, key=lambda b: gap(b[0]))[1] if frame_bags else None


def _bags_at(bags: list[Track], frame: int) -> list[tuple[tuple[float, float, float, float], Track]]:
    return [(o.bbox, tr) for tr in bags for o in tr.observations if o.frame == frame]


def _most_common(values: list[str]) -> str:
    return max(dict.fromkeys(values), key=values.count)


def _concealment(pick: Pick, vanished: int | None, hidden, scene: Scene, th: BehaviourThresholds) -> Concealment:
    arms = arms_of(scene, pick.person, th)
    if hidden is not None:
        first, last, place, side, bag = hidden
        t_start, t_end = float(arms.t[first]), float(arms.t[last])
        highlight = first
        point = tuple(float(v) for v in arms.wrist[first, side]) if arms.seen[first, side] else None
    else:
        place, side, bag = None, pick.side, None
        highlight = vanished
        t_start = t_end = float(arms.t[vanished])
        point = None
    if vanished is not None:
        t_start = min(t_start, float(arms.t[vanished]))
        t_end = max(t_end, float(arms.t[vanished]))
        if hidden is None or abs(arms.t[vanished] - arms.t[hidden[0]]) > th.conceal_window_s:
            highlight = vanished
    # an item seen vanishing is the strongest evidence; the hand at a hiding place adds to it,
    # and is by itself the weaker evidence of pose alone (more when it is the picking hand)
    if vanished is not None:
        evidence = 0.75 + 0.15 * (hidden is not None) + 0.1 * (pick.shelf is not None)
    else:
        dwell = t_end - t_start
        same_hand = pick.side is not None and side == pick.side
        evidence = (0.35 + 0.1 * same_hand + 0.1 * saturate(dwell, 3 * th.conceal_dwell_s)
                    + 0.1 * (place == "bag") + 0.1 * (pick.source != "pose_reach") + 0.05 * (pick.shelf is not None))
    return Concealment(
        pick=pick, t_start=t_start, t_end=t_end, highlight=highlight, hidden_at=place, side=side, point=point,
        item_vanished=vanished is not None, evidence=min(1.0, evidence), bag=bag,
    )


def concealment_facts(c: Concealment) -> dict:
    """What the event shows: the pick (wrist, reach, item), where the hand went, and whether the item vanished."""
    facts = {f"pick_{k}" if k in ("evidence", "also", "wrist", "reach", "reach_point") else k: v
             for k, v in pick_facts(c.pick).items()}
    facts.update({"evidence": "item_vanished" if c.item_vanished else "hand_to_body", "item_vanished": c.item_vanished,
                  "picked_at": round(c.pick.t_start, 2)})
    if c.hidden_at:
        facts["hidden_at"] = c.hidden_at
    if c.wrist:
        facts["wrist"] = c.wrist
    if c.point is not None:
        facts["hand_point"] = [round(c.point[0], 1), round(c.point[1], 1)]
    if c.bag is not None:
        facts["bag"] = c.bag.class_name
    return facts


class ConcealmentRule(ThresholdRule):
    """concealment: after a pick, the hand hides what it took at the body, or the item vanishes in it."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        return [self._event(c, scene) for c in find_concealments(tracks, scene, self.th)]

    def _event(self, c: Concealment, scene: Scene) -> Event:
        obs = c.person.observations
        highlight = obs[c.highlight]
        take = c.pick.take
        item = take.item if take is not None else None
        item_point = item.observations[-1].centre if (item is not None and c.item_vanished) else None
        detection = mean_confidence(obs[max(0, c.highlight - 1):c.highlight + 2])
        if item_point is not None:
            detection = (detection + item.observations[-1].confidence) / 2
        pad = _POINT_PAD * float(arms_of(scene, c.person, self.th).torso[c.highlight])
        return make_event(
            "concealment", track=c.person, obs=highlight, t_start=c.t_start, t_end=c.t_end,
            evidence=c.evidence, detection=detection, place=scene.zones.label(highlight), facts=concealment_facts(c),
            related=(item.number,) if item is not None else (), object_class=item.class_name if item else None,
            bbox=evidence_box(highlight, [c.point, c.pick.point, item_point], pad, scene.frame_size),
        )
