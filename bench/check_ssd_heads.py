"""Checks that the SSD graph without its loops (what the product runs) gives the whole graph's rows bit for bit.

Runs the packaged frozen graph whole on OpenVINO and `OpenVinoSsd` (the graph cut before its
resize and NMS loops, `multiclass_nms` in numpy) on the same views: vtest.avi and every fifth
clip of ../shared/datasets/behaviour, every fourth of their first 90 frames, each frame whole and
as its two tiles. Prints the views, rows and views that differ, and the time per view of each.
Usage: .venv/bin/python bench/check_ssd_heads.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
CLIPS = ROOT.parent / "shared" / "datasets" / "behaviour"


def whole_graph_rows(request, compiled, views) -> np.ndarray:
    """Rows (view, tf_label, score, x1, y1, x2, y2) from the whole graph's own NMS outputs."""
    import cv2

    from gpu_jobs.vision.ssd_engines import INPUT

    out = []
    for i, view in enumerate(views):
        request.infer({0: cv2.cvtColor(cv2.resize(view, (INPUT, INPUT)), cv2.COLOR_BGR2RGB)[None]})
        scores = request.get_tensor(compiled.output("detection_scores:0")).data[0]
        keep = scores > 0  # the graph pads its 100 slots with zero scores
        rows = np.zeros((int(keep.sum()), 7), np.float32)
        rows[:, 0], rows[:, 2] = i, scores[keep]
        rows[:, 1] = request.get_tensor(compiled.output("detection_classes:0")).data[0][keep]
        rows[:, 3:] = request.get_tensor(compiled.output("detection_boxes:0")).data[0][keep][:, [1, 0, 3, 2]]
        out.append(rows)
    return np.concatenate(out)


def main() -> None:
    import cv2
    import openvino as ov

    from gpu_jobs.vision.ssd_engines import INPUT, OpenVinoSsd, _weights

    core = ov.Core()
    whole = core.read_model(str(_weights()[0]))
    whole.reshape({whole.inputs[0].get_any_name(): [1, INPUT, INPUT, 3]})
    compiled = core.compile_model(whole, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    engine = OpenVinoSsd(Path(tempfile.mkdtemp()))
    paths = [VTEST, *sorted(CLIPS.rglob("*.mp4"))[3::5]]
    views = rows = differing = 0
    t_whole = t_heads = 0.0
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        for k in range(1, 91):
            ok, frame = cap.read()
            if not ok:
                break
            if k % 4:
                continue
            w = frame.shape[1]
            batch = [frame[:, : w * 56 // 100], frame[:, w * 44 // 100:], frame]
            started = time.perf_counter()
            expected = whole_graph_rows(request, compiled, batch)
            t_whole += time.perf_counter() - started
            started = time.perf_counter()
            got = engine.forward(batch)
            t_heads += time.perf_counter() - started
            views, rows = views + len(batch), rows + len(expected)
            if got.shape != expected.shape or not np.array_equal(got, expected):
                differing += 1
                print("differs:", path.name, "frame", k, expected.shape, got.shape)
        cap.release()
    print(f"views {views}, rows {rows}, frames differing {differing}; ms a view: whole graph "
          f"{t_whole / max(views, 1) * 1000:.1f}, without its loops {t_heads / max(views, 1) * 1000:.1f}")


if __name__ == "__main__":
    main()
