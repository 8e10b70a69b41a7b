"""Does the detector's own backbone help the fight model? Nested grouped CV (development; writes no model).

The SSD-MobileNet-v2 the product runs on every sampled frame computes a 10x10x1280 feature map
(its last backbone layer, before the box heads) that no rule reads. A fight changes what the
network sees (tangled, blurred limbs) faster than walking does, so per sampled frame (5 fps, the
product's rate) this measures |F_t - F_t-1| averaged over channels, per cell of the 10x10 grid,
and summarises it: over the frame (`bb_mean`, `bb_max`, `bb_top3`), relative to the map's own
level (`bb_rel`), inside the frame's person boxes (`bb_person`, `bb_person_max`) and their
contrast to the frame (`bb_contrast`). Each is aggregated per window as mean and max, appended to
FIGHT_FEATURES, and compared with bench/explore_fight_features.py's folds, groups, threshold rule
and nested pick (the `nested` row is the honest one).

    .venv/bin/python bench/explore_backbone_features.py   # ~10 min on 2 cores; features cached

Needs the cache of bench/extract_behaviour_tracks.py (its sampled frame numbers and person boxes);
the frames are decoded again from ../shared/datasets/behaviour (vtest.avi from opencv-doc).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import explore_fight_features as explore  # noqa: E402
from bench.extract_behaviour_tracks import MANIFEST, load_signals  # noqa: E402
from gpu_jobs.behaviours.models.fight import WINDOW_S  # noqa: E402

BACKBONE = "Transpose_380151"  # the Relu6 after the 1280-channel 1x1 conv (10x10 at 300x300): OpenVINO's name
CANDIDATES = ("bb_mean", "bb_max", "bb_top3", "bb_rel", "bb_person", "bb_person_max", "bb_contrast")
OUT = ROOT / "bench" / "cache" / "backbone"
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
VARIANTS = {"base": None, "backbone": CANDIDATES, "backbone3": ("bb_mean", "bb_person", "bb_contrast")}


def backbone_model():
    """The packaged SSD graph from its resized image to the backbone map, compiled for the CPU."""
    import openvino as ov
    from openvino import opset13

    from gpu_jobs.vision.ssd_engines import INPUT, RESIZED, _weights

    core = ov.Core()
    model = core.read_model(str(_weights()[0]))
    ops = {op.get_friendly_name(): op for op in model.get_ordered_ops()}
    image = opset13.parameter([1, INPUT, INPUT, 3], ov.Type.f32, name="image")
    for target in list(ops[RESIZED].output(0).get_target_inputs()):
        target.replace_source_output(image.output(0))
    return core.compile_model(ov.Model([ops[BACKBONE].output(0)], [image], "backbone"), "CPU").create_infer_request()


def frame_candidates(change: np.ndarray, level: float, boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """CANDIDATES of one frame from its (10, 10) channel-mean backbone change and the map's mean level."""
    n = change.shape[0]
    mask = np.zeros((n, n), bool)
    for x1, y1, x2, y2 in boxes:
        mask[int(max(0, y1 / size[1] * n)):int(np.ceil(min(n, y2 / size[1] * n))),
             int(max(0, x1 / size[0] * n)):int(np.ceil(min(n, x2 / size[0] * n)))] = True
    flat = np.sort(change.reshape(-1))[::-1]
    person = change[mask] if mask.any() else np.array([np.nan])
    return np.array([change.mean(), flat[0], flat[:3].mean(), change.mean() / (level + 1e-3), person.mean(),
                     person.max(), person.mean() / (change.mean() + 1e-3)], np.float64)


def clip_candidates(request, stem: Path, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """(times, (n, len(CANDIDATES))) for every cached sampled frame after the first, cached in OUT."""
    import cv2

    from gpu_jobs.vision.ssd_engines import INPUT

    out = OUT / f"{stem.name}.npz"
    if out.exists():
        d = np.load(out)
        return d["t"], d["rows"]
    data = np.load(stem.with_suffix(".npz"))
    wanted = {int(f): float(t) for f, t in zip(data["frame"], data["t"])}
    boxes = {s.frame: s.boxes for s in load_signals(stem.with_suffix(".npz"))}
    src = VTEST if meta["path"].startswith("extra/") else MANIFEST.parent / meta["path"]
    cap, index, before, at, rows = cv2.VideoCapture(str(src)), 0, None, [], []
    size = tuple(meta["frame_size"])
    while wanted:
        ok, frame = cap.read()
        if not ok:
            break
        if index in wanted:
            rgb = cv2.cvtColor(cv2.resize(frame, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)[None].astype(np.float32)
            fmap = next(iter(request.infer({0: rgb}).values()))[0]
            if before is not None:
                change = np.abs(fmap - before).mean(axis=0)
                rows.append(frame_candidates(change, float(fmap.mean()), boxes.get(index, np.zeros((0, 4))), size))
                at.append(wanted[index])
            before = fmap
            del wanted[index]
        index += 1
    times, rows = np.array(at), np.array(rows, np.float64).reshape(-1, len(CANDIDATES))
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez(out, t=times, rows=rows)
    return times, rows


def main() -> None:
    args, started = explore.start(__doc__, list(VARIANTS))
    clips = explore.load(args.cache)
    request = backbone_model()
    explore.CANDIDATES = CANDIDATES  # window_candidates() and build() read the candidate names from there
    for n, c in enumerate(clips):
        stem = args.cache / Path(c["meta"]["path"]).with_suffix("").as_posix().replace("/", "__")
        times, per_frame = clip_candidates(request, stem, c["meta"])
        c["candidates"] = explore.window_candidates(times, per_frame, c["starts"], WINDOW_S)
        if n % 25 == 0:
            print(f"  {n + 1}/{len(clips)} clips measured", flush=True)
    variants = {v: (explore.build(clips, VARIANTS[v] or ()), 1.0, {})
                for v in args.variants}
    explore.compare(variants, started)


if __name__ == "__main__":
    main()
