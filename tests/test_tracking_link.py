"""Joining tracklets that the tracker split (pure logic, synthetic tracks)."""

from __future__ import annotations

from gpu_jobs.types import Observation, Track
from gpu_jobs.vision.tracking import link_tracklets


def walker(number, t0, t1, x0, vx, *, y=300.0, h=100.0, fps=5.0):
    track = Track(number, "person")
    n = int(round((t1 - t0) * fps)) + 1
    for i in range(n):
        t = t0 + i / fps
        x = x0 + vx * (t - t0)
        track.observations.append(Observation(t, int(t * 10), (x - 20, y - h, x + 20, y), 0.9))
    return track


def test_a_person_lost_for_a_second_is_one_track_again():
    a = walker(7, 0.0, 4.0, 100, 50)
    b = walker(9, 5.0, 8.0, 100 + 50 * 5.0, 50)  # reappears where the walk was heading
    other = walker(3, 0.0, 8.0, 600, -30)
    out = link_tracklets([a, b, other])
    people = [t for t in out if t.class_name == "person"]
    assert len(people) == 2
    joined = next(t for t in people if len(t.observations) == len(a.observations))
    assert joined.t_start == 0.0 and joined.t_end == 8.0
    assert sorted(t.number for t in out) == [1, 2]


def test_far_away_or_overlapping_tracklets_stay_apart():
    a = walker(1, 0.0, 4.0, 100, 50)
    far = walker(2, 4.6, 8.0, 700, 50)  # starts across the frame: someone else
    overlapping = walker(3, 3.0, 6.0, 250, 50)  # seen at the same time as a: someone else
    late = walker(4, 9.0, 12.0, 100 + 50 * 9.0, 50)  # back after longer than the gap limit
    assert len(link_tracklets([a, far, overlapping, late], max_gap_s=2.0)) == 4


def test_unknown_attributes_are_filled_from_the_joined_part():
    a = walker(1, 0.0, 2.0, 100, 50)
    b = walker(2, 2.6, 4.0, 100 + 50 * 2.6, 50)
    a.attributes = {"gender": "unknown", "clothing_colour": "red"}
    b.attributes = {"gender": "female", "clothing_colour": "blue"}
    (joined,) = link_tracklets([a, b])
    assert joined.attributes == {"gender": "female", "clothing_colour": "red"}
