"""Chunk-parallel analysis of a long video: wall time with 1 and 2 worker processes, tracking quality
chunked against unchunked, ID switches near the chunk boundaries, and peak memory per worker.

The long video is OpenCV's vtest.avi (PETS09-S2L1, 795 frames at 10 fps) concatenated COPIES times
with ffmpeg's concat demuxer (`-c copy`: the same pixels, so the ground truth holds), and its
ground truth (../shared/datasets/pets09-s2l1/gt.txt) repeated at each copy's frame offset, the
people of each copy counted as new identities. Every configuration runs `sentinel worker
--processes N` as a new process tree on one embedded database, so model loading (the cold start)
is inside each wall time; the timer starts before the workers and stops when the video's run is
written. Scores: motmetrics at IoU >= 0.5 over the MOTChallenge export (boxes interpolated between
the 5 fps samples), as bench/bench_tracking.py computes them.

Configurations, in this order (--only picks some by name):
  whole      the long video as one job, one process
  chunked-1  the long video as chunks of --chunk-s, one process
  chunked-2  the same with two processes
  single     vtest.avi once, one process: the memory baseline

Full run (about 20 minutes on a quiet 2-core machine: 2,200 s of video analysed at about 2x real time):
  .venv/bin/python bench/bench_chunked.py
A check that the script works (about 6 minutes under load):
  .venv/bin/python bench/bench_chunked.py --copies 2 --chunk-s 40 --out bench/results/chunked-check.md
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
GT = ROOT.parent / "shared" / "datasets" / "pets09-s2l1" / "gt.txt"
VTEST_FRAMES = 795
ID_STRIDE = 10_000  # ground-truth ids of copy c are id + c * ID_STRIDE
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# the memory baseline runs last, so that no row but the first meets caches the others find filled
CONFIGS = ("whole", "chunked-1", "chunked-2", "single")


def concatenated(copies: int, folder: Path) -> Path:
    """vtest.avi `copies` times in one AVI (stream copy, no re-encoding), cached."""
    out = folder / f"vtest_x{copies}.avi"
    if out.exists():
        return out
    listing = folder / f"vtest_x{copies}.txt"
    listing.write_text("".join(f"file '{VTEST}'\n" for _ in range(copies)))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(out)], check=True)
    return out


def repeated_gt(copies: int, out: Path) -> Path:
    """The PETS09-S2L1 ground truth once per copy, at the copy's frame offset, with new identities."""
    lines = []
    for c in range(copies):
        for line in GT.read_text().splitlines():
            if line.strip():
                p = line.split(",")
                p[0] = str(int(p[0]) + c * VTEST_FRAMES)
                p[1] = str(int(p[1]) + c * ID_STRIDE)
                lines.append(",".join(p))
    out.write_text("\n".join(lines) + "\n")
    return out


def score(gt_path: Path, mot_path: Path, n_frames: int, boundary_frames: list[int], window: int) -> dict:
    """motmetrics MOTA / IDF1 / switches, and the switches within `window` frames of each boundary."""
    import motmetrics as mm
    from bench_tracking import accumulate

    acc = accumulate(gt_path, mot_path, n_frames)
    names = ["mota", "idf1", "num_switches"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="run")
    events = acc.mot_events
    switch_frames = events[events["Type"] == "SWITCH"].index.get_level_values("FrameId").to_numpy()
    near = [int(((switch_frames >= b - window) & (switch_frames <= b + window)).sum()) for b in boundary_frames]
    return {**{k: float(summary[k].iloc[0]) for k in names}, "boundary_switches": near}


