"""collapse: a fast drop from standing to down, then staying down.

What a fall looks like to a CCTV analysis at 5 fps (Le2i and GMDCSA-24 rooms): the box's top
(the head) comes down fast, the box turns squat (crouched, on the floor, lying), and then either
the person stays down where the camera can see them, or the person detector loses them, because
detectors trained on COCO rarely find someone lying on a floor. So a collapse is:

1. a standing moment (box at least collapse_upright_aspect tall, not cut by the frame's edge),
2. within collapse_drop_s the head falls at least collapse_head_drop standing heights and the
   person is down (box h/w <= collapse_low_aspect, lying, or flagged by a fall detector),
3. for collapse_persist_s after that nobody stands up there again (the same track, another track
   or an untracked person detection within collapse_return_radius), and one of
   - lying is seen (box h/w < lying_aspect, or a fall detector's flag),
   - the drop went all the way to the floor (>= collapse_floor_drop: sitting on a chair drops less),
   - the track ends there, away from the frame's edges, while the scene goes on being watched.

What is not a collapse: sitting down fast (a shallow drop, seen sitting on), lying down slowly
(the drop takes longer than collapse_drop_s), a stumble or a bend (standing again within
collapse_persist_s), someone already lying when first seen (unless a fall detector flags them),
walking out of the frame or being cut by its edge (an edge box is neither a standing reference
nor a place where someone was lost), a fall detector's flag on someone cut by the edge who is
there as the video begins (the flag sees part of a body, and nothing says they fell in the video:
a customer leaning over a counter at the picture's bottom edge), or on someone cut by the edge
where someone was seen down in the EDGE_MEMORY_S before (that customer again, hidden now and then
by those in front, a tracker's id jumping onto her).

The edges are the picture's: a letterboxed or pillarboxed export frames it with black bars
(`Scene.picture`, found by `gpu_jobs.vision.picture`), and a box at a bar is cut like one at the
frame's edge.

Nor is a track that jumped between people in a crowd (store clips under a high camera: a tracker
moves a standing customer's id onto someone leaning over the counter in front of them):
- the person it fell from is still seen standing in about the same box after the drop, twice or
  more (one person cannot stand there and lie on the floor at once);
- someone was already down where it lies (a squat box there, three sightings or more) in the
  collapse_persist_s before the fall could have begun: they stayed down there, nobody fell (this
  also holds for a fall detector's flag: one that comes while someone has been down there a while);
- an edge of the box moved between two sightings faster than a head in free fall: no body falls
  that fast, the box is someone else's (usually someone nearer the camera).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from core.geometry import box_iou
from gpu_jobs.behaviours.events import EPS, lasts, make_event, mean_confidence, runs_where, saturate
from gpu_jobs.behaviours.kinematics import TrackProfile
from gpu_jobs.behaviours.rule import ThresholdRule, person_tracks
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track

CRUMPLE = 0.75  # a box this much shorter than standing, with the head fallen, is going down
END_SLACK_S = 0.6  # a track seen this close to the end of what was watched lasted to the end
MIN_DOWN_S = 0.4  # down at least this long when the video ends right after the drop
FLAG_ASPECT = 1.0  # a flag alone counts on boxes wider than tall: a flagged tall box is someone bending or sitting
SAME_BOX_IOU = 0.5  # two boxes this close in one place are one person
STILL_STANDING_SEEN = 2  # sightings standing in the pre-fall box after the drop that say nobody fell (one may be stray)
# no part of a falling body outruns a head in free fall from standing height H: sqrt(2 g / H) standing heights
# a second, 3.4 for H = 1.7 m, 4.4 for a 1 m child; a box edge moving faster is the track jumping to someone else
FREE_FALL_SPEED = 4.4
ALREADY_DOWN_SEEN = 3  # sightings of someone down where the fall lands, before it began: they were there already
# at the picture's edge a flag sees part of a body, and people in front hide who leans there: look back this long
EDGE_MEMORY_S = 30.0


@dataclass(slots=True)
class Fall:
    """One collapse found on a track: where it started, where the person was last down, and why it counts."""

    start: int  # the standing observation the fall started from
    down: int  # the first observation down
    last: int  # the last observation of the fall (down, or the last one before the track was lost)
    drop: float  # how far the head fell, in standing heights
    why: str  # lying | floor | lost | flag
    down_s: float  # how long they were seen down (or lost there) after the drop
    lying: bool


def signals_between(scene: Scene, t0: float, t1: float) -> list:
    """The scene's frame signals with t0 <= t < t1 (found by bisection: long videos have many)."""
    def by_time():
        ordered = sorted(scene.signals, key=lambda s: s.t)
        return ordered, np.array([s.t for s in ordered], float)

    ordered, times = scene.cached(("collapse_signals",), scene.signals, by_time)
    lo, hi = np.searchsorted(times, [t0 - EPS, t1 - EPS])
    return ordered[lo:hi]


