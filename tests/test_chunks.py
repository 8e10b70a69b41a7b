"""Long videos as chunks: planning, stitching tracks across a boundary, retries, takeover, cancel, and end to end."""

from __future__ import annotations

import copy
import time

import pytest

from db.repos import chunks, events, jobs, runs, videos
from gpu_jobs.chunks import ChunkSpan, chunk_count, plan_chunks, snap_to_keyframe
from gpu_jobs.stitch import ChunkPart, match_overlap, stitch
from tests.conftest import vtest_excerpt
from tests.synthetic import FPS, H, W, line, person

# ---- planning -----------------------------------------------------------------------------------


def test_a_video_up_to_the_chunk_length_stays_one_job():
    assert plan_chunks(300.0, chunk_s=300, overlap_s=4) == [ChunkSpan(0, 0.0, 300.0)]
    assert plan_chunks(79.5, chunk_s=300, overlap_s=4) == [ChunkSpan(0, 0.0, 79.5)]
    assert plan_chunks(3600.0, chunk_s=0, overlap_s=4) == [ChunkSpan(0, 0.0, 3600.0)]  # 0 turns chunking off
    # a remainder too short for its own job joins the last chunk (300.5 s is not two jobs)
    assert plan_chunks(300.5, chunk_s=300, overlap_s=4) == [ChunkSpan(0, 0.0, 300.5)]
    assert plan_chunks(629.0, chunk_s=300, overlap_s=4)[-1] == ChunkSpan(1, 296.0, 629.0)


def test_long_videos_are_cut_every_chunk_length_with_an_overlap():
    spans = plan_chunks(700.0, chunk_s=300, overlap_s=4)
    assert spans == [ChunkSpan(0, 0.0, 300.0), ChunkSpan(1, 296.0, 600.0), ChunkSpan(2, 596.0, 700.0)]
    assert chunk_count(3600, chunk_s=300, overlap_s=4) == 12
    hour = plan_chunks(3600.0, chunk_s=300, overlap_s=4)
    assert hour[0].t_start == 0 and hour[-1].t_end == 3600
    for a, b in zip(hour, hour[1:]):
        assert b.t_start < a.t_end and a.t_end - b.t_start == pytest.approx(4.0)  # every boundary overlaps


def test_chunks_start_at_the_keyframe_before_their_cut_when_one_is_near():
    keyframes = [0.0, 50.0, 95.0, 97.5, 185.0]
    spans = plan_chunks(300.0, chunk_s=100, overlap_s=4, keyframes=keyframes)
    assert [s.t_start for s in spans] == [0.0, 95.0, 196.0]  # 96 -> keyframe 95; 196 has none within 8 s
    assert snap_to_keyframe(96.0, [97.5], overlap_s=4) == 96.0  # a keyframe after the cut never moves it later
    assert snap_to_keyframe(96.0, [88.0], overlap_s=4) == 88.0  # two overlaps back is still near


def test_keyframes_are_listed_from_the_packets(tmp_path):
    from core.runtime.media import keyframe_times

    clip = vtest_excerpt(tmp_path / "k.mp4", seconds=6)
    found = keyframe_times(clip)
    assert found and found[0] == 0.0 and found == sorted(found)
    assert keyframe_times(clip, start_s=2.0, end_s=4.0) == [t for t in found if 2.0 <= t <= 4.0]


# ---- stitching synthetic tracks -----------------------------------------------------------------


def _in_span(track, t0, t1, *, warm_up=0.0):
    """The part of a track a chunk's tracker reports: its span, minus the frames a cold tracker needs."""
    out = copy.deepcopy(track)
    out.observations = [o for o in out.observations if t0 + warm_up - 1e-6 <= o.t <= t1 + 1e-6]
    return out


def _stats(tracks, t0, t1):
    rows = []
    for k in range(int(round(t0 * FPS)), int(round(t1 * FPS)) + 1):
        t = round(k / FPS, 3)
        dets = [{"track": tr.number, "class": "person", "bbox": list(o.bbox)} for tr in tracks
                for o in tr.observations if o.frame == k]
        rows.append({"t": t, "frame": k, "counts": {"person": len(dets)}, "region_counts": {}, "detections": dets})
    return rows


