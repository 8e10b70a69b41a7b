"""A pure ASGI guard in front of the routes: the token before any body byte, and bounded bodies.

FastAPI reads and parses a route's body before its dependencies run, so a token dependency alone
lets an anonymous client make the server read (and parse) a body of any size. The guard runs
first, on the raw ASGI messages:

- a protected path (`/v1/...`) without the API token is answered 401 before a byte of the body
  is read, and the connection is closed rather than drained;
- every body but a video upload's multipart is limited to JSON_BODY_LIMIT: 413 at once when
  Content-Length says more, or as soon as the streamed bytes pass it (an upload's multipart is
  counted by its route against SENTINEL_MAX_UPLOAD_MB).

Example:
    api.add_middleware(RequestGuard, api=api)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from python_multipart.multipart import parse_options_header
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import UNAUTHORIZED, bearer_matches
from api.errors import BodyTooLarge, error_response
from api.uploads import JSON_BODY_LIMIT

if TYPE_CHECKING:
    from fastapi import FastAPI

PROTECTED_PREFIX = "/v1/"
UPLOAD_PATH = "/v1/videos"


def json_too_large(limit: int = JSON_BODY_LIMIT) -> str:
    return f"A request body is limited to {limit // 1024} KB; only a video upload may be larger."


class RequestGuard:
    """The checks every request passes before a route sees it (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, api: FastAPI) -> None:
        self.app = app
        self.api = api

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
        await self.app(scope, _counted(receive, limit) if limit is not None and has_body else receive, send)


def _counted(receive: Receive, limit: int) -> Receive:
    """`receive` that raises BodyTooLarge as soon as the body passes `limit` bytes."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(json_too_large(limit))
        return message

    return counted


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
