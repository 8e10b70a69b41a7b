"""The shareable HTTP API: videos, events, questions, summaries and health over one FastAPI app.

The same app is served locally by `sentinel api` (uvicorn) and on Modal by `modal_app.web`
(`modal deploy modal_app.py`). Build it with `create_app(app_instance, token=...)`; the routes
reach the database, store and runner through the `App` given here (a FastAPI dependency), so
tests pass their own.

Every route except `/health` needs `Authorization: Bearer <SENTINEL_API_TOKEN>`. Errors are
`{"error": {"code", "message"}}` with a one-sentence message and never a stack trace.

Layout: `app` builds the app, `routers/` holds one module per resource, `schemas` the models,
`errors` the error shape and handlers, `deps` the App and token dependencies, `guard` the ASGI
checks before any route (the token before the body, body limits, stalled bodies, upload slots),
`uploads` the streaming body readers, `links` the presigned object URLs and `server` the uvicorn
settings of `sentinel api` (keep-alive, request-head deadline).

Example:
    from bootstrap import get_app
    uvicorn.run(create_app(get_app(), token="s3cret"), host="127.0.0.1", port=8000)
"""

from __future__ import annotations

from api.app import create_app
from api.deps import check_bind
from api.errors import InsecureBind
from api.schemas import SummaryOut

__all__ = ["InsecureBind", "SummaryOut", "check_bind", "create_app"]
