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
from tests.conftest import AUTH, TOKEN

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
