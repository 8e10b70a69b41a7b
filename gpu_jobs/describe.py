"""Text for events: one natural sentence and the keywords an admin would search for.

Example:
    >>> describe(event, {"age_group": "young", "gender": "male", "clothing_colour": "black", "clothing": "jacket"})
    ('A young man in a black jacket picks up a bottle from the left shelf at 01:12.', ['picking', ...])
"""

from __future__ import annotations

import re

from gpu_jobs.types import Event

UNKNOWN = {"", "unknown", "none", "n/a", "null", "?"}

# what a shopper-security admin may type for each event type
SYNONYMS: dict[str, tuple[str, ...]] = {
    "theft": ("stealing", "shoplifting", "shoplifter", "steal", "stolen", "concealment", "unpaid", "suspicious"),
    "collapse": ("fall", "fell", "fallen", "fainted", "faint", "collapsed", "lying on the floor", "medical emergency", "unconscious"),
    "violent": ("fight", "fighting", "assault", "violence", "aggression", "attack", "hitting", "punching"),
    "picking": ("pick up", "picked up", "taking an item", "grab", "product", "shopping"),
    "walking": ("walk", "moving", "passing by"),
    "standing": ("stand", "standing still", "idle", "waiting"),
    "sitting": ("sit", "seated", "resting"),
    "loitering": ("loiter", "lingering", "hanging around", "dwelling", "suspicious"),
    "crowding": ("crowd", "gathering", "group", "congestion", "busy", "many people"),
    "anomaly": ("unusual", "abnormal", "suspicious"),
}
ANOMALY_SYNONYMS = {
    "running": ("run", "running", "rushing", "sprinting"),
    "against_flow": ("wrong way", "against the flow", "wrong direction"),
}
REGION_PHRASES = {
    "left": "on the left side of the frame",
    "centre": "in the centre of the frame",
    "center": "in the centre of the frame",
    "right": "on the right side of the frame",
}
DIRECTION_PHRASES = {"left": "to the left", "right": "to the right", "away": "away from the camera", "towards": "towards the camera"}
ORIENTATION_PHRASES = {
    "back": "seen from behind", "front": "facing the camera",
    "left": "seen from the side", "right": "seen from the side", "side": "seen from the side",
}
_MALE = {"male", "man", "m", "boy"}
_FEMALE = {"female", "woman", "f", "girl"}
_INSTANT_S = 3.0  # shorter events are told "at mm:ss", longer ones "from mm:ss to mm:ss"


