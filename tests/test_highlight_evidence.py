"""What a highlight shows of an event's evidence: the pose, the rule's points, the other tracks and one line of why."""

from __future__ import annotations

import numpy as np

from core.vocabulary import colour_bgr
from gpu_jobs.highlight_evidence import MIN_SCORE, caption, poses_at
from gpu_jobs.highlights import draw_event
from gpu_jobs.types import KEYPOINTS, Event, Observation, Track

K = {name: i for i, name in enumerate(KEYPOINTS)}


def _event(type_: str = "picking", **attributes) -> Event:
    return Event(type=type_, t_start=1.0, t_end=2.0, frame=10, bbox=(100.0, 40.0, 180.0, 220.0), confidence=0.8,
                 track_number=1, attributes=attributes, related_tracks=(2,))


def _pose() -> np.ndarray:
    """A standing person in the event's box, every keypoint sure but the right wrist."""
    pose = np.zeros((17, 3), np.float32)
    for name, (x, y) in {"left_shoulder": (125, 80), "right_shoulder": (155, 80), "left_hip": (128, 140),
                         "right_hip": (152, 140), "left_elbow": (118, 110), "left_wrist": (115, 135),
                         "right_elbow": (165, 110), "right_wrist": (168, 135), "left_knee": (128, 180),
                         "right_knee": (152, 180), "left_ankle": (128, 215), "right_ankle": (152, 215)}.items():
        pose[K[name]] = (x, y, 0.9)
    pose[K["right_wrist"], 2] = MIN_SCORE / 2
    return pose


def test_the_caption_says_why_each_kind_fired():
    collapse = _event("collapse", lying_s=3.45, fall_flag=True)
    assert caption(collapse) == "lying 3.5 s after the fall, fall detector agrees"
    assert caption(_event("violent", fight_probability=0.861)) == "fight model 0.86"
    assert caption(_event("violent", limb_speed=2.44)) == "limbs 2.4 body lengths/s"
    assert caption(_event("picking", wrist="left", reach=1.37)) == "left wrist reached 1.4 torso lengths out"
    assert caption(_event("picking", item="bottle", reach=1.4)) == "bottle taken"  # the item outranks the reach
    assert caption(_event("concealment", dwell_s=2.0, hidden_at="waist", item_vanished=True)) == (
        "hand in the shelf 2.0 s, hand to the waist, item no longer seen")
    assert caption(_event("theft", item="bottle", carried_out=True)) == "bottle taken, carried out, no checkout"
    assert (caption(_event("theft", item="bottle", carried_out=True, payment_checked=False))
            == "bottle taken, carried out, no checkout zone drawn")
    unchecked = _event("theft", hidden_at="waist", payment_checked=False)
    assert caption(unchecked) == "hand to the waist, no checkout zone drawn"
    assert caption(_event("walking", direction="left")) == ""


def test_the_highlight_draws_the_pose_the_points_the_other_person_and_the_caption():
    image = np.full((240, 320, 3), 90, np.uint8)
    event = _event("picking", wrist="left", reach=1.4, reach_point=[60.0, 120.0])
    others = [{"track": 2, "bbox": [200, 50, 260, 220]}, {"track": 3, "bbox": [270, 50, 310, 220]}]
    plain = draw_event(image, _event("walking"), others)
    drawn = draw_event(image, event, others, pose=_pose())
    colour = np.array(colour_bgr("picking"))

    def coloured(img, y, x):
        return np.abs(img[y, x].astype(int) - colour).max() < 40

    assert coloured(drawn, 160, 128) and not coloured(plain, 160, 128), "the left thigh, hip to knee"
    assert not coloured(drawn, 123, 167), "the unsure right forearm is not drawn"
    assert coloured(drawn, 120, 53), "a ring around the reach point"
    assert coloured(drawn, 130, 200) and not coloured(drawn, 130, 270), "the related track in colour, not another"
    assert coloured(drawn, 237, 2) and not coloured(plain, 237, 2), "the caption strip along the bottom"
    assert not coloured(draw_event(image, event, others), 160, 128), "no pose given: no skeleton"


def test_poses_come_from_the_events_person_at_its_frame():
    pose = _pose()
    track = Track(number=1, class_name="person", observations=[
        Observation(t=0.9, frame=9, bbox=(0, 0, 1, 1), confidence=0.9, keypoints=np.zeros((17, 3), np.float32)),
        Observation(t=1.0, frame=10, bbox=(0, 0, 1, 1), confidence=0.9, keypoints=pose)])
    walking = _event("walking")
    nobody = Event(type="collapse", t_start=1.0, t_end=2.0, frame=10, bbox=(0, 0, 1, 1), confidence=0.8)
    elsewhen = Event(type="collapse", t_start=3.0, t_end=4.0, frame=30, bbox=(0, 0, 1, 1), confidence=0.8,
                     track_number=1)
    found = poses_at([track], [_event("collapse"), walking, nobody, elsewhen])
    assert found[0] is pose and found[1:] == [None, None, None]
