"""Person attributes: age group, gender and emotion from a large-enough face; clothing colour; orientation."""

from __future__ import annotations

from collections import Counter

import numpy as np

from gpu_jobs.types import KEYPOINTS

UNKNOWN = "unknown"
AGE_BUCKETS = ["(0, 2)", "(4, 6)", "(8, 12)", "(15, 20)", "(25, 32)", "(38, 43)", "(48, 53)", "(60, 100)"]
AGE_GROUPS = ["child", "child", "child", "young", "young", "middle-aged", "middle-aged", "old"]
GENDERS = ["male", "female"]
EMOTIONS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]  # FER-2013 label order
# Levi-Hassner nets were trained with this per-channel mean (BGR)
FACE_MEAN = (78.4263377603, 87.7689143744, 114.895847746)
KP = {name: i for i, name in enumerate(KEYPOINTS)}


def colour_name(bgr: np.ndarray) -> str:
    """A plain colour word for one BGR pixel value (HSV thresholds)."""
    import cv2

    hsv = cv2.cvtColor(np.uint8([[bgr]]), cv2.COLOR_BGR2HSV)[0, 0]
    h, s, v = int(hsv[0]) * 2, int(hsv[1]) / 255, int(hsv[2]) / 255
    if v < 0.22:
        return "black"
    if s < 0.18:
        return "white" if v > 0.78 else "grey"
    if h < 15 or h >= 345:
        return "red" if v > 0.45 else "brown"
    if h < 40:
        return "orange" if v > 0.6 else "brown"
    if h < 70:
        return "yellow"
    if h < 165:
        return "green"
    if h < 255:
        return "blue"
    if h < 290:
        return "purple"
    return "pink"


def dominant_colour(patch: np.ndarray) -> str:
    """The most common colour word among a patch's pixels (sampled)."""
    if patch.size == 0:
        return UNKNOWN
    pixels = patch.reshape(-1, 3)
    if len(pixels) > 400:
        pixels = pixels[np.linspace(0, len(pixels) - 1, 400).astype(int)]
    words = Counter(colour_name(p) for p in pixels)
    return words.most_common(1)[0][0]


def torso_box(bbox, keypoints: np.ndarray | None, min_score: float = 0.3) -> tuple[int, int, int, int]:
    """Shoulders to hips when the keypoints are visible, else the upper-middle of the box."""
    x1, y1, x2, y2 = bbox
    if keypoints is not None:
        pts = keypoints[[KP["left_shoulder"], KP["right_shoulder"], KP["left_hip"], KP["right_hip"]]]
        good = pts[pts[:, 2] >= min_score]
        if len(good) >= 3:
            return (int(good[:, 0].min()), int(good[:, 1].min()), int(good[:, 0].max()), int(good[:, 1].max()))
    w, h = x2 - x1, y2 - y1
    return (int(x1 + 0.25 * w), int(y1 + 0.2 * h), int(x2 - 0.25 * w), int(y1 + 0.5 * h))


def orientation(keypoints: np.ndarray | None, min_score: float = 0.3) -> str:
    """Facing the camera, away from it, left or right, from face and shoulder keypoints."""
    if keypoints is None:
        return UNKNOWN
    s = keypoints[:, 2] >= min_score
    face = sum(bool(s[KP[n]]) for n in ("nose", "left_eye", "right_eye"))
    ls, rs = KP["left_shoulder"], KP["right_shoulder"]
    if s[ls] and s[rs]:
        width = keypoints[ls, 0] - keypoints[rs, 0]  # the person's left shoulder is on image right when facing us
        span = abs(width) / max(1.0, abs(keypoints[ls, 1] - keypoints[KP["left_hip"], 1]) if s[KP["left_hip"]] else 1.0)
        if span < 0.25:  # shoulders nearly overlap: side view
            return "left" if keypoints[KP["nose"], 0] < keypoints[ls, 0] else "right"
        if width > 0 and face >= 2:
            return "facing camera"
        if width < 0 or face == 0:
            return "away from camera"
        return "facing camera"
    if face >= 2:
        return "facing camera"
    if s[KP["left_ear"]] and not s[KP["right_ear"]]:
        return "right"
    if s[KP["right_ear"]] and not s[KP["left_ear"]]:
        return "left"
    return UNKNOWN


