"""What the routes depend on: the App, the bearer-token check, single query values and the video addressed.

The App comes from `create_app(app_instance)` through `app.state`, so tests pass their own;
`check_bind` is the same token rule applied before serving: no token, no address but this machine's.
"""

from __future__ import annotations

import hmac
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError, InsecureBind
from bootstrap import App, get_app
from services.videos import get_video

MULTI_VALUED_QUERY = frozenset({"type"})  # the only query parameter that may repeat
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def get_sentinel(request: Request) -> App:
    """The App whose database, store and runner the routes use."""
    return request.app.state.sentinel or get_app()


Sentinel = Annotated[App, Depends(get_sentinel)]
_bearer = HTTPBearer(auto_error=False, description="SENTINEL_API_TOKEN", bearerFormat="opaque token")


UNAUTHORIZED = "Send the API token as 'Authorization: Bearer <SENTINEL_API_TOKEN>'."


def bearer_matches(authorization: str | None, expected: str | None) -> bool:
    """True when the API has no token (local only) or the `Authorization: Bearer` header carries it."""
    if expected is None:
        return True
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        given = ""
    # constant time, so response timing does not reveal how much of the token matched
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def token_matches(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """True when the API has no token (local only) or the bearer token equals it."""
    given = f"Bearer {credentials.credentials}" if credentials is not None else None
    return bearer_matches(given, request.app.state.api_token)


def require_token(request: Request,
                  credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Refuse the request with 401 unless it carries the API token (the guard already did, before the body)."""
    if not token_matches(request, credentials):
        raise ApiError(401, "unauthorized", UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})


AUTH = [Depends(require_token)]


def single_valued_query(request: Request) -> None:
    """422 for a scalar query parameter given twice, rather than silently using the last one."""
    seen: set[str] = set()
    for key, _ in request.query_params.multi_items():
        if key in seen and key not in MULTI_VALUED_QUERY:
            raise ApiError(422, "invalid_request", f"query.{key}: Given more than once; pass it once.")
        seen.add(key)


def check_bind(host: str, token: str | None) -> None:
    """Raise InsecureBind when asked to serve beyond this machine without a token."""
    if not token and host not in LOCAL_HOSTS:
        raise InsecureBind(f"Refusing to serve the API on {host} without a token: set SENTINEL_API_TOKEN, "
                           "or bind to 127.0.0.1.")


def video_or_404(app: App, video_id: UUID) -> dict:
    """The video's row; 404 when there is none."""
    row = get_video(app, video_id=video_id)
    if row is None:
        raise ApiError(404, "not_found", f"No video with id {video_id}; GET /v1/videos lists them.")
    return row
