"""Run the real per-frame analysis over the behaviour development clips once and cache what it saw.

For every fall and fight clip of ../shared/datasets/behaviour/manifest.json, the internal Analyzer's
FrameScan (decode at 5 fps -> detect -> track -> pose) runs as in the product; the cache keeps
  - the finished tracks (every observation: t, frame, box, confidence, keypoints, motion, fall flag),
  - the sampled frames as the small grey images the motion module measures flow on,
so features and models can be iterated on (bench/train_*.py) without decoding or detecting again.

    .venv/bin/python bench/extract_behaviour_tracks.py [--kind fall|fight] [--out bench/cache/behaviour]

Resumable: clips already in the cache are skipped. The cache folder is git-ignored.
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
MANIFEST = ROOT.parent / "shared" / "datasets" / "behaviour" / "manifest.json"
CACHE = ROOT / "bench" / "cache" / "behaviour"


def track_record(track) -> dict:
    return {"number": track.number, "class_name": track.class_name,
            "obs": [{"t": o.t, "frame": o.frame, "bbox": list(o.bbox), "confidence": o.confidence,
                     "keypoints": None if o.keypoints is None else np.round(o.keypoints, 2).tolist(),
                     "motion": None if getattr(o, "motion", None) is None else np.round(o.motion, 4).tolist(),
                     "fall": bool(getattr(o, "fall", False))}
                    for o in track.observations]}


def load_tracks(path: Path):
    """The cached tracks of one clip as gpu_jobs.types.Track objects, and the clip's metadata."""
    from gpu_jobs.types import Observation, Track

    data = json.loads(gzip.decompress(path.read_bytes()))
    tracks = []
    for tr in data["tracks"]:
        obs = []
        for o in tr["obs"]:
            ob = Observation(o["t"], o["frame"], tuple(o["bbox"]), o["confidence"],
                             keypoints=None if o["keypoints"] is None else np.array(o["keypoints"], np.float32))
            if hasattr(ob, "motion") and o.get("motion") is not None:
                ob.motion = np.array(o["motion"], np.float32)
            if hasattr(ob, "fall"):
                ob.fall = bool(o.get("fall"))
            obs.append(ob)
        tracks.append(Track(tr["number"], tr["class_name"], obs, {}))
    return tracks, data["meta"]


def extract(analyzer, clip: dict, src: Path, out: Path) -> dict:
    from core.runtime.media import probe
    from gpu_jobs.analysis import FrameScan
    from gpu_jobs.vision.motion import small_grey
    from gpu_jobs.vision.picture import find_picture

    info = probe(src)
    fps = min(analyzer.settings.analysis_fps, info.fps)
    picture = find_picture(src, info.duration_s)
    scan = FrameScan(analyzer, fps, (info.width, info.height), [], expected=max(1, int(info.duration_s * fps)),
                     report=lambda p: None, picture=picture)
    greys, times, indices = [], [], []
    process = scan.process

    def keep_frames(batch):
        for f in batch:
            greys.append(small_grey(f.image))
            times.append(f.t)
            indices.append(f.index)
        process(batch)

    scan.process = keep_frames
    started = time.monotonic()
    scan.run(src, None)
    tracks = scan.finished_tracks()
    wall = time.monotonic() - started
    meta = {"path": clip["path"], "kind": clip["kind"], "positive": clip["positive"], "windows": clip.get("windows"),
            "fps_sampled": fps, "frame_size": [info.width, info.height], "duration_s": info.duration_s,
            "picture": list(picture) if picture is not None else None,
            "wall_s": wall, "source": clip.get("source", "")}
    payload = {"meta": meta, "tracks": [track_record(t) for t in tracks]}
    out.with_suffix(".json.gz").write_bytes(gzip.compress(json.dumps(payload).encode()))
    sig = scan.signals
    empty5 = np.full(5, np.nan, np.float32)
    np.savez_compressed(out.with_suffix(".npz"), grey=np.stack(greys) if greys else np.zeros((0, 1, 1), np.uint8),
                        t=np.array(times), frame=np.array(indices),
                        sig_t=np.array([s.t for s in sig]), sig_frame=np.array([s.frame for s in sig], int),
                        sig_count=np.array([len(s.boxes) for s in sig], int),
                        sig_boxes=np.concatenate([s.boxes for s in sig] + [np.zeros((0, 4), np.float32)]),
                        sig_conf=np.concatenate([s.confidence for s in sig] + [np.zeros(0, np.float32)]),
                        sig_motion=np.concatenate(
                            [s.motion if s.motion is not None else np.full((len(s.boxes), 5), np.nan) for s in sig]
                            + [np.zeros((0, 5), np.float32)]),
                        sig_frame_motion=np.array([s.frame_motion if s.frame_motion is not None else empty5
                                                   for s in sig]).reshape(-1, 5))
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["fall", "fight"])
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--out", type=Path, default=CACHE)
    parser.add_argument("--files", nargs="*", type=Path, default=[],
                        help="also these videos (no label: negatives for both kinds), e.g. vtest.avi")
    parser.add_argument("--store-clips", action="store_true",
                        help="also the manifest's category-only store clips that are not fights (negatives)")
    args = parser.parse_args()
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    clips = [c for c in json.loads(args.manifest.read_text())["clips"]
             if c["kind"] in ("fall", "fight") and not c.get("category_only") and (args.kind in (None, c["kind"]))]
    if args.store_clips:
        clips += [{**c, "kind": "other", "positive": False, "windows": None}
                  for c in json.loads(args.manifest.read_text())["clips"]
                  if c["path"].startswith("category/") and c["kind"] != "fight"]
    clips += [{"path": f"extra/{f.name}", "kind": "other", "positive": False, "file": str(f)} for f in args.files]
    args.out.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer(get_settings())
    for n, clip in enumerate(clips):
        out = args.out / Path(clip["path"]).with_suffix("").as_posix().replace("/", "__")
        if out.with_suffix(".npz").exists() and out.with_suffix(".json.gz").exists():
            continue
        meta = extract(analyzer, clip, Path(clip.get("file") or args.manifest.parent / clip["path"]), out)
        print(f"{n + 1}/{len(clips)} {clip['path']} {meta['duration_s']:.1f} s video in {meta['wall_s']:.1f} s",
              flush=True)


