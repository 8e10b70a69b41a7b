"""Soak: /v1/ask latency with 8 clients while 40 slow uploads stall, against a real `sentinel api`.

Never run by the tests. It works in a throwaway data folder (its own embedded Postgres, folder store):

1. seeds videos with events (sentences, embeddings and highlight JPEGs) for the questions to find;
2. starts `sentinel api` (the shipped uvicorn settings and guard) on 127.0.0.1 with a token;
3. phase "quiet": CLIENTS threads ask questions back to back for --seconds; a probe times /health
   and /v1/videos once a second;
4. phase "stalled": the same, while STALLED authenticated uploads send their headers and 100 bytes
   of a 10 MB body and then nothing; each one that is answered (429 past the upload cap, 408 after
   SENTINEL_BODY_IDLE_TIMEOUT_S) is opened again a second later, so about STALLED stall all along.

Reports p50 / p95 / max of /v1/ask, the probe's p95 / max and the failures per phase, the load
average, and writes the table to bench/results/soak.md. All traffic goes to 127.0.0.1.

Usage:
    .venv/bin/python bench/bench_soak.py                 # 30 s per phase
    .venv/bin/python bench/bench_soak.py --seconds 60 --clients 8 --stalled 40
"""

from __future__ import annotations

import argparse
import os
import platform
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from bench_retrieval import log, percentile  # bench/ is on the path when a bench script runs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "soak.md"
TOKEN = "soak-" + uuid.uuid4().hex[:12]
AUTH = {"Authorization": f"Bearer {TOKEN}"}
JPEG = b"\xff\xd8\xff\xe0soak-jpeg"

QUESTIONS = ["any theft?", "did anyone collapse?", "who picked something from the shelf between minute 1 and 3?",
             "was there a fight near the exit?", "a woman in a red jacket loitering", "how many people walked in?",
             "anyone hiding an item in a bag?", "crowding at the counter after 5 minutes"]
SENTENCES = ["A man in a {c} jacket walks to the {z} shelf.", "A woman in {c} picks a bottle from the {z} shelf.",
             "A man in {c} hides an item in his jacket near the {z}.", "A person in {c} falls to the floor by the {z}.",
             "Two people in {c} push each other near the {z}.", "A woman in a {c} coat stands at the {z} for a while.",
             "Five people crowd around the {z}.", "A person in {c} runs past the {z}."]
TYPES = ["walking", "picking", "concealment", "collapse", "violent", "loitering", "crowding", "anomaly"]
COLOURS = ["red", "blue", "black", "white", "green", "grey"]
ZONES = ["left", "right", "exit", "counter", "entrance"]




def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(app, *, videos_n: int, events_per_video: int) -> int:
    """Analysed videos with events, embeddings and highlight JPEGs; returns the event count."""
    from core.runtime.embeddings import embed_texts
    from db.repos import runs, videos

    total = 0
    for v in range(videos_n):
        video_id, run_id = uuid.uuid4(), uuid.uuid4()
        events = []
        for i in range(events_per_video):
            kind = i % len(SENTENCES)
            t = 2.0 * i
            events.append({"type": TYPES[kind], "t_start": t, "t_end": t + 3.0, "zone": ZONES[i % len(ZONES)],
                           "confidence": 0.6 + 0.04 * (i % 10), "track_number": 1 + i % 7, "frame": int(t * 5),
                           "bbox": [10.0, 20.0, 60.0, 180.0],
                           "attributes": {"clothing_colour": COLOURS[i % len(COLOURS)]},
                           "keywords": [TYPES[kind]],
                           "description": SENTENCES[kind].format(c=COLOURS[i % len(COLOURS)], z=ZONES[i % len(ZONES)])})
        for event, vector in zip(events, embed_texts([e["description"] for e in events], app.settings)):
            event["embedding"] = vector
        for i, event in enumerate(events):
            key = f"highlights/{video_id}/{run_id}/{i:05d}_{event['type']}.jpg"
            app.store.put_bytes(key, JPEG)
            event["highlight_key"] = key
        with app.db.connection() as conn:
            videos.insert(conn, video_id=video_id, name=f"soak-cam{v}.mp4", original_filename=f"soak-cam{v}.mp4",
                          sha256=uuid.uuid4().hex, storage_key=None, size_bytes=0,
                          meta={"duration_s": 2.0 * events_per_video + 5, "fps": 5.0, "width": 768, "height": 576,
                                "codec": "mpeg4", "frame_count": 0})
            videos.update(conn, video_id, status="completed", progress=100)
            runs.write_run(conn, video_id=video_id, run_id=run_id, events=events, frame_stats=[],
                           tracks=[{"track_number": n, "class_name": "person", "t_first": 0.0,
                                    "t_last": 2.0 * events_per_video, "attributes": {}} for n in range(1, 8)])
        total += len(events)
    return total


