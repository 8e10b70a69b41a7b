"""The analysis pipeline end to end: real footage, the worker crash path and the Modal function via .local()."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from db.repos import events, jobs, runs, videos
from gpu_jobs.ingest import ingest_path
from tests.conftest import ROOT, run_cli, vtest_excerpt


def _event_rows(app, video_id):
    with app.db.connection() as conn:
        return conn.execute(
            "SELECT id, run_id, type, track_number, t_start, highlight_key, embedding IS NOT NULL AS has_embedding "
            "FROM events WHERE video_id = %s", (video_id,)).fetchall()


def test_real_footage_end_to_end(app, clean_db, vtest_path, tmp_path):
    """vtest.avi: analysis completes, people are tracked, walking/standing events have thumbnails and embeddings."""
    result = run_cli("analyze", str(vtest_path), "--json", timeout=1200)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) >= {"video_id", "duration_s", "frames_analyzed", "tracks", "events_by_type", "elapsed_s"}
    assert summary["duration_s"] == pytest.approx(79.5, abs=0.5)
    assert summary["frames_analyzed"] >= 390  # 5 fps over 79.5 s
    assert summary["tracks"] >= 8, summary  # PETS09-S2L1 has 19 people
    assert summary["events_by_type"].get("walking", 0) >= 5, summary
    assert "standing" in summary["events_by_type"] or "loitering" in summary["events_by_type"], summary
    assert "collapse" not in summary["events_by_type"], summary  # nobody falls in PETS09-S2L1

    with app.db.connection() as conn:
        video = videos.get(conn, summary["video_id"])
        assert video["status"] == "completed" and video["progress"] == 100
        rows = events.list_events(conn, video_id=video["id"], limit=10000)
    assert rows and all(r["description"] for r in rows)
    assert all(r["highlight_key"] and app.store.get_bytes(r["highlight_key"])[:2] == b"\xff\xd8" for r in rows)
    assert all(r["has_embedding"] for r in _event_rows(app, video["id"]))
    walking = [r for r in rows if r["type"] == "walking"]
    assert all(0 <= r["t_start"] <= r["t_end"] <= 80 for r in walking)

    # people are counted from tracks after identity linking: PETS09-S2L1's ground truth has 16 in the first minute
    asked = run_cli("ask", "how many people were there in the first minute?", "--video", summary["video_id"], "--json")
    assert asked.returncode == 0, asked.stderr
    counted = re.match(r"(\d+) distinct people were seen between 00:00 and 01:00", json.loads(asked.stdout)["answer"])
    assert counted and abs(int(counted.group(1)) - 16) <= 1.6, asked.stdout

    # door counts at two screen-edge strips drawn after the analysis; PETS09-S2L1's ground truth, counted the
    # same way over its boxes, has 15 people stepping in from them and 12 walking out into them
    from services.counts import people_counts
    from services.zones import set_video_zones

    strips = [{"name": "west door", "kind": "entrance", "polygon": [[0, 0], [90, 0], [90, 576], [0, 576]]},
              {"name": "east door", "kind": "entrance", "polygon": [[678, 0], [768, 0], [768, 576], [678, 576]]}]
    set_video_zones(app, video_id=summary["video_id"], zones=strips)
    doors = people_counts(app, video_id=summary["video_id"])
    assert abs(doors["people_in"] - 15) <= 4 and abs(doors["people_out"] - 12) <= 3, doors

    # the same file again is the same video: no second analysis
    again = json.loads(run_cli("analyze", str(vtest_path), "--json").stdout)
    assert again["video_id"] == summary["video_id"] and again.get("duplicate") is True

    # MOT export covers every frame between sightings, 1-based
    mot = run_cli("export", summary["video_id"], "--format", "mot")
    assert mot.returncode == 0, mot.stderr
    lines = [line.split(",") for line in mot.stdout.splitlines() if line]
    frames = sorted({int(p[0]) for p in lines})
    assert frames[0] >= 1 and len(lines) > 1000
    assert any(int(p[0]) % 2 == 0 for p in lines) and any(int(p[0]) % 2 == 1 for p in lines)  # interpolated
    assert all(len(p) == 10 and p[7:] == ["-1", "-1", "-1"] for p in lines)
    exported = json.loads(run_cli("export", summary["video_id"], "--format", "json").stdout)
    assert len(exported["events"]) == len(rows)


def test_worker_crash_mid_job_is_finished_by_another_worker(app, clean_db, tmp_path):
    clip = vtest_excerpt(tmp_path / "crowd.mp4", seconds=25)
    video = ingest_path(app, clip).video
    env = {**os.environ, "SENTINEL_JOB_LEASE_S": "4"}
    worker = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "worker"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 300
        while True:  # wait until the worker is really mid-job
            with app.db.connection() as conn:
                v = videos.get(conn, video["id"])
            if v["status"] == "processing" and v["progress"] >= 10:
                break
            assert worker.poll() is None, worker.stderr.read().decode()
            assert time.time() < deadline, "the worker never started the job"
            time.sleep(0.2)
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert v["progress"] < 100
    assert _event_rows(app, video["id"]) == []  # nothing half-written

    from gpu_jobs.worker import Worker

    rescuer = Worker(app, owner="rescuer")
    deadline = time.time() + 60
    while not rescuer.run_once():  # claimable once the dead worker's lease expires
        assert time.time() < deadline, "the orphaned job was never picked up again"
        time.sleep(0.5)
    with app.db.connection() as conn:
        v = videos.get(conn, video["id"])
        job = jobs.latest_for_video(conn, video["id"])
    assert v["status"] == "completed" and job["status"] == "completed" and job["attempts"] == 2
    rows = _event_rows(app, video["id"])
    assert rows, "the excerpt has people walking; events were expected"
    assert len({r["run_id"] for r in rows}) == 1
    keys = [(r["type"], r["track_number"], r["t_start"]) for r in rows]
    assert len(keys) == len(set(keys)), "duplicate events"


def test_failure_records_reason_and_retries_up_to_the_limit(app, clean_db, tmp_path, monkeypatch):
    from gpu_jobs import pipeline
    from gpu_jobs.worker import Worker

    clip = vtest_excerpt(tmp_path / "short.mp4", seconds=2)
    video = ingest_path(app, clip).video

    def broken(self, *a, **k):
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(pipeline.Analyzer, "analyze_file", broken)
    worker = Worker(app, owner="w")
    for _ in range(app.settings.job_max_attempts):
        assert worker.run_once()
    assert not worker.run_once()
    with app.db.connection() as conn:
        v = videos.get(conn, video["id"])
        job = jobs.latest_for_video(conn, video["id"])
    assert job["status"] == "failed" and job["attempts"] == app.settings.job_max_attempts
    assert "GPU fell off the bus" in job["error"]
    assert v["status"] == "failed" and "GPU fell off the bus" in v["error"]


def test_cancel_stops_a_queued_job(app, clean_db, tmp_path):
    clip = vtest_excerpt(tmp_path / "c.mp4", seconds=2)
    result = ingest_path(app, clip)
    app.runner.cancel(result.job["id"])
    from gpu_jobs.worker import Worker

    assert not Worker(app, owner="w").run_once()
    with app.db.connection() as conn:
        assert jobs.get(conn, result.job["id"])["status"] == "cancelled"
        assert videos.get(conn, result.video["id"])["status"] == "failed"


def test_modal_function_runs_locally(app, clean_db, tmp_path):
    """analyze_video through Modal's .local(): the same body the GPU container runs."""
    import modal_app

    clip = vtest_excerpt(tmp_path / "modal.mp4", seconds=4)
    video = ingest_path(app, clip, submit=False).video
    summary = modal_app.analyze_video.local(str(video["id"]))
    assert summary["video_id"] == str(video["id"]) and summary["frames_analyzed"] >= 18
    with app.db.connection() as conn:
        assert videos.get(conn, video["id"])["status"] == "completed"
        assert jobs.latest_for_video(conn, video["id"])["status"] == "completed"
        assert runs.tracks_for_video(conn, video["id"])


