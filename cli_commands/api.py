"""`sentinel api`: serve the HTTP API (the api package) locally with uvicorn."""

from __future__ import annotations

import sys


def register(sub) -> None:
    s = sub.add_parser("api", help="serve the HTTP API with uvicorn (docs at /docs)",
                       description="Serve the HTTP API. Queued analyses need a worker: run `sentinel worker` "
                                   "beside it (or use SENTINEL_RUNNER=modal).")
    s.add_argument("--host", default="127.0.0.1",
                   help="address to bind; anything but 127.0.0.1 needs SENTINEL_API_TOKEN")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    s.set_defaults(func=cmd_api)


def cmd_api(args) -> int:
    import uvicorn

    from api import check_bind, create_app
    from api.app import open_for_requests
    from api.server import uvicorn_config
    from bootstrap import get_app

    app = get_app()
    token = app.settings.api_token.get_secret_value() if app.settings.api_token else None
    check_bind(args.host, token)
    open_for_requests(app)  # start (or join) the database and migrate; requests wait a few seconds for it at most
    app.store.check()
    where = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{args.port}"
    print(f"Sentinel API on {where} (docs at {where}/docs)"
          + ("" if token else "  (no SENTINEL_API_TOKEN: open to this machine only)"), file=sys.stderr, flush=True)
    # keep-alive, request-head deadline and head size: api/server.py; slow bodies and upload slots: api/guard.py
    config = uvicorn_config(create_app(app, token=token), host=args.host, port=args.port, log_level=args.log_level)
    uvicorn.Server(config).run()
    return 0
