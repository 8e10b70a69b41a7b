"""Contact sheets for labelling clips by eye: frames at a fixed step with their clip time burned in.

Used to make bench/labels/category.json (see bench/labels/README.md). Needs the `ffmpeg` binary
(`apt-get install -y ffmpeg`); writes PNG sheets and prints their paths.

    python bench/label_sheets.py ../shared/datasets/behaviour/category/shoplifting0.mp4 \
        --step 1 --cols 4 --rows 4 --out /tmp/sheets
    python bench/label_sheets.py CLIP --start 20 --end 29 --step 0.25 --scale 2 --cols 3 --rows 3
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def make_sheets(clip: Path, out: Path, *, start: float, end: float | None, step: float,
                cols: int, rows: int, scale: float, crop: str | None = None) -> list[Path]:
    """Write sheets of cols x rows frames taken every `step` seconds from `start` to `end`."""
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{clip.stem}_{start:g}-{end if end is not None else 'end'}_{step:g}s"
    pattern = out / f"{tag}_%02d.png"
    for old in out.glob(f"{tag}_*.png"):
        old.unlink()
    # trim keeps the clip's own timestamps, so the burned-in time is clip time
    filters = [f"trim=start={start}" + (f":end={end}" if end is not None else ""),
               f"fps=1/{step}:start_time={start}",
               *([f"crop={crop}"] if crop else []),
               f"scale=iw*{scale}:ih*{scale}",
               (f"drawtext=fontfile={FONT}:text='%{{pts\\:flt}}':x=4:y=4:fontsize={int(18 * scale)}"
                ":fontcolor=yellow:box=1:boxcolor=black@0.6"),
               f"tile={cols}x{rows}"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-vf", ",".join(filters), str(pattern)],
                   check=True)
    return sorted(out.glob(f"{tag}_*.png"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("clip", type=Path)
    p.add_argument("--start", type=float, default=0.0, help="first second (default 0)")
    p.add_argument("--end", type=float, default=None, help="last second (default: the end of the clip)")
    p.add_argument("--step", type=float, default=1.0, help="seconds between frames (default 1)")
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--rows", type=int, default=4)
    p.add_argument("--scale", type=float, default=1.0, help="enlarge each frame by this factor")
    p.add_argument("--crop", help="ffmpeg crop W:H:X:Y applied before scaling, e.g. 160:120:160:0")
    p.add_argument("--out", type=Path, default=Path("/tmp/sentinel-sheets"))
    args = p.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("label_sheets: ffmpeg is not installed (apt-get install -y ffmpeg)", file=sys.stderr)
        return 1
    if not args.clip.is_file():
        print(f"label_sheets: no such clip: {args.clip}", file=sys.stderr)
        return 1
    for path in make_sheets(args.clip, args.out, start=args.start, end=args.end, step=args.step,
                            cols=args.cols, rows=args.rows, scale=args.scale, crop=args.crop):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
