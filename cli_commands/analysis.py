"""`sentinel analyze`, `sentinel worker`, `sentinel export`."""

from __future__ import annotations

import json
import logging
import sys


def register(sub) -> None:
    s = sub.add_parser("analyze", help="ingest a video (path or s3:// URI) and analyse it now")
    s.add_argument("path")
    s.add_argument("--camera", metavar="NAME", help="the camera it belongs to (whose zones apply); "
                                                    "by default one from the file name")
    s.add_argument("--recorded-at", metavar="WHEN", type=_recorded_at,
                   help="when the footage starts on the camera's clock, e.g. '2026-12-01 10:00' (counts by hour "
                        "and 'between 10:00 and 11:00' use it; by default a time in the file name)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_analyze)

    s = sub.add_parser("worker", help="run a local worker that processes queued analysis jobs")
    s.add_argument("--processes", type=_positive, default=None, metavar="N",
                   help="claimers on the queue side by side, so a long video's chunks run in parallel "
                        "(default: the number of cores)")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("export", help="export a video's tracks (MOTChallenge) or events and tracks (JSON)")
    s.add_argument("video", help="video id or name")
    s.add_argument("--format", choices=["mot", "json"], default="json")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=cmd_export)


def _app():
    from bootstrap import get_app

    return get_app()


def _progress_bar():
    """A rich progress bar on stderr (the --json output stays clean), with a callback for 0-100."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("analysing"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
                   console=_stderr_console(), transient=True)
    task = bar.add_task("analysis", total=100)
    return bar, lambda pct: bar.update(task, completed=pct)


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True)


def cmd_analyze(args) -> int:
    from services.videos import analyze_now

    app = _app()
    if args.json:
        summary = analyze_now(app, source=args.path, camera=args.camera, recorded_at=args.recorded_at)
        print(json.dumps(summary))
        return 0
    if _stderr_console().is_terminal:
        bar, update = _progress_bar()
        with bar:
            summary = analyze_now(app, source=args.path, progress=update, camera=args.camera,
                                  recorded_at=args.recorded_at)
    else:  # a log file or a pipe gets the summary line only
        summary = analyze_now(app, source=args.path, camera=args.camera, recorded_at=args.recorded_at)
    types = ", ".join(f"{n} {t}" for t, n in summary["events_by_type"].items()) or "no events"
    print(f"Video {summary['video_id']}: {summary['duration_s']:.1f} s, {summary['frames_analyzed']} frames "
          f"analysed, {summary['tracks']} people tracked, {types} ({summary['elapsed_s']:.1f} s).")
    return 0


def _recorded_at(text: str) -> str:
    import argparse

    from core.cameras import parse_recorded_at

    try:
        parse_recorded_at(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    import argparse

    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def cmd_worker(args) -> int:
    import os
    import signal
    import threading

    from gpu_jobs.worker import Worker

    logging.getLogger().setLevel(logging.INFO)
    processes = args.processes or os.cpu_count() or 1
    if processes > 1:
        from cli_commands.worker_pool import run_pool

        _ = _app().db  # start (or join) the database and migrate once, before the children join it
        return run_pool(processes)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = Worker(_app())
    threading.Thread(target=worker.warm_up, name="warm-up", daemon=True).start()
    worker.run_forever(stop)
    return 0


def cmd_export(args) -> int:
    from services.events import export_video

    text = export_video(_app(), ref=args.video, format=args.format)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
