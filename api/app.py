"""Build the FastAPI app: its routers, the query check every route runs, and the error handlers."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from api.deps import single_valued_query
from api.errors import install_error_handlers
from api.guard import RequestGuard
from api.media import router as media_router
from api.routers import alerts, ask, cameras, counts, events, health, summaries, videos, zones
from bootstrap import App, get_app
from db.url_signing import UrlSigner

API_VERSION = "1.0.0"
FROM_SETTINGS: Any = object()  # create_app(token=...) default: read SENTINEL_API_TOKEN


def open_for_requests(app_instance: App) -> None:
    """Start (or join) the database now, and let API requests wait SENTINEL_API_DB_TIMEOUT_S for a connection.

    The pool's own wait (30 s) suits the worker and the CLI; a request in front of a client is better
    answered 503 in a few seconds while the database is down. `sentinel api` calls this before serving.
    """
    database = app_instance.db
    database.pool.timeout = min(database.pool.timeout, app_instance.settings.api_db_timeout_s)


def create_app(app_instance: App | None = None, *, token: str | None = FROM_SETTINGS) -> FastAPI:
    """The FastAPI app over `app_instance` (the process-wide App when None).

    Args:
        app_instance: the App whose database, store and runner the routes use.
        token: the bearer token every route but /health requires; by default SENTINEL_API_TOKEN.
            None (or empty) means no authentication, which `check_bind` allows on 127.0.0.1 only.

    Returns:
        The FastAPI app, with OpenAPI docs at /docs and the schema at /openapi.json.
    """
    if token is FROM_SETTINGS:
        settings = app_instance.settings if app_instance is not None else get_app().settings
        token = settings.api_token.get_secret_value() if settings.api_token else None
    api = FastAPI(
        title="Sentinel API",
        version=API_VERSION,
        summary="CCTV video of unmanned stores: upload, analyse, search and ask.",
        description="Every route except /health needs `Authorization: Bearer <SENTINEL_API_TOKEN>`. "
                    "Errors are `{\"error\": {\"code\", \"message\"}}`.",
        dependencies=[Depends(single_valued_query)],
    )
    api.state.sentinel = app_instance
    api.state.api_token = token or None
    api.state.media_signer = UrlSigner()  # folder-store links (api/links.py) die with the process
    install_error_handlers(api)
    api.add_middleware(RequestGuard, api=api)  # the token and body limits, before any route reads a body
    # this order is the order of the paths in the OpenAPI document
    for module in (videos, zones, counts, cameras, events, summaries, ask, alerts, health):
        api.include_router(module.router)
    api.include_router(media_router)  # signed folder-store links; not in the document
    return api
