"""`sentinel ask "QUESTION" [--video ID] [--json]`, `sentinel ask -` (one question per line) and `sentinel summary`."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    s = sub.add_parser("ask", help="ask a question about the analysed videos")
    s.add_argument("question", help='the question, or "-" to read one question per line from stdin')
    s.add_argument("--video", help="search only this video (id or name)")
    s.add_argument("--json", action="store_true", help="print JSON (always on with '-')")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("summary", help="a video's summary (written now if missing or older than the latest analysis)")
    s.add_argument("video", help="video id or name")
    s.add_argument("--regenerate", action="store_true", help="write it again even if one is stored")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)


def _app():
    from bootstrap import get_app

    return get_app()


def _mmss(seconds) -> str:
    from core.clock import format_mmss

    return format_mmss(seconds)


def _text(result) -> str:
    lines = [result.answer]
    if result.citations:
        lines.append("")
        lines.extend(f"  E{c['event_id']}  {_mmss(c['t_start'])}-{_mmss(c['t_end'])}  {c['type']:<10} {c['video_name']}"
                     for c in result.citations)
    lines.append(f"({result.search_method}, {result.result_count} results, {result.timings_ms.get('total', 0):.0f} ms)")
    return "\n".join(lines)


def cmd_ask(args) -> int:
    from services.ask import ask, warm_up

    app = _app()
    if args.question != "-":
        result = ask(app, question=args.question, video=args.video)
        print(json.dumps(result.as_json(), default=str) if args.json else _text(result))
        return 0

    # batch: models load once, every answer is one JSON line, one bad line does not stop the rest
    warm_up(app)
    session_id = None
    failed = 0
    for line in sys.stdin:
        question = line.strip()
        if not question:
            continue
        try:
            result = ask(app, question=question, video=args.video, session_id=session_id)
        except Exception as exc:  # noqa: BLE001 - reported on its own line; the batch goes on
            failed += 1
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(json.dumps({"question": question, "error": message}), flush=True)
            continue
        session_id = result.session_id  # one session for the whole batch
        print(json.dumps({"question": question, **result.as_json()}, default=str), flush=True)
    if failed:
        print(f"sentinel: {failed} question(s) failed", file=sys.stderr)
    return 1 if failed else 0


def cmd_summary(args) -> int:
    from services.summaries import generate_summary, get_summary
    from services.videos import require_video

    app = _app()
    video = require_video(app, ref=args.video)
    row = get_summary(app, video_id=video["id"])
    if row is None or row["status"] != "completed" or row["stale"] or args.regenerate:
        row = generate_summary(app, video_id=video["id"])
    payload = {"video_id": str(video["id"]), "video_name": video["name"], "status": row["status"],
               "text": row["text"], "model": row["model"], "updated_at": row["updated_at"]}
    print(json.dumps(payload, default=str) if args.json else row["text"])
    return 0