def test_modal_runner_records_the_call_id_and_failures(app, clean_db, tmp_path):
    """ModalRunner against an in-memory stand-in for Modal's cloud (spawn + FunctionCall.get)."""
    from gpu_jobs.runners import ModalRunner

    class Call:
        def __init__(self, object_id, error=None):
            self.object_id, self.error = object_id, error

        def get(self, timeout=None):
            if self.error:
                raise self.error
            raise TimeoutError

    calls = {}

    class Function:
        def spawn(self, video_id, job_id):
            call = calls[video_id] = Call(f"fc-{len(calls)}")
            return call

    runner = ModalRunner(app, function=Function())
    runner._call = lambda call_id: next(c for c in calls.values() if c.object_id == call_id)
    clip = vtest_excerpt(tmp_path / "m.mp4", seconds=2)
    video = ingest_path(app, clip, submit=False).video
    job = runner.submit(video["id"])
    assert job["external_id"] == "fc-0" and job["runner"] == "modal"
    assert runner.submit(video["id"])["id"] == job["id"]  # idempotent: no second spawn
    assert len(calls) == 1
    runner.refresh()  # still running
    with app.db.connection() as conn:
        assert jobs.get(conn, job["id"])["status"] == "queued"
    calls[str(video["id"])].error = RuntimeError("CUDA out of memory")
    runner.refresh()
    with app.db.connection() as conn:
        assert jobs.get(conn, job["id"])["status"] == "failed"
        assert "CUDA out of memory" in videos.get(conn, video["id"])["error"]


