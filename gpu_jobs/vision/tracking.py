"""Multi-object tracking: ByteTrack (Roboflow `trackers`) per class group, so a bag never takes a person's id."""

from __future__ import annotations

import numpy as np


class ObjectTracker:
    """Tracks people and carried items over sampled frames; returns detections with stable tracker ids.

    One ByteTrack instance for people and one for items: ids from the item tracker are offset
    so the two never collide. Unconfirmed tracks (tracker_id == -1) are dropped.
    """

    ITEM_ID_OFFSET = 100_000

    def __init__(self, *, frame_rate: float = 5.0, lost_track_s: float = 2.0, activation: float = 0.35,
                 high_confidence: float = 0.5, min_iou: float = 0.05, consecutive: int = 2,
                 buffer_ratio: float = 0.3) -> None:
        from trackers import ByteTrackTracker
        from trackers.utils.iou import BIoU

        # lost_track_buffer counts 30 fps frames in this package, whatever the real rate
        buffer = int(round(lost_track_s * 30))

        def make():
            return ByteTrackTracker(lost_track_buffer=buffer, frame_rate=frame_rate,
                                    track_activation_threshold=activation, minimum_consecutive_frames=consecutive,
                                    minimum_iou_threshold=min_iou, high_conf_det_threshold=high_confidence,
                                    # buffered IoU: at 5 fps a walker's boxes barely overlap between samples
                                    iou=BIoU(buffer_ratio=buffer_ratio))

        self.people, self.items = make(), make()

    def update(self, detections):
        """Feed one frame's detections; return the confirmed, tracked ones (class_name kept)."""
        import supervision as sv

        names = detections.data.get("class_name", np.array(["person"] * len(detections), dtype=object))
        is_person = np.array([n == "person" for n in names], bool)
        parts = []
        for tracker, mask, offset in ((self.people, is_person, 0), (self.items, ~is_person, self.ITEM_ID_OFFSET)):
            tracked = tracker.update(detections[mask])
            if len(tracked) == 0:
                continue
            tracked = tracked[tracked.tracker_id != -1]
            tracked.tracker_id = tracked.tracker_id + offset
            parts.append(tracked)
        if not parts:
            empty = detections[np.zeros(len(detections), bool)]
            empty.tracker_id = np.zeros(0, int)
            return empty
        return sv.Detections.merge(parts) if len(parts) > 1 else parts[0]
