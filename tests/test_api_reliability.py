"""The API under hostile or broken conditions, over a real uvicorn on 127.0.0.1 (issue 16, round two).

Raw sockets send exactly the bytes each case needs (headers, then a body that stops, or never ends);
every loop here is bounded in count and time, and every socket and server is closed at the end.
"""

from __future__ import annotations

import http.client
import select
import socket
import time
from contextlib import closing
from urllib.parse import urlparse


from api import create_app
from tests.conftest import AUTH, TOKEN, CuttableProxy

AUTH_LINE = f"Authorization: Bearer {TOKEN}\r\n"


class BodyCounter:
    """ASGI wrapper: how many body bytes the app pulled in all."""

    def __init__(self, app) -> None:
        self.app, self.read = app, 0

    async def __call__(self, scope, receive, send):
        async def counting_receive():
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counting_receive, send)


def _connect(url: str, timeout: float = 10.0) -> socket.socket:
    parsed = urlparse(url)
    return socket.create_connection((parsed.hostname, parsed.port), timeout=timeout)


def _head(method: str, path: str, *, headers: str = "", length: int | None = None, chunked: bool = False,
          content_type: str = "application/json") -> bytes:
    framing = "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {length or 0}\r\n"
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"{framing}{headers}\r\n").encode()


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def _error(status_and_body: tuple[int, dict, bytes], status: int, code: str) -> dict:
    import json

    got, _, body = status_and_body
    assert got == status, body
    error = json.loads(body)["error"]
    assert error["code"] == code and error["message"].endswith(".") and "\n" not in error["message"], error
    return error


def _stream_until_answered(sock: socket.socket, chunk: bytes, *, max_chunks: int, pause_s: float = 0.0) -> int:
    """Send chunked-encoding pieces until the server answers (or max_chunks); returns the pieces sent."""
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    for sent in range(max_chunks):
        readable, _, _ = select.select([sock], [], [], pause_s)
        if readable:
            return sent
        try:
            sock.sendall(framed)
        except (BrokenPipeError, ConnectionResetError):
            return sent
    return max_chunks


# ---- 2. the token before the body, and bounded bodies ------------------------------------------

def test_the_token_is_checked_before_the_body_and_every_json_body_is_bounded(serve, api_app):
    counter = BodyCounter(create_app(api_app, token=TOKEN))
    url = serve(counter)
    big = 300 * 1024 * 1024

    # no token and a declared 300 MB body: 401 at once, without the app reading a byte of it
    with closing(_connect(url)) as sock:
        started = time.monotonic()
        sock.sendall(_head("POST", "/v1/ask", length=big) + b'{"question": "' + b"x" * 1000)
        answer = _response(sock)
    assert time.monotonic() - started < 5
    _error(answer, 401, "unauthorized")
    assert answer[1]["www-authenticate"] == "Bearer" and answer[1]["connection"] == "close"
    assert counter.read == 0

    # with the token, a declared size over the JSON limit is 413 at once, also unread
    with closing(_connect(url)) as sock:
        sock.sendall(_head("POST", "/v1/ask", length=big, headers=AUTH_LINE) + b"{")
        _error(_response(sock), 413, "body_too_large")
    assert counter.read == 0

    # a chunked body (no length) is cut off as soon as it passes the limit, not after all of it
    with closing(_connect(url)) as sock:
        sock.sendall(_head("POST", "/v1/ask", chunked=True, headers=AUTH_LINE))
        sent = _stream_until_answered(sock, b" " * 16384, max_chunks=640, pause_s=0.01)  # at most 10 MB
        answer = _response(sock)
    _error(answer, 413, "body_too_large")
    assert sent < 64 and counter.read < 256 * 1024, (sent, counter.read)

    # an ordinary question still works on the same server
    import httpx

    ok = httpx.post(f"{url}/v1/ask", headers=AUTH, json={"question": "any theft?"}, timeout=60)
    assert ok.status_code == 200, ok.text


# ---- 1. slow clients ----------------------------------------------------------------------------

