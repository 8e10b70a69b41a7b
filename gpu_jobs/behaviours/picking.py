"""picking: a hand reaches away from the body to a surface and comes back, with or without an item seen.

Three signals, strongest first, merged into one pick per moment and person:

- item_track: an item track taken from a shelf zone (or, without one, from where it lay) by the person.
- pose_reach: from pose alone, a wrist leaves the body (picking_rest torso lengths or closer), is
  held out (picking_reach or further) for up to picking_reach_max_s, and comes back, all within
  picking_return_s each way, while the person is not walking (an arm swinging in a walk never
  counts, nor a hand seen far once with no way out or back). The wrist itself must travel the
  distance from rest to reach in the picture, out or back (else the torso's estimate moved, not
  the hand); a body whose height changes by picking_height_change across the reach sat down or
  stood up, and a lying one does not reach to a surface.
- hand_in_shelf: a hand held out into a shelf zone for picking_dwell_s, and no longer than
  picking_reach_max_s (longer, it leans on the counter, as for a reach seen by pose; zones only).

A shelf zone under the reaching hand, and an item, raise the evidence. `find_picks` is what
concealment and theft build on (cached per run).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from gpu_jobs.behaviours.arms import SIDES, ArmProfile, arm_profile
from gpu_jobs.behaviours.events import EPS, lasts, make_event, mean_confidence, runs_where, saturate, union_box
from gpu_jobs.behaviours.items import ItemTake, find_item_takes
from gpu_jobs.behaviours.kinematics import TrackProfile, hand_points
from gpu_jobs.behaviours.rule import ThresholdRule, customer_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Observation, Track
from settings import BehaviourThresholds

_REACH_EXTENSION = 0.25  # a hand this far (body sizes) from the box centre is held out; hanging arms are ~0.15
_GRAB_WINDOW_S = 2.0  # a picking event starts at most this long before the item moves
_SOURCE_RANK = {"item_track": 0, "hand_in_shelf": 1, "pose_reach": 2}
_POINT_PAD = 0.1  # the event's box takes in the reaching wrist with this margin (torso lengths)
TRAVEL_SHARE = 1.0  # the wrist itself covers this share of the way from rest (picking_rest) to a reach (picking_reach)
_SETTLE_S = 1.0  # the body's height is compared over this long before the hand leaves and after it is back


@dataclass(slots=True)
class Pick:
    """One picking moment of one person, with the evidence that shows it."""

    person: Track
    t_start: float
    t_end: float
    highlight: int  # person observation index of the frame that shows it best
    source: str  # item_track | pose_reach | hand_in_shelf
    evidence: float  # 0..1, how clearly the signals show a pick
    side: int | None = None  # 0 left, 1 right wrist; None when unknown
    reach: float | None = None  # furthest wrist distance from the torso, torso lengths
    point: tuple[float, float] | None = None  # the wrist at its furthest (pixels)
    shelf: str | None = None  # the shelf zone the hand reached into or the item came from
    take: ItemTake | None = None
    hand: str | None = None  # hand_in_shelf: the hand was a wrist keypoint, or the box's side
    dwell_s: float | None = None  # hand_in_shelf: how long the hand stayed in the shelf
    reach_s: float | None = None  # pose_reach: how long the wrist was held out
    also: list[str] = field(default_factory=list)  # the other signals merged into this pick

    @property
    def wrist(self) -> str | None:
        return None if self.side is None else SIDES[self.side]


def arms_of(scene: Scene, track: Track, th: BehaviourThresholds) -> ArmProfile:
    """The arm measurements of a person track, once per run."""
    return scene.cached(("arms", id(track), id(th)), (track, th), lambda: arm_profile(scene.profile(track, th), th))


def reaching_shelf(obs: Observation, scene: Scene, min_score: float) -> tuple[str | None, str]:
    """The shelf an outstretched hand is in, if any, and where the hand came from (wrist or box)."""
    points, source = hand_points(obs, min_score)
    cx, cy = obs.centre
    body = max(obs.height, obs.width)
    for x, y in points:
        # box points sit at a fixed height, so only a widened box (arm out sideways) shows a reach
        offset = np.hypot(x - cx, y - cy) if source == "wrist" else abs(x - cx)
        if offset < _REACH_EXTENSION * body:
            continue  # a hand by the body: standing in front of the shelf, not reaching into it
        names = scene.zones.at_point(x, y, "shelf")
        if names:
            return names[0], source
    return None, source


def find_picks(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[Pick]:
    """Every pick of the run, one per moment and person, in time order (cached per run)."""
    key = ("picks", id(th), tuple(id(tr) for tr in tracks))
    return scene.cached(key, (list(tracks), th), lambda: _find_picks(tracks, scene, th))


def _find_picks(tracks: Sequence[Track], scene: Scene, th: BehaviourThresholds) -> list[Pick]:
    by_person: dict[int, list[Pick]] = defaultdict(list)
    customers = customer_tracks(tracks, scene)  # staff handling the stock pick nothing
    for take in find_item_takes(tracks, scene, th):
        if any(take.person is tr for tr in customers):
            by_person[id(take.person)].append(_take_pick(take, scene, th))
    for track in customers:
        by_person[id(track)] += _reach_picks(track, scene, th)
        by_person[id(track)] += _shelf_dwell_picks(track, scene, th)
    picks = [p for found in by_person.values() for p in _merge(found, th)]
    return sorted(picks, key=lambda p: (p.t_start, p.person.number))


def _take_pick(take: ItemTake, scene: Scene, th: BehaviourThresholds) -> Pick:
    prof = scene.profile(take.person, th)
    item_obs = take.item.observations
    moved = item_obs[take.moved]
    j = prof.by_frame[moved.frame]
    arms = arms_of(scene, take.person, th)
    # the hand that took it: the seen wrist nearest the item while it was held, from the grab on
    side = None
    for k in range(take.grab, take.moved + 1):
        i = prof.by_frame.get(item_obs[k].frame)
        if i is None:
            continue
        dist = np.where(arms.seen[i], np.linalg.norm(arms.wrist[i] - np.asarray(item_obs[k].centre), axis=1), np.inf)
        if np.isfinite(dist).any():
            side = int(np.argmin(dist))
            break
    # the point is where the item lay: what the hand reached for
    point = tuple(float(v) for v in item_obs[0].centre)
    return Pick(
        person=take.person, t_start=max(item_obs[take.grab].t, moved.t - _GRAB_WINDOW_S), t_end=moved.t,
        highlight=j, source="item_track",
        # a shelf zone it came from says more than an item that only lay free
        evidence=(0.7 if take.shelf else 0.6) + 0.3 * take.carried_share,
        side=side, point=point, shelf=take.shelf, take=take,
    )


def _reach_picks(track: Track, scene: Scene, th: BehaviourThresholds) -> list[Pick]:
    """Pose reaches: a wrist from the body, held out, and back, while the person is not walking."""
    arms = arms_of(scene, track, th)
    prof = scene.profile(track, th)
    picks = []
    for s in range(2):
        reach = arms.reach[:, s]
        seen = arms.seen[:, s]
        far = seen & (np.nan_to_num(reach, nan=0.0) >= th.picking_reach - EPS)
        near = seen & (np.nan_to_num(reach, nan=np.inf) <= th.picking_rest + EPS)
        for first, last in _far_runs(far, near, arms.t, th.max_gap_s):
            held_s = arms.t[last] - arms.t[first]
            if not lasts(held_s, th.picking_dwell_s):
                continue  # a wrist seen far for a moment only: a keypoint's jitter as often as a reach
            if held_s > th.picking_reach_max_s + EPS:
                continue  # an arm held out that long leans or rests on a counter
            before = _nearest(near, arms.t, first, -1, th.picking_return_s)
            after = _nearest(near, arms.t, last, +1, th.picking_return_s)
            if before is None or after is None:
                continue  # never seen leaving the body, or never seen coming back
            if not arms.still[before:after + 1].all():
                continue  # walking: arms swing, shoppers do not pick mid-stride
            if _height_changed(prof, before, after, th.picking_height_change):
                continue  # sat down or stood up: the hands push off or swing, they do not reach for an item
            if _lying(prof, arms, first, last, th):
                continue  # on the floor or a sofa: a hand out is no reach to a surface
            peak = first + int(np.nanargmax(reach[first:last + 1]))
            travel = max(np.linalg.norm(arms.wrist[peak, s] - arms.wrist[k, s]) for k in (before, after))
            if travel / arms.torso[peak] < TRAVEL_SHARE * (th.picking_reach - th.picking_rest) - EPS:
                continue  # the hand never travelled from rest to the reach, out or back: the torso's estimate moved
            if not arms.arm_seen[first:last + 1, s].any():
                continue  # the arm itself (shoulder, elbow, wrist) never seen held out: the torso is a guess
            point = tuple(float(v) for v in arms.wrist[peak, s])
            shelf = scene.zones.at_point(*point, "shelf")
            out = float(reach[peak])
            evidence = 0.35 + 0.2 * saturate(out - th.picking_reach, th.picking_reach) + 0.1 * (last > first)
            picks.append(Pick(
                person=track, t_start=float(arms.t[before]), t_end=float(arms.t[after]), highlight=peak,
                source="pose_reach", evidence=evidence + (0.2 if shelf else 0.0), side=s, reach=out, point=point,
                shelf=shelf[0] if shelf else None, reach_s=float(held_s),
            ))
    return picks


def _far_runs(far: np.ndarray, near: np.ndarray, t: np.ndarray, max_gap_s: float) -> list[tuple[int, int]]:
    """(first, last) far samples of each reach: unseen samples inside one do not end it, a near one or a hole does."""
    runs: list[tuple[int, int]] = []
    for i in np.flatnonzero(far):
        i = int(i)
        if runs and t[i] - t[runs[-1][1]] <= max_gap_s + EPS and not near[runs[-1][1]:i].any():
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def _height_changed(prof: TrackProfile, before: int, after: int, factor: float) -> bool:
    """Whether the box's height over _SETTLE_S before the reach and over _SETTLE_S after it differ by factor or more."""
    t, heights = prof.t, prof.boxes[:, 3] - prof.boxes[:, 1]
    ahead = heights[(t >= t[before] - _SETTLE_S - EPS) & (t <= t[before] + EPS)]
    behind = heights[(t >= t[after] - EPS) & (t <= t[after] + _SETTLE_S + EPS)]
    ratio = float(np.median(behind)) / max(float(np.median(ahead)), 1.0)
    return max(ratio, 1.0 / max(ratio, EPS)) >= factor - EPS


