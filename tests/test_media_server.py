"""The folder store's signed-URL video server: Range requests, forged and expired links, missing files."""

from __future__ import annotations

import time

import httpx
import pytest

from db.objects import FolderStore
from ui.media_server import EXPIRY_STEP_S, MediaServer

DATA = bytes(range(256)) * 4096  # 1 MiB


@pytest.fixture()
def served(tmp_path):
    store = FolderStore(tmp_path / "objects")
    store.put_bytes("videos/2026/11/30/ab_cam 1 #2.mp4", DATA, content_type="video/mp4")
    server = MediaServer(store).start()
    yield store, server
    server.stop()


def test_whole_file_and_byte_ranges(served):
    _, server = served
    url = server.url("videos/2026/11/30/ab_cam 1 #2.mp4")
    assert url.startswith(f"http://127.0.0.1:{server.port}/media/") and url.endswith("/ab_cam%201%20%232.mp4")
    whole = httpx.get(url)
    assert whole.status_code == 200 and whole.content == DATA
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    # what a player asks for when it seeks: only those bytes come back
    part = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == DATA[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(DATA)}"
    assert httpx.head(url).headers["content-length"] == str(len(DATA))


def test_forged_expired_and_malformed_links_are_refused(served):
    _, server = served
    key = "videos/2026/11/30/ab_cam 1 #2.mp4"
    good = server.token(key)
    encoded, expires, signature = good.split(".")
    other = server.token("videos/other.mp4").split(".")[0]
    base = f"http://127.0.0.1:{server.port}/media"
    for token in (f"{other}.{expires}.{signature}",            # another key under this signature
                  f"{encoded}.{int(expires) + 3600}.{signature}",  # a later expiry
                  server.token(key, now=time.time() - 7200),   # expired
                  "not-a-token", f"{encoded}.x.{signature}"):
        response = httpx.get(f"{base}/{token}/x.mp4")
        assert response.status_code == 403, token
        assert "invalid or has expired" in response.text
    # a link lives its expiry, rounded up to a few minutes so that reruns keep one URL
    issued = 5_000_000 * EXPIRY_STEP_S + 10  # early in a step: both below fall in it
    assert server.token(key, now=issued) == server.token(key, now=issued + 100)
    token = server.token(key, expires_s=60, now=issued)
    assert server.verify(token, now=issued + 59) == key
    assert server.verify(token, now=issued + 60 + EXPIRY_STEP_S + 1) is None
    assert MediaServer(served[0]).verify(good) is None  # another process's secret


def test_missing_archived_and_escaping_keys(served):
    store, server = served
    key = "videos/2026/11/30/ab_cam 1 #2.mp4"
    url = server.url(key)
    store.set_storage_class(key, "GLACIER")
    archived = httpx.get(url)
    assert archived.status_code == 409 and "archived" in archived.text
    store.delete(key)
    assert httpx.get(url).status_code == 404
    assert httpx.get(server.url("../../etc/passwd")).status_code == 404


def test_a_busy_port_is_a_clear_error(served):
    store, server = served
    with pytest.raises(OSError, match=f"could not listen on 127.0.0.1:{server.port}"):
        MediaServer(store, port=server.port).start()
