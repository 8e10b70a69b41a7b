"""Picking, concealment and theft on the cached development clips: figures, and a split-half threshold check.

Runs PickingRule, ConcealmentRule and TheftRule (no zones, as on the store clips) over the tracks
that bench/extract_behaviour_tracks.py cached, and scores like bench/bench_behaviour.py: an event
is inside a labelled moment of bench/labels/category.json when it overlaps it widened by 2 s before
and 4 s after; precision counts every theft/picking/concealment event on the shoplifting-kind store
clips; the fall clips, the other store clips (robbery, vandalism) and vtest.avi hold no store
theft, so every such event there is a false alarm.

The pose-pick checks (the hand's own travel, the height change across a reach, lying) have
physical defaults. To check they are not fitted to these figures, --split searches a small grid on
one half of the store clips and of the fall clips and reports the chosen values on the other half,
both ways.

    .venv/bin/python bench/tune_store.py [-v]     # the defaults on every cached clip
    .venv/bin/python bench/tune_store.py --split  # grid on one half, figures on the other

The default cache, bench/cache/behaviour_store (tracks only, git-ignored), was extracted at
9783522 from the store clips, vtest.avi and the fall clips (FrameScan as in the product, the
picture inside black bars included); another one: --cache DIR.

Development data: the store labels were made by us, by looking at frames.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract_behaviour_tracks import MANIFEST, load_tracks  # noqa: E402
from gpu_jobs.behaviours import picking  # noqa: E402
from gpu_jobs.behaviours.concealment import ConcealmentRule  # noqa: E402
from gpu_jobs.behaviours.picking import PickingRule  # noqa: E402
from gpu_jobs.behaviours.scene import Scene  # noqa: E402
from gpu_jobs.behaviours.theft import TheftRule  # noqa: E402
from settings import BehaviourThresholds  # noqa: E402

LABELS = ROOT / "bench" / "labels" / "category.json"
CACHE = ROOT / "bench" / "cache" / "behaviour_store"
BEFORE_S, AFTER_S = 2.0, 4.0  # as bench/bench_behaviour.py
TYPES = ("picking", "concealment", "theft")
# two halves of the store clips, each with about half of the labelled moments and one clip rich in events
HALVES = {
    "A": {"category/shoplifting0.mp4", "category/stealing1.mp4", "category/dcsass_stealing067_x264_4.mp4"},
    "B": {"category/shoplifting2.mp4", "category/shoplifting1.mp4", "category/dcsass_shoplifting018_x264_19.mp4"},
}
OFF = {"travel_share": 0.0, "picking_height_change": 1e9, "picking_lying_tilt": 1e9}
GRID = {
    "travel_share": [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0],
    "picking_height_change": [1e9, 1.15, 1.25, 1.4, 1.6],
    "picking_lying_tilt": [1e9, 45.0, 60.0, 75.0],
}


def load_all(cache: Path, manifest: Path, labels: Path) -> list[dict]:
    kinds = {c["path"]: c for c in json.loads(manifest.read_text())["clips"]}
    moments = json.loads(labels.read_text())["clips"]
    clips = []
    for path in sorted(cache.glob("*.json.gz")):
        if path.name.startswith("fights__"):
            continue
        tracks, meta = load_tracks(path)
        clip = kinds.get(meta["path"], {})
        kind = "vtest" if meta["path"].startswith("extra/") else clip.get("kind", "other")
        windows = moments.get(meta["path"], {}).get("moments", []) if clip.get("positive") else []
        clips.append({"path": meta["path"], "kind": kind, "positive": bool(clip.get("positive")),
                      "windows": windows, "tracks": [t for t in tracks if t.observations], "meta": meta})
    return clips


def events(clip: dict, th: BehaviourThresholds) -> list:
    meta = clip["meta"]
    scene = Scene.build((), tuple(meta["frame_size"]), meta["fps_sampled"], picture=meta.get("picture"))
    return [e for rule in (PickingRule, ConcealmentRule, TheftRule) for e in rule(th).detect(clip["tracks"], scene)]


def inside(event, window: dict) -> bool:
    return event.t_start <= window["t1"] + AFTER_S and event.t_end >= window["t0"] - BEFORE_S


def score(clips: list[dict], th: BehaviourThresholds, travel_share: float) -> dict:
    picking.TRAVEL_SHARE = travel_share
    s = {"events": 0, "inside": 0, "windows": 0, "hit": 0, "fall": 0, "other": 0, "vtest": 0, "lines": []}
    try:
        for clip in clips:
            found = [e for e in events(clip, th) if e.type in TYPES]
            name = Path(clip["path"]).name
            if clip["kind"] != "shoplifting":
                key = clip["kind"] if clip["kind"] in ("fall", "vtest") else "other"
                s[key] += len(found)
                s["lines"] += [f"  {key} {name} {e.type} #{e.track_number} {e.t_start:.1f}-{e.t_end:.1f}"
                               for e in found]
                continue
            s["events"] += len(found)
            s["windows"] += len(clip["windows"])
            s["hit"] += sum(any(inside(e, w) for e in found) for w in clip["windows"])
            for e in found:
                ok = any(inside(e, w) for w in clip["windows"])
                s["inside"] += ok
                s["lines"].append(f"  {'inside ' if ok else 'outside'} {name} {e.type} #{e.track_number} "
                                  f"{e.t_start:.1f}-{e.t_end:.1f} ({e.attributes.get('evidence')})")
    finally:
        picking.TRAVEL_SHARE = 1.0
    s["P"] = s["inside"] / s["events"] if s["events"] else float("nan")
    return s


def line(label: str, s: dict) -> str:
    return (f"{label}: P {s['P']:.2f} ({s['inside']}/{s['events']} inside), windows hit {s['hit']}/{s['windows']}; "
            f"false alarms: fall clips {s['fall']}, other store clips {s['other']}, vtest {s['vtest']}")


def objective(s: dict) -> tuple:
    # inside events against every event, the fall and other clips' false alarms included; then windows
    wrong = s["events"] - s["inside"] + s["fall"] + s["other"] + s["vtest"]
    return (round(s["inside"] / max(1, s["inside"] + wrong), 4), s["hit"])


def settings_of(base: BehaviourThresholds, values: dict) -> tuple[BehaviourThresholds, float]:
    update = {k: v for k, v in values.items() if k != "travel_share"}
    return base.model_copy(update=update), values["travel_share"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--labels", type=Path, default=LABELS)
    parser.add_argument("--split", action="store_true", help="grid on one half, report on the other")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    clips = load_all(args.cache, args.manifest, args.labels)
    base = BehaviourThresholds(_env_file=None)
    for label, values in (("defaults", {"travel_share": picking.TRAVEL_SHARE}), ("new checks off", OFF)):
        th, share = settings_of(base, {**{k: getattr(base, k) for k in OFF if k != "travel_share"}, **values})
        s = score(clips, th, share)
        print(line(label, s))
        if args.verbose:
            print("\n".join(s["lines"]))
    if not args.split:
        return
    falls = [c for c in clips if c["kind"] == "fall"]
    negatives = [c for c in clips if c["kind"] not in ("fall", "shoplifting")]
    for tune, test in (("A", "B"), ("B", "A")):
        def half(name: str) -> list[dict]:
            store = [c for c in clips if c["path"] in HALVES[name]]
            return store + falls[name == "B"::2]  # the fall clips alternate between the halves
        best = None
        for values in itertools.product(*GRID.values()):
            chosen = dict(zip(GRID, values))
            s = score(half(tune) + negatives, *settings_of(base, chosen))
            key = objective(s)
            if best is None or key > best[0]:
                best = (key, chosen, s)
        print(f"grid on half {tune}: {best[1]}  ({line('tuning', best[2])})")
        print(line(f"  -> held-out half {test}", score(half(test), *settings_of(base, best[1]))))
        print(line(f"  -> held-out half {test}, the defaults", score(half(test), base, picking.TRAVEL_SHARE)))


if __name__ == "__main__":
    main()
