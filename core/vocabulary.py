"""The words every layer shares: event types, what people call them, regions and colours.

Example:
    >>> colour_bgr("theft")
    (39, 39, 214)
"""

from __future__ import annotations

PERSON = "person"
REGIONS = ("left", "centre", "right")
# the kinds of zone an owner draws; a staff area marks whoever spends most of their time in it as staff
ZONE_KINDS = ("shelf", "checkout", "exit", "entrance", "staff", "custom")
# zones drawn over something people stand against rather than floor they stand on (core.geometry.standing_at)
FIXTURE_KINDS = ("shelf", "checkout")
STAFF_KIND = "staff"
# the store rules judge only customers: staff handle stock and stay at their posts (gpu_jobs.behaviours.rule)
CUSTOMER_ONLY_TYPES: tuple[str, ...] = ("picking", "concealment", "theft", "loitering")
# the drawn zone kinds a question's place word means: a door is an exit or an entrance zone
PLACE_KINDS: dict[str, tuple[str, ...]] = {"checkout": ("checkout",), "exit": ("exit", "entrance"), "shelf": ("shelf",),
                                            "staff": ("staff",)}

EVENT_TYPES: tuple[str, ...] = (
    "walking", "standing", "sitting", "picking", "concealment", "theft",
    "collapse", "violent", "loitering", "crowding", "anomaly",
)
# what a shopper-security admin may type for each event type
SYNONYMS: dict[str, tuple[str, ...]] = {
    "theft": ("stealing", "shoplifting", "shoplifter", "steal", "stolen", "unpaid", "suspicious"),
    "concealment": ("conceal", "concealed", "hide", "hid", "hidden", "pocket", "pocketed", "put in a bag", "stashed"),
    "collapse": ("fall", "fell", "fallen", "fainted", "faint", "collapsed", "lying on the floor", "medical emergency",
                 "unconscious"),
    "violent": ("fight", "fighting", "assault", "violence", "aggression", "attack", "hitting", "punching"),
    "picking": ("pick up", "picked up", "taking an item", "grab", "product", "shopping"),
    "walking": ("walk", "moving", "passing by"),
    "standing": ("stand", "standing still", "idle", "waiting"),
    "sitting": ("sit", "seated", "resting"),
    "loitering": ("loiter", "lingering", "hanging around", "dwelling", "suspicious"),
    "crowding": ("crowd", "gathering", "group", "congestion", "busy", "many people"),
    "anomaly": ("unusual", "abnormal", "suspicious"),
}
ANOMALY_SYNONYMS: dict[str, tuple[str, ...]] = {
    "running": ("run", "running", "rushing", "sprinting"),
    "against_flow": ("wrong way", "against the flow", "wrong direction"),
}

# COCO classes a shopper can pick up and carry (what picking reports); chairs or tables moving are not "taking"
CARRYABLE = frozenset({
    "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "sports ball", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "laptop", "mouse", "remote",
    "keyboard", "cell phone", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
})
# the event types whose rules report the item taken (attributes["object"])
ITEM_EVENT_TYPES = ("picking", "concealment", "theft")

# the types a store owner must see first (dashboard, timeline highlights)
ALERT_TYPES = ("theft", "collapse", "violent")
# what "any incidents?" and a summary's incidents line name: the alert types and the hiding before a theft
INCIDENT_TYPES = ("theft", "concealment", "collapse", "violent")

# how much a store owner wants an event of each type shown when a question names nothing to match
# ("what happened between minute 1 and 2?"): incidents first, routine movement last
SALIENCE: dict[str, float] = {
    "theft": 1.0, "violent": 1.0, "collapse": 1.0, "concealment": 0.9, "picking": 0.7, "anomaly": 0.7,
    "crowding": 0.5, "loitering": 0.4, "sitting": 0.2, "walking": 0.1, "standing": 0.1,
}

# one colour per event type: the timeline, the charts, the cards and the highlight JPEGs alike
EVENT_COLOURS: dict[str, str] = {
    "theft": "#d62728",
    "concealment": "#c51b7d",
    "collapse": "#9467bd",
    "violent": "#ff7f0e",
    "anomaly": "#e6b800",
    "picking": "#1f77b4",
    "loitering": "#8c564b",
    "crowding": "#e377c2",
    "walking": "#2ca02c",
    "standing": "#7f7f7f",
    "sitting": "#17becf",
}
OTHER_COLOUR = "#bcbd22"


def event_colour(event_type: str) -> str:
    """The hex colour of an event type."""
    return EVENT_COLOURS.get(event_type, OTHER_COLOUR)


def colour_bgr(event_type: str) -> tuple[int, int, int]:
    """The same colour as a BGR tuple for OpenCV drawing."""
    hex_colour = event_colour(event_type).lstrip("#")
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)
