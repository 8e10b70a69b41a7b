"""`sentinel zones [VIDEO] [--camera NAME] [--set FILE.json] [--json]`, `sentinel rules VIDEO [--json]` and
`sentinel counts VIDEO [--from S] [--to S] [--json]`."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    s = sub.add_parser(
        "zones", help="show or set a video's or a camera's zones (pixels of the video)",
        description="Without --camera: the video's own zones and every zone that applies to it. With --camera "
                    "NAME: that camera's zones (given VIDEO, the video is put on that camera first). --set FILE.json "
                    "replaces them with {\"zones\": [{\"name\", \"kind\", \"polygon\": [[x, y], ...]}]} "
                    "(or a bare list; - reads stdin).")
    s.add_argument("video", nargs="?", help="video id or name")
    s.add_argument("--camera", metavar="NAME", help="the camera's zones (every video of the camera uses them)")
    s.add_argument("--set", dest="set_file", metavar="FILE.json", help="replace the zones with this file's")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_zones)

    s = sub.add_parser("rules", help="re-derive a video's events on its current zones and thresholds (no detection)")
    s.add_argument("video", help="video id or name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_rules)

    s = sub.add_parser("counts", help="people in and out at the entrance zones, and dwell per zone, of one video")
    s.add_argument("video", help="video id or name")
    s.add_argument("--from", dest="t_from", metavar="TIME", help="window start (mm:ss or seconds)")
    s.add_argument("--to", dest="t_to", metavar="TIME", help="window end (mm:ss or seconds)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_counts)


def _app():
    from bootstrap import get_app

    return get_app()


def _read_zones(path: str) -> list:
    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not JSON: {exc.msg} at line {exc.lineno}.") from None
    zones = data.get("zones") if isinstance(data, dict) else data
    if not isinstance(zones, list):
        raise ValueError(f"{path} needs {{\"zones\": [...]}} or a list of zones.")
    return zones


def cmd_zones(args) -> int:
    from services import zones as zone_service
    from services.videos import require_video

    if not args.video and not args.camera:
        raise ValueError("Name a video, or a camera with --camera NAME.")
    app = _app()
    zones = _read_zones(args.set_file) if args.set_file else None
    video = require_video(app, ref=args.video, exact=zones is not None or bool(args.camera)) if args.video else None
    if args.camera:
        if video is not None and video.get("camera") != args.camera:
            zone_service.set_camera(app, video_id=video["id"], camera=args.camera)
        result = (zone_service.set_camera_zones(app, name=args.camera, zones=zones) if zones is not None
                  else zone_service.camera_zones(app, name=args.camera))
    else:
        result = (zone_service.set_video_zones(app, video_id=video["id"], zones=zones) if zones is not None
                  else zone_service.video_zones(app, video_id=video["id"]))
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    if args.camera:
        print(f"Camera {result['camera']} ({result['width']}x{result['height']}): {len(result['zones'])} zones")
        shown = result["zones"]
    else:
        print(f"Video {result['video_id']} on camera {result['camera']} ({result['width']}x{result['height']}): "
              f"{len(result['zones'])} own zones, {len(result['effective'])} in effect")
        shown = result["effective"]
    for z in shown:
        points = " ".join(f"{x:g},{y:g}" for x, y in z["polygon"])
        source = f" [{z['source']}]" if z.get("source") else ""
        print(f"  {z['name']} ({z['kind']}){source}: {points}")
    if zones is not None:  # the stored events still follow the old zones until they are re-derived
        print("The events change at the next analysis, or now with: sentinel rules "
              + (str(video["id"]) if video is not None and not args.camera else "VIDEO (each video of the camera)"))
    return 0


def cmd_rules(args) -> int:
    from services.videos import require_video
    from services.zones import rederive_events

    app = _app()
    video = require_video(app, ref=args.video, exact=True)
    result = rederive_events(app, video_id=video["id"])
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    counts = ", ".join(f"{k} {v}" for k, v in result["events_by_type"].items()) or "no events"
    print(f"Video {result['video_id']}: {result['events']} events re-derived in {result['elapsed_s']:.2f} s "
          f"on {result['zones']} zones ({counts})")
    return 0


def cmd_counts(args) -> int:
    from core.clock import format_mmss, parse_mmss
    from services.counts import people_counts
    from services.videos import require_video

    t_from = parse_mmss(args.t_from) if args.t_from else None
    t_to = parse_mmss(args.t_to) if args.t_to else None
    if t_from is not None and t_to is not None and t_to < t_from:
        raise ValueError("--to must not be before --from.")
    app = _app()
    video = require_video(app, ref=args.video)
    result = people_counts(app, video_id=video["id"], t_from=t_from, t_to=t_to)
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    if not result["analysed"]:
        print(f"Video {result['video_id']} has not been analysed yet; nothing to count.")
        return 0
    door = (f"{result['people_in']} in, {result['people_out']} out at {', '.join(result['entrances'])}"
            if result["entrances"] else "no entrance zone, so no in/out counts")
    print(f"Video {result['video_id']}: {result['people']} distinct people; {door}")
    for name, z in result["zones"].items():
        print(f"  {name} ({z['kind']}): {z['visits']} visits by {z['people']} people, "
              f"mean {format_mmss(z['mean_dwell_s'])}, longest {format_mmss(z['max_dwell_s'])}")
    for h in result["hours"]:
        print(f"  hour from {h['starts_at']}: {h['in']} in, {h['out']} out, {h['people']} people")
    return 0
