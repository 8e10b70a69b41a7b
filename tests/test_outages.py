"""Dependency outages: a store that is down for a moment defers the job, and the video completes by itself."""

from __future__ import annotations

import socket
import time

import pytest

import bootstrap
from core.errors import is_transient
from db.repos import jobs, videos
from gpu_jobs.ingest import ingest_path
from gpu_jobs.worker import Worker
from tests.conftest import CuttableProxy, vtest_excerpt


@pytest.fixture()
def flaky_store_app(settings, clean_db, s3_bucket, tmp_path):
    endpoint, bucket = s3_bucket
    port = int(endpoint.rsplit(":", 1)[1])
    proxy = CuttableProxy(lambda: socket.create_connection(("127.0.0.1", port), timeout=10))
    app = bootstrap.App(settings.model_copy(update={
        "data_dir": tmp_path / "data", "s3_bucket": bucket, "s3_endpoint_url": proxy.url,
        "job_retry_base_s": 0.3, "job_retry_max_delay_s": 1.0, "job_max_attempts": 3}))
    app.db = clean_db
    yield app, proxy
    proxy.down()


def _job(app, video_id) -> dict:
    with app.db.connection() as conn:
        return jobs.latest_for_video(conn, video_id)


def _run_when_due(worker: Worker, *, within_s: float = 10.0) -> None:
    """Run the next job once its back-off has passed (bounded)."""
    deadline = time.monotonic() + within_s
    while not worker.run_once():
        assert time.monotonic() < deadline, "the deferred job never became claimable"
        time.sleep(0.1)


def test_a_store_outage_defers_the_job_and_the_video_completes_when_the_store_is_back(flaky_store_app, tmp_path):
    app, proxy = flaky_store_app
    video = ingest_path(app, vtest_excerpt(tmp_path / "outage.mp4", seconds=2)).video
    worker = Worker(app, owner="outage-worker")

    proxy.down()
    for round_ in (1, 2, 3, 4):  # more outages than max_attempts: none of them may spend an attempt
        _run_when_due(worker, within_s=120.0)  # the first round also loads the models
        job = _job(app, video["id"])
        assert job["status"] == "queued" and job["attempts"] == 0 and job["deferrals"] == round_, job
        assert job["not_before"] is not None
        with app.db.connection() as conn:
            row = videos.get(conn, video["id"])
        assert row["status"] == "pending" and "retrying" in row["error"], row["error"]
    assert not worker.run_once(), "a deferred job waits for its back-off"

    proxy.up()
    _run_when_due(worker)
    job = _job(app, video["id"])
    assert job["status"] == "completed" and job["attempts"] == 1, job
    with app.db.connection() as conn:
        assert videos.get(conn, video["id"])["status"] == "completed"


def test_a_failure_of_the_analysis_itself_still_spends_attempts(flaky_store_app, tmp_path, monkeypatch):
    from gpu_jobs import analysis

    app, _ = flaky_store_app
    video = ingest_path(app, vtest_excerpt(tmp_path / "broken.mp4", seconds=2)).video
    monkeypatch.setattr(analysis.Analyzer, "analyze_file", lambda *a, **k: (_ for _ in ()).throw(ValueError("bad")))
    worker = Worker(app, owner="w")
    for _ in range(3):
        assert worker.run_once()
    job = _job(app, video["id"])
    assert job["status"] == "failed" and job["attempts"] == 3 and job["deferrals"] == 0


def test_retry_delays_back_off_with_jitter_and_give_up_after_the_outage_lasts_too_long(settings):
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    worker = Worker(SimpleNamespace(settings=settings.model_copy(update={
        "job_retry_base_s": 2.0, "job_retry_max_delay_s": 60.0, "job_retry_give_up_s": 600.0})), owner="w")
    delays = [worker.retry_delay_s({"deferrals": n, "deferred_since": None}) for n in range(8)]
    assert 1.0 <= delays[0] <= 2.0 and 4.0 <= delays[2] <= 8.0
    assert all(30.0 <= d <= 60.0 for d in delays[5:])  # capped
    long_ago = datetime.now(timezone.utc) - timedelta(seconds=601)
    assert worker.retry_delay_s({"deferrals": 3, "deferred_since": long_ago}) is None


def test_transient_errors_are_told_from_faults_of_the_work():
    import psycopg
    from botocore.exceptions import ClientError, EndpointConnectionError

    assert is_transient(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(psycopg.OperationalError("server closed the connection unexpectedly"))
    assert is_transient(ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}},
                                    "GetObject"))
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as exc:
            raise RuntimeError("could not read the video") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)  # the cause counts
    assert not is_transient(ValueError("not a video"))
    assert not is_transient(ClientError({"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}},
                                        "GetObject"))