def _walker_scene():
    walker = person(1, 12.0, 28.0, line((12.0, 100, 600), (28.0, 1180, 600)), attributes={"clothing_colour": "red"})
    early = person(2, 1.0, 12.0, (300.0, 400.0), attributes={"clothing_colour": "blue"})  # stands, then leaves
    late = person(3, 25.0, 39.0, (900.0, 350.0), attributes={"clothing_colour": "green"})
    return walker, early, late


def test_a_person_crossing_a_boundary_keeps_one_identity_and_makes_one_event(settings):
    from gpu_jobs.rederive import rules_analyzer

    walker, early, late = _walker_scene()
    spans = [(0.0, 22.0), (18.0, 40.0)]
    # chunk-local numbers differ: the later chunk numbers the walker 1 and the late arrival 2
    c0 = [_in_span(walker, *spans[0]), _in_span(early, *spans[0])]
    c1 = [_in_span(late, *spans[1], warm_up=0.4), _in_span(walker, *spans[1], warm_up=0.4)]
    c1[0].number, c1[1].number = 2, 1
    c0[0].number, c0[1].number = 2, 1
    parts = [ChunkPart(1, *spans[1], c1, [], _stats(c1, *spans[1])),
             ChunkPart(0, *spans[0], c0, [], _stats(c0, *spans[0]))]  # any order
    stitched = stitch(parts)

    assert stitched.cuts == [20.0] and stitched.matched == [1]
    assert len(stitched.tracks) == 3, [(t.number, t.t_start, t.t_end) for t in stitched.tracks]
    assert [t.number for t in stitched.tracks] == [1, 2, 3]  # continuous, in order of first appearance
    crossing = next(t for t in stitched.tracks if t.attributes.get("clothing_colour") == "red")
    frames = [o.frame for o in crossing.observations]
    assert frames == [o.frame for o in walker.observations]  # every frame once: nothing lost, nothing twice
    # each frame comes from one chunk, and names the stitched numbers
    assert [s["t"] for s in stitched.stats] == sorted({s["t"] for s in stitched.stats})
    at_26 = next(s for s in stitched.stats if s["t"] == 26.0)
    assert {d["track"] for d in at_26["detections"]} == {crossing.number, 3}

    rules = rules_analyzer(settings)
    whole = rules.derive_events([copy.deepcopy(t) for t in (walker, early, late)], [], (W, H), FPS)
    joined = rules.derive_events(stitched.tracks, [], (W, H), FPS)
    walking = [e for e in joined if e.type == "walking" and e.track_number == crossing.number]
    assert len(walking) == 1, [(e.type, e.t_start, e.t_end) for e in joined]
    assert walking[0].t_start < 20.0 < walking[0].t_end  # one event across the boundary, not two halves
    assert sorted((e.type, round(e.t_start, 1), round(e.t_end, 1)) for e in joined) == \
        sorted((e.type, round(e.t_start, 1), round(e.t_end, 1)) for e in whole)


def test_appearance_decides_between_boxes_that_overlap_alike():
    shared = line((10.0, 500, 600), (14.0, 540, 600))
    earlier = [person(1, 8.0, 14.0, shared, attributes={"clothing_colour": "red"})]
    later = [person(1, 10.0, 16.0, shared, attributes={"clothing_colour": "blue"}),
             person(2, 10.0, 16.0, shared, attributes={"clothing_colour": "red"})]
    assert match_overlap(earlier, later, 10.0, 14.0) == [(0, 1)]
    # boxes that never overlap are never one person, whatever they wear
    apart = [person(1, 10.0, 16.0, (100.0, 300.0), attributes={"clothing_colour": "red"})]
    assert match_overlap(earlier, apart, 10.0, 14.0) == []


# ---- the queue: chunk jobs on real footage ------------------------------------------------------


@pytest.fixture()
def chunked_app(settings, clean_db):
    """The session's App with chunks of 8 s overlapping by 2 s (a 20 s clip is 3 chunks)."""
    import bootstrap

    application = bootstrap.App(settings.model_copy(update={"chunk_s": 8.0, "chunk_overlap_s": 2.0,
                                                            "job_lease_s": 3.0}))
    application.db = clean_db
    return application


