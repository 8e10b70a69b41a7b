"""theft: an item taken and not put back, then concealed or carried out past an exit, unpaid."""

from __future__ import annotations

from typing import Sequence

from gpu_jobs.behaviours.events import lasts, make_event
from gpu_jobs.behaviours.items import ItemTake, find_item_takes
from gpu_jobs.behaviours.kinematics import hand_points
from gpu_jobs.behaviours.rule import ThresholdRule
from gpu_jobs.behaviours.scene import Scene
from gpu_jobs.types import Event, Observation, Track


class TheftRule(ThresholdRule):
    """theft: an item taken and not put back, then concealed or carried out past an exit, unpaid.

    Concealed: the item track vanishes while it is in the person's hands, away from a shelf, and
    the person stays visible. Carried out: the person reaches an exit zone with the item (seen, or
    concealed). Unpaid: no checkout zone visited between the take and the exit (or the track's end).
    """

    def detect(self, tracks: Sequence[Track], scene: Scene) -> list[Event]:
        events = []
        for take in find_item_takes(tracks, scene, self.th):
            if not take.put_back:
                event = self._judge(take, scene)
                if event is not None:
                    events.append(event)
        return events

    def _judge(self, take: ItemTake, scene: Scene) -> Event | None:
        th = self.th
        prof = scene.profile(take.person, th)
        person_obs = prof.observations
        item_obs = take.item.observations
        t_taken = item_obs[take.grab].t
        vanished = item_obs[-1]

        j = prof.by_frame.get(vanished.frame)
        concealed = bool(
            j is not None
            and lasts(take.person.t_end - vanished.t, th.theft_conceal_grace_s)
            and take.held[-1]
            and not self._at_shelf(person_obs[j], scene)
        )
        exit_j = next((k for k, o in enumerate(person_obs) if o.t >= t_taken and scene.zones.foot_in(o, "exit")), None)
        t_until = person_obs[exit_j].t if exit_j is not None else take.person.t_end
        paid = any(t_taken <= o.t <= t_until and scene.zones.foot_in(o, "checkout") for o in person_obs)
        carried_out = exit_j is not None and (concealed or self._held_near(take, person_obs[exit_j].t))
        if paid or not (concealed or carried_out):
            return None

        highlight = person_obs[j] if concealed else person_obs[exit_j]
        place = (scene.zones.foot_in(person_obs[exit_j], "exit"), "exit") if carried_out else scene.zones.label(highlight)
        return make_event(
            "theft", track=take.person, obs=highlight, t_start=t_taken,
            t_end=person_obs[exit_j].t if carried_out else vanished.t,
            evidence=0.5 + 0.25 * concealed + 0.25 * carried_out,
            detection=(vanished.confidence + highlight.confidence) / 2, place=place,
            related=(take.item.number,), object_class=take.item.class_name,
            facts={"item": take.item.class_name, "shelf": take.shelf, "taken_at": t_taken, "concealed": concealed,
                   "carried_out": carried_out, "checkout_visited": False},
        )

    def _at_shelf(self, obs: Observation, scene: Scene) -> bool:
        points, _ = hand_points(obs, self.th.keypoint_min_score)
        return scene.zones.foot_in(obs, "shelf") is not None or any(scene.zones.at_point(x, y, "shelf") for x, y in points)

    def _held_near(self, take: ItemTake, t: float) -> bool:
        """Whether the item is seen in the person's hands around time t."""
        return any(held and abs(o.t - t) <= self.th.max_gap_s for o, held in zip(take.item.observations, take.held))
