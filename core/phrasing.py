"""Who and where, in words: the one phrasing that descriptions, answers and frame chat share.

Example:
    >>> describe_who({"age_group": "young", "gender": "male", "clothing_colour": "red"})
    'young male in red'
    >>> subject_phrase({"gender": "female", "clothing_colour": "black", "clothing": "jacket"})
    'A woman in a black jacket'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from core.vocabulary import PERSON

UNKNOWN = frozenset({"", "unknown", "none", "n/a", "null", "?"})

REGION_PHRASES = {
    "left": "on the left side of the frame",
    "centre": "in the centre of the frame",
    "center": "in the centre of the frame",
    "right": "on the right side of the frame",
}
ORIENTATION_PHRASES = {
    "back": "seen from behind", "front": "facing the camera",
    "left": "seen from the side", "right": "seen from the side", "side": "seen from the side",
}
# a walk's heading (the walking rule's direction fact) in words
DIRECTION_PHRASES = {"left": "to the left", "right": "to the right", "away": "away from the camera",
                     "towards": "towards the camera"}
# where a concealment put the item (the rule's hidden_at fact), as a short phrase
# why footage with nobody detected in it may still hold something (the answers and the video page say it)
UNSEEN_PEOPLE = ("people the detector cannot make out (very dark, very close or seen from straight above) "
                 "leave no events")
HIDDEN_PLACES = {"waist": "at the waist", "pocket": "in a pocket", "bag": "in a bag", "clothing": "inside the clothing"}
_MALE = frozenset({"male", "man", "m", "boy"})
_FEMALE = frozenset({"female", "woman", "f", "girl"})


def known(value: Any) -> str | None:
    """A known attribute value in lower case, or None for a missing or 'unknown' one."""
    if isinstance(value, str) and value.strip().lower() not in UNKNOWN:
        return value.strip().lower()
    return None


def known_words(value: Any) -> str | None:
    """A known value as words for a sentence (case kept, underscores as spaces), or None."""
    if value is None:
        return None
    text = str(value).strip().replace("_", " ")
    return None if text.lower() in UNKNOWN else text


def plural(n: int, word: str) -> str:
    """'1 bottle', '3 bottles', '2 people', '2 boxes'."""
    if n == 1:
        return f"1 {word}"
    if word == PERSON:
        return f"{n} people"
    return f"{n} {word}{'es' if word.endswith(('s', 'sh', 'ch')) else 's'}"


def listed(parts: Sequence[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (or 'or')."""
    parts = list(parts)
    return ", ".join(parts[:-1]) + f" {last} {parts[-1]}" if len(parts) > 1 else "".join(parts)


def is_male(gender: str | None) -> bool:
    return (gender or "").lower() in _MALE


def is_female(gender: str | None) -> bool:
    return (gender or "").lower() in _FEMALE


def age_word(age_group: str | None) -> str | None:
    """An adjective for an age group label or a Levi-Hassner bucket such as '(25-32)'."""
    if age_group is None:
        return None
    text = age_group.lower()
    numbers = [int(n) for n in re.findall(r"\d+", text)]
    if numbers:
        age = sum(numbers) / len(numbers)
        for limit, adjective in ((13, "child"), (20, "teenage"), (35, "young"), (45, None), (60, "middle-aged")):
            if age < limit:
                return adjective
        return "elderly"
    for word, adjective in (("child", "child"), ("kid", "child"), ("teen", "teenage"), ("young", "young"),
                            ("youth", "young"), ("middle", "middle-aged"), ("senior", "elderly"), ("elder", "elderly"),
                            ("old", "elderly")):
        if word in text:
            return adjective
    return None  # 'adult' says nothing a reader needs


def with_article(phrase: str) -> str:
    return ("An " if phrase[:1].lower() in "aeiou" else "A ") + phrase


def subject_phrase(attributes: Mapping[str, Any]) -> str:
    """The subject of an event sentence: 'A young man in a black jacket', or 'A person'."""
    age = age_word(known_words(attributes.get("age_group")))
    gender = known_words(attributes.get("gender"))
    child = age == "child"
    if is_male(gender):
        noun = "boy" if child else "man"
    elif is_female(gender):
        noun = "girl" if child else "woman"
    else:
        noun = "child" if child else "person"
    adjective = None if child else age
    phrase = f"{adjective} {noun}" if adjective else noun
    colour = known_words(attributes.get("clothing_colour"))
    clothing = known_words(attributes.get("clothing"))
    if colour and clothing:
        phrase += f" in a {colour} {clothing}" if not clothing.endswith("s") else f" in {colour} {clothing}"
    elif colour:
        phrase += f" in {colour}"
    extras = []
    orientation = known_words(attributes.get("orientation"))
    if orientation and orientation.lower() in ORIENTATION_PHRASES:
        extras.append(ORIENTATION_PHRASES[orientation.lower()])
    emotion = known_words(attributes.get("emotion"))
    if emotion and emotion.lower() != "neutral":
        extras.append(f"looking {emotion.lower()}")
    if extras:
        phrase += ", " + " and ".join(extras) + ","
    return with_article(phrase)


def describe_who(attributes: Mapping[str, Any]) -> str:
    """'young male in red' from age_group, gender and clothing_colour ('' if unknown)."""
    age = known(attributes.get("age_group"))
    gender = known(attributes.get("gender"))
    colour = attributes.get("clothing_colour") or attributes.get("colour")
    if isinstance(colour, Mapping):  # e.g. {"upper": "red", "lower": "blue"}
        colour = " and ".join(c for c in (known(v) for v in colour.values()) if c)
    elif isinstance(colour, list | tuple):
        colour = " and ".join(c for c in (known(v) for v in colour) if c)
    else:
        colour = known(colour)
    who = " ".join(w for w in (age, gender) if w)
    if colour:
        who = f"{who} in {colour}" if who else f"person in {colour}"
    return who


def describe_look(attributes: Mapping[str, Any]) -> str:
    """'young male in red, facing the camera, looks happy': who, then orientation and emotion."""
    who = " ".join(w for w in (known(attributes.get("age_group")), known(attributes.get("gender"))) if w)
    colour = known(attributes.get("clothing_colour"))
    if colour:
        who = f"{who} in {colour}" if who else f"in {colour}"
    extras = []
    orientation = known(attributes.get("orientation"))
    if orientation:
        extras.append({"front": "facing the camera", "back": "seen from behind"}.get(orientation,
                                                                                    f"seen from the {orientation}"))
    emotion = known(attributes.get("emotion"))
    if emotion:
        extras.append(f"looks {emotion}")
    return ", ".join(p for p in (who, *extras) if p)


def describe_places(places: Sequence[str], regions: Sequence[str] = ()) -> str:
    """' at the counter', ' at the checkout or exit', ' at the counter on the left' ('' when none)."""
    where = describe_where(places[0]) if len(places) == 1 else f" at the {' or '.join(places)}" if places else ""
    return where + (describe_where(regions[0]) if len(regions) == 1 else
                    f" in the {' or '.join(regions)} of the frame" if regions else "")


def describe_where(zone: Any) -> str:
    """' at the checkout', ' on the left', ' in the centre' ('' without a zone)."""
    if not isinstance(zone, str) or not zone.strip():
        return ""
    zone = zone.strip().lower()
    if zone in {"left", "right"}:
        return f" on the {zone}"
    if zone in {"centre", "center", "middle"}:
        return " in the centre"
    if zone.startswith("behind "):  # the question's own place phrase ("behind the counter")
        return f" {zone}"
    if "staff" in zone or "office" in zone:
        return f" in the {zone}"
    return f" at the {zone}"
