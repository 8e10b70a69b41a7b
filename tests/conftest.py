"""Shared fixtures: one real embedded PostgreSQL + pgvector, a moto S3 server over HTTP, sample clips."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Callable

import pytest

ROOT = Path(__file__).resolve().parents[1]
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")

# every test process (and its children) works in a throwaway data folder, never the user's
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="sentinel-tests-"))
os.environ["SENTINEL_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.pop("DATABASE_URL", None)
os.environ.pop("S3_BUCKET", None)
os.environ.pop("SENTINEL_ADMIN_PASSWORD", None)
os.environ.pop("SENTINEL_API_TOKEN", None)
os.environ.pop("SENTINEL_LLM", None)
os.environ.setdefault("SENTINEL_RUNNER", "local")
sys.path.insert(0, str(ROOT))

# the bearer token the API tests serve with, and a stand-in JPEG for stored pictures
TOKEN = "test-token-3f9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JPEG = b"\xff\xd8\xff\xe0fake-jpeg"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def settings():
    from settings import get_settings

    get_settings.cache_clear()
    return get_settings()


@pytest.fixture(scope="session")
def app(settings):
    """The process-wide App on the session's embedded server."""
    import bootstrap

    bootstrap.reset_app()
    application = bootstrap.get_app()
    yield application
    bootstrap.reset_app()


@pytest.fixture(scope="session")
def database(app):
    return app.db


@pytest.fixture()
def clean_db(database):
    """An empty schema for this test (tables truncated, migrations kept)."""
    with database.connection() as conn:
        conn.execute(
            "TRUNCATE videos, analysis_jobs, tracks, events, frame_stats, zones, summaries, "
            "chat_sessions, chat_turns RESTART IDENTITY CASCADE"
        )
    return database


@pytest.fixture(scope="session")
def moto_s3():
    """moto's ThreadedMotoServer in its own process on a free port, spoken to over real HTTP.

    A separate process keeps the server's in-memory objects out of the test's memory measurements.
    """
    import time
    import urllib.request

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    code = ("import time; from moto.server import ThreadedMotoServer; "
            f"s = ThreadedMotoServer(ip_address='127.0.0.1', port={port}, verbose=False); s.start(); "
            "time.sleep(10**9)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            break
        except OSError as exc:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start") from exc
            time.sleep(0.2)
    yield endpoint
    proc.terminate()
    proc.wait(10)


@pytest.fixture()
def s3_bucket(moto_s3):
    """A fresh bucket on the moto server; yields (endpoint, bucket name)."""
    import uuid

    import boto3

    name = f"sentinel-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").create_bucket(Bucket=name)
    return moto_s3, name


@pytest.fixture(scope="session")
def vtest_path() -> Path:
    """OpenCV's real pedestrian CCTV sample (Debian opencv-doc, installed by the README set-up)."""
    if not VTEST.exists():
        pytest.fail(f"{VTEST} is missing: run the README set-up (it installs the opencv-doc package).")
    return VTEST


def write_clip(path: Path, *, seconds: float = 3.0, fps: int = 10, size=(320, 240), moving_box=True) -> Path:
    """A small synthetic H.264/MPEG-4 clip written with PyAV (a grey scene with a moving block)."""
    import av
    import numpy as np

    w, h = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.full((h, w, 3), 90, np.uint8)
            if moving_box:
                x = int((w - 40) * i / max(1, seconds * fps - 1))
                img[h // 3: h // 3 + 80, x: x + 40] = (30, 30, 200)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def analysed_from_tracks(app, clip: Path, tracks) -> dict:
    """A completed 1280x720 video at 5 fps whose stored run holds these synthetic tracks; events derived from them."""
    from db.repos import runs, videos
    from gpu_jobs.ingest import ingest_path
    from gpu_jobs.rule_inputs import pack
    from services import zones as zone_service

    video = ingest_path(app, clip, submit=False, camera="shop").video
    rows = [{"track_number": t.number, "class_name": "person", "t_first": t.t_start, "t_last": t.t_end,
             "attributes": t.attributes, "path": [[o.frame, *o.bbox, o.confidence] for o in t.observations]}
            for t in tracks]
    with app.db.connection() as conn:
        runs.write_run(conn, video_id=video["id"], run_id=uuid.uuid4(), frame_stats=[], events=[], tracks=rows,
                       rule_inputs={"fps": 5.0, "frame_width": 1280, "frame_height": 720, "data": pack(tracks, [])})
        video = videos.update(conn, video["id"], status="completed", progress=100)
    zone_service.rederive_events(app, video_id=video["id"])
    return video


def vtest_excerpt(path: Path, *, start_s: float = 0.0, seconds: float = 10.0) -> Path:
    """A short re-encoded excerpt of vtest.avi: real people walking, small enough for unit tests."""
    import av

    with av.open(str(VTEST)) as src, av.open(str(path), "w") as dst:
        s_in = src.streams.video[0]
        out = dst.add_stream("mpeg4", rate=int(round(float(s_in.average_rate))))
        out.width, out.height, out.pix_fmt = s_in.width, s_in.height, "yuv420p"
        out.bit_rate = 2_000_000
        for frame in src.decode(s_in):
            t = float(frame.time)
            if t < start_s:
                continue
            if t >= start_s + seconds:
                break
            img = frame.to_ndarray(format="bgr24")
            for packet in out.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                dst.mux(packet)
        for packet in out.encode():
            dst.mux(packet)
    return path


@pytest.fixture()
def synthetic_clip(tmp_path) -> Path:
    return write_clip(tmp_path / "clip.mp4")


def run_cli(*args: str, env: dict | None = None, input: str | None = None, timeout: float = 600):
    """Run `sentinel` in a child process with the test environment."""
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "sentinel") if (ROOT / ".venv/bin/sentinel").exists() else "sentinel", *args],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, input=input, timeout=timeout,
    )


