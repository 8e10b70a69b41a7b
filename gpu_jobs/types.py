"""Plain data passed between the pipeline stages (media -> vision -> tracks -> behaviours -> write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.geometry import standing_at
from core.runtime.media import Frame  # noqa: F401  (decoded by the runtime, passed between stages)

BBox = tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels

# COCO keypoint order used by both MoveNet and YOLO-pose
KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
KEYPOINT_INDEX = {name: i for i, name in enumerate(KEYPOINTS)}


@dataclass(slots=True)
class Observation:
    """One track seen in one sampled frame."""

    t: float
    frame: int
    bbox: BBox
    confidence: float
    keypoints: np.ndarray | None = None  # (17, 3): x, y in pixels, score 0..1
    region: str = "centre"  # left | centre | right
    zones: tuple[str, ...] = ()  # names of the zones the person stands at (Zone.holds)
    motion: np.ndarray | None = None  # (5,) optical flow inside the box, gpu_jobs.vision.motion.MOTION_FIELDS
    fall: bool = False  # a fall detector (the ultralytics fall checkpoint) called this box a fallen person

    @property
    def centre(self) -> tuple[float, float]:
        x1, y1, x2, y2 = self.bbox
        return ((x1 + x2) / 2, (y1 + y2) / 2)

    @property
    def foot(self) -> tuple[float, float]:
        x1, _, x2, y2 = self.bbox
        return ((x1 + x2) / 2, y2)

    @property
    def height(self) -> float:
        return max(1.0, self.bbox[3] - self.bbox[1])

    @property
    def width(self) -> float:
        return max(1.0, self.bbox[2] - self.bbox[0])


@dataclass(slots=True)
class FrameSignal:
    """One sampled frame's motion where people are, tracked or not (person detections at the detection floor).

    A fight tangles bodies, and the tracker confirms few of them in two seconds; the rules that
    judge motion read these alongside the tracks.
    """

    t: float
    frame: int
    boxes: np.ndarray  # (n, 4) person detection boxes, pixels
    confidence: np.ndarray  # (n,)
    motion: np.ndarray | None = None  # (n, 5) gpu_jobs.vision.motion.MOTION_FIELDS per box; None: no flow
    frame_motion: np.ndarray | None = None  # (5,) the same over the whole frame (in frame sizes)
    flow: np.ndarray | None = None  # gpu_jobs.vision.motion.FLOW_FIELDS of the whole frame; None: no flow


@dataclass(slots=True)
class Track:
    """A tracked object over time: a person or a carried item."""

    number: int
    class_name: str  # person, bottle, handbag, backpack, cell phone...
    observations: list[Observation] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)  # age_group, gender, emotion, clothing_colour, orientation

    @property
    def t_start(self) -> float:
        return self.observations[0].t

    @property
    def t_end(self) -> float:
        return self.observations[-1].t


@dataclass(slots=True)
class Zone:
    """A named polygon in pixel coordinates; kind is one of core.vocabulary.ZONE_KINDS."""

    name: str
    kind: str
    polygon: list[tuple[float, float]]
    loiter_s: float | None = None  # the zone's own loitering limit; None: only the global rule

    def contains(self, x: float, y: float) -> bool:
        """Even-odd point-in-polygon test."""
        inside = False
        pts = self.polygon
        j = len(pts) - 1
        for i in range(len(pts)):
            xi, yi = pts[i]
            xj, yj = pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / ((yj - yi) or 1e-9) + xi:
                inside = not inside
            j = i
        return inside

    def holds(self, bbox: BBox) -> bool:
        """Whether the person of an xyxy box stands at this zone (core.geometry.standing_at)."""
        return bool(self.holds_boxes(np.asarray([bbox], float))[0])

    def holds_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """For each (n, 4) xyxy box, whether its person stands at this zone."""
        boxes = np.asarray(boxes, float).reshape(-1, 4)
        feet = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
        return standing_at(feet, boxes[:, 3] - boxes[:, 1], self.polygon, self.kind)


@dataclass(slots=True)
class Event:
    """A behaviour found by a rule, before description and embedding."""

    type: str  # walking, standing, sitting, picking, theft, collapse, violent, loitering, crowding, anomaly
    t_start: float
    t_end: float
    frame: int  # the highlight frame
    bbox: BBox
    confidence: float
    track_number: int | None = None
    zone: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    related_tracks: tuple[int, ...] = ()  # other people or items involved
    object_class: str | None = None  # the item picked or taken, if any
    description: str = ""
    keywords: list[str] = field(default_factory=list)