def format_mmss(seconds: float) -> str:
    """Seconds as mm:ss (h:mm:ss from one hour on); negative times read as 00:00."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _known(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip().replace("_", " ")
    return None if text.lower() in UNKNOWN else text


def _age_word(age_group: str | None) -> str | None:
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
                            ("youth", "young"), ("middle", "middle-aged"), ("senior", "elderly"), ("elder", "elderly"), ("old", "elderly")):
        if word in text:
            return adjective
    return None  # 'adult' says nothing a reader needs


def _article(phrase: str) -> str:
    return ("An " if phrase[:1].lower() in "aeiou" else "A ") + phrase


def subject_phrase(attributes: dict) -> str:
    """'A young man in a black jacket', or 'A person' when nothing is known."""
    age = _age_word(_known(attributes.get("age_group")))
    gender = (_known(attributes.get("gender")) or "").lower()
    child = age == "child"
    if gender in _MALE:
        noun = "boy" if child else "man"
    elif gender in _FEMALE:
        noun = "girl" if child else "woman"
    else:
        noun = "child" if child else "person"
    adjective = None if child else age
    phrase = f"{adjective} {noun}" if adjective else noun
    colour = _known(attributes.get("clothing_colour"))
    clothing = _known(attributes.get("clothing"))
    if colour and clothing:
        phrase += f" in a {colour} {clothing}" if not clothing.endswith("s") else f" in {colour} {clothing}"
    elif colour:
        phrase += f" in {colour}"
    extras = []
    orientation = _known(attributes.get("orientation"))
    if orientation and orientation.lower() in ORIENTATION_PHRASES:
        extras.append(ORIENTATION_PHRASES[orientation.lower()])
    emotion = _known(attributes.get("emotion"))
    if emotion and emotion.lower() != "neutral":
        extras.append(f"looking {emotion.lower()}")
    if extras:
        phrase += ", " + " and ".join(extras) + ","
    return _article(phrase)


def _item_phrase(item: str | None) -> str:
    return _article(item).lower() if item else "an item"


def _place(zone: str | None, kind: str | None, preposition: str) -> str:
    """' from the left shelf', ' on the left side of the frame', or '' when the place is unknown."""
    if not zone:
        return ""
    name = zone.replace("_", " ").replace("-", " ").strip()
    if (kind or "region") == "region" and name.lower() in REGION_PHRASES:
        return " " + REGION_PHRASES[name.lower()]
    if kind and kind not in ("region", "custom") and kind not in name.lower():
        name = f"{name} {kind}"
    return f" {preposition} the {name}"


def _when(event: Event) -> str:
    if event.t_end - event.t_start < _INSTANT_S:
        return f"at {format_mmss(event.t_start)}"
    return f"from {format_mmss(event.t_start)} to {format_mmss(event.t_end)}"


def _seconds(value) -> str:
    return f"{int(round(float(value)))} s"


def _predicate(event: Event, facts: dict) -> str:
    """The verb phrase of the sentence, by event type, with its place."""
    zone, kind = event.zone, facts.get("zone_kind")
    near, at = _place(zone, kind, "near"), _place(zone, kind, "at")
    item = _item_phrase(event.object_class or facts.get("item"))
    kind_of = facts.get("kind")
    match event.type:
        case "picking":
            if event.object_class:
                return f"picks up {item}{_place(zone, kind, 'from')}"
            return f"reaches{_place(zone, kind, 'into') or ' into a shelf'}"
        case "theft":
            shelf = _place(facts.get("shelf"), "shelf", "from") if facts.get("shelf") else ""
            if facts.get("carried_out"):
                how = "hides it and " if facts.get("concealed") else ""
                return f"takes {item}{shelf}, {how}leaves{_place(zone, kind, 'through') or ' through the exit'} without paying"
            return f"takes {item}{shelf} and conceals it{at} without paying"
        case "collapse":
            down = f" and stays down for {_seconds(facts['lying_s'])}" if "lying_s" in facts else ""
            return f"collapses to the floor{at}{down}"
        case "violent":
            return f"fights with another person at close range{at}"
        case "loitering":
            return f"loiters{near} for {_seconds(facts.get('dwell_s', event.t_end - event.t_start))}"
        case "walking":
            direction = DIRECTION_PHRASES.get(facts.get("direction", ""), "")
            return f"walks{' ' + direction if direction else ''}{at}"
        case "standing":
            return f"stands still{at}"
        case "sitting":
            return f"sits{at}"
        case "anomaly" if kind_of == "running":
            return f"runs through the store{at}"
        case "anomaly" if kind_of == "against_flow":
            return f"walks against the usual flow of shoppers{at}"
        case _:
            return f"behaves unusually ({event.type}){at}"


def describe(event: Event, track_attributes: dict) -> tuple[str, list[str]]:
    """One natural sentence and search keywords for an event.

    Args:
        event: an event from the behaviour rules.
        track_attributes: the person's attributes (age_group, gender, clothing_colour, clothing,
            orientation, emotion); they win over the copies in event.attributes.

    Returns:
        (sentence, keywords), e.g. ("A young man in a black jacket picks up a bottle from the
        left shelf at 01:12.", ["picking", "pick up", ..., "bottle", "young", "man", "black"]).
    """
    facts = {**event.attributes, **{k: v for k, v in (track_attributes or {}).items() if _known(v)}}
    if event.type == "crowding":
        people = facts.get("people")
        crowd = f"A crowd of {people} people" if people else "A crowd"
        sentence = f"{crowd} gathers{_place(event.zone, facts.get('zone_kind'), 'at')} {_when(event)}."
    else:
        sentence = f"{subject_phrase(facts)} {_predicate(event, facts)} {_when(event)}."
    return sentence, keywords_for(event, facts)


def keywords_for(event: Event, facts: dict) -> list[str]:
    """The type, its synonyms, the person's attributes, the object and the place; lower case, no repeats."""
    words: list[str] = [event.type, *SYNONYMS.get(event.type, ())]
    kind = facts.get("kind")
    if kind:
        words += [str(kind).replace("_", " "), *ANOMALY_SYNONYMS.get(kind, ())]
    age = _age_word(_known(facts.get("age_group")))
    words += [w for w in (_known(facts.get("age_group")), age) if w]
    gender = (_known(facts.get("gender")) or "").lower()
    if gender in _MALE:
        words += [gender, "man", "male"]
    elif gender in _FEMALE:
        words += [gender, "woman", "female"]
    for key in ("clothing_colour", "clothing", "emotion", "orientation"):
        value = _known(facts.get(key))
        if value:
            words.append(value)
    item = event.object_class or facts.get("item")
    if item:
        words += [item, "item"]
    if event.zone:
        words.append(event.zone.replace("_", " "))
    zone_kind = facts.get("zone_kind")
    if zone_kind and zone_kind != "custom":
        words.append(zone_kind)
    if facts.get("concealed"):
        words += ["concealed", "hidden"]
    if facts.get("carried_out"):
        words += ["exit", "left without paying"]
    seen: dict[str, None] = {}
    for word in words:
        seen.setdefault(str(word).strip().lower(), None)
    return [w for w in seen if w]