def _stalled_upload(url: str) -> socket.socket:
    """An authenticated upload that sends its headers and 100 bytes of a 10 MB body, then nothing."""
    sock = _connect(url, timeout=30)
    part = (b'--B\r\nContent-Disposition: form-data; name="file"; filename="cam.mp4"\r\n'
            b"Content-Type: video/mp4\r\n\r\n")
    sock.sendall(_head("POST", "/v1/videos", length=10 * 1024 * 1024, headers=AUTH_LINE,
                       content_type="multipart/form-data; boundary=B") + (part + b"\x00" * 100)[:100])
    return sock


def _answered(sock: socket.socket, within_s: float) -> bool:
    return bool(select.select([sock], [], [], within_s)[0])


def test_stalled_uploads_neither_freeze_the_api_nor_hold_their_threads(serve, api_app, monkeypatch):
    import httpx

    from tests.conftest import add_analysed_video

    idle_s = 5.0
    monkeypatch.setattr(api_app.settings, "body_idle_timeout_s", idle_s)
    slots = api_app.settings.max_concurrent_uploads
    assert slots < 40
    url = serve(create_app(api_app, token=TOKEN), shipped=True, header_timeout_s=2.0)
    add_analysed_video(api_app, embed=True)
    routes = [("GET", "/health", None), ("GET", "/v1/videos", None), ("POST", "/v1/ask", {"question": "any theft?"})]
    with httpx.Client(base_url=url, headers=AUTH, timeout=30) as client:
        for method, path, body in routes:  # warm: the first question loads the embedder
            assert client.request(method, path, json=body).status_code == 200

        stalled = [_stalled_upload(url) for _ in range(40)]
        started = time.monotonic()
        try:
            # the uploads past the cap are refused at once; the others hold a slot, waiting for bytes
            refused: list[socket.socket] = []
            deadline = time.monotonic() + 3.0
            while len(refused) < 40 - slots and time.monotonic() < deadline:
                ready = select.select([s for s in stalled if s not in refused], [], [], 0.1)[0]
                refused += ready
            time.sleep(0.2)  # and no more than those
            refused += select.select([s for s in stalled if s not in refused], [], [], 0)[0]
            assert len(refused) == 40 - slots, len(refused)
            for sock in refused:
                error = _error(_response(sock), 429, "too_many_uploads")
                assert "SENTINEL_MAX_CONCURRENT_UPLOADS" in error["message"]

            # every other route keeps answering, quickly
            for method, path, body in routes:
                t0 = time.monotonic()
                response = client.request(method, path, json=body)
                assert response.status_code == 200, (path, response.text)
                assert time.monotonic() - t0 < 2.0, (path, time.monotonic() - t0)
            assert time.monotonic() - started < idle_s, "the checks took longer than the idle timeout"

            # the stalled ones are answered 408 once idle_s passed without a byte, and closed
            waiting = [s for s in stalled if s not in refused]
            for sock in waiting:
                assert _answered(sock, idle_s + 5 - (time.monotonic() - started)), "no 408 in time"
                answer = _response(sock)
                _error(answer, 408, "request_timeout")
                assert answer[1]["connection"] == "close"
            assert time.monotonic() - started >= idle_s - 0.5
        finally:
            for sock in stalled:
                sock.close()

        # the slots are free again: an upload goes through
        from tests.conftest import write_clip

        clip = write_clip(api_app.settings.data_dir.parent / "after.mp4", seconds=1)
        with open(clip, "rb") as f:
            response = client.post("/v1/videos", files={"file": ("after.mp4", f, "video/mp4")})
        assert response.status_code == 202, response.text


def test_a_request_head_that_never_completes_is_cut_off(serve, api_app):
    url = serve(create_app(api_app, token=TOKEN), shipped=True, header_timeout_s=1.0)
    with closing(_connect(url)) as silent, closing(_connect(url)) as half:
        half.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        started = time.monotonic()
        for sock in (silent, half):
            assert _answered(sock, 5.0), "the server kept a stalled request head open"
            assert sock.recv(1024) == b""  # closed, nothing sent
        assert time.monotonic() - started < 5.0
        # a keep-alive connection between two requests is not cut while it is used
    with closing(_connect(url)) as sock:
        for _ in range(2):
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _response(sock)[0] == 200


# ---- 5. a dependency that is down ---------------------------------------------------------------