class Stalls:
    """STALLED uploads that send headers and 100 bytes and then nothing, each re-opened once it is answered."""

    HEAD = ("POST /v1/videos HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: multipart/form-data; boundary=B\r\nContent-Length: 10485760\r\n\r\n")
    PART = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="cam.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n" + b"\x00" * 100)[:100]

    REOPEN_S = 1.0  # an answered upload comes back after a second, like a client retrying

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.answers: Counter[str] = Counter()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.sendall(self.HEAD.format(token=TOKEN).encode() + self.PART)
        return sock

    def _run(self) -> None:
        socks = [self._open() for _ in range(self.count)]
        due: list[float] = []  # when the answered ones are opened again
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                while due and due[0] <= now and len(socks) < self.count:
                    due.pop(0)
                    socks.append(self._open())
                for sock in select.select(socks, [], [], 0.1)[0]:
                    try:
                        status = sock.recv(64).split(b" ", 2)[1].decode() or "closed"
                    except (OSError, IndexError):
                        status = "closed"
                    self.answers[status] += 1
                    sock.close()
                    socks.remove(sock)
                    due.append(time.monotonic() + self.REOPEN_S)
        finally:
            for sock in socks:
                sock.close()


def run_phase(base: str, *, seconds: float, clients: int, stalled: int) -> dict:
    import httpx

    port = int(base.rsplit(":", 1)[1])
    stalls = Stalls(port, stalled) if stalled else None
    if stalls:
        stalls.thread.start()
        time.sleep(2.0)  # let them take the upload slots and be refused past them
    ask_ms: list[float] = []
    probe_ms: list[float] = []
    failures: Counter[str] = Counter()
    deadline = time.monotonic() + seconds
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
            i = n
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                try:
                    response = http.post("/v1/ask", json={"question": QUESTIONS[i % len(QUESTIONS)]})
                    ok = response.status_code == 200
                    reason = str(response.status_code)
                except httpx.HTTPError as exc:
                    ok, reason = False, type(exc).__name__
                elapsed = (time.perf_counter() - t0) * 1000
                with lock:
                    (ask_ms.append(elapsed) if ok else failures.update([f"ask {reason}"]))
                i += 1

    def probe() -> None:
        with httpx.Client(base_url=base, headers=AUTH, timeout=30) as http:
            while time.monotonic() < deadline:
                for path in ("/health", "/v1/videos"):
                    t0 = time.perf_counter()
                    try:
                        ok = http.get(path).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        (probe_ms.append((time.perf_counter() - t0) * 1000) if ok
                         else failures.update([f"probe {path}"]))
                time.sleep(1.0)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)] + [threading.Thread(target=probe)]
    load_before = os.getloadavg()[0]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    if stalls:
        stalls.stop.set()
        stalls.thread.join(10)
    return {"asks": len(ask_ms), "ask_p50": percentile(ask_ms, 50), "ask_p95": percentile(ask_ms, 95),
            "ask_max": max(ask_ms, default=float("nan")), "probe_p95": percentile(probe_ms, 95),
            "probe_max": max(probe_ms, default=float("nan")), "failures": dict(failures),
            "stall_answers": dict(stalls.answers) if stalls else {}, "load": (load_before + os.getloadavg()[0]) / 2}


