"""Person tracking quality and speed of the vision layer on vtest.avi (PETS09-S2L1), as a markdown table.

Each configuration runs in its own process (clean peak memory, no thread settings leaking
between them): decode at the analysis rate, detect in batches, track (ObjectTracker), join split
tracklets (link_tracklets), interpolate boxes for the frames in between (gpu_jobs.export), write
MOTChallenge lines and score them with `motmetrics` (IoU >= 0.5) against
../shared/datasets/pets09-s2l1/gt.txt. For comparison, a naive `YOLO(ckpt).track(source,
stream=True)` loop runs on every frame with the packaged YOLOv8 fall-detector checkpoint.

Speed is seconds of video per wall second of detection + tracking (model loading apart, shown
in its own column); above 1 is faster than real time. Pose and attributes are not included
(bench/bench_pipeline.py measures the whole pipeline).

Usage: .venv/bin/python bench/bench_tracking.py [--fps 5] [--only NAME ...] [--out bench/results/tracking.md]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
GT = ROOT.parent / "shared" / "datasets" / "pets09-s2l1" / "gt.txt"
sys.path.insert(0, str(ROOT))

CONFIGS = {
    "ssd-tiles-0.45": "SSD-MobileNet on OpenVINO, 2 tiles, floor 0.45 + ByteTrack (default)",
    "ssd-tiles": "SSD-MobileNet on OpenVINO, 2 tiles, floor 0.3 (the graph's own) + ByteTrack",
    "ssd-opencv": "SSD-MobileNet on OpenCV DNN, 2 tiles, floor 0.45 + ByteTrack",
    "ssd-full": "SSD-MobileNet on OpenVINO, whole frame, floor 0.45 + ByteTrack",
    "yolo-fall": "YOLOv8 fall checkpoint (640) + ByteTrack",
    "naive": "naive YOLO(ckpt).track(stream=True), every frame",
}


def make_detector(config: str):
    from gpu_jobs.vision.detectors import SSDMobileNetDetector, YoloDetector
    from gpu_jobs.vision.models import fall_yolo

    if config == "ssd-tiles":
        return SSDMobileNetDetector(confidence=0.3)
    if config == "ssd-tiles-0.45":
        return SSDMobileNetDetector(confidence=0.45)
    if config == "ssd-opencv":
        return SSDMobileNetDetector(confidence=0.45, backend="opencv")
    if config == "ssd-full":
        return SSDMobileNetDetector(tiles=1, confidence=0.45)
    if config == "yolo-fall":
        return YoloDetector(fall_yolo())
    raise ValueError(config)


def run_vision(config: str, fps: float, batch: int, out: Path) -> dict:
    """Child process: detector + ObjectTracker at the analysis rate; MOT lines for every frame."""
    from gpu_jobs.export import mot_lines
    from core.runtime.media import probe, sample_frames
    from gpu_jobs.types import Observation, Track
    from gpu_jobs.vision.tracking import ObjectTracker, link_tracklets

    started = time.monotonic()
    detector = make_detector(config)
    info = probe(VTEST)
    rate = min(fps, info.fps)
    tracker = ObjectTracker(frame_rate=rate)
    load_s = time.monotonic() - started

    started, cpu0 = time.monotonic(), time.process_time()
    tracks: dict[int, Track] = {}
    frames = 0

    def process(chunk) -> None:
        for frame, dets in zip(chunk, detector.detect([f.image for f in chunk])):
            tracked = tracker.update(dets)
            for box, conf, tid, name in zip(tracked.xyxy, tracked.confidence, tracked.tracker_id,
                                            tracked.data["class_name"]):
                track = tracks.setdefault(int(tid), Track(number=int(tid), class_name=str(name)))
                track.observations.append(Observation(t=frame.t, frame=frame.index,
                                                      bbox=tuple(float(v) for v in box), confidence=float(conf)))

    chunk = []
    for frame in sample_frames(VTEST, fps=rate):
        chunk.append(frame)
        frames += 1
        if len(chunk) == batch:
            process(chunk)
            chunk = []
    if chunk:
        process(chunk)
    linked = link_tracklets(list(tracks.values()))
    wall, cpu = time.monotonic() - started, time.process_time() - cpu0
    rows = [{"track_number": t.number, "class_name": t.class_name,
             "path": [[o.frame, *o.bbox, o.confidence] for o in t.observations]} for t in linked]
    out.write_text("\n".join(mot_lines(rows)) + "\n")
    return {"load_s": load_s, "wall_s": wall, "cpu_s": cpu, "video_s": info.duration_s, "frames": frames}


def run_naive(out: Path) -> dict:
    """Child process: ultralytics' own tracking loop over every frame (its defaults: BoT-SORT, conf 0.25)."""
    os.environ.setdefault("YOLO_OFFLINE", "1")
    import torch
    from ultralytics import YOLO

    from gpu_jobs.vision.models import fall_yolo
    from naive_tracking import ultralytics_track_mot

    started = time.monotonic()
    torch.set_num_threads(os.cpu_count() or 1)  # the same threads as the YOLO adapter
    model = YOLO(str(fall_yolo()))
    load_s = time.monotonic() - started
    started, cpu0 = time.monotonic(), time.process_time()
    lines, frames = ultralytics_track_mot(model, VTEST)
    out.write_text("\n".join(lines) + "\n")
    return {"load_s": load_s, "wall_s": time.monotonic() - started, "cpu_s": time.process_time() - cpu0,
            "video_s": frames / 10.0, "frames": frames}


