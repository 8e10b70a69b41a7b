"""The first line of a frame answer that asks who is where: "is anyone at the door?", "who is on the left?".

The scene (`rag.frame_chat.describe_scene`) lists everyone on screen; a question that names a place
(a drawn zone by its name or kind, a third of the frame) or a look (a colour, a gender, an age) is
answered first from the people of that frame who fit it. A person is at a zone as the counts judge it
(`core.geometry.standing_at`: the foot point inside it, or within reach of a shelf or checkout).

Example:
    >>> focus_line("is anyone at the door?", scene, [("door", "entrance", [[0, 0.6], [0.2, 0.6], [0.2, 1]])],
    ...            (320, 240))
    'No: nobody is at the door at 01:00.'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from core.clock import format_mmss
from core.geometry import standing_at
from core.phrasing import describe_places, describe_who
from core.vocabulary import REGIONS
from rag.query import QueryFilters, match_filters
from rag.terms import parse_with_zones

ZoneRow = tuple[str, str, Sequence[Sequence[float]]]  # name, kind, polygon in 0..1 of the frame


def focus_line(question: str, scene: dict, zones: Sequence[ZoneRow], size: tuple[float, float]) -> str | None:
    """'Yes: 2 people are at the counter at 01:00 (person 12, person 13).', or None when no place or look is asked.

    size: the video's width and height, in the pixels of the scene's boxes.
    """
    asked = parse_with_zones(question, [(name, kind) for name, kind, _ in zones])
    regions = [z for z in asked.zones if z in REGIONS]
    looks = QueryFilters(colours=asked.colours, genders=asked.genders, age_groups=asked.age_groups)
    if not (asked.places or regions or looks.colours or looks.genders or looks.age_groups):
        return None
    wanted = [(kind, np.asarray(polygon, float) * np.asarray(size, float)) for name, kind, polygon in zones
              if asked.asks_zone(name, kind)]
    if not wanted and asked.places:  # only place words: the names come from this video's own zones
        return (f"No {' or '.join(asked.place_kinds)} zone is drawn for this video, so who is there cannot be told; "
                "draw one on the video page.")
    fit, maybe = [], []
    for person in scene["people"]:
        x1, y1, x2, y2 = person["bbox"]
        foot, height = np.array([[(x1 + x2) / 2.0, y2]]), np.array([y2 - y1])
        if wanted and not any(standing_at(foot, height, polygon, kind)[0] for kind, polygon in wanted):
            continue
        if regions and person["region"] not in regions:
            continue
        checks = match_filters(looks, {"attributes": person["attributes"]}).values()
        if False not in checks:
            (maybe if None in checks else fit).append(person)
    at = f" at {format_mmss(scene['t'])}"
    place = describe_places(asked.places, regions) or " on screen"
    who = describe_who({"gender": looks.genders[0] if len(looks.genders) == 1 else None,
                        "age_group": looks.age_groups[0] if len(looks.age_groups) == 1 else None,
                        "clothing_colour": looks.colours or None})
    # "person in grey" reads "1 person in grey", "nobody in grey"; "female in red" reads "(female in red)"
    look = who[len("person"):] if who.startswith("person ") else f" ({who})" if who else ""
    yes, no = ("Yes: ", "No: ") if asked.is_yes_no else ("", "")
    if not fit and not maybe:
        nobody = f"no {who}" if who and not who.startswith("person ") else f"nobody{look}"
        return _sentence(no, f"{nobody} is{place}{at}.")
    if not fit:  # only people whose looks were not read: they may be the one asked for
        return _sentence("Possibly: " if yes else "possibly ", f"{_people(len(maybe))} {_be(len(maybe))}{place}{at} "
                         f"({', '.join(map(_name, maybe))}), whose looks were not recognised.")
    text = f"{_people(len(fit))}{look} {_be(len(fit))}{place}{at} ({', '.join(map(_name, fit))})"
    if maybe:
        text += f", and {_people(len(maybe))} whose looks were not recognised ({', '.join(map(_name, maybe))})"
    return _sentence(yes, text + ".")


def _sentence(lead: str, text: str) -> str:
    """'Yes: 2 people ...' after a yes/no lead, else the sentence with its first letter up."""
    line = lead + text
    return line[0].upper() + line[1:]


def _people(n: int) -> str:
    return "1 person" if n == 1 else f"{n} people"


def _be(n: int) -> str:
    return "is" if n == 1 else "are"


def _name(person: dict) -> str:
    return f"person {person['track']}" if person.get("track") is not None else "a person"
