"""theft: a pick followed by its concealment, or a pick carried out past an exit, with no visit to a checkout.

- concealed: the pick is followed by a concealment (see concealment.py: the item vanishing in the
  person's hands, or the hand taking it to the waist, a pocket, a bag or inside the clothing).
- carried out: the person reaches an exit zone after the pick with the item seen in their hands,
  or concealed, or (pose or hand-in-shelf picks at a shelf zone, no item seen) at all.
- unpaid: no checkout zone visited between the pick and the exit (or the track's end). Without
  checkout zones nothing can be paid, so a concealment alone is a theft.

An item put back where it came from is no theft. Zones add evidence: a shelf the item came from,
an exit reached.
"""

from __future__ import annotations

from typing import Sequence

from gpu_jobs.behaviours.concealment import Concealment, concealment_facts, find_concealments
from gpu_jobs.behaviours.events import make_event, mean_confidence
from gpu_jobs.behaviours.items import ItemTake
from gpu_jobs.behaviours.picking import Pick, arms_of, evidence_box, find_picks, pick_facts
from gpu_jobs.behaviours.rule import ThresholdRule
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Track

_POINT_PAD = 0.1  # torso lengths around the evidence points in the event's box


class TheftRule(ThresholdRule):
    """theft: a pick followed by its concealment, or carried out past an exit, unpaid."""

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        concealed = {id(c.pick): c for c in find_concealments(tracks, scene, self.th)}
        events = []
        for pick in find_picks(tracks, scene, self.th):
            if pick.take is not None and pick.take.put_back:
                continue
            event = self._judge(pick, concealed.get(id(pick)), scene)
            if event is not None:
                events.append(event)
        return events

    def _judge(self, pick: Pick, concealment: Concealment | None, scene: Scene) -> Event | None:
        th = self.th
        person_obs = pick.person.observations
        t_taken = pick.t_start
        exit_j = next((k for k, o in enumerate(person_obs) if o.t >= t_taken and scene.zones.stands_at(o, "exit")),
                      None)
        t_until = person_obs[exit_j].t if exit_j is not None else pick.person.t_end
        if scene.zones.stopped_at([o for o in person_obs if t_taken <= o.t <= t_until], "checkout"):
            return None  # paid (or at least went to pay)
        carried_out = exit_j is not None and (
            concealment is not None
            or (pick.take is not None and self._held_near(pick.take, person_obs[exit_j].t))
            or (pick.take is None and pick.shelf is not None)
        )
        if concealment is None and not carried_out:
            return None

        if carried_out:
            highlight_j = exit_j
            place = (scene.zones.stands_at(person_obs[exit_j], "exit"), "exit")
            t_end = person_obs[exit_j].t
        else:
            highlight_j = concealment.highlight
            place = scene.zones.label(person_obs[highlight_j])
            t_end = concealment.t_end
        highlight = person_obs[highlight_j]
        if concealment is not None:
            evidence = 0.3 + 0.6 * concealment.evidence + 0.2 * carried_out
        elif pick.take is not None:
            evidence = 0.75  # the item itself seen going out of the door
        else:
            evidence = 0.45  # a hand in a shelf, then out of the door: the item itself was never seen
        item = pick.take.item if pick.take is not None else None
        facts = {
            **{f"pick_{k}" if k in ("evidence", "also") else k: v for k, v in pick_facts(pick).items()},
            "shelf": pick.shelf, "taken_at": round(t_taken, 2), "concealed": concealment is not None,
            "carried_out": carried_out, "checkout_visited": False,
            # without a checkout zone nobody can be seen paying: the sentence says so instead of "without paying"
            "payment_checked": any(zone.kind == "checkout" for zone in scene.zones.zones),
        }
        if concealment is not None:
            shown = concealment_facts(concealment)
            facts.update({"hidden_at": shown.get("hidden_at"), "item_vanished": concealment.item_vanished,
                          "conceal_evidence": shown["evidence"], "concealed_at": round(concealment.t_start, 2)})
            if concealment.wrist:
                facts["wrist"] = concealment.wrist
        detection = mean_confidence(person_obs[max(0, highlight_j - 1):highlight_j + 2])
        if item is not None:
            detection = (detection + item.observations[-1].confidence) / 2
        pad = _POINT_PAD * float(arms_of(scene, pick.person, th).torso[highlight_j])
        points = [pick.point, concealment.point if concealment is not None else None]
        return make_event(
            "theft", track=pick.person, obs=highlight, t_start=t_taken, t_end=max(t_end, t_taken),
            evidence=min(1.0, evidence), detection=detection, place=place,
            related=(item.number,) if item is not None else (), object_class=item.class_name if item else None,
            facts={k: v for k, v in facts.items() if v is not None or k == "shelf"},
            bbox=evidence_box(highlight, points, pad, scene.frame_size),
        )

    def _held_near(self, take: ItemTake, t: float) -> bool:
        """Whether the item is seen in the person's hands around time t."""
        return any(held and abs(o.t - t) <= self.th.max_gap_s for o, held in zip(take.item.observations, take.held))