def _health(url: str) -> tuple[int, dict[str, dict]]:
    import httpx

    response = httpx.get(f"{url}/health", headers=AUTH, timeout=30)
    return response.status_code, {c["component"]: c for c in response.json()["components"]}


def test_a_database_that_is_down_is_503_within_seconds_and_health_names_it(serve, settings, database, tmp_path):
    import glob
    from urllib.parse import parse_qs

    import httpx

    import bootstrap
    from api.app import open_for_requests
    from tests.conftest import free_port

    # never reachable: a closed port
    closed = bootstrap.App(settings.model_copy(update={
        "data_dir": tmp_path / "closed", "database_url": f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"}))
    url = serve(create_app(closed, token=TOKEN))
    started = time.monotonic()
    response = httpx.get(f"{url}/v1/videos", headers=AUTH, timeout=30)
    assert response.status_code == 503 and time.monotonic() - started < 5, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable" and error["message"].startswith("The database is unreachable (")
    assert "\n" not in error["message"] and error["message"].endswith("; try again shortly.")
    status, components = _health(url)
    assert status == 503 and not components["database"]["ok"] and components["object store"]["ok"]

    # reachable, then down: requests wait SENTINEL_API_DB_TIMEOUT_S for the pool, not its 30 s
    socket_dir = parse_qs(urlparse(database.url).query)["host"][0]
    pg_socket = next(p for p in glob.glob(f"{socket_dir}/.s.PGSQL.*") if not p.endswith(".lock"))
    def to_socket() -> socket.socket:
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(pg_socket)
        return upstream

    proxy = CuttableProxy(to_socket)
    cut = bootstrap.App(settings.model_copy(update={
        "data_dir": tmp_path / "cut", "api_db_timeout_s": 2.0,
        "database_url": f"postgresql://postgres@127.0.0.1:{proxy.port}/postgres"}))
    try:
        open_for_requests(cut)
        url = serve(create_app(cut, token=TOKEN))
        assert httpx.get(f"{url}/v1/videos", headers=AUTH, timeout=30).status_code == 200
        proxy.down()
        started = time.monotonic()
        response = httpx.get(f"{url}/v1/videos", headers=AUTH, timeout=60)
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and elapsed < 6, (elapsed, response.text)
        assert response.json()["error"]["message"].startswith("The database is unreachable (")
        status, components = _health(url)
        assert status == 503 and not components["database"]["ok"], components
    finally:
        proxy.down() if proxy.running else None
        cut.close()


def test_a_store_that_is_down_is_503_at_once_and_a_missing_bucket_is_created(serve, api_app, moto_s3, tmp_path,
                                                                            caplog):
    import logging

    import boto3
    import httpx

    import bootstrap
    from tests.conftest import free_port, write_clip

    down = bootstrap.App(api_app.settings.model_copy(update={
        "s3_bucket": "sentinel-down", "s3_endpoint_url": f"http://127.0.0.1:{free_port()}"}))
    down.db = api_app.db
    url = serve(create_app(down, token=TOKEN))
    clip = write_clip(tmp_path / "down.mp4", seconds=1)
    started = time.monotonic()
    with open(clip, "rb") as f:
        response = httpx.post(f"{url}/v1/videos", headers=AUTH, files={"file": ("down.mp4", f, "video/mp4")},
                              timeout=60)
    assert response.status_code == 503 and time.monotonic() - started < 5, response.text
    error = response.json()["error"]
    assert error["code"] == "unavailable" and error["message"].startswith("The object store is unreachable: ")
    assert "\n" not in error["message"] and response.headers["retry-after"]
    status, components = _health(url)
    assert status == 200 and components["database"]["ok"]  # the API still reads and answers
    store = components["object store"]
    assert not store["ok"] and store["detail"].startswith("the object store is unreachable: ")

    # a bucket that does not exist yet is created when the store is first used, with a log line
    name = f"sentinel-new-{time.monotonic_ns() % 10**9}"
    fresh = bootstrap.App(api_app.settings.model_copy(update={"s3_bucket": name, "s3_endpoint_url": moto_s3}))
    with caplog.at_level(logging.INFO, logger="db.objects"):
        fresh.store.check()
    boto3.client("s3", endpoint_url=moto_s3, region_name="us-east-1").head_bucket(Bucket=name)
    assert any(f"created the missing bucket s3://{name}" in r.getMessage() for r in caplog.records)


# ---- 7. no server paths, names kept as written, literal name filters ---------------------------

def test_folder_store_objects_come_through_signed_media_links_never_server_paths(serve, api_app):
    import httpx

    from tests.conftest import JPEG, add_analysed_video

    video = add_analysed_video(api_app, embed=True)
    url = serve(create_app(api_app, token=TOKEN))
    root = str(api_app.store.root)
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        listed = client.get("/v1/videos")
        detail = client.get(f"/v1/videos/{video['id']}")
        events = client.get(f"/v1/videos/{video['id']}/events")
        asked = client.post("/v1/ask", json={"question": "any theft?", "video_id": str(video["id"])})
    for response in (listed, detail, events, asked):
        assert response.status_code == 200, response.text
        assert "file://" not in response.text and root not in response.text
    links = [listed.json()["items"][0]["thumbnail_url"], detail.json()["thumbnail_url"],
             detail.json()["video_url"], *[e["highlight_url"] for e in events.json()["items"]],
             *[c["thumbnail_url"] for c in asked.json()["citations"]]]
    assert len(links) >= 5 and all(link.startswith(f"{url}/media/") for link in links), links

    # the signature is the credential (an <img> sends no bearer token); the bytes are the stored ones
    thumb = httpx.get(detail.json()["thumbnail_url"], timeout=30)
    assert thumb.status_code == 200 and thumb.content == JPEG and thumb.headers["content-type"] == "image/jpeg"
    original = detail.json()["video_url"]
    part = httpx.get(original, headers={"Range": "bytes=2-5"}, timeout=30)
    assert part.status_code == 206 and part.content == b"original-bytes"[2:6]
    token = original.split("/media/")[1].split("/")[0]
    encoded, expires, signature = token.split(".")
    other = thumb.url.path.split("/")[2].split(".")[0]
    for forged in (f"{other}.{expires}.{signature}", f"{encoded}.{int(expires) + 3600}.{signature}", "x"):
        refused = httpx.get(f"{url}/media/{forged}/x.jpg", timeout=30)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert "/media/{token}/{name}" not in httpx.get(f"{url}/openapi.json", timeout=30).json()["paths"]


def test_a_name_is_kept_as_written_and_name_filters_match_it_literally(serve, api_app, tmp_path):
    import httpx

    from tests.conftest import write_clip

    url = serve(create_app(api_app, token=TOKEN))
    clip = write_clip(tmp_path / "clip.mp4", seconds=1)
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        with open(clip, "rb") as f:
            accepted = client.post("/v1/videos", files={"file": ("x</script>.avi", f, "video/x-msvideo")})
        assert accepted.status_code == 202, accepted.text
        video = client.get(f"/v1/videos/{accepted.json()['video_id']}").json()
        assert video["name"] == video["original_filename"] == "x</script>.avi"
        with api_app.db.connection() as conn:
            key = conn.execute("SELECT storage_key FROM videos WHERE id = %s", (video["id"],)).fetchone()[
                "storage_key"]
        leaf = key.rsplit("/", 1)[1]
        assert key.startswith("videos/") and all(c.isalnum() or c in "._-" for c in leaf), key

        from db.repos import videos

        with api_app.db.connection() as conn:
            for name in ("cam_1.mp4", "cam21.mp4", "100%.mp4", "back\\slash.mp4"):
                videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=None, size_bytes=0)

        def named(fragment: str) -> set[str]:
            response = client.get("/v1/videos", params={"name": fragment})
            assert response.status_code == 200, response.text
            return {v["name"] for v in response.json()["items"]}

        assert named("%") == {"100%.mp4"}
        assert named("_") == {"cam_1.mp4"}
        assert named("cam_") == {"cam_1.mp4"}
        assert named("\\") == {"back\\slash.mp4"}
        assert named("CAM") == {"cam_1.mp4", "cam21.mp4"}  # still a case-insensitive fragment
        assert named("</script>") == {"x</script>.avi"}
