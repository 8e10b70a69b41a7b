"""How often the clothing colour a track is given matches the colour a person sees, on real clips (development data).

Reads the torso patches bench/colour_crops.py cut (exactly the patches the product names colours
from) and the colours labelled by eye in bench/labels/colours.json, then scores:
  - the product's colour naming as it stands (`gpu_jobs.vision.attributes`), track by track;
  - a small grid of its settings (grey saturation, dark and white value, grey-world white balance),
    cross-validated over two folds of camera groups: the setting chosen on one fold is scored on the
    other, so the `held-out` figure never scores a choice on the tracks that made it.

    .venv/bin/python bench/bench_colour.py [--write]    # seconds; --write appends to bench/results/colour.md

A label may name two words ("black|blue" for a navy top): either counts as right. Labels `null`
(mixed, hidden or too small to tell) are left out.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.colour_crops import CACHE, VTEST, cache_name, load  # noqa: E402

LABELS = ROOT / "bench" / "labels" / "colours.json"
RESULTS = ROOT / "bench" / "results" / "colour.md"
GRID = {"grey_s": (0.12, 0.15, 0.18, 0.22), "dark_v": (0.16, 0.22, 0.28), "white_v": (0.70, 0.78),
        "red_v": (0.3, 0.45), "chroma_share": (0.15, 0.25, 0.35, 1.0), "balance": (False, True)}


def group_of(clip: str) -> str:
    """One camera, roughly: the clip's name without its numbers (a fall room, a store clip, one fight camera)."""
    name = Path(clip).stem
    if clip.startswith("fights/"):
        return name  # the fight clips come from many cameras; clip by clip is the finest honest split
    return re.sub(r"[\d_]+$", "", re.sub(r"_x264.*$", "", name))


def labelled() -> list[dict]:
    """Every labelled tracklet: its clip, group, patches, frame means and accepted words."""
    data = json.loads(LABELS.read_text())
    rows = []
    for clip, tracks in data["labels"].items():
        cached = load(CACHE / f"{cache_name(str(VTEST) if clip == VTEST.name else clip)}.npz")
        for number, label in tracks.items():
            if label is None or int(number) not in cached:
                continue
            got = cached[int(number)]
            words = label.split("|")
            rows.append({"clip": clip, "group": group_of(clip), "track": int(number), "words": set(words),
                         "first": words[0], "patches": got["patches"], "frame_bgr": got["frame_bgr"]})
    return rows


def product_colour(row: dict) -> str:
    from gpu_jobs.vision.attributes import aggregate, dominant_colour

    return aggregate([{"clothing_colour": dominant_colour(p)} for p in row["patches"]])["clothing_colour"]


def setting_colour(row: dict, setting: dict) -> str:
    from gpu_jobs.vision.attributes import ColourNaming, aggregate

    naming = ColourNaming(**{k: v for k, v in setting.items() if k != "balance"})
    samples = []
    for patch, mean in zip(row["patches"], row["frame_bgr"]):
        samples.append({"clothing_colour": naming.dominant(patch, frame_bgr=mean if setting["balance"] else None)})
    return aggregate(samples)["clothing_colour"]


def accuracy(rows: list[dict], name) -> float:
    return float(np.mean([name(r) in r["words"] for r in rows])) if rows else float("nan")


def settings() -> list[dict]:
    return [dict(zip(GRID, values)) for values in itertools.product(*GRID.values())]


def two_folds(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """Camera groups split in two by a fixed order (sorted names, alternating), so both folds hold every source."""
    groups = sorted({r["group"] for r in rows})
    first = set(groups[0::2])
    return [r for r in rows if r["group"] in first], [r for r in rows if r["group"] not in first]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="append the tables to bench/results/colour.md")
    args = parser.parse_args()
    rows = labelled()
    folds = two_folds(rows)
    candidates = settings()
    held_out, chosen = [], []
    for train, test in (folds, folds[::-1]):
        scores = [accuracy(train, lambda r, s=s: setting_colour(r, s)) for s in candidates]
        best = candidates[int(np.argmax(scores))]
        chosen.append(best)
        held_out.append((len(test), accuracy(test, lambda r, s=best: setting_colour(r, s))))
    cv = sum(n * a for n, a in held_out) / sum(n for n, _ in held_out)
    whole = [accuracy(rows, lambda r, s=s: setting_colour(r, s)) for s in candidates]
    best_all = candidates[int(np.argmax(whole))]
    named = {id(r): product_colour(r) for r in rows}  # the product's word per tracklet, read once
    product = accuracy(rows, lambda r: named[id(r)])
    confusion = Counter((r["first"], named[id(r)]) for r in rows if named[id(r)] not in r["words"])
    lines = [
        f"## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "",
        f"- tracklets labelled: {len(rows)} in {len({r['clip'] for r in rows})} clips, "
        f"{len({r['group'] for r in rows})} camera groups; folds of {len(folds[0])} and {len(folds[1])} tracklets",
        "- **development data, not a held-out test**",
        "",
        "| colour naming | tracklets right |",
        "|---|---|",
        f"| the product as it stands | {product:.2f} |",
        f"| settings chosen on one fold, scored on the other (held-out, 2-fold by camera) | {cv:.2f} |",
        f"| the best setting on all labelled tracklets (chosen and scored on the same: not a quality figure) | "
        f"{max(whole):.2f} |",
        "",
        f"Chosen per fold: {chosen[0]} / {chosen[1]}; on all: {best_all}.",
        "",
        "The product's misses (label -> named): " + ", ".join(f"{a} -> {b} {n}" for (a, b), n in
                                                            confusion.most_common(12)) + ".",
    ]
    print("\n".join(lines))
    if args.write:
        RESULTS.write_text((RESULTS.read_text() if RESULTS.exists() else "") + "\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