def _commit() -> str:
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each phase")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--stalled", type=int, default=40)
    parser.add_argument("--videos", type=int, default=5)
    parser.add_argument("--events", type=int, default=200, help="events per video")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="sentinel-soak-"))
    os.environ.update({"SENTINEL_DATA_DIR": str(data_dir), "SENTINEL_RUNNER": "local", "HF_HUB_OFFLINE": "1",
                       "TRANSFORMERS_OFFLINE": "1"})
    for name in ("DATABASE_URL", "S3_BUCKET", "SENTINEL_LLM", "SENTINEL_API_TOKEN"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import httpx

    import bootstrap
    from db.embedded import stop_embedded

    api = None
    try:
        app = bootstrap.get_app()
        log(f"seeding {args.videos} x {args.events} events in {data_dir}")
        events = seed(app, videos_n=args.videos, events_per_video=args.events)
        port = free_port()
        api_log = open(data_dir / "api.log", "w")  # a file, not a pipe nobody reads while the phases run
        # `sentinel api` of this tree (cli.py beside this folder), so an older checkout measures its own code
        api = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "api", "--port", str(port),
                                "--log-level", "warning"], env={**os.environ, "SENTINEL_API_TOKEN": TOKEN},
                               stdout=subprocess.DEVNULL, stderr=api_log)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                httpx.get(f"{base}/health", timeout=2)
                break
            except httpx.TransportError as exc:
                if api.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"sentinel api did not start: {(data_dir / 'api.log').read_text()}") from exc
                time.sleep(0.3)
        for question in QUESTIONS:  # warm: the embedder and reranker load on the first question
            httpx.post(f"{base}/v1/ask", headers=AUTH, json={"question": question}, timeout=120).raise_for_status()
        phases = {}
        for name, stalled in (("quiet", 0), ("stalled", args.stalled)):
            log(f"phase {name}: {args.clients} clients, {stalled} stalled uploads, {args.seconds:.0f} s")
            phases[name] = run_phase(base, seconds=args.seconds, clients=args.clients, stalled=stalled)
            log(f"  {phases[name]}")
    finally:
        if api is not None:
            api.terminate()
            try:
                api.wait(30)
            except subprocess.TimeoutExpired:
                api.kill()
            api_log.close()
        bootstrap.reset_app()
        stop_embedded(data_dir / "pg")
        shutil.rmtree(data_dir, ignore_errors=True)

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() \
        else platform.machine()
    header = (f"\n## {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu}), "
              f"{events} events, {args.clients} clients, {args.seconds:.0f} s per phase, code {_commit()}\n\n"
              "| phase | stalled uploads | asks | /v1/ask p50 ms | p95 ms | max ms | /health + /v1/videos p95 / max ms "
              "| failures | stalled uploads answered | load avg |\n|---|---|---|---|---|---|---|---|---|---|\n")
    rows = "".join(
        f"| {name} | {args.stalled if name == 'stalled' else 0} | {p['asks']} | {p['ask_p50']:.0f} | "
        f"{p['ask_p95']:.0f} | {p['ask_max']:.0f} | {p['probe_p95']:.0f} / {p['probe_max']:.0f} | "
        f"{', '.join(f'{k}: {v}' for k, v in p['failures'].items()) or 'none'} | "
        f"{', '.join(f'{k}: {v}' for k, v in sorted(p['stall_answers'].items())) or '-'} | {p['load']:.1f} |\n"
        for name, p in phases.items())
    print(header + rows)
    if not RESULTS.exists():
        RESULTS.write_text("# Soak: /v1/ask while uploads stall (`bench/bench_soak.py`)\n\nEvery run is kept. "
                           "Stalled uploads send their headers and 100 bytes of a 10 MB body, then "
                           "nothing; each answered one (429 past SENTINEL_MAX_CONCURRENT_UPLOADS, 408 after "
                           "SENTINEL_BODY_IDLE_TIMEOUT_S) is opened again a second later.\n")
    with RESULTS.open("a") as f:
        f.write(header + rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
