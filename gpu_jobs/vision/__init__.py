"""Vision adapters: detection, tracking, pose and person attributes. Heavy libraries load lazily.

- `detectors`: `Detector` port; `SSDMobileNetDetector` (default), `YoloDetector`; `make_detector(settings)`.
- `tracking`: `ObjectTracker` (ByteTrack per class group), `link_tracklets`.
- `pose`: `PoseEstimator` port; `MoveNetPose` (default), `YoloPose`; `make_pose(settings)`.
- `attributes`: `AttributeEstimator`, `colour_name`, `dominant_colour`, `orientation`, `aggregate`.
- `models`: where the packaged weights are; `available_models()` for the health report.
"""
