"""Cache optical flow at the source frame rate next to each sampled frame of the behaviour cache (development).

The product measures flow between two sampled frames (0.2 s apart at 5 fps), which blurs a punch.
For every sampled frame f of a clip cached by bench/extract_behaviour_tracks.py, this decodes the
source video again and measures the same DIS flow (gpu_jobs.vision.motion, the same 320 px grey
frame) from f to the next decoded frame f+1 and from f+1 to f+2 (1/fps apart: 0.03-0.08 s here).
It keeps, per sampled frame, the frame descriptor (FLOW_FIELDS) of both flows, the second with its
change against the first (how abruptly the motion flickers within 0.04 s), and the box motion
(MOTION_FIELDS) of the frame's person detections in the first flow.

    .venv/bin/python bench/extract_fast_flow.py [--cache bench/cache/behaviour] [--out bench/cache/fast_flow]

Resumable; the output folder is git-ignored (under bench/cache). Read by bench/explore_fight_features.py.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract_behaviour_tracks import CACHE, MANIFEST  # noqa: E402
from gpu_jobs.vision.motion import FLOW_FIELDS, MOTION_FIELDS, box_motion, frame_flow, small_grey  # noqa: E402

OUT = ROOT / "bench" / "cache" / "fast_flow"
PATTERNS = ("fights__*.json.gz", "falls__*.json.gz", "category__*.json.gz", "extra__vtest.json.gz")
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


def source_of(meta: dict) -> Path:
    if meta["path"].startswith("extra/"):
        return VTEST.with_name(Path(meta["path"]).name)
    return MANIFEST.parent / meta["path"]


def decoded_after(path: Path, wanted: set[int], extra: int = 2):
    """({index: small grey}, {index: t}, source fps) of every wanted index and the `extra` decoded frames after it.

    Indices count decoded frames as core.runtime.media.sample_frames does, so they match the cache's.
    """
    import av

    keep = {i + k for i in wanted for k in range(extra + 1)}
    out, times = {}, {}
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        src_fps = float(stream.average_rate or stream.guessed_rate or 25.0)
        index = None
        last = max(keep)
        for frame in container.decode(stream):
            t = float(frame.time) if frame.time is not None else 0.0
            index = int(round(t * src_fps)) if index is None else index + 1
            if index in keep:
                out[index] = small_grey(frame.to_ndarray(format="bgr24"))
                times[index] = index / src_fps
            if index >= last:
                break
    return out, times, src_fps


def clip_fast_flow(stem: Path, dis) -> dict:
    meta = json.loads(gzip.decompress(stem.with_suffix(".json.gz").read_bytes()))["meta"]
    d = np.load(stem.with_suffix(".npz"))
    frames = [int(f) for f in d["frame"]]
    boxes_of, at = {}, 0
    for f, n in zip(d["sig_frame"], d["sig_count"]):
        boxes_of[int(f)] = d["sig_boxes"][at:at + n]
        at += n
    greys, _, src_fps = decoded_after(source_of(meta), set(frames))
    w, h = meta["frame_size"]
    n_flow = len(FLOW_FIELDS)
    flow1 = np.full((len(frames), n_flow), np.nan, np.float32)
    flow2 = np.full((len(frames), n_flow), np.nan, np.float32)
    counts, motions = [], []
    dt = 1.0 / src_fps
    for k, f in enumerate(frames):
        a, b, c = greys.get(f), greys.get(f + 1), greys.get(f + 2)
        boxes = np.asarray(boxes_of.get(f, np.zeros((0, 4))), np.float32).reshape(-1, 4)
        counts.append(len(boxes))
        if a is None or b is None or a.shape != b.shape:
            motions.append(np.full((len(boxes), len(MOTION_FIELDS)), np.nan, np.float32))
            continue
        fl = dis.calc(a, b, None)
        flow1[k], speed = frame_flow(fl, dt)
        motions.append(box_motion(fl, boxes, a.shape[1] / float(w), dt) if len(boxes)
                       else np.zeros((0, len(MOTION_FIELDS)), np.float32))
        if c is not None and c.shape == b.shape:
            flow2[k], _ = frame_flow(dis.calc(b, c, None), dt, speed)
    return {"frame": np.array(frames), "t": d["t"], "src_fps": np.array(src_fps), "flow1": flow1, "flow2": flow2,
            "count": np.array(counts, int),
            "motion": np.concatenate(motions + [np.zeros((0, len(MOTION_FIELDS)), np.float32)]).astype(np.float32),
            "size": np.array([w, h])}


def main() -> None:
    import cv2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stems = sorted({p.with_suffix("").with_suffix("") for pattern in PATTERNS for p in args.cache.glob(pattern)})
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    started = time.monotonic()
    for n, stem in enumerate(stems):
        out = args.out / (stem.name + ".npz")
        if out.exists():
            continue
        np.savez_compressed(out, **clip_fast_flow(stem, dis))
        if n % 25 == 0:
            print(f"{n + 1}/{len(stems)} {stem.name} ({time.monotonic() - started:.0f} s)", flush=True)
    print(f"done in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
