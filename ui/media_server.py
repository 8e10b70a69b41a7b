"""Signed, expiring HTTP URLs for the folder store's videos, served with Range requests.

`st.video(path)` reads the whole file into the Streamlit server's memory (and hashes it) on
every rerun, which a multi-GB original cannot afford. This small server plays the part of S3's
presigned GET for the folder store: the player gets a URL, the browser fetches only the byte
ranges it plays, and nothing is read into memory.

    >>> server = MediaServer(store).start()
    >>> server.url("videos/2026/11/30/ab_cam1.mp4", host="127.0.0.1")
    'http://127.0.0.1:40123/media/dmlkZW9z...1764500000.3f9a.../ab_cam1.mp4'
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import PurePosixPath
from urllib.parse import quote

from db.objects import BlobNotFound, FolderStore, InvalidKey, ObjectArchived
from db.url_signing import EXPIRY_STEP_S, UrlSigner

log = logging.getLogger(__name__)

START_TIMEOUT_S = 10.0
__all__ = ["EXPIRY_STEP_S", "MediaServer"]


class MediaServer:
    """A uvicorn server in a daemon thread, serving `GET /media/<token>/<file name>` from one FolderStore.

    Args:
        store: the folder store whose objects it serves.
        host: the address to bind (the Streamlit server's).
        port: the port; 0 takes a free one.
        secret: the HMAC key of the URLs (default: random, so URLs die with the process).
    """

    def __init__(self, store: FolderStore, *, host: str = "127.0.0.1", port: int = 0,
                 secret: bytes | None = None) -> None:
        self.store = store
        self.host = host
        self.port = port
        self._signer = UrlSigner(secret)
        self._server = None
        self._thread: threading.Thread | None = None

    # -- URLs ------------------------------------------------------------------------------------

    def token(self, key: str, *, expires_s: int = 3600, now: float | None = None) -> str:
        """`<base64 key>.<expiry>.<signature>` (db.url_signing): lives expires_s, rounded up to a few minutes."""
        return self._signer.token(key, expires_s=expires_s, now=now)

    def verify(self, token: str, *, now: float | None = None) -> str | None:
        """The key a token names, or None when it is malformed, forged or expired."""
        return self._signer.verify(token, now=now)

    def url(self, key: str, *, host: str | None = None, expires_s: int = 3600) -> str:
        """A URL the browser can play; `host` is the name the browser reached the app by."""
        if self._server is None:
            raise RuntimeError("start() the media server first")
        name = quote(PurePosixPath(key).name)
        return f"http://{host or self._public_host()}:{self.port}/media/{self.token(key, expires_s=expires_s)}/{name}"

    def _public_host(self) -> str:
        return "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host

    # -- serving ---------------------------------------------------------------------------------

    def asgi(self):
        """The Starlette app (FileResponse answers Range requests with 206 and the asked bytes)."""
        from starlette.applications import Starlette
        from starlette.responses import FileResponse, PlainTextResponse
        from starlette.routing import Route

        async def media(request):
            key = self.verify(request.path_params["token"])
            if key is None:
                return PlainTextResponse("This video link is invalid or has expired; reload the page.", 403)
            try:
                with self.store.local_path(key) as path:
                    return FileResponse(path)
            except ObjectArchived:
                return PlainTextResponse("The video is archived; restore it first.", 409)
            except (BlobNotFound, InvalidKey):
                return PlainTextResponse("No such video.", 404)

        return Starlette(routes=[Route("/media/{token}/{name}", media, methods=["GET", "HEAD"])])

    def start(self) -> MediaServer:
        """Bind and serve in a daemon thread; returns once the port is known."""
        import uvicorn

        config = uvicorn.Config(self.asgi(), host=self.host or "127.0.0.1", port=self.port, log_level="warning",
                                lifespan="off", access_log=False)
        server = uvicorn.Server(config)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                server.run()
            except (OSError, SystemExit) as exc:  # a busy port: reported by start(), not as a stray thread error
                failure.append(exc)

        self._thread = threading.Thread(target=run, name="sentinel-media", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                reason = f" ({failure[0]})" if failure and str(failure[0]) else ""
                raise OSError(f"The media server could not listen on {self.host}:{self.port}{reason}.")
            time.sleep(0.02)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        self._server = server
        log.info("media server on %s:%s", self.host, self.port)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(5)
            self._server = None