if __name__ == "__main__":
    main()


def load_signals(npz_path: Path):
    """The cached per-frame signals (gpu_jobs.types.FrameSignal) of one clip."""
    from gpu_jobs.types import FrameSignal

    d = np.load(npz_path)
    out, at = [], 0
    for t, frame, n, fm in zip(d["sig_t"], d["sig_frame"], d["sig_count"], d["sig_frame_motion"]):
        motion = d["sig_motion"][at:at + n]
        out.append(FrameSignal(float(t), int(frame), d["sig_boxes"][at:at + n], d["sig_conf"][at:at + n],
                               None if np.isnan(fm).all() else motion, None if np.isnan(fm).all() else fm))
        at += n
    # frames without people (cached before FrameScan recorded them): empty signals, as FrameScan does now
    seen = {s.frame for s in out}
    out += [FrameSignal(float(t), int(f), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
            for t, f in zip(d["t"], d["frame"]) if int(f) not in seen]
    return sorted(out, key=lambda s: s.t)


def attach_motion(tracks, npz_path: Path, frame_size) -> None:
    """Fill Observation.motion from the cached small frames exactly as FrameScan does per sampled frame."""
    from gpu_jobs.vision.motion import MotionField

    data = np.load(npz_path)
    by_frame: dict[int, list] = {}
    for tr in tracks:
        if tr.class_name == "person":
            for o in tr.observations:
                by_frame.setdefault(o.frame, []).append(o)
    field = MotionField()
    for grey, t, index in zip(data["grey"], data["t"], data["frame"]):
        field.update(grey, float(t))
        obs = by_frame.get(int(index), [])
        if not obs:
            continue
        motion = field.box_features(np.array([o.bbox for o in obs]), tuple(frame_size))
        for o, m in zip(obs, motion if motion is not None else [None] * len(obs)):
            o.motion = m


def attach_flow(signals, npz_path: Path, frame_size) -> None:
    """Fill FrameSignal.flow from the cached small frames exactly as FrameScan does (every sampled frame)."""
    from gpu_jobs.vision.motion import MotionField

    data = np.load(npz_path)
    by_frame = {s.frame: s for s in signals}
    field = MotionField()
    for grey, t, index in zip(data["grey"], data["t"], data["frame"]):
        field.update(grey, float(t))
        s = by_frame.get(int(index))
        if s is None:
            continue
        w, h = frame_size
        if field.box_features(np.array([[0, 0, w, h]], np.float32), (w, h)) is not None:
            s.flow = field.frame_flow


def load_clip(stem: Path):
    """Tracks (with motion), per-frame signals (with flow) and metadata of one cached clip (path without suffix)."""
    tracks, meta = load_tracks(stem.with_suffix(".json.gz"))
    signals = load_signals(stem.with_suffix(".npz"))
    attach_flow(signals, stem.with_suffix(".npz"), tuple(meta["frame_size"]))
    return tracks, signals, meta
