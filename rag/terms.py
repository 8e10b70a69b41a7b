"""The content words of a question or an event: what the reranker matches and what makes a question vague.

Example:
    >>> from rag.query import parse_question
    >>> sorted(content_terms("did anyone pick up a bottle?"))
    ['bottle', 'pick', 'up']
    >>> content_terms("anything interesting going on")
    set()
    >>> looked_for(parse_question("what did the man in grey do around 1:05?"))  # vague: ranked by salience
    set()
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.vocabulary import PLACE_KINDS

if TYPE_CHECKING:
    from rag.query import QueryFilters

STOPWORDS = frozenset(
    """a an the and or but of in on at to for from by with without into onto over under
    is are was were be been being do does did done has have had any anyone anybody anything
    some someone somebody something who whom whose what which when where why how many much
    there here this that these those it its they them their he she his her him i me my we us
    our you your can could will would should may might please show find tell me list all
    between after before around about during first last minute minutes second seconds
    video clip footage happen happened happening event events people person
    everything else whatever going go goes went occur occurred notable interesting important doing suspicious
    incident incidents security
    """.split()
)
# words that only say where or who, once a filter holds the value: "what did the man on the left side do?"
FACET_WORDS = frozenset({"side", "frame", "area", "part", "screen", "wearing", "dressed"})


def stem(word: str) -> str:
    """A crude suffix strip: enough to meet 'picking' with 'picked' and 'picks'."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def content_terms(text: str) -> set[str]:
    """The stemmed words of text that are not stop words."""
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}


def looked_for(filters: QueryFilters) -> set[str]:
    """The content words of a parsed question that no filter took: empty when only time and who/where are asked."""
    from rag.query import ALIASES

    values = {*filters.colours, *filters.zones, *filters.genders, *filters.age_groups}
    names = {word for name in filters.zone_names for word in re.findall(r"[a-z0-9]+", name)}  # the zone asked
    taken = values | {word for word, value in ALIASES.items() if value in values} | FACET_WORDS | names
    return content_terms(filters.text) - {stem(word) for word in taken}


def is_vague(filters: QueryFilters, query: str = "") -> bool:
    """Nothing to look for beyond the filters ("what happened?", "what did the man in black do?")."""
    return not (looked_for(filters) if filters.text.strip() else content_terms(query))


# "in the video", "on camera", "from clip": said before a video's name, and dropped with it
_NAMED_BY = r"(?:\b(?P<lead>in|on|from|at|of|for)\s+)?(?P<the>the\s+)?" \
            r"(?P<noun>(?:video|clip|recording|camera|footage)\s+(?:named\s+|called\s+)?)?"
# plain words a question uses for the place itself, never for one video ("anyone in store?")
PLACE_WORDS = frozenset({"store", "shop", "room", "door", "hall", "aisle", "entrance", "exit", "front", "back",
                         "street", "park", "office", "kitchen", "home", "here", "there", "town", "general"})


def _distinct(name: str) -> bool:
    """A name with a digit, '_' or '-' names its video or camera alone; a plain word needs 'video' or 'camera'."""
    return bool(re.search(r"[\d_-]", name))


def camera_mention(question: str, cameras: Iterable[str]) -> tuple[str, str] | None:
    """The first of `cameras` the question names ("on the front_door camera", "camera Till 2"), and the rest of it."""
    for camera in sorted(cameras, key=len, reverse=True):
        name = rf"(?<![\w.-]){re.escape(camera)}(?![\w-])"
        lead = r"(?:\b(?:in|on|from|at|of|for|by)\s+)?(?:the\s+)?"
        patterns = [rf"{lead}(?P<noun>cam(?:era)?\s+(?:named\s+|called\s+)?){name}",
                    rf"{lead}{name}(?P<noun>\s+cam(?:era)?)\b", rf"{lead}{name}"]
        for pattern in patterns:
            match = re.search(pattern, question, re.IGNORECASE)
            if match and ("noun" in match.groupdict() and match.group("noun") or _distinct(camera)):
                rest = " ".join(f"{question[:match.start()]} {question[match.end():]}".split())
                return camera, re.sub(r"\s+([?.!,])", r"\1", rest)
    return None


def camera_mentions(question: str, cameras: Iterable[str]) -> tuple[list[str], str]:
    """Every one of `cameras` the question names ("on front_door or the back camera"), in the order said,
    and the rest of the question."""
    found, rest, left = [], question, list(cameras)
    while (mention := camera_mention(rest, left)) is not None:
        found.append(mention[0])
        rest, left = mention[1], [c for c in left if c != mention[0]]
    return sorted(found, key=lambda c: question.lower().find(c.lower())), rest


# "camera till_3", "cam 2", "the back-door camera": a name said beside "camera"; digits alone only after it
_CAMERA_NAME = r"[A-Za-z][\w-]*[\d_-][\w-]*|(?!\d+(?:st|nd|rd|th)\b)\d[\w-]*[A-Za-z_-][\w-]*"
_CAMERA_ASKED = [rf"\bcam(?:era)?\s+(?:named\s+|called\s+)?(?P<c>{_CAMERA_NAME}|\d+(?![\w:.-]|\s+(?:times?|min|sec|s|h"
                 rf"|hours?|minutes?|seconds?|people|persons?|am|pm)\b))",
                 rf"(?<![\w-])(?P<c>{_CAMERA_NAME})\s+cam(?:era)?\b"]


