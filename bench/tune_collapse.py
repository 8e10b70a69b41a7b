"""Collapse rule on the cached development clips: figures per dataset, and a split-half threshold check.

Runs gpu_jobs.behaviours.CollapseRule over the tracks and frame signals that
bench/extract_behaviour_tracks.py cached (the real per-frame analysis of every fall clip, plus
vtest.avi and the store clips as extra negatives) and scores like bench/bench_behaviour.py: a
fall clip is found when a collapse overlaps its window (from 2 s before to 4 s after), precision
counts every collapse event, and a no-fall clip's collapses are false alarms.

The thresholds are physical (standing heights, box shapes, seconds). To check they are not
fitted to these figures, --split searches a small grid on one dataset (Le2i or GMDCSA-24) and
reports the chosen thresholds on the other one, both ways.

    .venv/bin/python bench/tune_collapse.py            # the defaults on every cached clip
    .venv/bin/python bench/tune_collapse.py --split    # grid on one dataset, figures on the other

The fall check's flags are in a cache only when it was extracted with SENTINEL_FALL_CHECK on (the
default since 16:17 on 2026-12-01; bench/cache/behaviour is from 13:33, SSD alone): extract into
another folder and pass it, e.g. `--cache bench/cache/behaviour_fc` (it reproduces the bench's
collapse figures). Where the picture lies inside black bars is in a cache's meta ("picture") only
when it was extracted after 2026-12-01 19:30; --pictures reads it from the clips instead.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.extract_behaviour_tracks import CACHE, MANIFEST, load_clip  # noqa: E402
from gpu_jobs.behaviours.collapse import CollapseRule  # noqa: E402
from gpu_jobs.behaviours.scene import Scene  # noqa: E402
from settings import BehaviourThresholds  # noqa: E402

BEFORE_S, AFTER_S = 2.0, 4.0  # as bench/bench_behaviour.py
GRID = {
    "collapse_head_drop": [0.3, 0.35, 0.4],
    "collapse_low_aspect": [1.3, 1.4, 1.5],
    "collapse_floor_drop": [0.5, 0.55, 0.65],
    "collapse_persist_s": [1.5, 2.0],
}


def load_all(cache: Path) -> list[tuple]:
    clips = []
    for path in sorted(cache.glob("*.json.gz")):
        stem = path.with_suffix("").with_suffix("")
        if stem.name.startswith("fights__"):
            continue
        tracks, signals, meta = load_clip(stem)
        clips.append((tracks, signals, meta))
    return clips


def add_pictures(clips: list[tuple]) -> None:
    """Each clip's picture bounds from its video (a few frames each), where the cache's meta lacks them."""
    from core.runtime.media import probe
    from gpu_jobs.vision.picture import find_picture

    for _, _, meta in clips:
        video = MANIFEST.parent / meta["path"]
        if meta.get("picture") is None and video.is_file():
            meta["picture"] = find_picture(video, probe(video).duration_s)


def dataset(meta: dict) -> str:
    name = Path(meta["path"]).name
    return "le2i" if name.startswith("le2i") else "gmdcsa" if name.startswith("gmdcsa") else "other"


def score(clips, th: BehaviourThresholds) -> dict:
    rule = CollapseRule(th)
    tp_clips = pos = inside = events = neg_events = neg = other_events = 0
    missed, false = [], []
    for tracks, signals, meta in clips:
        scene = Scene.build((), tuple(meta["frame_size"]), meta["fps_sampled"], signals=signals,
                            picture=meta.get("picture"))
        found = rule.detect([t for t in tracks if t.observations], scene)
        name = Path(meta["path"]).name
        if meta["kind"] == "other":
            other_events += len(found)
            false += [f"{name}@{e.t_start:.1f}" for e in found]
            continue
        if not meta["positive"]:
            neg += 1
            neg_events += len(found)
            events += len(found)
            false += [f"{name}@{e.t_start:.1f}" for e in found]
            continue
        pos += 1
        events += len(found)
        windows = meta["windows"] or []
        hits = [e for e in found if any(e.t_start <= t1 + AFTER_S and e.t_end >= t0 - BEFORE_S for t0, t1 in windows)]
        inside += len(hits)
        tp_clips += bool(hits)
        if not hits:
            missed.append(name)
        false += [f"{name}@{e.t_start:.1f}" for e in found if e not in hits]
    p = inside / events if events else 0.0
    r = tp_clips / pos if pos else 0.0
    return {"P": p, "R": r, "F1": 2 * p * r / (p + r) if p + r else 0.0, "pos": pos, "found": tp_clips,
            "events": events, "neg": neg, "neg_events": neg_events, "other_events": other_events,
            "missed": missed, "false": false}


def line(label: str, s: dict) -> str:
    return (f"{label}: P {s['P']:.3f} R {s['R']:.3f} F1 {s['F1']:.3f} ({s['found']}/{s['pos']} falls found, "
            f"{s['events']} collapse events; {s['neg_events']} on {s['neg']} no-fall clips; "
            f"{s['other_events']} on vtest + store clips)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--split", action="store_true", help="grid on one dataset, report on the other")
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--pictures", action="store_true",
                        help="find each clip's picture inside black bars in its video (caches older than the meta)")
    args = parser.parse_args()
    clips = load_all(args.cache)
    if args.pictures:
        add_pictures(clips)
    base = BehaviourThresholds(_env_file=None)
    every = score(clips, base)
    print(line("defaults, every clip", every))
    for ds in ("le2i", "gmdcsa"):
        print(line(f"  {ds}", score([c for c in clips if dataset(c[2]) == ds], base)))
    if args.verbose:
        print("missed:", every["missed"])
        print("false:", every["false"])
    if not args.split:
        return
    extra = [c for c in clips if dataset(c[2]) == "other"]
    for tune, test in (("le2i", "gmdcsa"), ("gmdcsa", "le2i")):
        tune_clips = [c for c in clips if dataset(c[2]) == tune] + extra
        test_clips = [c for c in clips if dataset(c[2]) == test]
        best = None
        for values in itertools.product(*GRID.values()):
            th = base.model_copy(update=dict(zip(GRID, values)))
            s = score(tune_clips, th)
            key = (round(s["F1"], 4), -s["neg_events"] - s["other_events"])
            if best is None or key > best[0]:
                best = (key, dict(zip(GRID, values)), s)
        chosen = base.model_copy(update=best[1])
        print(f"grid on {tune}: {best[1]}  ({line('tuning', best[2])})")
        print(line(f"  -> held-out {test}", score(test_clips, chosen)))


if __name__ == "__main__":
    main()