@pytest.fixture(scope="module")
def clip20(tmp_path_factory):
    return vtest_excerpt(tmp_path_factory.mktemp("chunks") / "crowd20.mp4", seconds=20)


def _batch(app, video_id):
    with app.db.connection() as conn:
        return chunks.latest_jobs(conn, video_id)


def _drain(app, owner="w1") -> int:
    from gpu_jobs.worker import Worker

    worker, n = Worker(app, owner=owner), 0
    while worker.run_once():
        n += 1
    return n


def _run_rows(app, video_id):
    with app.db.connection() as conn:
        video = videos.get(conn, video_id)
        rows = events.list_events(conn, video_id=video_id, limit=10000)
        tracks = runs.tracks_for_video(conn, video_id)
    return video, rows, tracks


def test_a_long_video_is_queued_as_chunk_jobs_and_its_events_match_the_whole_file_run(chunked_app, app, clip20):
    """The same clip analysed whole and as 3 chunks: the events agree (see the comments for what may differ)."""
    from gpu_jobs.ingest import ingest_path
    from gpu_jobs.pipeline import get_analyzer, run_analysis

    video = ingest_path(chunked_app, clip20).video
    batch = _batch(chunked_app, video["id"])
    assert [(j["chunk"], j["t_start"], j["t_end"]) for j in batch] == [(0, 0.0, 8.0), (1, 6.0, 16.0),
                                                                       (2, 14.0, pytest.approx(20.0, abs=0.2))]
    assert len({j["batch_id"] for j in batch}) == 1
    assert _drain(chunked_app) == 3
    chunked, chunk_events, chunk_tracks = _run_rows(chunked_app, video["id"])
    assert chunked["status"] == "completed" and chunked["progress"] == 100
    assert all(j["status"] == "completed" for j in _batch(chunked_app, video["id"]))
    with chunked_app.db.connection() as conn:
        assert chunks.results(conn, batch[0]["batch_id"]) == []  # partial results go once the run is written
        assert runs.rule_inputs_for(conn, video["id"]) is not None  # re-deriving works on a stitched run
        stats_t = [r["t"] for r in conn.execute("SELECT t FROM frame_stats WHERE video_id = %s ORDER BY t",
                                                (video["id"],)).fetchall()]
    assert len(stats_t) == len(set(stats_t)) and stats_t[0] == 0.0 and stats_t[-1] >= 19.5  # each frame once
    assert all(r["highlight_key"] and chunked_app.store.get_bytes(r["highlight_key"])[:2] == b"\xff\xd8"
               for r in chunk_events)
    numbers = sorted(t["track_number"] for t in chunk_tracks)
    assert numbers == list(range(1, len(numbers) + 1))  # continuous through the video

    whole = run_analysis(chunked_app, video["id"], get_analyzer(app.settings))
    _, whole_events, whole_tracks = _run_rows(chunked_app, video["id"])
    assert whole["frames_analyzed"] == len(stats_t)  # the chunks together scanned exactly the file's frames

    def key(e):
        return (e["type"], round(e["t_start"], 1), round(e["t_end"], 1))

    # Tracker state cannot carry across a cut: a later chunk's ByteTrack starts cold in the overlap, so
    # two people crossing after it may keep or swap their tracklets unlike the whole-file run (which of
    # the two happens turns on the last bits of the detections: on one machine this clip agreed to the
    # tenth of a second, on another two walks swapped ends at 17 s; bench/bench_chunked.py measures it).
    # Before the first later chunk starts nothing may differ; after it, each type has the same events,
    # each starting within two sampled frames of its twin.
    cold = batch[1]["t_start"]
    assert sorted(key(e) for e in chunk_events if e["t_end"] < cold) == sorted(
        key(e) for e in whole_events if e["t_end"] < cold) != []
    frame_s = 1 / chunked_app.settings.analysis_fps
    for kind in {e["type"] for e in whole_events} | {e["type"] for e in chunk_events}:
        a = sorted(e["t_start"] for e in chunk_events if e["type"] == kind)
        b = sorted(e["t_start"] for e in whole_events if e["type"] == kind)
        assert len(a) == len(b) and all(abs(x - y) <= 2 * frame_s + 1e-6 for x, y in zip(a, b)), (kind, a, b)
    assert len(chunk_tracks) == len(whole_tracks)


