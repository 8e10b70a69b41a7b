"""Text for events: one natural sentence and the keywords an admin would search for.

Example:
    >>> describe(event, {"age_group": "young", "gender": "male", "clothing_colour": "black", "clothing": "jacket"})
    ('A young man in a black jacket picks up a bottle from the left shelf at 01:12.', ['picking', ...])
"""

from __future__ import annotations


from core.clock import format_mmss
from core.phrasing import (DIRECTION_PHRASES, HIDDEN_PLACES, REGION_PHRASES, age_word, is_female, is_male,
                           known_words, subject_phrase, with_article)
from core.vocabulary import ANOMALY_SYNONYMS, FIXTURE_KINDS, STAFF_KIND, SYNONYMS
from gpu_jobs.types import Event

_INSTANT_S = 3.0  # shorter events are told "at mm:ss", longer ones "from mm:ss to mm:ss"
# where a concealment put the item (the rule's hidden_at fact)
HIDDEN_PHRASES = {**HIDDEN_PLACES, "waist": "at the waist (a pocket or the waistband)"}


def _item_phrase(item: str | None) -> str:
    return with_article(item).lower() if item else "an item"


def _place(zone: str | None, kind: str | None, preposition: str) -> str:
    """' from the left shelf', ' on the left side of the frame', or '' when the place is unknown."""
    if not zone:
        return ""
    name = zone.replace("_", " ").replace("-", " ").strip()
    if (kind or "region") == "region" and name.lower() in REGION_PHRASES:
        return " " + REGION_PHRASES[name.lower()]
    if kind == STAFF_KIND:  # an owner names it for the place ("behind the counter"), so say what it is first
        return f" in the {name}" if "staff" in name.lower() else f" in the staff area ({name})"
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
            paid = _place(facts.get("checkout"), "checkout", "and pays at") if facts.get("paid") else ""
            if event.object_class:
                return f"picks up {item}{_place(zone, kind, 'from')}{paid}"
            times = f" {facts['reaches']} times" if int(facts.get("reaches") or 1) > 1 else ""
            if kind == "shelf":
                return f"reaches{_place(zone, kind, 'into')}{times}{paid}"
            # a reach seen by pose alone: which hand, and where in the frame
            hand = f" with the {facts['wrist']} hand" if facts.get("wrist") in ("left", "right") else ""
            return f"reaches out{hand}{times} to take something{at}"
        case "concealment":
            hidden = HIDDEN_PHRASES.get(facts.get("hidden_at", ""), "out of sight")
            return f"hides {item} {hidden}{at}"
        case "theft":
            shelf = _place(facts.get("shelf"), "shelf", "from") if facts.get("shelf") else ""
            unpaid = (" without paying" if facts.get("payment_checked", True)
                      else ", with no checkout zone drawn to tell whether it was paid for,")
            if facts.get("carried_out"):
                how = "hides it and " if facts.get("concealed") else ""
                way_out = _place(zone, kind, "through") or " through the exit"
                return f"takes {item}{shelf}, {how}leaves{way_out}{unpaid}"
            hidden = HIDDEN_PHRASES.get(facts.get("hidden_at", ""))
            if facts.get("shelf") and zone == facts["shelf"]:
                at = ""  # hidden where it was taken: the shelf is named once
            if hidden:
                return f"takes {item}{shelf} and hides it {hidden}{at}{unpaid}"
            return f"takes {item}{shelf} and conceals it{at}{unpaid}"
        case "collapse":
            down = f" and stays down for {_seconds(facts['lying_s'])}" if "lying_s" in facts else ""
            return f"collapses to the floor{at}{down}"
        case "violent":
            return f"fights with another person at close range{at}"
        case "loitering":
            return f"loiters{near} for {_seconds(facts.get('dwell_s', event.t_end - event.t_start))}"
        case "walking":
            direction = DIRECTION_PHRASES.get(facts.get("direction", ""), "")
            # walking within reach of a shelf or till is passing it, not standing at it
            by = _place(zone, kind, "by") if kind in FIXTURE_KINDS else at
            return f"walks{' ' + direction if direction else ''}{by}"
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


def _subject(facts: dict) -> str:
    """'A young man in yellow', or for staff (the engine's `staff_area`) 'A member of staff (a young man in yellow)'."""
    who = subject_phrase(facts)
    if not facts.get("staff_area"):
        return who
    return "A member of staff" if who == "A person" else f"A member of staff ({who[0].lower()}{who[1:]})"


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
    facts = {**event.attributes, **{k: v for k, v in (track_attributes or {}).items() if known_words(v)}}
    if event.type == "crowding":
        people = facts.get("people")
        crowd = f"A crowd of {people} people" if people else "A crowd"
        sentence = f"{crowd} gathers{_place(event.zone, facts.get('zone_kind'), 'at')} {_when(event)}."
    else:
        sentence = f"{_subject(facts)} {_predicate(event, facts)} {_when(event)}."
    return sentence, keywords_for(event, facts)


def keywords_for(event: Event, facts: dict) -> list[str]:
    """The type, its synonyms, the person's attributes, the object and the place; lower case, no repeats."""
    words: list[str] = [event.type, *SYNONYMS.get(event.type, ())]
    kind = facts.get("kind")
    if kind:
        words += [str(kind).replace("_", " "), *ANOMALY_SYNONYMS.get(kind, ())]
    age = age_word(known_words(facts.get("age_group")))
    words += [w for w in (known_words(facts.get("age_group")), age) if w]
    gender = (known_words(facts.get("gender")) or "").lower()
    if is_male(gender):
        words += [gender, "man", "male"]
    elif is_female(gender):
        words += [gender, "woman", "female"]
    for key in ("clothing_colour", "clothing", "emotion", "orientation"):
        value = known_words(facts.get(key))
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
    if facts.get("staff_area"):
        words += ["staff", "staff member", "employee", str(facts["staff_area"])]
    if facts.get("concealed"):
        words += ["concealed", "hidden"]
    if facts.get("hidden_at"):
        words.append(str(facts["hidden_at"]))
    if facts.get("carried_out"):
        words += ["exit", "left without paying"]
    seen: dict[str, None] = {}
    for word in words:
        seen.setdefault(str(word).strip().lower(), None)
    return [w for w in seen if w]