def camera_asked(question: str) -> str | None:
    """The camera name a question says beside "camera" ("on camera till_3", "cam 2"), known or not."""
    found = [m for pattern in _CAMERA_ASKED for m in re.finditer(pattern, question, re.IGNORECASE)]
    return min(found, key=lambda m: m.start()).group("c") if found else None


def zones_asked(question: str, zones: Iterable[tuple[str, str]]) -> tuple[list[str], list[str], str]:
    """The drawn zones (name, kind) a question names, the kinds of zone they ask for too, and the question without them.

    The rest is what the parser reads, so the words of a name are no filters ("the kids corner" asks for
    no children, "the red shelf" for no colour, "the drinks shelf" for that shelf and not every shelf). A
    zone named by a bare place word asks for its kind too when it is of that kind ("the door" of an
    entrance named "door"), and not when it is not ("the counter" of a shelf named "counter" is no checkout).
    """
    from rag.query import ALIASES, ZONES

    kinds: dict[str, set[str]] = {}
    stored: dict[str, list[str]] = {}  # "drinks shelf" -> the names as drawn ("drinks_shelf")
    for name, kind in zones:
        said = " ".join(re.split(r"[\s_-]+", name.strip().lower())).strip()
        if not any(len(w) > 1 and w.isalpha() and w not in STOPWORDS for w in said.split()):
            continue  # a zone named "1", "A" or "in" would cut times and words out of every question
        kinds.setdefault(said, set()).add(kind)
        stored.setdefault(said, []).append(name.strip().lower())
    named, kept, rest = [], [], question
    for name in sorted(kinds, key=len, reverse=True):  # "front door" before "door"
        pattern = r"(?<![\w-])" + r"[\s_-]+".join(map(re.escape, name.split())) + r"(?![\w-])"
        if not name or not re.search(pattern, rest, re.IGNORECASE):
            continue
        rest = re.sub(pattern, " ", rest, flags=re.IGNORECASE)
        named.extend(n for n in dict.fromkeys(stored[name]) if n not in named)
        word = ALIASES.get(name, name)
        if word in ZONES and kinds[name] & set(PLACE_KINDS.get(word, ())) and word not in kept:
            kept.append(word)
    return named, kept, re.sub(r"\s+([?.!,])", r"\1", " ".join(rest.split()))


def parse_with_zones(question: str, zones: Iterable[tuple[str, str]], parser=None) -> QueryFilters:
    """The parser's filters of a question (`parse_question` by default), the drawn zones it names read first."""
    from rag.query import parse_question

    parser = parser or parse_question
    names, kinds, rest = zones_asked(question, zones)
    if not names:  # a chat model's zone names count only when they are drawn
        return parser(question).model_copy(update={"zone_names": []})
    filters = parser(rest)
    return filters.model_copy(update={"zone_names": names, "zones": list(dict.fromkeys([*filters.zones, *kinds])),
                                      "text": " ".join([filters.text, *names]).strip()})


def _unread(word: str) -> bool:
    """A plain word the question parser reads nothing in, and no place word: 'vtest', not 'theft' or 'store'."""
    from rag.query import parse_question

    word = word.lower()
    if word in STOPWORDS or word in PLACE_WORDS or len(word) < 3:
        return False
    parsed = parse_question(word)
    return not (parsed.event_types or parsed.zones or parsed.colours or parsed.genders or parsed.age_groups
                or parsed.items or parsed.has_time or parsed.day_from)


def videos_named(question: str, videos: Iterable[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], str]:
    """Every one of `videos` the question names ('in fighting1 and fighting2'), and the question without them."""
    left, found, text = list(videos), [], question
    while (mention := video_mention(text, left)) is not None:
        found.append(mention[0])
        left = [v for v in left if v["id"] != mention[0]["id"]]
        text = mention[1]
    return found, text


def two_videos(question: str, videos: Iterable[Mapping[str, Any]]
               ) -> tuple[Mapping[str, Any], Mapping[str, Any], str] | None:
    """'More fights in fighting1 than in fighting2?': the video named before the comparing word, the one named
    after it, and the question without both names; None unless the question compares two videos."""
    from rag.query import COMPARE

    videos = list(videos)
    compared = re.search(COMPARE, question, re.IGNORECASE)
    before = compared and video_mention(question[:compared.start()], videos)
    after = before and video_mention(question[compared.end():], [v for v in videos if v["id"] != before[0]["id"]])
    if not after:
        return None
    return before[0], after[0], f"{before[1]} {compared.group(0)} {after[1]}"


def video_mention(question: str, videos: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], str] | None:
    """The first of `videos` (rows with name and stem) the question names, and the question without the name.

    A bare stem that is a plain word ("theft" of theft.mp4) names the video only with its extension, after
    "video"/"clip", or right after "in"/"of"... when the parser reads nothing in it ("in vtest"); one with a
    digit, '_' or '-' ("fighting1", "front_door") names it alone.
    """
    for video in videos:
        stem, extension = video["stem"], video["name"][len(video["stem"]):]
        pattern = rf"{_NAMED_BY}(?<![\w.-])(?P<name>{re.escape(stem)}(?P<ext>{re.escape(extension)})?)(?![\w-])"
        for match in re.finditer(pattern, question, re.IGNORECASE) if stem else ():
            if (match.group("ext") or match.group("noun") or _distinct(stem)
                    or (match.group("lead") and not match.group("the") and _unread(stem))):
                rest = " ".join(f"{question[:match.start()]} {question[match.end():]}".split())
                return video, re.sub(r"\s+([?.!,])", r"\1", rest)
    return None