def read_mot(path: Path, *, ground_truth: bool = False) -> dict[int, list[tuple[int, list[float], bool]]]:
    """frame -> [(id, xyxy, counted)]; ground-truth rows with conf 0 are kept but not counted."""
    out: dict[int, list] = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        p = line.split(",")
        x, y, w, h = (float(v) for v in p[2:6])
        counted = not ground_truth or float(p[6]) != 0
        out.setdefault(int(p[0]), []).append((int(float(p[1])), [x, y, x + w, y + h], counted))
    return out


def iou_matrix(a: list, b: list) -> np.ndarray:
    a = np.asarray(a, float).reshape(-1, 4)[:, None]
    b = np.asarray(b, float).reshape(-1, 4)[None]
    ix = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    iy = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = ix * iy
    union = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1]) + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / np.maximum(union - inter, 1e-9)


def accumulate(gt_path: Path, mot_path: Path, n_frames: int):
    """motmetrics' accumulator over frames 1..n_frames at IoU >= 0.5, boxes on not-counted rows ignored."""
    import motmetrics as mm

    gt, hyp = read_mot(gt_path, ground_truth=True), read_mot(mot_path)
    acc = mm.MOTAccumulator(auto_id=False)
    for f in range(1, n_frames + 1):
        g = [r for r in gt.get(f, []) if r[2]]
        ignored = [r[1] for r in gt.get(f, []) if not r[2]]
        h = hyp.get(f, [])
        if ignored and h:
            near_ignored = iou_matrix([r[1] for r in h], ignored).max(axis=1) >= 0.5
            near_counted = (iou_matrix([r[1] for r in h], [r[1] for r in g]).max(axis=1) >= 0.5 if g
                            else np.zeros(len(h), bool))
            h = [r for r, ign, cnt in zip(h, near_ignored, near_counted) if cnt or not ign]
        dist = 1 - iou_matrix([r[1] for r in g], [r[1] for r in h]) if g and h else np.empty((len(g), len(h)))
        acc.update([r[0] for r in g], [r[0] for r in h], np.where(dist > 0.5, np.nan, dist), frameid=f)
    return acc


def score(mot: Path, n_frames: int) -> dict:
    """CLEAR MOT and identity metrics with motmetrics at IoU >= 0.5.

    motmetrics 1.4's own IoU helper calls np.asfarray (gone in NumPy 2), so distances are
    computed here. Boxes matching a not-counted ground-truth row (conf 0) are ignored, not false.
    """
    import motmetrics as mm

    acc = accumulate(GT, mot, n_frames)
    names = ["mota", "idf1", "num_switches", "precision", "recall", "num_false_positives", "num_misses"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="run")
    return {k: float(summary[k].iloc[0]) for k in names}


def child(config: str, fps: float, batch: int, out: str) -> None:
    result = run_naive(Path(out)) if config == "naive" else run_vision(config, fps, batch, Path(out))
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=5.0, help="analysis rate (the file is 10 fps)")
    parser.add_argument("--batch", type=int, default=8, help="frames per detector call")
    parser.add_argument("--only", nargs="*", choices=list(CONFIGS), help="run only these configurations")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "tracking.md")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        config, fps, batch, out = args.child
        child(config, float(fps), int(batch), out)
        return
    if not VTEST.exists() or not GT.exists():
        sys.exit(f"Needs {VTEST} (apt-get install opencv-doc) and {GT}.")
    n_frames = max(int(line.split(",")[0]) for line in GT.read_text().splitlines() if line.strip())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.only or list(CONFIGS):
            out = Path(tmp) / f"{config}.txt"
            env = {**os.environ, "SENTINEL_DATA_DIR": tmp, "HF_HUB_OFFLINE": "1", "YOLO_OFFLINE": "1"}
            proc = subprocess.run([sys.executable, __file__, "--child", config, str(args.fps), str(args.batch),
                                   str(out)], capture_output=True, text=True, env=env)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{config} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            result = json.loads(line[7:])
            result.update(score(out, n_frames))
            rows.append((config, result))
            print(config, json.dumps(result), file=sys.stderr, flush=True)
    table = [
        "| configuration | MOTA | IDF1 | ID sw | precision | recall | video s / wall s | video s / CPU s "
        "| model load s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for config, r in rows:
        table.append(
            f"| {CONFIGS[config]} | {r['mota']:.3f} | {r['idf1']:.3f} | {r['num_switches']:.0f} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {r['video_s'] / r['wall_s']:.2f} | "
            f"{r['video_s'] / r['cpu_s']:.2f} | {r['load_s']:.1f} | {r['peak_rss_mb']:.0f} |")
    load = os.getloadavg()[0]
    header = (f"vtest.avi = PETS09-S2L1 (795 frames at 10 fps, 79.5 s), analysed at {args.fps:g} fps except the "
              f"naive loop; {os.cpu_count()} CPU cores, load average {load:.1f} at the end; motmetrics, IoU >= 0.5")
    text = header + "\n\n" + "\n".join(table) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
