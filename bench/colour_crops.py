"""Cut the torso patches the product names clothing colours from, on real clips, and draw sheets to label them by eye.

For each chosen clip the product's FrameScan (decode at 5 fps -> detect -> track -> pose) runs as in
`sentinel analyze`; every time it takes an attribute sample of a person (once a second per
tracklet, `ATTRIBUTE_EVERY_S`), this keeps the torso patch it names the colour from
(`attributes.torso_box`), and a whole-body crop of the tracklet's middle sample to label from.
Tracklets under 3 observations are dropped, as the product drops them.

    .venv/bin/python bench/colour_crops.py            # ~6 min on 2 cores; resumable
    -> bench/cache/colour/<clip>.npz and bench/cache/colour/sheets/sheet_NN.png (git-ignored)

Each crop on a sheet is captioned with its id (`<clip number>-<tracklet>`); the label for it goes
in bench/labels/colours.json (see bench/labels/README.md), which bench/bench_colour.py scores.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "datasets" / "behaviour"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CACHE = ROOT / "bench" / "cache" / "colour"
PATCH_MAX = 64  # px on the longer side: a colour needs no detail, and the cache stays small


def chosen_clips(manifest: Path) -> list[str]:
    """Every store clip, every 3rd fall clip and every 5th fight clip (many rooms and cameras), and vtest.avi."""
    clips = [c["path"] for c in json.loads(manifest.read_text())["clips"]]
    store = [c for c in clips if c.startswith("category/")]
    falls = [c for c in clips if c.startswith("falls/")][::3]
    fights = [c for c in clips if c.startswith("fights/")][::5]
    return store + falls + fights + ([str(VTEST)] if VTEST.exists() else [])


def small(patch: np.ndarray) -> np.ndarray:
    import cv2

    h, w = patch.shape[:2]
    scale = min(1.0, PATCH_MAX / max(h, w, 1))
    if scale < 1.0:
        patch = cv2.resize(patch, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return patch


def cut(analyzer, src: Path) -> dict[int, dict]:
    """Per tracklet (by its first number): its torso patches, in order, and a body crop from its middle sample."""
    from core.runtime.media import probe
    from gpu_jobs.analysis import FrameScan
    from core.vocabulary import PERSON
    from gpu_jobs.vision.attributes import torso_box
    from gpu_jobs.vision.picture import find_picture

    info = probe(src)
    fps = min(analyzer.settings.analysis_fps, info.fps)
    scan = FrameScan(analyzer, fps, (info.width, info.height), [], expected=max(1, int(info.duration_s * fps)),
                     report=lambda p: None, picture=find_picture(src, info.duration_s))
    samples: dict[tuple, list] = {}
    append = scan._append

    def recording(frame, key, obs):
        before = len(scan.attr_samples.get(key, []))
        append(frame, key, obs)
        if key[0] == PERSON and len(scan.attr_samples.get(key, [])) > before:
            h, w = frame.image.shape[:2]
            tx1, ty1, tx2, ty2 = torso_box(obs.bbox, obs.keypoints)
            x1, y1, x2, y2 = (int(v) for v in obs.bbox)
            samples.setdefault(key, []).append((
                small(frame.image[max(0, ty1): min(h, ty2), max(0, tx1): min(w, tx2)].copy()),
                frame.image[max(0, y1): min(h, y2), max(0, x1): min(w, x2)].copy(),
                frame.image[::8, ::8].reshape(-1, 3).mean(axis=0)))

    scan._append = recording
    scan.run(src, None)
    out = {}
    for key, track in scan.tracks.items():
        got = samples.get(key)
        if key[0] != PERSON or not got or len(track.observations) < 3:
            continue
        out[track.number] = {"patches": [p for p, _, _ in got], "body": got[len(got) // 2][1],
                             "frame_bgr": np.array([m for _, _, m in got], np.float32)}
    return out


def save(path: Path, tracklets: dict[int, dict]) -> None:
    arrays = {}
    for number, got in tracklets.items():
        for k, patch in enumerate(got["patches"]):
            arrays[f"t{number}_p{k}"] = patch
        arrays[f"t{number}_body"] = got["body"]
        arrays[f"t{number}_frame"] = got["frame_bgr"]
    np.savez_compressed(path, **arrays)


def load(path: Path) -> dict[int, dict]:
    """A cached clip: {tracklet: {"patches": [BGR arrays], "body": BGR array, "frame_bgr": (n, 3) frame means}}."""
    data = np.load(path)
    out: dict[int, dict] = {}
    for name in data.files:
        number, part = name[1:].split("_", 1)
        got = out.setdefault(int(number), {"patches": [], "body": None, "frame_bgr": None})
        if part in ("body", "frame"):
            got["body" if part == "body" else "frame_bgr"] = data[name]
        else:
            got["patches"].append((int(part[1:]), data[name]))
    for got in out.values():
        got["patches"] = [p for _, p in sorted(got["patches"], key=lambda kp: kp[0])]
    return out


def cache_name(clip: str) -> str:
    return Path(clip).with_suffix("").as_posix().replace("/", "__").lstrip("_")


def sheets(clips: list[str], out: Path, per_sheet: int = 40) -> int:
    """Contact sheets of body crops (scaled to 150 px high), each captioned with its id."""
    import cv2

    cells = []
    for n, clip in enumerate(clips):
        path = CACHE / f"{cache_name(clip)}.npz"
        if path.exists():
            for number, got in sorted(load(path).items()):
                cells.append((f"{n}-{number}", got["body"]))
    out.mkdir(parents=True, exist_ok=True)
    cw, ch = 110, 170
    for s in range(0, len(cells), per_sheet):
        page = np.full((ch * 5, cw * 8, 3), 255, np.uint8)
        for i, (name, body) in enumerate(cells[s: s + per_sheet]):
            r, c = divmod(i, 8)
            h, w = body.shape[:2]
            scale = min(150 / max(h, 1), (cw - 4) / max(w, 1))
            img = cv2.resize(body, (max(1, int(w * scale)), max(1, int(h * scale))))
            page[r * ch: r * ch + img.shape[0], c * cw: c * cw + img.shape[1]] = img
            cv2.putText(page, name, (c * cw + 2, r * ch + 166), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        cv2.imwrite(str(out / f"sheet_{s // per_sheet:02d}.png"), page)
    return len(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, default=DATA / "manifest.json")
    args = parser.parse_args()
    from gpu_jobs.analysis import Analyzer
    from settings import get_settings

    clips = chosen_clips(args.manifest)
    CACHE.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer(get_settings())
    for n, clip in enumerate(clips):
        path = CACHE / f"{cache_name(clip)}.npz"
        if not path.exists():
            src = Path(clip) if clip.startswith("/") else args.manifest.parent / clip
            save(path, cut(analyzer, src))
            print(f"{n + 1}/{len(clips)} {clip}", flush=True)
    print(f"{sheets(clips, CACHE / 'sheets')} tracklets on sheets in {CACHE / 'sheets'}")


if __name__ == "__main__":
    main()