def _lying(prof: TrackProfile, arms: ArmProfile, first: int, last: int, th: BehaviourThresholds) -> bool:
    """Lying while the wrist is out: a lying-shaped box (or a fall flag) and a torso seen far from upright."""
    span = range(first, last + 1)
    if sum(prof.posture[i] == "lying" for i in span) * 2 <= len(span):
        return False
    tilt = arms.torso_tilt[first:last + 1]
    tilt = tilt[np.isfinite(tilt)]
    # a customer leaning on a counter has a wide box too (the counter hides the legs): the torso must say it
    return tilt.size > 0 and float(np.median(tilt)) >= th.picking_lying_tilt - EPS


def _nearest(mask: np.ndarray, t: np.ndarray, i: int, step: int, within_s: float) -> int | None:
    """The nearest index before (step -1) or after (+1) i where mask holds, within within_s seconds."""
    k = i + step
    while 0 <= k < len(mask) and abs(t[k] - t[i]) <= within_s + EPS:
        if mask[k]:
            return k
        k += step
    return None


def _shelf_dwell_picks(track: Track, scene: Scene, th: BehaviourThresholds) -> list[Pick]:
    """A hand held out into a shelf zone for picking_dwell_s (only where shelf zones exist)."""
    if not any(z.kind == "shelf" for z in scene.zones.zones):
        return []
    obs = track.observations
    reaches = [reaching_shelf(o, scene, th.keypoint_min_score) for o in obs]
    t = np.array([o.t for o in obs])
    picks = []
    for first, last in runs_where([shelf is not None for shelf, _ in reaches], t, th.max_gap_s):
        if first == 0:
            continue  # the hand must enter the shelf, not be there when the track starts
        dwell = t[last] - t[first]
        if not lasts(dwell, th.picking_dwell_s) or dwell > th.picking_reach_max_s + EPS:
            continue
        span = reaches[first:last + 1]
        shelf = Counter(s for s, _ in span if s).most_common(1)[0][0]
        by_wrist = sum(source == "wrist" for _, source in span) > len(span) / 2
        # no object seen: weaker evidence than an item track, and weaker still without a wrist
        evidence = (0.4 + 0.3 * saturate(dwell, 3 * th.picking_dwell_s)) * (1.0 if by_wrist else 0.85)
        picks.append(Pick(
            person=track, t_start=float(t[first]), t_end=float(t[last]), highlight=(first + last) // 2,
            source="hand_in_shelf", evidence=evidence, shelf=shelf, hand="wrist" if by_wrist else "box",
            dwell_s=float(dwell),
        ))
    return picks


