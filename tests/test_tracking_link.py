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


def test_a_fragment_hidden_behind_someone_for_seconds_rejoins_where_it_was_lost():
    fragment = walker(1, 0.0, 2.0, 100, 20)  # seen 2 s, then stands hidden behind another shopper
    back = walker(2, 6.0, 12.0, 100 + 20 * 2.0 + 30, 20)  # 4 s later, a third of a body height away
    (joined,) = link_tracklets([fragment, back])
    assert joined.t_start == 0.0 and joined.t_end == 12.0


def test_only_fragments_bridge_long_gaps_and_only_where_they_were_lost():
    long_walk = walker(1, 0.0, 8.0, 100, 20)
    later = walker(2, 12.0, 16.0, 100 + 20 * 8.0, 20)  # 4 s gap, same place, but neither is a fragment
    assert len(link_tracklets([long_walk, later])) == 2
    fragment = walker(3, 0.0, 2.0, 100, 20)
    elsewhere = walker(4, 6.0, 12.0, 400, 20)  # 4 s later, three body heights away: someone else
    assert len(link_tracklets([fragment, elsewhere])) == 2
    too_late = walker(5, 8.0, 12.0, 140, 20)  # same place, but 6 s later: beyond fragment_gap_s
    assert len(link_tracklets([walker(6, 0.0, 2.0, 100, 20), too_late])) == 2