def test_a_failing_chunk_retries_alone(chunked_app, clip20, monkeypatch):
    from gpu_jobs import analysis
    from gpu_jobs.ingest import ingest_path

    video = ingest_path(chunked_app, clip20).video
    runs_of: dict[float, int] = {}
    real_run = analysis.FrameScan.run

    def flaky(self, path, should_stop, *, start_s=0.0, end_s=None):
        runs_of[start_s] = runs_of.get(start_s, 0) + 1
        if start_s == 6.0 and runs_of[start_s] == 1:
            raise RuntimeError("decoder hiccup")
        return real_run(self, path, should_stop, start_s=start_s, end_s=end_s)

    monkeypatch.setattr(analysis.FrameScan, "run", flaky)
    assert _drain(chunked_app) == 4  # three chunks, one of them twice
    assert runs_of[6.0] == 2 and sorted(runs_of.values()) == [1, 1, 2]  # only the failed chunk ran again
    jobs_now = _batch(chunked_app, video["id"])
    assert [j["attempts"] for j in jobs_now] == [1, 2, 1] and all(j["status"] == "completed" for j in jobs_now)
    final, rows, _ = _run_rows(chunked_app, video["id"])
    assert final["status"] == "completed" and rows


def test_a_crashed_workers_chunk_is_taken_over_and_a_crash_while_stitching_keeps_the_previous_run(
        chunked_app, clip20, monkeypatch):
    from gpu_jobs import chunk_run
    from gpu_jobs.ingest import ingest_path
    from gpu_jobs.worker import Worker

    video = ingest_path(chunked_app, clip20).video
    assert _drain(chunked_app) == 3
    before, before_events, _ = _run_rows(chunked_app, video["id"])
    chunked_app.runner.submit(video["id"])  # analyse again

    # a worker claims chunk 1 and dies: nothing renews its lease
    with chunked_app.db.connection() as conn:
        first = jobs.claim(conn, owner="dead", lease_s=chunked_app.settings.job_lease_s)
        dead = jobs.claim(conn, owner="dead", lease_s=chunked_app.settings.job_lease_s)
    assert (first["chunk"], dead["chunk"]) == (0, 1)
    with chunked_app.db.connection() as conn:  # chunk 0 goes back to the queue, as a failed attempt would
        jobs.fail(conn, job_id=first["id"], error="test", owner="dead")

    class Crash(BaseException):
        """Stands for the process dying: no handler of the worker sees it."""

    def crash(*a, **k):
        raise Crash()

    real_write = chunk_run.write_run
    monkeypatch.setattr(chunk_run, "write_run", crash)
    worker = Worker(chunked_app, owner="w2")
    deadline = time.time() + 60
    with pytest.raises(Crash):  # takes the dead worker's chunk over once its lease expires; the last dies stitching
        while True:
            if not worker.run_once():
                time.sleep(0.5)
            assert time.time() < deadline, "the dead worker's chunk was never taken over"
    after, after_events, _ = _run_rows(chunked_app, video["id"])
    assert after["current_run_id"] == before["current_run_id"]  # the previous run is intact
    assert sorted(e["id"] for e in after_events) == sorted(e["id"] for e in before_events)
    now = _batch(chunked_app, video["id"])
    taken = next(j for j in now if j["id"] == dead["id"])
    assert taken["lease_owner"] == "w2" and taken["attempts"] == 2
    assert [j["status"] for j in now].count("running") == 1  # the one that died while stitching, still leased
    monkeypatch.setattr(chunk_run, "write_run", real_write)
    scanned = []
    monkeypatch.setattr(chunk_run, "scan_chunk", lambda *a, **k: scanned.append(a))
    rescuer = Worker(chunked_app, owner="w3")
    deadline = time.time() + 30
    while not rescuer.run_once():
        assert time.time() < deadline, "the stitching chunk was never taken over"
        time.sleep(0.5)
    assert scanned == []  # its result was stored: the rescuer went straight to stitching
    final, final_events, _ = _run_rows(chunked_app, video["id"])
    assert final["status"] == "completed" and final["current_run_id"] != before["current_run_id"]
    assert final_events and all(j["status"] == "completed" for j in _batch(chunked_app, video["id"]))