def _merge(picks: list[Pick], th: BehaviourThresholds) -> list[Pick]:
    """One pick per moment: picks of one person that overlap in time are one, told by its best signal."""
    picks = sorted(picks, key=lambda p: p.t_start)
    groups: list[list[Pick]] = []
    for p in picks:
        if groups and p.t_start <= max(q.t_end for q in groups[-1]) + EPS:
            groups[-1].append(p)
        else:
            groups.append([p])
    merged = []
    for group in groups:
        best = min(group, key=lambda p: (_SOURCE_RANK[p.source], -p.evidence))
        others = [p for p in group if p is not best]
        for other in others:
            # a reach seen by pose says which wrist and how far, even when the item track tells the pick
            if best.side is None and other.side is not None:
                best.side, best.point, best.reach = other.side, other.point, other.reach
            if best.reach_s is None and other.reach_s is not None:
                best.reach, best.reach_s = other.reach, other.reach_s
            best.shelf = best.shelf or other.shelf
            if best.dwell_s is None and other.dwell_s is not None:
                best.dwell_s, best.hand = other.dwell_s, other.hand
        best.t_start = min(p.t_start for p in group)  # from the hand leaving the body to its return
        best.t_end = max(p.t_end for p in group)
        best.also = sorted({*best.also, *(p.source for p in others)} - {best.source})
        # agreeing signals: each one more adds a little
        best.evidence = min(1.0, best.evidence + 0.1 * len({p.source for p in others} - {best.source}))
        merged.append(best)
    return merged