class AttributeEstimator:
    """Face-based attributes (offline Levi-Hassner + FER nets), only for faces big enough to trust."""

    def __init__(self, *, min_face_px: int = 40, min_person_px: int = 120) -> None:
        self.min_face_px, self.min_person_px = min_face_px, min_person_px
        self._nets = None

    def _load(self):
        if self._nets is None:
            import cv2
            from ai_edge_litert.interpreter import Interpreter

            from gpu_jobs.vision.models import face_models

            paths = face_models()
            if paths is None:
                self._nets = False
            else:
                emotion = Interpreter(model_path=str(paths["emotion"]), num_threads=1)
                emotion.allocate_tensors()
                self._nets = {
                    "cascade": cv2.CascadeClassifier(str(paths["cascade"])),
                    "age": cv2.dnn.readNetFromCaffe(str(paths["age_proto"]), str(paths["age_model"])),
                    "gender": cv2.dnn.readNetFromCaffe(str(paths["gender_proto"]), str(paths["gender_model"])),
                    "emotion": emotion,
                }
        return self._nets

    def face_attributes(self, image: np.ndarray, bbox) -> dict:
        """Age group, gender and emotion from the largest face in the head region, else unknown."""
        import cv2

        unknown = {"age_group": UNKNOWN, "gender": UNKNOWN, "emotion": UNKNOWN}
        x1, y1, x2, y2 = (int(v) for v in bbox)
        if y2 - y1 < self.min_person_px:
            return unknown  # small people have faces of a few pixels: any guess would be noise
        nets = self._load()
        if not nets:
            return unknown
        h, w = image.shape[:2]
        head = image[max(0, y1): min(h, y1 + (y2 - y1) // 3), max(0, x1): min(w, x2)]
        if head.size == 0:
            return unknown
        gray = cv2.cvtColor(head, cv2.COLOR_BGR2GRAY)
        faces = nets["cascade"].detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5,
                                                 minSize=(self.min_face_px, self.min_face_px))
        if len(faces) == 0:
            return unknown
        fx, fy, fw, fh = max(faces, key=lambda f: f[2] * f[3])
        face = head[fy: fy + fh, fx: fx + fw]
        blob = cv2.dnn.blobFromImage(face, 1.0, (227, 227), FACE_MEAN, swapRB=False)
        nets["age"].setInput(blob)
        age = nets["age"].forward()[0]
        nets["gender"].setInput(blob)
        gender = nets["gender"].forward()[0]
        interp = nets["emotion"]
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        face96 = cv2.resize(gray[fy: fy + fh, fx: fx + fw], (96, 96)).astype(np.float32) / 255.0
        interp.set_tensor(inp["index"], face96[None, :, :, None])
        interp.invoke()
        emotion = interp.get_tensor(out["index"])[0]
        return {
            "age_group": AGE_GROUPS[int(np.argmax(age))] if age.max() >= 0.4 else UNKNOWN,
            "gender": GENDERS[int(np.argmax(gender))] if gender.max() >= 0.7 else UNKNOWN,
            "emotion": EMOTIONS[int(np.argmax(emotion))] if emotion.max() >= 0.5 else UNKNOWN,
        }

    def estimate(self, image: np.ndarray, bbox, keypoints: np.ndarray | None) -> dict:
        """Every attribute of one person in one frame."""
        h, w = image.shape[:2]
        tx1, ty1, tx2, ty2 = torso_box(bbox, keypoints)
        patch = image[max(0, ty1): min(h, ty2), max(0, tx1): min(w, tx2)]
        return {**self.face_attributes(image, bbox), "clothing_colour": dominant_colour(patch),
                "orientation": orientation(keypoints)}


def aggregate(samples: list[dict]) -> dict:
    """A track's attributes: the majority of its per-frame samples, ignoring unknowns."""
    keys = {k for s in samples for k in s}
    out = {}
    for key in sorted(keys):
        votes = Counter(s[key] for s in samples if s.get(key) not in (None, UNKNOWN))
        out[key] = votes.most_common(1)[0][0] if votes else UNKNOWN
    return out
