"""`sentinel tier stats|archive|restore|poll|sync|lifecycle` and `sentinel delete VIDEO_ID [--yes]`."""

from __future__ import annotations

import json
import sys


def _app():
    from bootstrap import get_app

    return get_app()


def _emit(args, payload, text: str) -> None:
    print(json.dumps(payload, default=str) if args.json else text)


def _video_id(app, ref: str) -> str:
    """A video id from an id or an exact name (never a prefix: these commands change or delete data)."""
    from services.videos import require_video

    return str(require_video(app, ref=ref, exact=True)["id"])


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def _result_line(r) -> str:
    state = r.tier
    if r.restore_state:
        until = f" until {r.restore_expires_at:%Y-%m-%d %H:%M} UTC" if r.restore_expires_at else ""
        state += f" ({r.restore_state}{until})"
    return f"{r.video_id}  {r.name}  {state}  {r.message}"


def _results(args, results, empty: str) -> int:
    payload = {"results": [r.as_dict() for r in results]}
    _emit(args, payload, "\n".join(_result_line(r) for r in results) or empty)
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"sentinel: {len(failed)} of {len(results)} videos failed: {failed[0].message}", file=sys.stderr)
    return 1 if failed else 0


# ---- commands -----------------------------------------------------------------------------------

def cmd_stats(args) -> int:
    from services.storage import tier_stats

    stats = tier_stats(_app())
    lines = [f"{t['tier']:<8} {t['videos']:>6} videos  {_human_bytes(t['bytes']):>10}" for t in stats["tiers"]]
    lines.append(f"restoring {stats['restoring']}, restored {stats['restored']}  (store: {stats['store']})")
    _emit(args, stats, "\n".join(lines))
    return 0


def _one_video(args, action) -> int:
    """Run a lifecycle `action(app, video_id=...)` on the VIDEO_ID argument and print its result."""
    app = _app()
    return _results(args, [action(app, video_id=_video_id(app, args.video))], "")


def cmd_archive(args) -> int:
    from services.storage import archive_older_than, archive_video

    if (args.video is None) == (args.older_than is None):
        raise ValueError("Give either a VIDEO_ID or --older-than DAYS.")
    if args.video is not None:
        return _one_video(args, archive_video)
    return _results(args, archive_older_than(_app(), days=args.older_than),
                    f"No hot or warm videos older than {args.older_than:g} days.")


def cmd_restore(args) -> int:
    from services.storage import restore_video

    return _one_video(args, restore_video)


def cmd_poll(args) -> int:
    from services.storage import poll_restores

    return _results(args, poll_restores(_app()), "No restores in flight.")


def cmd_sync(args) -> int:
    from services.storage import sync_tiers

    return _results(args, sync_tiers(_app()), "Every video's tier already matches the store.")


def cmd_lifecycle(args) -> int:
    from services.storage import apply_lifecycle

    config = apply_lifecycle(_app())
    lines = []
    for rule in config["Rules"]:
        prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
        steps = [f"{t['StorageClass']} after {t['Days']} days" for t in rule.get("Transitions", [])]
        if "Expiration" in rule:
            steps.append(f"expire after {rule['Expiration']['Days']} days")
        lines.append(f"{rule['ID']}: {prefix}* -> {', '.join(steps)}")
    _emit(args, config, "Applied bucket lifecycle rules:\n" + "\n".join(lines))
    return 0


def cmd_delete(args) -> int:
    from services.videos import delete_video, require_video

    app = _app()
    video = require_video(app, ref=args.video, exact=True)
    video_id, name = str(video["id"]), video["name"]
    if not args.yes:
        try:
            answer = input(f"Delete video {name} ({video_id}), its files and its events? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            raise RuntimeError("Not deleted: answer y, or pass --yes.")
    result = delete_video(app, video_id=video_id)
    missing = f" ({len(result.missing_keys)} already missing)" if result.missing_keys else ""
    _emit(args, result.as_dict(),
          f"Deleted {result.name} ({result.video_id}): {len(result.deleted_keys)} objects{missing}, "
          f"{result.events} events.")
    return 0


# ---- registration -------------------------------------------------------------------------------

def register(sub) -> None:
    tier = sub.add_parser("tier", help="storage tiers: stats, archive, restore, lifecycle rules")
    tier_sub = tier.add_subparsers(dest="tier_command", required=True)

    s = tier_sub.add_parser("stats", help="videos and bytes per tier")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)

    s = tier_sub.add_parser("archive", help="move originals to the archive tier")
    s.add_argument("video", nargs="?", metavar="VIDEO_ID", help="one video (id or exact name)")
    s.add_argument("--older-than", type=float, metavar="DAYS", help="every hot or warm video older than DAYS")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_archive)

    s = tier_sub.add_parser("restore", help="make an archived video playable again for a while")
    s.add_argument("video", metavar="VIDEO_ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_restore)

    s = tier_sub.add_parser("poll", help="refresh the state of restores in flight")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_poll)

    s = tier_sub.add_parser("sync", help="make every video's tier match the store (after bucket lifecycle moves)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_sync)

    s = tier_sub.add_parser("lifecycle", help="apply the bucket lifecycle rules from settings (S3 only)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_lifecycle)

    s = sub.add_parser("delete", help="delete a video: its files in every tier and its rows")
    s.add_argument("video", metavar="VIDEO_ID")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_delete)