class OpenAICompatibleServer:
    """A stand-in for an OpenAI-compatible chat server (vLLM, a gateway): it answers /v1/chat/completions
    with canned replies and records each request, so the real `init_chat_model` -> ChatOpenAI -> HTTP path runs."""

    def __init__(self, reply_for: Callable[[dict], str]):
        import http.server
        import threading

        self.requests: list[dict] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
                content = reply_for(body)
                payload = json.dumps({
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion", "created": 0,
                    "model": body.get("model"), "choices": [{"index": 0, "finish_reason": "stop",
                                                             "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


class CuttableProxy:
    """A TCP port on 127.0.0.1 forwarding to `connect()`; down() refuses and cuts every connection like an
    outage, up() listens again on the same port. Listening from the start."""

    def __init__(self, connect: Callable[[], socket.socket]) -> None:
        self.connect = connect
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._open: list[socket.socket] = []  # live connections, cut on down() like a restart would
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        server.settimeout(0.2)
        self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)

    def down(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for conn in self._open:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._open.clear()
        for thread in self._threads:
            thread.join(2)
        self._threads.clear()

    def _accept(self, server: socket.socket) -> None:
        while self._server is server:
            try:
                client, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            upstream = self.connect()
            self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


# ---- the HTTP API's App, a real uvicorn server, an analysed video ------------------------------

@pytest.fixture()
def api_app(settings, clean_db, tmp_path):
    """An App on the session's database with its own folder store under tmp_path."""
    import bootstrap

    application = bootstrap.App(settings.model_copy(update={"data_dir": tmp_path / "data"}))
    application.db = clean_db  # share the session's pool (cached_property: assignment replaces it)
    return application


@pytest.fixture()
def serve():
    """Serve an ASGI app on a real uvicorn server in a thread; returns its base URL.

    TestClient hands the app the whole body at once, so streaming is tested over real HTTP.
    """
    import uvicorn

    servers = []

    def start(asgi_app, *, shipped: bool = False, **options) -> str:
        """`shipped`: the uvicorn.Config `sentinel api` serves with (api.server), its timeouts included."""
        from api.server import uvicorn_config

        port = free_port()
        make = uvicorn_config if shipped else uvicorn.Config
        server = uvicorn.Server(make(asgi_app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                                     **options))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.time() + 20
        while not server.started:
            assert time.time() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)



def add_analysed_video(app, *, name: str = "cam1.mp4", events: list[dict] | None = None,
                       embed: bool = False) -> dict:
    """A completed video with stored thumbnail and highlights and one analysis run of `events`."""
    video_id, run_id = uuid.uuid4(), uuid.uuid4()
    thumb = f"thumbnails/{video_id}.jpg"
    app.store.put_bytes(f"videos/2026/01/01/{video_id}_{name}", b"original-bytes")
    app.store.put_bytes(thumb, JPEG)
    events = events if events is not None else [
        {"type": "walking", "t_start": 1.0, "t_end": 4.0, "zone": "left", "confidence": 0.9,
         "description": "A man in a red jacket walks to the left shelf."},
        {"type": "picking", "t_start": 5.0, "t_end": 6.0, "zone": "shelf", "confidence": 0.7,
         "description": "A man in a red jacket picks a bottle from the shelf."},
        {"type": "theft", "t_start": 190.0, "t_end": 200.0, "zone": "exit", "confidence": 0.8,
         "description": "A man in a red jacket hides a bottle in his jacket and leaves by the exit."},
    ]
    if embed:
        from core.runtime.embeddings import embed_texts

        for event, vector in zip(events, embed_texts([e["description"] for e in events], app.settings)):
            event["embedding"] = vector
    for i, event in enumerate(events):
        event.setdefault("track_number", 1)
        event.setdefault("frame", int(event["t_start"] * 10))
        event.setdefault("bbox", [10.0, 20.0, 60.0, 180.0])
        event.setdefault("attributes", {"gender": "male", "clothing_colour": "red"})
        event.setdefault("keywords", [event["type"]])
        key = f"highlights/{video_id}/{run_id}/{i:05d}_{event['type']}.jpg"
        app.store.put_bytes(key, JPEG)
        event.setdefault("highlight_key", key)
    from db.repos import runs, videos

    with app.db.connection() as conn:
        videos.insert(conn, video_id=video_id, name=name, original_filename=name, sha256=uuid.uuid4().hex,
                      storage_key=f"videos/2026/01/01/{video_id}_{name}", size_bytes=14,
                      meta={"duration_s": 240.0, "fps": 10.0, "width": 320, "height": 240, "codec": "mpeg4",
                            "frame_count": 2400})
        videos.update(conn, video_id, thumbnail_key=thumb, status="completed", progress=100)
        runs.write_run(conn, video_id=video_id, run_id=run_id, events=events, frame_stats=[],
                       tracks=[{"track_number": 1, "class_name": "person", "t_first": 0.0, "t_last": 200.0,
                                "attributes": {"gender": "male"}}])
        return videos.get(conn, video_id)



def pytest_sessionfinish(session, exitstatus):
    from db.embedded import stop_embedded
    import bootstrap

    bootstrap.reset_app()
    stop_embedded(_SESSION_DIR / "data" / "pg")
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


def add_tracked_video(app, tracks, *, name: str = "front_20261201_100000.mp4", fps: float = 5.0,
                      size: tuple[int, int] = (1280, 720), frame_stats: list[dict] | None = None,
                      events: list[dict] | None = None, camera: str = "front") -> dict:
    """An analysed video whose current run holds these person tracks (no media: counting needs none).

    events: (track_number, type, t_start, t_end, description) dicts, written in the same run.
    """
    from db.repos import runs, videos

    video_id, run_id = uuid.uuid4(), uuid.uuid4()
    rows = [{"track_number": t.number, "class_name": t.class_name, "t_first": t.t_start, "t_last": t.t_end,
             "path": [[o.frame, *o.bbox, o.confidence] for o in t.observations]} for t in tracks]
    with app.db.connection() as conn:
        videos.insert(conn, video_id=video_id, name=name, original_filename=name, sha256=uuid.uuid4().hex,
                      storage_key=None, size_bytes=0,
                      meta={"duration_s": 600.0, "fps": fps, "width": size[0], "height": size[1], "codec": "h264",
                            "frame_count": int(600 * fps)})
        videos.update(conn, video_id, status="completed", progress=100, camera=camera)
        written = [{"track_number": e.get("track_number"), "type": e["type"], "t_start": e["t_start"],
                    "t_end": e["t_end"], "frame": int(e["t_start"] * fps), "bbox": [0.0, 0.0, 1.0, 1.0],
                    "zone": None, "confidence": 0.9, "attributes": {}, "description": e["description"],
                    "keywords": [e["type"]], "highlight_key": None, "embedding": None} for e in events or []]
        runs.write_run(conn, video_id=video_id, run_id=run_id, tracks=rows, events=written,
                       frame_stats=frame_stats or [])
        return videos.get(conn, video_id)


class WebhookReceiver:
    """A webhook endpoint on localhost that records each POSTed JSON body and answers the next status."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.statuses: list[int] = []  # answered in turn; 200 once they run out
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(body)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status == 200 else b"busy")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-s3cret"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def webhook():
    """A webhook endpoint on a free localhost port (tests/test_alerts.py)."""
    got = WebhookReceiver()
    yield got
    got.close()
