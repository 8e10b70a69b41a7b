"""`sentinel import-events FILE... --format uca`, `sentinel events [...]` and `sentinel videos`."""

from __future__ import annotations

import json
import sys
import time


def _app():
    from bootstrap import get_app

    return get_app()


def _print_json(payload) -> None:
    print(json.dumps(payload, default=str))


def _seconds(text: str) -> float:
    """Seconds from '75', '75.5', '1:15' or '1:02:03' (argparse type)."""
    import argparse

    from core.clock import parse_mmss

    try:
        return parse_mmss(text)
    except ValueError as exc:
        # argparse shows an ArgumentTypeError's own message, a ValueError only as "invalid value"
        raise argparse.ArgumentTypeError(str(exc)) from None


def _clock(seconds: float | None) -> str:
    from core.clock import format_mmss

    return format_mmss(seconds)


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain aligned text table (the last column is not padded)."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return "\n".join(lines)


# ---- import-events ------------------------------------------------------------------------------

def cmd_import_events(args) -> int:
    from rag.importers import import_uca

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done in (0, total) or now - last[0] >= 1.0:  # at most one line a second
            last[0] = now
            print(f"imported {done}/{total} events", file=sys.stderr, flush=True)

    sizing = {"batch": args.batch} if args.batch else {}
    summary = import_uca(_app().db, args.files, progress=progress, **sizing)
    payload = {key: summary[key] for key in ("videos", "events", "elapsed_s", "events_per_s")}
    if args.json:
        _print_json(payload)
    else:
        print(f"Imported {payload['videos']} videos and {payload['events']} events in "
              f"{payload['elapsed_s']:.1f} s ({payload['events_per_s']:.0f} events/s).")
    return 0


# ---- events -------------------------------------------------------------------------------------

_EVENT_FIELDS = ("id", "video_id", "video_name", "track_number", "type", "t_start", "t_end", "frame", "bbox",
                 "zone", "confidence", "attributes", "description", "keywords", "highlight_key", "created_at")


def cmd_events(args) -> int:
    from services.events import list_events

    rows = list_events(_app(), video_ref=args.video, types=args.type, t_from=args.t_from, t_to=args.t_to,
                       staff={"staff": True, "customers": False}.get(args.people), limit=args.limit)
    if args.json:
        _print_json([{key: row.get(key) for key in _EVENT_FIELDS} for row in rows])
        return 0
    if not rows:
        print("No events match.")
        return 0
    table = [[str(r["id"]), r["video_name"], f"{_clock(r['t_start'])}-{_clock(r['t_end'])}", r["type"],
              r["zone"] or "", f"{r['confidence']:.2f}", _short(r["description"], 70)] for r in rows]
    print(text_table(["id", "video", "time", "type", "zone", "conf", "description"], table))
    return 0


def _short(text: str, width: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


# ---- videos -------------------------------------------------------------------------------------

_VIDEO_FIELDS = ("id", "name", "original_filename", "status", "progress", "duration_s", "fps", "width", "height",
                 "size_bytes", "source", "storage_tier", "event_count", "error", "created_at", "updated_at")


def cmd_videos(args) -> int:
    from services.videos import list_videos

    rows = list_videos(_app(), limit=args.limit)
    if args.json:
        _print_json([{key: row.get(key) for key in _VIDEO_FIELDS} for row in rows])
        return 0
    if not rows:
        print("No videos yet: upload one in the app, or run `sentinel analyze PATH`.")
        return 0
    table = [[str(r["id"]), _short(r["name"], 40), r["status"], _clock(r["duration_s"]), str(r["event_count"]),
              r["source"], f"{r['created_at']:%Y-%m-%d %H:%M}"] for r in rows]
    print(text_table(["id", "name", "status", "duration", "events", "source", "created"], table))
    return 0


# ---- registration -------------------------------------------------------------------------------

def register(sub) -> None:
    s = sub.add_parser("import-events", help="import annotated events (UCA JSON) as media-less videos")
    s.add_argument("files", nargs="+", metavar="FILE", help="UCA JSON files")
    s.add_argument("--format", choices=["uca"], default="uca", help="file format (only uca for now)")
    s.add_argument("--batch", type=int, default=None,
                   help="sentences embedded and written together (default: rag.importers.IMPORT_BATCH)")
    s.add_argument("--json", action="store_true", help="print a JSON summary")
    s.set_defaults(func=cmd_import_events)

    s = sub.add_parser("events", help="list the events of the current analysis runs")
    s.add_argument("--video", help="a video id or name")
    s.add_argument("--type", action="append", help="an event type (repeat for several)")
    s.add_argument("--from", dest="t_from", type=_seconds, metavar="S", help="events ending at or after S (s or mm:ss)")
    s.add_argument("--to", dest="t_to", type=_seconds, metavar="S", help="events starting at or before S (s or mm:ss)")
    s.add_argument("--people", choices=("staff", "customers"),
                   help="only the events of staff (seen in a drawn staff area most of their time) or of customers")
    s.add_argument("--limit", type=int, default=1000)
    s.add_argument("--json", action="store_true", help="print a JSON list")
    s.set_defaults(func=cmd_events)

    s = sub.add_parser("videos", help="list the videos")
    s.add_argument("--limit", type=int, default=500)
    s.add_argument("--json", action="store_true", help="print a JSON list")
    s.set_defaults(func=cmd_videos)
