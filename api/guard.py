"""A pure ASGI guard in front of the routes: the token before any body byte, and bounded bodies.

FastAPI reads and parses a route's body before its dependencies run, so a token dependency alone
lets an anonymous client make the server read (and parse) a body of any size. The guard runs
first, on the raw ASGI messages:

- a protected path (`/v1/...`) without the API token is answered 401 before a byte of the body
  is read, and the connection is closed rather than drained;
- every body but a video upload's multipart is limited to JSON_BODY_LIMIT: 413 at once when
  Content-Length says more, or as soon as the streamed bytes pass it (an upload's multipart is
  counted by its route against SENTINEL_MAX_UPLOAD_MB);
- a body that stalls (no byte for SENTINEL_BODY_IDLE_TIMEOUT_S) is answered 408, which frees the
  worker thread an upload holds while it waits for the next chunk;
- at most SENTINEL_MAX_CONCURRENT_UPLOADS uploads run at once (each holds one of anyio's 40
  worker threads while it streams); one more is answered 429 at once, so uploads can never take
  every thread and /health, /v1/videos and /v1/ask keep answering.

Example:
    api.add_middleware(RequestGuard, api=api)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio
from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import UNAUTHORIZED, bearer_matches
from api.errors import BodyIdle, BodyTooLarge, error_response
from api.uploads import JSON_BODY_LIMIT

if TYPE_CHECKING:
    from fastapi import FastAPI

PROTECTED_PREFIX = "/v1/"
UPLOAD_PATH = "/v1/videos"
RETRY_UPLOAD_AFTER_S = 10


def json_too_large(limit: int = JSON_BODY_LIMIT) -> str:
    return f"A request body is limited to {limit // 1024} KB; only a video upload may be larger."


class RequestGuard:
    """The checks every request passes before a route sees it (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self.uploads = 0  # uploads in flight; only the event loop's thread changes it

    def _settings(self):
        from bootstrap import get_app

        return (self.api.state.sentinel or get_app()).settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = _route_path(scope)
        has_body = _has_body(headers)
        close = {"Connection": "close"} if has_body else {}
        if path.startswith(PROTECTED_PREFIX) and not bearer_matches(headers.get("authorization"),
                                                                    self.api.state.api_token):
            await error_response(401, "unauthorized", UNAUTHORIZED,
                                 {"WWW-Authenticate": "Bearer", **close})(scope, receive, send)
            return
        is_upload = scope["method"] == "POST" and path.rstrip("/") == UPLOAD_PATH
        media_type, _ = parse_options_header(headers.get("content-type"))
        limit = None if is_upload and media_type == b"multipart/form-data" else JSON_BODY_LIMIT
        if limit is not None and _declared_length(headers) > limit:
            await error_response(413, BodyTooLarge.code, json_too_large(limit), close)(scope, receive, send)
            return
        settings = self._settings()
        guarded = _guarded(receive, limit, settings.body_idle_timeout_s) if has_body else receive
        if not is_upload:
            await self.app(scope, guarded, send)
            return
        if self.uploads >= settings.max_concurrent_uploads:
            message = (f"{settings.max_concurrent_uploads} uploads are already running "
                       f"(SENTINEL_MAX_CONCURRENT_UPLOADS); try again in {RETRY_UPLOAD_AFTER_S} s.")
            await error_response(429, "too_many_uploads", message,
                                 {"Retry-After": str(RETRY_UPLOAD_AFTER_S), **close})(scope, receive, send)
            return
        self.uploads += 1
        try:
            await self.app(scope, guarded, send)
        finally:
            self.uploads -= 1


def _guarded(receive: Receive, limit: int | None, idle_s: float) -> Receive:
    """`receive` that raises BodyIdle when no body byte comes for `idle_s`, and BodyTooLarge past `limit`.

    Once the body is complete, later calls (a response waiting for the disconnect) pass straight through.
    """
    received, complete = 0, False

    async def guarded() -> Message:
        nonlocal received, complete
        if complete:
            return await receive()
        try:
            with anyio.fail_after(idle_s):
                message = await receive()
        except TimeoutError:
            raise BodyIdle(idle_s) from None
        if message["type"] != "http.request" or not message.get("more_body", False):
            complete = True
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if limit is not None and received > limit:
                raise BodyTooLarge(json_too_large(limit))
        return message

    return guarded


def _route_path(scope: Scope) -> str:
    """The path the routes match (without the root path a proxy mounts the API under)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _has_body(headers: Headers) -> bool:
    return _declared_length(headers) > 0 or "chunked" in headers.get("transfer-encoding", "").lower()


def _declared_length(headers: Headers) -> int:
    try:
        return int(headers.get("content-length", "0"))
    except ValueError:  # h11 refuses such a request before it gets here; other servers may not
        return 0
