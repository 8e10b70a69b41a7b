"""`sentinel analyze`, `sentinel worker`, `sentinel export`."""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter


def register(sub) -> None:
    s = sub.add_parser("analyze", help="ingest a video (path or s3:// URI) and analyse it now")
    s.add_argument("path")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_analyze)

    s = sub.add_parser("worker", help="run a local worker that processes queued analysis jobs")
    s.set_defaults(func=cmd_worker)

    s = sub.add_parser("export", help="export a video's tracks (MOTChallenge) or events and tracks (JSON)")
    s.add_argument("video", help="video id or name")
    s.add_argument("--format", choices=["mot", "json"], default="json")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=cmd_export)


def _app():
    from bootstrap import get_app

    return get_app()


def _find_video(app, ref: str) -> dict:
    from db.repos import videos

    with app.db.connection() as conn:
        video = videos.find(conn, ref)
    if video is None:
        raise LookupError(f"No video matches {ref!r}; `sentinel videos` lists them.")
    return video


def _summary_from_db(app, video: dict) -> dict:
    from db.repos import events, runs

    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video["id"])
        by_type = events.counts_by_type(conn, video["id"])
        frames = conn.execute("SELECT count(*) AS n FROM frame_stats WHERE video_id = %s AND run_id = %s",
                              (video["id"], video["current_run_id"])).fetchone()["n"]
    return {"video_id": str(video["id"]), "duration_s": video["duration_s"], "frames_analyzed": frames,
            "tracks": sum(1 for t in tracks if t["class_name"] == "person"),
            "objects": sum(1 for t in tracks if t["class_name"] != "person"),
            "events_by_type": dict(sorted(by_type.items())), "elapsed_s": 0.0}


def cmd_analyze(args) -> int:
    from db.repos import jobs
    from gpu_jobs.ingest import ingest
    from gpu_jobs.worker import Worker

    app = _app()
    result = ingest(app, args.path, submit=False)
    video = result.video
    if result.duplicate and video["status"] == "completed":
        summary = {**_summary_from_db(app, video), "duplicate": True}
    else:
        worker = Worker(app)
        with app.db.connection() as conn:
            jobs.submit(conn, video_id=video["id"], runner="local", max_attempts=app.settings.job_max_attempts)
            job = jobs.claim_video(conn, video_id=video["id"], owner=worker.owner, lease_s=worker.lease_s)
        if job is None:
            raise RuntimeError("This video is being analysed by a worker already; `sentinel videos` shows progress.")
        summary = worker.process(job)
        if summary is None:
            raise RuntimeError("The analysis was cancelled.")
    if args.json:
        print(json.dumps(summary))
    else:
        types = ", ".join(f"{n} {t}" for t, n in summary["events_by_type"].items()) or "no events"
        print(f"Video {summary['video_id']}: {summary['duration_s']:.1f} s, {summary['frames_analyzed']} frames "
              f"analysed, {summary['tracks']} people tracked, {types} ({summary['elapsed_s']:.1f} s).")
    return 0


def cmd_worker(args) -> int:
    import signal
    import threading

    from gpu_jobs.worker import Worker

    logging.getLogger().setLevel(logging.INFO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    worker = Worker(_app())
    threading.Thread(target=worker.warm_up, name="warm-up", daemon=True).start()
    worker.run_forever(stop)
    return 0


def cmd_export(args) -> int:
    from db.repos import events, runs
    from gpu_jobs.export import mot_lines

    app = _app()
    video = _find_video(app, args.video)
    with app.db.connection() as conn:
        tracks = runs.tracks_for_video(conn, video["id"])
        evs = events.list_events(conn, video_id=video["id"], limit=100000) if args.format == "json" else []
    if args.format == "mot":
        text = "\n".join(mot_lines(tracks)) + "\n"
    else:
        text = json.dumps({
            "video": {k: video[k] for k in ("id", "name", "duration_s", "fps", "width", "height", "status")},
            "tracks": [{k: t[k] for k in ("track_number", "class_name", "t_first", "t_last", "attributes", "path")}
                       for t in tracks],
            "events": [{k: e[k] for k in ("id", "type", "t_start", "t_end", "frame", "bbox", "zone", "confidence",
                                          "attributes", "description", "keywords", "track_number")} for e in evs],
            "events_by_type": dict(Counter(e["type"] for e in evs)),
        }, default=str, indent=2)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0