def test_cancelling_a_video_stops_all_its_chunks(chunked_app, clip20, monkeypatch):
    from gpu_jobs import analysis
    from gpu_jobs.ingest import ingest_path

    result = ingest_path(chunked_app, clip20)
    video = result.video
    real_process = analysis.FrameScan.process
    cancelled = []

    def cancel_midway(self, batch):
        if not cancelled:  # the user cancels while chunk 0 is being analysed
            cancelled.append(chunked_app.runner.cancel(result.job["id"]))
        return real_process(self, batch)

    monkeypatch.setattr(analysis.FrameScan, "process", cancel_midway)
    assert _drain(chunked_app) == 1  # chunk 0 was running; nothing else is claimed
    assert [j["status"] for j in _batch(chunked_app, video["id"])] == ["cancelled"] * 3
    final, rows, _ = _run_rows(chunked_app, video["id"])
    assert final["status"] == "failed" and "cancelled" in final["error"] and rows == []


def test_progress_is_the_chunks_sum_and_the_api_lists_every_chunk(chunked_app, clip20):
    from fastapi.testclient import TestClient

    from api import create_app
    from gpu_jobs.ingest import ingest_path
    from tests.conftest import AUTH, TOKEN

    video = ingest_path(chunked_app, clip20).video
    batch = _batch(chunked_app, video["id"])
    with chunked_app.db.connection() as conn:
        for _ in batch[:2]:
            jobs.claim(conn, owner="w", lease_s=60)
        chunks.set_progress(conn, job_id=batch[0]["id"], progress=100.0)
        figure = chunks.set_progress(conn, job_id=batch[1]["id"], progress=50.0)
    # weighted by the seconds each adds: 8 s done, half of the next 8 s, none of the last 4 s, of 90 per cent
    assert figure == pytest.approx(90 * (8 + 4) / 20, abs=0.5)
    with TestClient(create_app(chunked_app, token=TOKEN)) as client:
        body = client.get(f"/v1/videos/{video['id']}", headers=AUTH).json()
    assert body["progress"] == pytest.approx(figure, abs=0.05)
    assert [(c["index"], c["t_start"], c["status"], c["progress"]) for c in body["chunks"]] == [
        (0, 0.0, "running", 100.0), (1, 6.0, "running", 50.0), (2, 14.0, "queued", 0.0)]

    from ui.progress import chunk_label

    assert chunk_label(body["chunks"][1]) == "chunk 2 · 00:06-00:16 · running"


def test_an_unchunked_video_has_one_chunk_entry(app, clean_db, tmp_path):
    from gpu_jobs.ingest import ingest_path
    from services.videos import video_detail

    video = ingest_path(app, vtest_excerpt(tmp_path / "short.mp4", seconds=2)).video
    assert video_detail(app, video_id=video["id"]).chunks == [
        {"index": 0, "t_start": 0.0, "t_end": pytest.approx(2.0, abs=0.2), "status": "queued", "progress": 0.0}]


def test_modal_fans_out_one_call_per_chunk_and_the_last_stitches(chunked_app, clip20):
    """ModalRunner with a fake spawn that runs `analyze_chunk` here (`.local()`), keeping each call id."""
    import modal_app
    from gpu_jobs.ingest import ingest_path
    from gpu_jobs.runners import ModalRunner

    spawned = []

    class Call:
        def __init__(self, object_id):
            self.object_id, self.cancelled = object_id, False

        def cancel(self):
            self.cancelled = True

    class ChunkFunction:
        def spawn(self, video_id, job_id):
            spawned.append((video_id, job_id, modal_app.analyze_chunk.local(video_id, job_id)))
            return Call(f"fc-{len(spawned)}")

    class WholeFunction:
        def spawn(self, video_id, job_id):
            raise AssertionError("a long video is never one call")

    video = ingest_path(chunked_app, clip20, submit=False).video
    runner = ModalRunner(chunked_app, function=WholeFunction(), chunk_function=ChunkFunction())
    first = runner.submit(video["id"])
    assert first["chunk"] == 0 and first["runner"] == "modal"
    batch = _batch(chunked_app, video["id"])
    assert [j["external_id"] for j in batch] == ["fc-1", "fc-2", "fc-3"]  # every call id kept
    summaries = [s for _, _, s in spawned]
    assert [s.get("stitched") for s in summaries] == [False, False, True]
    assert summaries[-1]["chunks"] == 3 and summaries[-1]["events_by_type"]
    final, rows, tracks = _run_rows(chunked_app, video["id"])
    assert final["status"] == "completed" and rows and tracks