def pick_facts(pick: Pick) -> dict:
    """What the event shows about its pick: which wrist, how far it reached, the item, the signals."""
    facts: dict = {"evidence": pick.source}
    if pick.also:
        facts["also"] = list(pick.also)
    if pick.wrist:
        facts["wrist"] = pick.wrist
    if pick.reach is not None:
        facts["reach"] = round(float(pick.reach), 2)
    if pick.reach_s is not None:
        facts["reach_s"] = round(float(pick.reach_s), 2)
    if pick.point is not None:
        facts["reach_point"] = [round(pick.point[0], 1), round(pick.point[1], 1)]
    if pick.take is not None:
        facts["item"] = pick.take.item.class_name
        facts["put_back"] = pick.take.put_back
    if pick.dwell_s is not None:
        facts["dwell_s"] = round(pick.dwell_s, 2)
        facts["hand"] = pick.hand
    return facts


def evidence_box(obs: Observation, points: Sequence[tuple[float, float] | None], pad: float,
                 frame_size: tuple[int, int]) -> tuple[float, float, float, float]:
    """The person's box grown to take in the evidence points (a reaching wrist, an item), pad pixels around them."""
    boxes = [obs.bbox] + [(x - pad, y - pad, x + pad, y + pad) for p in points if p is not None for x, y in [p]]
    return union_box(boxes, frame_size)


class PickingRule(ThresholdRule):
    """picking: a hand reaches away from the body to a surface and comes back, with or without an item seen."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        return [self._event(bout, scene) for bout in pick_bouts(find_picks(tracks, scene, self.th), self.th)]

    def _event(self, bout: list[Pick], scene: Scene) -> Event:
        pick = max(bout, key=lambda p: p.evidence)  # the clearest reach is the one shown
        obs = pick.person.observations
        highlight = obs[pick.highlight]
        arms = arms_of(scene, pick.person, self.th)
        item = pick.take.item if pick.take else None
        item_point = None
        if item is not None:
            moved = item.observations[pick.take.moved]
            item_point = moved.centre
            detection = (moved.confidence + highlight.confidence) / 2
        else:
            detection = mean_confidence(obs[max(0, pick.highlight - 1):pick.highlight + 2])
        place = (pick.shelf, "shelf") if pick.shelf else scene.zones.label(highlight)
        pad = _POINT_PAD * float(arms.torso[pick.highlight])
        facts = pick_facts(pick)
        paid_at = _paid_at(bout[0], scene)
        if paid_at is not None:
            facts["paid"] = paid_at != ""  # with checkout zones drawn: did the picker go to one afterwards
            if paid_at:
                facts["checkout"] = paid_at
        if len(bout) > 1:
            facts["reaches"] = len(bout)
            if len({p.wrist for p in bout}) > 1:
                facts.pop("wrist", None)  # reaches with either hand: no one hand to name
        return make_event(
            "picking", track=pick.person, obs=highlight, t_start=bout[0].t_start, t_end=bout[-1].t_end,
            evidence=pick.evidence, detection=detection, place=place,
            related=(item.number,) if item is not None else (), object_class=item.class_name if item else None,
            facts=facts,
            bbox=evidence_box(highlight, [pick.point, item_point], pad, scene.frame_size),
        )


def pick_bouts(picks: Sequence[Pick], th: BehaviourThresholds) -> list[list[Pick]]:
    """Picks grouped into bouts: one person's reaches into one place (a shelf, or none) with gaps under
    picking_bout_gap_s; a pick of a seen item is a bout of its own. In order of their first pick."""
    bouts: list[list[Pick]] = []
    open_bouts: dict[tuple[int, str | None], list[Pick]] = {}
    for pick in sorted(picks, key=lambda p: p.t_start):
        key = (id(pick.person), pick.shelf)
        bout = open_bouts.get(key)
        if (pick.take is None and bout is not None and bout[-1].take is None
                and pick.t_start - bout[-1].t_end <= th.picking_bout_gap_s):
            bout.append(pick)
            continue
        bouts.append([pick])
        open_bouts[key] = bouts[-1]
    return bouts


def _paid_at(pick: Pick, scene: Scene) -> str | None:
    """The checkout the picker stopped at after the pick; "" for none; None when no checkout zone is drawn."""
    if not any(z.kind == "checkout" for z in scene.zones.zones):
        return None
    after = [o for o in pick.person.observations if o.t >= pick.t_start]
    return scene.zones.stopped_at(after, "checkout") or ""