def one_per_fall(events: list[Event]) -> list[Event]:
    """One collapse per fall: the person's track and a second track on them lying (a fall detector's box) make one.

    Of collapses overlapping in time at the same place, the one that saw the drop (else the more
    confident) stays.
    """
    def near(a: Event, b: Event) -> bool:
        ax1, ay1, ax2, ay2 = a.bbox
        bx1, by1, bx2, by2 = b.bbox
        gx = max(ax2 - ax1, bx2 - bx1, ay2 - ay1, by2 - by1) / 2  # within half a body of each other
        return ax1 - gx <= bx2 and bx1 - gx <= ax2 and ay1 - gx <= by2 and by1 - gx <= ay2

    kept: list[Event] = []
    for e in sorted(events, key=lambda e: (e.attributes.get("seen") == "flag", -e.confidence, e.t_start)):
        if not any(e.t_start <= k.t_end and k.t_start <= e.t_end and near(e, k) for k in kept):
            kept.append(e)
    return [e for e in events if any(e is k for k in kept)]


class CollapseRule(ThresholdRule):
    """collapse: a fast drop from standing to down, then down for collapse_persist_s (see the module docstring)."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        th = self.th
        people = person_tracks(tracks)
        profiles = [scene.profile(tr, th) for tr in people]
        scene_end = max([float(p.t[-1]) for p in profiles] + [s.t for s in scene.signals[-1:]], default=0.0)
        scene_start = min([float(p.t[0]) for p in profiles] + [s.t for s in scene.signals[:1]], default=0.0)
        events = []
        for k, p in enumerate(profiles):
            others = [q for j, q in enumerate(profiles) if j != k]
            found = self._falls(p, others, scene, scene_end)
            found += [f for f in self._flagged(p, scene, scene_start)
                      if not any(f.down <= g.last and g.down <= f.last for g in found)]
            for fall in found:
                events.append(self._event(p, fall, scene))
        return one_per_fall(events)

    # ---------------------------------------------------------------------------------------- measures

    def _cut(self, boxes: np.ndarray, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per box: cut by the picture's top, its bottom, a side (the picture's edges: black bars are no picture)."""
        px1, py1, px2, py2 = scene.bounds
        ex, ey = self.th.collapse_edge * (px2 - px1), self.th.collapse_edge * (py2 - py1)
        cut_top = boxes[:, 1] <= py1 + ey  # the head is out of the picture: its height is unknown
        cut_bottom = boxes[:, 3] >= py2 - ey
        cut_side = (boxes[:, 0] <= px1 + ex) | (boxes[:, 2] >= px2 - ex)
        return cut_top, cut_bottom, cut_side

    def _shape(self, p: TrackProfile, scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per observation: box h/w, top y, standing-ready (tall, uncut) and down."""
        th = self.th
        boxes = p.boxes
        h = np.maximum(1.0, boxes[:, 3] - boxes[:, 1])
        w = np.maximum(1.0, boxes[:, 2] - boxes[:, 0])
        aspect = h / w
        cut_top, cut_bottom, cut_side = self._cut(boxes, scene)
        # feet out of the frame (close to the camera) still leave the head to measure
        standing = (aspect >= th.collapse_upright_aspect) & ~cut_top
        lying = np.array([s == "lying" for s in p.posture]) | p.fall_flag
        # a box cut by a side edge narrows or widens as the person walks out; squat but not lying is no sign there
        down = ((aspect <= th.collapse_low_aspect) & ~(cut_side & (aspect > th.lying_aspect))) | lying
        return aspect, boxes[:, 1], standing, down, cut_bottom

    def _falls(self, p: TrackProfile, others: list[TrackProfile], scene: Scene, scene_end: float) -> list[Fall]:
        th = self.th
        n = len(p.t)
        if n < 2:
            return []
        aspect, top, standing, down, cut_bottom = self._shape(p, scene)
        height = p.boxes[:, 3] - p.boxes[:, 1]
        lying = (aspect < th.lying_aspect) | p.fall_flag
        # crumpling: the head falls fast and the box shrinks, even where furniture hides how squat the body is
        for i in np.flatnonzero(~down):
            refs = [j for j in range(i) if standing[j] and p.t[i] - p.t[j] <= th.collapse_drop_s + EPS]
            down[i] = any((top[i] - top[j]) / height[j] >= th.collapse_head_drop - EPS
                          and height[i] <= CRUMPLE * height[j] for j in refs)
        falls: list[Fall] = []
        k = 1
        while k < n:
            if not down[k] or down[k - 1]:  # judge each down stretch once, from where it starts
                k += 1
                continue
            refs = [j for j in range(k) if standing[j] and p.t[k] - p.t[j] <= th.collapse_drop_s + EPS]
            if not refs:
                k += 1
                continue
            j = min(refs, key=lambda i: top[i])  # the head at its highest just before
            # standing height: the tallest standing box a little before (the fall may have begun at j)
            ref_h = float(height[j])
            tallest = float(max(height[i] for i in range(k) if standing[i]
                                and p.t[k] - p.t[i] <= 2 * th.collapse_drop_s + EPS))
            # the down stretch: consecutive down observations (short holes allowed)
            last = k
            while last + 1 < n and down[last + 1] and p.t[last + 1] - p.t[last] <= th.max_gap_s + EPS:
                last += 1
            # how far the head fell within collapse_drop_s: from a standing moment to a moment down soon after
            early = [i for i in range(k, last + 1) if p.t[i] - p.t[k] <= 1.0 + EPS]
            drop = max(float((top[i] - top[r]) / height[r]) for i in early for r in range(i)
                       if standing[r] and p.t[i] - p.t[r] <= th.collapse_drop_s + EPS)
            if drop < th.collapse_head_drop - EPS or self._too_fast(p, refs[0], early[-1], ref_h):
                k = last + 1
                continue
            horizon = p.t[k] + th.collapse_persist_s
            # standing again on this track within the horizon: a stumble, a bend, a squat
            back_up = [i for i in range(last + 1, n) if p.t[i] <= horizon + EPS and standing[i]
                       and (top[i] - top[j]) / ref_h < th.collapse_head_drop / 2]
            if back_up:
                k = last + 1
                continue
            # lying soon after the drop; lying down later, after sitting a while, is done on purpose
            soon = p.t[k:last + 1] <= horizon + EPS
            seen_lying = bool(lying[k:last + 1][soon].any())
            # how tall they are down there, against standing: on a chair ~0.7, on the floor ~0.5 or less
            low_share = float(np.median(height[k:last + 1][soon])) / tallest
            down_s = float(p.t[last] - p.t[k])
            lost = last == n - 1 and self._lost_in_place(p, last, others, scene, scene_end, ref_h)
            # down until the video ends counts as staying down, however short what was left to watch
            to_end = last == n - 1 and scene_end - float(p.t[last]) <= END_SLACK_S + EPS and down_s >= MIN_DOWN_S
            persists = lasts(down_s, th.collapse_persist_s) or to_end
            if persists or lost:
                why = None
                if seen_lying:
                    why = "lying"
                elif (drop >= th.collapse_floor_drop - EPS or low_share <= th.collapse_floor_height + EPS) \
                        and persists:
                    why = "floor"
                elif lost:
                    why = "lost"
                if why is not None and self._someone_else(p, refs[-1], k, last, scene, horizon):
                    why = None
                if why is not None:
                    if lost:
                        down_s = max(down_s, min(scene_end, horizon) - float(p.t[k]))
                    falls.append(Fall(start=refs[-1], down=k, last=last, drop=drop, why=why, down_s=down_s,
                                      lying=seen_lying))
            k = last + 1
        return falls

    def _lost_in_place(self, p: TrackProfile, last: int, others: list[TrackProfile], scene: Scene,
                       scene_end: float, ref_h: float) -> bool:
        """The track ended at `last` away from the picture's sides, the scene was watched on, and nobody stood there."""
        th = self.th
        x1, y1, x2, y2 = p.boxes[last]
        cut_top, _, cut_side = self._cut(p.boxes[last:last + 1], scene)
        if cut_side[0] or cut_top[0]:
            return False  # left the picture at a side (or the top): not lost where they fell
        t_lost = float(p.t[last])
        if scene_end - t_lost < min(th.collapse_persist_s, 1.0) - EPS:
            return False  # the video ends: nothing says they stayed down
        horizon = t_lost + th.collapse_persist_s
        spot = np.array([(x1 + x2) / 2, y2])
        radius = th.collapse_return_radius * ref_h

        def stands(box) -> bool:
            bh, bw = box[3] - box[1], max(1.0, box[2] - box[0])
            foot = np.array([(box[0] + box[2]) / 2, box[3]])
            return bh / bw >= th.collapse_upright_aspect and float(np.linalg.norm(foot - spot)) <= radius

        for q in others:
            sel = (q.t > t_lost + EPS) & (q.t <= horizon + EPS)
            if any(stands(b) for b in q.boxes[sel]):
                return False
        for s in scene.signals:
            if t_lost + EPS < s.t <= horizon + EPS and any(stands(b) for b in s.boxes):
                return False
        return True

    def _too_fast(self, p: TrackProfile, first: int, last: int, ref_h: float) -> bool:
        """A box edge moved faster than a freely falling head between two consecutive sightings from first to last."""
        for i in range(first, last):
            dt = float(p.t[i + 1] - p.t[i])
            if not 0 < dt <= self.th.max_gap_s + EPS:
                continue
            step = np.abs(p.boxes[i + 1] - p.boxes[i]).max() / ref_h
            if step > FREE_FALL_SPEED * dt + EPS:
                return True
        return False

    def _someone_else(self, p: TrackProfile, start: int, down: int, last: int, scene: Scene, horizon: float) -> bool:
        """The drop joined two people: the one standing at `start` still stands there, or another lay there before."""
        th = self.th
        ref = p.boxes[start]
        ref_h = float(ref[3] - ref[1])
        t_down, t_end = float(p.t[down]), min(float(p.t[last]), horizon)
        own = {int(p.frames[i]): p.boxes[i] for i in range(down, last + 1)}
        seen = 0
        for s in signals_between(scene, t_down, t_end + 2 * EPS):
            mine = own.get(s.frame)
            for b in s.boxes:
                if mine is not None and np.allclose(b, mine, atol=1.0):
                    continue  # the track's own box (down) is not someone standing
                h, w = float(b[3] - b[1]), max(1.0, float(b[2] - b[0]))
                if h / w >= th.collapse_upright_aspect and h >= CRUMPLE * ref_h and box_iou(b, ref) >= SAME_BOX_IOU:
                    seen += 1
                    break
        if seen >= STILL_STANDING_SEEN:
            return True
        return self._already_down(p, down, last, float(p.t[start]), scene)

    def _already_down(self, p: TrackProfile, down: int, last: int, before: float, scene: Scene,
                      memory: float | None = None) -> bool:
        """Someone was seen down where the track lies (down..last) in the `memory` s up to `before`."""
        th = self.th
        memory = th.collapse_persist_s if memory is None else memory
        spot = np.median(p.boxes[down:last + 1], axis=0)
        seen = 0
        for s in signals_between(scene, before - memory, before):
            for b in s.boxes:
                h, w = float(b[3] - b[1]), max(1.0, float(b[2] - b[0]))
                if h / w <= th.collapse_low_aspect and box_iou(b, spot) >= SAME_BOX_IOU:
                    seen += 1
                    break
        return seen >= ALREADY_DOWN_SEEN

    def _flagged(self, p: TrackProfile, scene: Scene, scene_start: float) -> list[Fall]:
        """A fall detector's flag on a lying run that lasts stands in for the transition nobody saw."""
        th = self.th
        out = []
        for first, last in runs_where([s == "lying" for s in p.posture], p.t, th.max_gap_s):
            lying_s = float(p.t[last] - p.t[first])
            boxes = p.boxes[first:last + 1]
            aspect = float(np.median((boxes[:, 3] - boxes[:, 1]) / np.maximum(1.0, boxes[:, 2] - boxes[:, 0])))
            flags = np.flatnonzero(p.fall_flag[first:last + 1])
            if not (lasts(lying_s, th.collapse_persist_s) and len(flags) and aspect <= FLAG_ASPECT):
                continue
            if first == 0 and float(p.t[0]) - scene_start <= th.collapse_persist_s + th.collapse_drop_s + EPS \
                    and self._at_edge(boxes, scene):
                continue  # part of them hidden, there as the video begins: nothing says they fell in it
            # down there seconds before the first flag (less the fall itself): a late flag, or someone leaning there
            memory = EDGE_MEMORY_S if self._at_edge(boxes, scene) else th.collapse_persist_s
            if not self._already_down(p, first, last, float(p.t[first + flags[0]]) - th.collapse_drop_s, scene,
                                      memory):
                out.append(Fall(start=first, down=first, last=last, drop=0.0, why="flag", down_s=lying_s, lying=True))
        return out

    def _at_edge(self, boxes: np.ndarray, scene: Scene) -> bool:
        """Most of these boxes are cut by the picture's edge (the frame's, or the black bars')."""
        cut_top, cut_bottom, cut_side = self._cut(boxes, scene)
        return float(np.mean(cut_top | cut_bottom | cut_side)) > 0.5

    # ---------------------------------------------------------------------------------------- the event

    def _event(self, p: TrackProfile, fall: Fall, scene: Scene) -> Event:
        th = self.th
        obs = p.observations
        flagged = bool(p.fall_flag[fall.down:fall.last + 1].any())
        evidence = (0.4 + 0.3 * saturate(fall.drop, 2 * th.collapse_head_drop)
                    + 0.3 * saturate(fall.down_s, 2 * th.collapse_persist_s))
        if fall.lying:
            evidence = min(1.0, evidence + 0.1)
        if fall.why == "lost":
            evidence *= 0.85  # the end of the fall was not seen
        if flagged:
            evidence = max(evidence, 0.9)
        first_lying = next((i for i in range(fall.down, fall.last + 1) if p.posture[i] == "lying"), fall.down)
        t_end = max(float(obs[fall.last].t), float(obs[fall.down].t) + fall.down_s)
        return make_event(
            "collapse", track=p.track, obs=obs[first_lying],
            t_start=obs[fall.start].t if fall.why != "flag" else obs[fall.down].t, t_end=t_end,
            evidence=evidence, detection=mean_confidence(obs[fall.down:fall.last + 1]),
            place=scene.zones.label(obs[first_lying]),
            facts={"lying_s": fall.down_s, "hip_drop": fall.drop, "head_drop": fall.drop, "fall_flag": flagged,
                   "seen": fall.why},
        )
