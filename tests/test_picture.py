"""Black bars (gpu_jobs/vision/picture.py): where the picture lies in a letterboxed or pillarboxed export.

And what the rules make of it: a box at the bars' edge is cut by the picture's edge (collapse,
the fall check's candidates), and the bounds survive the stored rule inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from gpu_jobs.behaviours import CollapseRule, Scene
from gpu_jobs.rule_inputs import pack, stored_picture, unpack
from gpu_jobs.types import FrameSignal, Observation, Track
from gpu_jobs.vision.fall_check import FallCandidates, fall_region
from gpu_jobs.vision.picture import find_picture, picture_bounds
from settings import BehaviourThresholds

W, H = 320, 240
FPS = 5.0
TH = BehaviourThresholds(_env_file=None)
LETTERBOX = (0, 32, 320, 208)  # shoplifting2.mp4's: 32 black rows above the picture, 32 below


def scenes(n: int = 5, seed: int = 0, low: int = 40, high: int = 230) -> list[np.ndarray]:
    """n different BGR frames of a lit scene (noise standing in for a store)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(low, high, (H, W, 3), dtype=np.uint8) for _ in range(n)]


def framed(frames: list[np.ndarray], box: tuple[int, int, int, int]) -> list[np.ndarray]:
    """The frames with everything outside box (x1, y1, x2, y2) black, as an export's bars, with codec noise."""
    rng = np.random.default_rng(1)
    out = []
    for f in frames:
        g = rng.integers(0, 12, f.shape, dtype=np.uint8)
        x1, y1, x2, y2 = box
        g[y1:y2, x1:x2] = f[y1:y2, x1:x2]
        out.append(g)
    return out


# --------------------------------------------------------------------------- finding the bars


def test_letterbox_bars_top_and_bottom_are_found():
    assert picture_bounds(framed(scenes(), LETTERBOX)) == LETTERBOX


def test_pillarbox_bars_left_and_right_are_found():
    assert picture_bounds(framed(scenes(), (10, 0, 311, 240))) == (10, 0, 311, 240)


def test_a_frame_without_bars_is_the_whole_frame():
    assert picture_bounds(scenes()) == (0, 0, W, H)
    assert picture_bounds([]) is None


def test_a_dark_scene_is_no_bar():
    # a night scene: dim, but lit here and there in every frame (noise, a lamp), nowhere black throughout
    dark = scenes(low=0, high=60)
    assert picture_bounds(dark) == (0, 0, W, H)
    # a dark moment in one frame (someone in black passing the top rows) is no bar: the other frames show them lit
    frames = scenes()
    frames[2][:40] = 0
    assert picture_bounds(frames) == (0, 0, W, H)


def test_black_frames_are_not_taken_for_bars():
    black = [np.zeros((H, W, 3), np.uint8)] * 3
    assert picture_bounds(black) == (0, 0, W, H)
    # a picture that would keep less than half the frame is a black or faded frame, not an export's bars
    assert picture_bounds(framed(scenes(), (0, 100, 320, 180))) == (0, 0, W, H)


def encode(path, images, gop: int | None = None):
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        for image in images:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_keyframes_near_times_are_the_keyframes_at_or_before_them(tmp_path):
    from core.runtime.media import read_keyframes_near

    # one flat grey level per frame (5 fps, a keyframe every second): a frame's level says which it is
    images = [np.full((H, W, 3), 20 + 10 * i, np.uint8) for i in range(20)]
    path = encode(tmp_path / "levels.mp4", images, gop=5)
    frames = read_keyframes_near(path, [0.5, 2.5, 3.9, 30.0])
    # the keyframe at or before each time (frames 0, 10, 15), not the frame at it; past the end: the last one
    assert [int(round((f.mean() - 20) / 10)) for f in frames] == [0, 10, 15, 15]
    with pytest.raises(FileNotFoundError):
        read_keyframes_near(tmp_path / "missing.mp4", [1.0])


def test_find_picture_reads_frames_of_a_video(tmp_path):
    path = encode(tmp_path / "letterboxed.mp4", framed(scenes(20), LETTERBOX), gop=5)
    x1, y1, x2, y2 = find_picture(path, 4.0)
    # the codec blurs the bars' edge by a row or two
    assert (x1, x2) == (0, W) and abs(y1 - 32) <= 2 and abs(y2 - 208) <= 2
    assert find_picture(tmp_path / "missing.mp4", 4.0) is None