def test_two_worker_processes_share_one_videos_chunks(chunked_app, clip20):
    """`sentinel worker --processes 2`: the chunks of one video run in two processes side by side."""
    import os
    import signal
    import subprocess
    import sys

    from gpu_jobs.ingest import ingest_path
    from tests.conftest import ROOT

    video = ingest_path(chunked_app, clip20).video
    env = {**os.environ, "SENTINEL_CHUNK_S": "8", "SENTINEL_CHUNK_OVERLAP_S": "2"}
    pool = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "worker", "--processes", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 600
        while True:
            final, rows, _ = _run_rows(chunked_app, video["id"])
            if final["status"] in ("completed", "failed"):
                break
            assert pool.poll() is None, pool.stderr.read().decode()[-2000:]
            assert time.time() < deadline, "the pool never finished the video"
            time.sleep(0.5)
    finally:
        pool.send_signal(signal.SIGTERM)
        pool.wait(60)
    assert final["status"] == "completed" and rows, final["error"]
    owners = [j["lease_owner"] for j in _batch(chunked_app, video["id"])]
    assert len(set(owners)) == 2, owners  # both processes took chunks of the same video
    assert pool.returncode == 0


def test_a_modal_call_of_a_cancelled_chunk_ends_quietly(chunked_app, clip20):
    """Modal retries a call that raises: a chunk cancelled meanwhile must end the call, not fail it again."""
    import modal_app
    from gpu_jobs.ingest import ingest_path

    result = ingest_path(chunked_app, clip20)
    chunked_app.runner.cancel(result.job["id"])
    second = _batch(chunked_app, result.video["id"])[1]
    assert modal_app.analyze_chunk.local(str(result.video["id"]), str(second["id"])) == {
        "video_id": str(result.video["id"]), "job_id": str(second["id"]), "status": "cancelled"}


def test_the_video_page_draws_a_bar_per_chunk(chunked_app, clip20):
    from streamlit.testing.v1 import AppTest

    from gpu_jobs.ingest import ingest_path
    from tests.conftest import ROOT

    video = ingest_path(chunked_app, clip20).video
    with chunked_app.db.connection() as conn:
        first = jobs.claim(conn, owner="w", lease_s=60)
        chunks.set_progress(conn, job_id=first["id"], progress=40.0)
        videos.update(conn, video["id"], status="processing")
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    at.query_params["video"] = str(video["id"])
    at.run()
    at.switch_page("pages/video.py").run()
    assert not at.exception, [e.value for e in at.exception]
    bars = [(p.proto.text, p.proto.value) for p in at.get("progress")]
    assert ("chunk 1 · 00:00-00:08 · running", 40) in bars and ("chunk 3 · 00:14-00:20 · queued", 0) in bars, bars
    overall = [v for text, v in bars if not text]
    assert overall == [int(90 * 0.40 * 8 / 20)], bars  # the video's bar: the chunks' sum


def test_retrying_a_failed_chunked_analysis_queues_the_whole_video_again(chunked_app, clip20):
    from gpu_jobs.ingest import ingest_path
    from services.jobs import retry_job

    result = ingest_path(chunked_app, clip20)
    old = _batch(chunked_app, result.video["id"])
    with chunked_app.db.connection() as conn:
        jobs.mark_failed(conn, job_id=old[1]["id"], error="test")
        chunks.cancel_batch(conn, old[0]["batch_id"])
    again = retry_job(chunked_app, job_id=old[1]["id"])
    new = _batch(chunked_app, result.video["id"])
    assert again["id"] == new[0]["id"] and new[0]["batch_id"] != old[0]["batch_id"]
    assert [j["status"] for j in new] == ["queued"] * 3