def test_progress_is_written_at_least_every_two_seconds(app, clean_db, tmp_path):
    import threading

    from gpu_jobs.pipeline import get_analyzer, run_analysis

    clip = vtest_excerpt(tmp_path / "progress.mp4", seconds=8)
    video = ingest_path(app, clip, submit=False).video
    get_analyzer(app.settings)  # models load before the clock starts, as in a warm worker
    done = threading.Event()
    thread = threading.Thread(target=lambda: (run_analysis(app, video["id"], get_analyzer(app.settings)), done.set()))
    thread.start()
    stamps, progress = [], []
    while not done.is_set():
        with app.db.connection() as conn:
            row = videos.get(conn, video["id"])
        if row["status"] == "processing" and (not stamps or row["updated_at"] != stamps[-1]):
            stamps.append(row["updated_at"])
            progress.append(row["progress"])
        time.sleep(0.2)
    thread.join()
    gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
    assert len(stamps) >= 3 and max(gaps) <= 2.0, [(i, g) for i, g in enumerate(gaps) if g > 1.5]
    assert progress == sorted(progress) and progress[-1] > progress[0]


def test_worker_warm_up_converts_the_models_before_any_job(tmp_path, caplog):
    from types import SimpleNamespace

    from gpu_jobs.pipeline import get_analyzer
    from gpu_jobs.worker import Worker
    from settings import Settings

    settings = Settings(SENTINEL_DATA_DIR=tmp_path / "fresh")  # nothing converted yet
    worker = Worker(SimpleNamespace(settings=settings))
    with caplog.at_level("INFO", logger="gpu_jobs.worker"):
        worker.warm_up()
    from core.runtime.embedders import OpenVinoEmbeddings
    from core.runtime.embeddings import get_embeddings

    converted = sorted(p.name.split("-")[0] for p in settings.model_cache_dir.glob("*.xml"))
    # the embedder runs on OpenVINO only without a GPU; with CUDA it is PyTorch and leaves no IR
    embedder_ir = ["embedder"] if isinstance(get_embeddings(settings).inner, OpenVinoEmbeddings) else []
    assert converted == sorted([*embedder_ir, "ssd_mobilenet_v2_coco"])  # the detector's and the embedder's IR
    assert "models ready" in caplog.text
    assert get_analyzer(settings) is get_analyzer(settings)  # the first job reuses the loaded analyzer

    broken = Settings(SENTINEL_DATA_DIR=tmp_path / "broken", SENTINEL_DETECTOR="yolo",
                      SENTINEL_YOLO_WEIGHTS=tmp_path / "missing.pt")
    with caplog.at_level("WARNING", logger="gpu_jobs.worker"):
        Worker(SimpleNamespace(settings=broken)).warm_up()  # logged, never raised: the job reports it
    assert "model warm-up failed" in caplog.text


def test_a_cold_cli_analysis_keeps_the_terminal_clean(app, clean_db, tmp_path):
    """First run on a fresh model cache: models convert, yet stderr holds no traceback, no library chatter."""
    clip = vtest_excerpt(tmp_path / "cold.mp4", seconds=2)
    env = {"SENTINEL_DATA_DIR": str(tmp_path / "fresh"), "DATABASE_URL": app.db.url}  # nothing converted yet
    result = run_cli("analyze", str(clip), env=env, timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Video ") and "frames analysed" in result.stdout
    for noise in ("Traceback", "Exception ignored", "Warning", "XNNPACK", "Loading weights", "it/s]"):
        assert noise not in result.stderr, result.stderr
    assert result.stderr.strip() == "", result.stderr  # not a terminal: no progress bar either
    converted = sorted(p.name.split("-")[0] for p in (tmp_path / "fresh" / "cache" / "models").glob("*.xml"))
    assert "ssd_mobilenet_v2_coco" in converted  # it really was a cold start
