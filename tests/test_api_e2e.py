"""End to end over real HTTP: upload vtest.avi, a real worker analyses it, then ask and get cited events."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from api import create_app
from gpu_jobs.worker import Worker
from tests.conftest import AUTH, TOKEN

ANALYSIS_TIMEOUT_S = 20 * 60  # vtest.avi is 80 s of 768x576 video; the CPU here is shared


@pytest.fixture()
def worker(api_app):
    """A real local worker claiming jobs from the Postgres queue, in a thread."""
    stop = threading.Event()
    thread = threading.Thread(target=Worker(api_app, poll_s=0.5).run_forever, args=(stop,), daemon=True)
    thread.start()
    yield thread
    stop.set()
    thread.join(60)


def test_upload_analyse_and_ask_end_to_end(serve, api_app, worker, vtest_path):  # noqa: F811 (fixtures)
    base = serve(create_app(api_app, token=TOKEN))
    with httpx.Client(base_url=base, headers=AUTH, timeout=120) as http:
        with open(vtest_path, "rb") as f:
            accepted = http.post("/v1/videos", files={"file": ("vtest.avi", f, "video/x-msvideo")})
        assert accepted.status_code == 202, accepted.text
        video_id = accepted.json()["video_id"]

        # poll like a client would, until the worker finishes
        progress_seen = []
        deadline = time.time() + ANALYSIS_TIMEOUT_S
        while True:
            video = http.get(f"/v1/videos/{video_id}").json()
            progress_seen.append(video["progress"])
            if video["status"] in ("completed", "failed"):
                break
            assert time.time() < deadline, f"analysis still {video['status']} at {video['progress']}%"
            time.sleep(2)
        assert video["status"] == "completed", video["error"] or video["job"]
        assert video["progress"] == 100 and video["job"]["status"] == "completed"
        assert progress_seen == sorted(progress_seen)  # progress only moves forward
        assert video["event_count"] > 0 and video["events_by_type"].get("walking", 0) > 0

        events = http.get(f"/v1/videos/{video_id}/events", params={"type": "walking", "limit": 5}).json()
        assert events["items"] and all(e["type"] == "walking" for e in events["items"])

        answer = http.post("/v1/ask", json={"question": "how many people walked through the store?",
                                            "video_id": video_id})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["answer"].strip() and body["citations"], body
        for citation in body["citations"]:
            assert citation["video_id"] == video_id and citation["t_end"] >= citation["t_start"]
            # the folder store's highlights come through the API's signed /media/ links: real JPEGs
            assert citation["thumbnail_url"].startswith(f"{base}/media/"), citation
            assert httpx.get(citation["thumbnail_url"], timeout=30).content[:2] == b"\xff\xd8"

        summary = http.post(f"/v1/videos/{video_id}/summary")
        assert summary.status_code == 200, summary.text
        assert summary.json()["status"] == "completed" and "vtest.avi" in summary.json()["text"]