def test_sentinel_analyze_runs_the_chunks_and_shows_their_sum(chunked_app, clip20):
    """`sentinel analyze` of a long video: its chunks one after another here, one rising progress figure."""
    from services.videos import analyze_now

    seen: list[float] = []
    summary = analyze_now(chunked_app, source=clip20, progress=seen.append)
    assert summary["stitched"] is True and summary["chunks"] == 3 and summary["events_by_type"]
    assert seen and seen == sorted(seen) and seen[-1] >= 96, str(seen)  # the chunks' sum, then stitching
    assert any(30 < p < 90 for p in seen), seen  # the middle chunks moved it, not only the ends
    assert all(j["status"] == "completed" for j in _batch(chunked_app, summary["video_id"]))


def test_a_chunked_runs_highlights_outline_the_zones_their_events_used(tmp_path):
    import cv2
    import numpy as np

    from gpu_jobs.chunk_run import render_by_seeking
    from gpu_jobs.types import Event, Zone
    from tests.conftest import write_clip

    clip = write_clip(tmp_path / "shop.mp4", seconds=2.0, fps=10, size=(320, 240), moving_box=False)
    shelf = Zone("drinks", "shelf", [(20, 40), (120, 40), (120, 140), (20, 140)])
    event = Event(type="picking", t_start=1.0, t_end=1.2, frame=10, bbox=(200.0, 60.0, 260.0, 200.0),
                  confidence=0.8, track_number=1, zone="drinks", attributes={"zone_kind": "shelf"})
    plain, outlined = (cv2.imdecode(np.frombuffer(render_by_seeking(clip, [event], [], zones)[0], np.uint8),
                                    cv2.IMREAD_COLOR) for zones in ([], [shelf]))
    scale = plain.shape[1] / 320  # highlights are scaled to at most 640 wide
    y, x = int(40 * scale), int(70 * scale)  # on the shelf's top edge
    assert np.abs(outlined[y, x].astype(int) - plain[y, x].astype(int)).sum() > 60


# ---- reading a remote video in byte ranges ------------------------------------------------------


def serve_ranges(data: bytes, tls=None):
    """data over HTTP (https with an ssl context) with Range support, as S3 serves a presigned URL.

    Returns (server, url, sent): sent collects the bytes written, 64 KiB at a time.
    """
    import http.server
    import socket
    import threading

    sent: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def setup(self):
            super().setup()
            # small socket buffers: the bytes counted are the bytes the decoder read, not a buffer's fill
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)

        def do_GET(self):  # noqa: N802 - the http.server hook's name
            start, end = 0, len(data) - 1
            ranged = self.headers.get("Range", "").removeprefix("bytes=")
            if ranged:
                a, _, b = ranged.partition("-")
                start, end = int(a), min(int(b) if b else end, end)
            body = data[start:end + 1]
            self.send_response(206 if ranged else 200)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if ranged:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            self.end_headers()
            for at in range(0, len(body), 65536):
                try:
                    self.wfile.write(body[at:at + 65536])
                except (BrokenPipeError, ConnectionResetError):  # the decoder closes a stream it stopped reading
                    return
                sent.append(len(body[at:at + 65536]))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    scheme = "https" if tls is not None else "http"
    return server, f"{scheme}://127.0.0.1:{server.server_port}/crowd20.mp4", sent


@pytest.fixture()
def ranged_server(clip20):
    data = clip20.read_bytes()
    server, url, sent = serve_ranges(data)
    yield url, sent, len(data)
    server.shutdown()
    server.server_close()