def tree_peaks_mb(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) of the process and its descendants that claim jobs, in MB."""
    import psutil

    root = psutil.Process(pid)
    procs = [root, *root.children(recursive=True)]
    peaks = {}
    for p in procs:
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
        except OSError:
            continue
        kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        peaks[p.pid] = kb / 1024
    if len(procs) > 1:
        peaks.pop(pid, None)  # the pool's supervisor loads no models; its children are the workers
    return peaks


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of the process and its living descendants (all their threads)."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def run_config(app, video: dict, *, chunk_s: float, processes: int, data_dir: Path, timeout_s: float) -> dict:
    """Queue the video, start a fresh worker tree, wait for the run; wall time, peaks and the chunk rows."""
    import bootstrap
    from db.repos import chunks, videos
    from gpu_jobs.runners import LocalRunner

    queue_app = bootstrap.App(app.settings.model_copy(update={"chunk_s": chunk_s}))
    queue_app.db = app.db
    env = {**os.environ, "SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_CHUNK_S": str(chunk_s),
           "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    worker = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "worker", "--processes", str(processes)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        LocalRunner(queue_app).submit(video["id"])
        while True:
            with app.db.connection() as conn:
                row = videos.get(conn, video["id"])
            if row["status"] == "completed" and row["progress"] >= 100:
                break
            if row["status"] == "failed" or worker.poll() is not None:
                raise RuntimeError(f"the analysis failed: {row['error']}")
            if time.monotonic() - started > timeout_s:
                raise RuntimeError("the analysis did not finish in time")
            time.sleep(0.5)
        wall = time.monotonic() - started
        peaks = tree_peaks_mb(worker.pid)
        cpu_s = tree_cpu_s(worker.pid)
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
    with app.db.connection() as conn:
        batch = chunks.latest_jobs(conn, video["id"])
    return {"wall_s": wall, "cpu_s": cpu_s, "peak_rss_mb": max(peaks.values()) if peaks else 0.0,
            "workers": len(peaks),
            "chunks": [(float(j["t_start"] or 0.0), float(j["t_end"] or video["duration_s"])) for j in batch]}


def export_mot(app, video_id, out: Path) -> None:
    from db.repos import runs
    from gpu_jobs.export import mot_lines

    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video_id)
    out.write_text("\n".join(mot_lines(tracks)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=8, help="vtest.avi copies in the long video (8: 10.6 min)")
    parser.add_argument("--chunk-s", type=float, default=160.0, help="SENTINEL_CHUNK_S of the chunked rows "
                        "(160 cuts 8 copies into 4 chunks of equal length)")
    parser.add_argument("--only", nargs="+", choices=CONFIGS, help="run only these configurations")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "chunked.md")
    parser.add_argument("--timeout-s", type=float, default=3 * 3600)
    args = parser.parse_args()
    if not GT.exists():
        sys.exit(f"{GT} is missing: the PETS09-S2L1 ground truth lives in ../shared/datasets.")

    with tempfile.TemporaryDirectory(prefix="bench-chunked-") as tmp:
        tmp = Path(tmp)
        data_dir = tmp / "data"
        os.environ["SENTINEL_DATA_DIR"] = str(data_dir)
        os.environ.pop("DATABASE_URL", None)
        os.environ.pop("S3_BUCKET", None)
        os.environ["SENTINEL_RUNNER"] = "local"
        cache = ROOT / "bench" / "cache"
        cache.mkdir(exist_ok=True)
        long_path = concatenated(args.copies, cache)
        gt_long, gt_single = repeated_gt(args.copies, tmp / "gt_long.txt"), repeated_gt(1, tmp / "gt_single.txt")

        import bootstrap
        from db.embedded import stop_embedded
        from gpu_jobs.ingest import ingest_path
        from settings import get_settings

        get_settings.cache_clear()
        app = bootstrap.get_app()
        try:
            rows = run_all(app, args, tmp, data_dir, long_path, gt_long, gt_single, ingest_path)
        finally:
            bootstrap.reset_app()
            stop_embedded(data_dir / "pg")
    write_table(args, rows, long_path)


def run_all(app, args, tmp: Path, data_dir: Path, long_path: Path, gt_long: Path, gt_single: Path,
            ingest_path) -> dict[str, dict]:
    from core.runtime.media import probe

    info = probe(long_path)
    # convert the SSD graph and MiniLM once before any timing: every row then starts as a worker's later starts do
    subprocess.run([sys.executable, "-c", "from settings import get_settings; from gpu_jobs.pipeline import "
                    "get_analyzer; get_analyzer(get_settings()); from core.runtime.embeddings import "
                    "get_embeddings; get_embeddings(get_settings())"], cwd=ROOT, check=True,
                   env={**os.environ, "SENTINEL_DATA_DIR": str(data_dir)})
    frames_long = args.copies * VTEST_FRAMES
    long_video = ingest_path(app, long_path, submit=False).video
    rows: dict[str, dict] = {}
    plan = {"single": (0.0, 1), "whole": (0.0, 1), "chunked-1": (args.chunk_s, 1), "chunked-2": (args.chunk_s, 2)}
    boundaries: list[int] = []
    for name in CONFIGS:
        if args.only and name not in args.only:
            continue
        chunk_s, processes = plan[name]
        if name == "single":
            video, gt, n_frames = ingest_path(app, VTEST, submit=False).video, gt_single, VTEST_FRAMES
        else:
            video, gt, n_frames = long_video, gt_long, frames_long
        load = os.getloadavg()[0]
        result = run_config(app, video, chunk_s=chunk_s, processes=processes, data_dir=data_dir,
                            timeout_s=args.timeout_s)
        if name.startswith("chunked"):
            spans = result["chunks"]
            # the handover between two chunks: the middle of their overlap (gpu_jobs.stitch)
            boundaries = [int(round((b[0] + a[1]) / 2 * info.fps)) + 1 for a, b in zip(spans, spans[1:])]
        mot = tmp / f"{name}.txt"
        export_mot(app, video["id"], mot)
        result.update(load=load, video_s=n_frames / info.fps)
        result["score"] = score(gt, mot, n_frames, boundaries if name != "single" else [], int(2 * info.fps))
        rows[name] = result
        print(name, {k: v for k, v in result.items() if k != "chunks"}, file=sys.stderr, flush=True)
    # the unchunked run scored at the same boundary times, for comparison
    if "whole" in rows and boundaries:
        rows["whole"]["score"] = score(gt_long, tmp / "whole.txt", frames_long, boundaries, int(2 * info.fps))
    return rows


def write_table(args, rows: dict[str, dict], long_path: Path) -> None:
    labels = {"single": "vtest.avi once, 1 process", "whole": f"x{args.copies}, one job, 1 process",
              "chunked-1": f"x{args.copies}, chunks of {args.chunk_s:g} s, 1 process",
              "chunked-2": f"x{args.copies}, chunks of {args.chunk_s:g} s, 2 processes"}
    table = ["| configuration | chunks | wall s | video s / wall s | MOTA | IDF1 | ID sw | ID sw within 2 s of "
             "each boundary | peak RSS MB per worker | CPU s | cores busy | load avg before |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        s = r["score"]
        near = ", ".join(str(n) for n in s["boundary_switches"]) or "-"
        table.append(f"| {labels[name]} | {len(r['chunks'])} | {r['wall_s']:.1f} | {r['video_s'] / r['wall_s']:.2f} | "
                     f"{s['mota']:.3f} | {s['idf1']:.3f} | {s['num_switches']:.0f} | {near} | "
                     f"{r['peak_rss_mb']:.0f} | {r['cpu_s']:.0f} | {r['cpu_s'] / r['wall_s']:.2f} | {r['load']:.1f} |")
    notes = []
    if "chunked-1" in rows and "chunked-2" in rows:
        notes.append(f"speed-up, 2 processes against 1 (cold start in both): "
                     f"{rows['chunked-1']['wall_s'] / rows['chunked-2']['wall_s']:.2f}x (target >= 1.7)")
        # the same CPU work spread over every core is the most a second process can win (on an idle machine)
        one = rows["chunked-1"]
        busy = one["cpu_s"] / one["wall_s"]
        notes.append(f"one process kept {busy:.2f} of {os.cpu_count()} cores busy at load average {one['load']:.1f}: "
                     f"with the machine to itself, a second one could give at most about "
                     f"{os.cpu_count() / busy:.2f}x (other load takes cores from both rows)")
    if "whole" in rows and "chunked-2" in rows:
        w, c = rows["whole"]["score"], rows["chunked-2"]["score"]
        notes.append(f"chunked - unchunked: MOTA {c['mota'] - w['mota']:+.3f}, IDF1 {c['idf1'] - w['idf1']:+.3f} "
                     "(target within 0.01)")
    if "single" in rows and "chunked-2" in rows:
        notes.append(f"peak RSS per worker, long chunked against single vtest.avi: "
                     f"{rows['chunked-2']['peak_rss_mb'] / rows['single']['peak_rss_mb'] - 1:+.1%} (target within 10%)")
    header = (f"{long_path.name}: vtest.avi x{args.copies} ({args.copies * VTEST_FRAMES} frames at 10 fps), "
              f"{os.cpu_count()} CPU cores, motmetrics at IoU >= 0.5; every row a new worker process tree "
              "(models loaded in it, the SSD graph and MiniLM converted beforehand) on one embedded database.")
    text = "\n".join([header, "", *table, "", *(f"- {n}" for n in notes)]) + "\n"
    print(text)
    args.out.parent.mkdir(exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
