"""The embedded PostgreSQL 16 + pgvector server (PyPI `pgserver`), shared by every local process."""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


def start_embedded(pg_dir: Path) -> str:
    """Start (or join) the server whose data lives in `pg_dir`; return its connection URI.

    pgserver keeps a list of the processes using the server and stops it when the last
    one exits, so the app, the worker and the CLI share one server and one data folder.
    """
    import warnings

    # pgserver falls back to /tmp/runtime-<uid> for its lock when XDG_RUNTIME_DIR is unset; that is fine
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    pg_dir = pg_dir.expanduser().resolve()
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    if pg_dir not in _servers:
        log.info("starting embedded PostgreSQL in %s", pg_dir)
        _servers[pg_dir] = pgserver.get_server(pg_dir, cleanup_mode="stop")
    return _servers[pg_dir].get_uri()


def stop_embedded(pg_dir: Path) -> None:
    """Release this process's handle (the server stops when no process holds one)."""
    server = _servers.pop(pg_dir.expanduser().resolve(), None)
    if server is not None:
        server.cleanup()