def test_a_chunk_at_the_end_of_a_remote_video_reads_only_its_bytes(ranged_server, clip20, monkeypatch):
    from core.runtime import media
    from core.runtime.media import keyframe_times, probe, read_frame_at, sample_frames

    monkeypatch.setitem(media._HTTP_OPTIONS, "recv_buffer_size", "32768")  # the decoder's side of the same
    url, sent, size = ranged_server
    assert probe(url) == probe(clip20)
    assert keyframe_times(url, start_s=14.0) == keyframe_times(clip20, start_s=14.0)
    sent.clear()
    remote = [(f.index, f.image) for f in sample_frames(url, fps=5.0, start_s=16.0, end_s=20.0)]
    local = [(f.index, f.image) for f in sample_frames(clip20, fps=5.0, start_s=16.0, end_s=20.0)]
    assert [i for i, _ in remote] == [i for i, _ in local] and len(remote) >= 19
    assert all((a == b).all() for (_, a), (_, b) in zip(remote, local))
    # the last 4 s of 20, plus the header, the index at the end and the start of the data it probed
    assert sum(sent) < 0.35 * size, (sum(sent), size)
    assert (read_frame_at(url, 12.0) == read_frame_at(clip20, 12.0)).all()


def test_https_links_are_read_only_from_a_trusted_server_and_failures_are_transient(clip20, tmp_path, monkeypatch):
    import ssl

    import trustme

    from core.errors import is_transient
    from core.runtime.media import MediaUnreachable, probe, sample_frames

    ca = trustme.CA()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(tls)
    server, url, _ = serve_ranges(clip20.read_bytes(), tls)
    try:
        monkeypatch.delenv("AWS_CA_BUNDLE", raising=False)
        with pytest.raises(MediaUnreachable, match="could not be read from the object store") as refused:
            probe(url)  # a certificate no public CA signed: ffmpeg must not read it
        assert is_transient(refused.value)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        monkeypatch.setenv("AWS_CA_BUNDLE", str(tmp_path / "ca.pem"))  # botocore's setting, honoured here too
        assert probe(url) == probe(clip20)
        assert len(list(sample_frames(url, fps=5.0, start_s=18.0))) == 10
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(MediaUnreachable) as gone:
        probe(url)  # the server is down: a retry may succeed, the video is not called broken
    assert is_transient(gone.value)


def test_chunks_of_a_video_in_s3_read_byte_ranges_and_never_download_it(settings, clean_db, s3_bucket, clip20,
                                                                        monkeypatch):
    import bootstrap
    from db.objects import S3Store
    from gpu_jobs.ingest import ingest_path

    endpoint, bucket = s3_bucket
    s3_app = bootstrap.App(settings.model_copy(update={"chunk_s": 8.0, "chunk_overlap_s": 2.0, "job_lease_s": 3.0,
                                                       "s3_bucket": bucket, "s3_endpoint_url": endpoint}))
    s3_app.db = clean_db
    assert isinstance(s3_app.store, S3Store)
    video = ingest_path(s3_app, clip20).video

    def no_download(self, key):
        raise AssertionError(f"a chunk downloaded the whole of {key}")

    monkeypatch.setattr(S3Store, "local_path", no_download)
    assert _drain(s3_app) == 3
    done, rows, tracks = _run_rows(s3_app, video["id"])
    assert done["status"] == "completed" and rows and tracks
    assert all(s3_app.store.get_bytes(r["highlight_key"])[:2] == b"\xff\xd8" for r in rows)  # seeked frames
    with s3_app.db.connection() as conn:
        stats_t = [r["t"] for r in conn.execute("SELECT t FROM frame_stats WHERE video_id = %s ORDER BY t",
                                                (video["id"],)).fetchall()]
    assert stats_t[0] == 0.0 and stats_t[-1] >= 19.5 and len(stats_t) == len(set(stats_t))


def test_freed_heap_is_handed_back_after_a_scan():
    """malloc_trim returns the free pages of a thread's arena: RSS falls after a thread's allocations are freed."""
    import threading

    from core.runtime.memory import release_freed_memory

    def rss_mb() -> float:
        line = next(x for x in open("/proc/self/status") if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    held: list = []
    # blocks from another thread, as decoded frames' buffers are; a few kept ones pin the arena's top,
    # so free() alone cannot shrink it and the freed pages between them stay resident
    worker = threading.Thread(target=lambda: held.extend(bytearray(b"x" * 20_000) for _ in range(10_000)))
    worker.start()
    worker.join()
    pinned = held[::20]
    del held[:]
    before = rss_mb()
    assert release_freed_memory() is True
    assert rss_mb() < before - 100, (before, rss_mb())
    assert len(pinned) == 500