# --------------------------------------------------------------------------- what the rules make of it


def track(number: int, t0: float, t1: float, box, flagged: bool = True) -> Track:
    obs = [Observation(t=round(t0 + k / FPS, 3), frame=int(round((t0 + k / FPS) * FPS)), bbox=box, confidence=0.9,
                       fall=flagged)
           for k in range(int(round((t1 - t0) * FPS)) + 1)]
    return Track(number, "person", obs)


def signals_for(tracks: list[Track], until: float) -> list[FrameSignal]:
    out = []
    for k in range(int(round(until * FPS)) + 1):
        t = round(k / FPS, 3)
        boxes = [o.bbox for tr in tracks for o in tr.observations if abs(o.t - t) < 1e-6]
        out.append(FrameSignal(t, k, np.array(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32)))
    return out


def collapses(tracks: list[Track], until: float, picture=None):
    scene = Scene.build((), (W, H), FPS, signals=signals_for(tracks, until), picture=picture)
    return CollapseRule(TH).detect(tracks, scene)


# shoplifting2.mp4: a customer leans over a glass counter at the picture's bottom edge, flagged Fall from the start
LEANER = (180.0, 146.0, 300.0, 207.0)


def test_a_flagged_box_at_the_letterbox_edge_as_the_video_begins_is_no_collapse():
    leaner = track(1, 1.8, 8.0, LEANER)
    assert collapses([leaner], 10, picture=LETTERBOX) == []
    # without the bars known, her box is well inside the frame: the flag alone counts (the rule as before)
    assert [e.type for e in collapses([leaner], 10)] == ["collapse"]


def test_a_flagged_box_at_the_edge_found_later_still_counts():
    # someone down at the picture's edge after the scene was watched a while without them: the flag stands for the fall
    lying = track(1, 6.0, 12.0, LEANER)
    assert [e.type for e in collapses([lying], 14, picture=LETTERBOX)] == ["collapse"]


def test_a_flag_at_the_edge_where_someone_leaned_a_while_ago_is_no_collapse():
    # she leans there (seen 5-8 s), people in front hide her for 4 s, then a track's id lands on her, flagged
    seen = track(1, 5.0, 8.0, LEANER, flagged=False)
    flagged = track(2, 12.0, 18.0, LEANER)
    assert collapses([seen, flagged], 20, picture=LETTERBOX) == []
    # away from the edge (the bars unknown) the memory is the usual 2 s: the flag stands for a fall nobody saw
    assert [e.track_number for e in collapses([seen, flagged], 20)] == [2]


def test_a_box_at_the_letterbox_edge_is_cut_for_the_collapse_rule():
    rule = CollapseRule(TH)
    boxes = np.array([LEANER, (180.0, 60.0, 230.0, 180.0), (180.0, 33.0, 230.0, 150.0)], np.float32)
    cut_top, cut_bottom, cut_side = rule._cut(boxes, Scene.build((), (W, H), FPS, picture=LETTERBOX))
    assert cut_bottom.tolist() == [True, False, False] and cut_top.tolist() == [False, False, True]
    cut_top, cut_bottom, _ = rule._cut(boxes, Scene.build((), (W, H), FPS))
    assert not cut_bottom.any() and not cut_top.any()


def test_the_fall_check_uses_the_pictures_edges():
    # a squat box at a pillarbox's side may be someone walking out of the picture: no candidate there
    cand = FallCandidates((W, H), picture=(20, 0, 300, 240))
    assert cand.update(0.0, np.array([[22, 150, 90, 200]], np.float32)) == []
    assert FallCandidates((W, H)).update(0.0, np.array([[22, 150, 90, 200]], np.float32)) != []
    # the crop to check stays inside the picture: the bars hold nobody
    assert fall_region((200, 120, 260, 200), 80, (W, H), LETTERBOX) == (130, 96, 320, 208)


def test_the_picture_survives_the_stored_rule_inputs():
    leaner = track(1, 1.8, 8.0, LEANER)
    blob = pack([leaner], signals_for([leaner], 10), picture=LETTERBOX)
    assert stored_picture(blob) == LETTERBOX
    tracks, signals = unpack(blob)
    assert collapses(tracks, 10, picture=stored_picture(blob)) == []
    # inputs stored before the picture was kept read as the whole frame
    assert stored_picture(pack([leaner], [])) is None
