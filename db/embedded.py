"""The embedded PostgreSQL 16 + pgvector server (PyPI `pgserver`), shared by every local process.

pgserver keeps a list of the processes using the server in the data folder and stops the server
when the last one exits. A process killed without running its exit hooks (kill -9, or a signal
re-raised with its default action) would stay on that list for ever and keep the server up, so
dead processes are struck off it at every start and exit, and a stale or foreign postmaster.pid
is cleared before the server starts again.
"""

from __future__ import annotations

import atexit
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

_servers: dict[Path, object] = {}


class EmbeddedDatabaseError(RuntimeError):
    """The embedded server could not start; the message says why and what to do."""


def start_embedded(pg_dir: Path) -> str:
    """Start (or join) the server whose data lives in `pg_dir`; return its connection URI."""
    import warnings

    # pgserver falls back to /tmp/runtime-<uid> for its lock when XDG_RUNTIME_DIR is unset; that is fine
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver
    from pgserver.postgres_server import PostgresServer

    pg_dir = pg_dir.expanduser().resolve()
    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    if pg_dir not in _servers:
        log.info("starting embedded PostgreSQL in %s", pg_dir)
        with PostgresServer._lock:  # the lock pgserver itself takes around starts and stops
            prune_dead_handles(pg_dir)
            clear_stale_postmaster(pg_dir)
        try:
            _servers[pg_dir] = pgserver.get_server(pg_dir, cleanup_mode="stop")
        except Exception as exc:  # pgserver says AssertionError or CalledProcessError; say something useful
            raise EmbeddedDatabaseError(
                f"The embedded database in {pg_dir} did not start ({type(exc).__name__}: {exc}); see "
                f"{pg_dir / 'log'}, or set DATABASE_URL to use another PostgreSQL.") from exc
        # registered after pgserver's own hook, so it runs first (atexit is last-in first-out)
        atexit.register(_prune_at_exit, pg_dir)
    return _servers[pg_dir].get_uri()


def stop_embedded(pg_dir: Path) -> None:
    """Release this process's handle (the server stops when no process holds one)."""
    server = _servers.pop(pg_dir.expanduser().resolve(), None)
    if server is not None:
        prune_dead_handles(pg_dir.expanduser().resolve())
        server.cleanup()


def prune_dead_handles(pg_dir: Path) -> list[int]:
    """Strike processes that no longer exist off pgserver's list of users; returns the pids removed."""
    import psutil

    path = pg_dir / ".handle_pids.json"
    if not path.exists():
        return []
    try:
        pids = [int(p) for p in json.loads(path.read_text())]
    except (ValueError, TypeError):
        pids = []
    dead = [p for p in pids if not psutil.pid_exists(p) or psutil.Process(p).status() == psutil.STATUS_ZOMBIE]
    if dead:
        path.write_text(json.dumps([p for p in pids if p not in dead]))
        log.info("embedded PostgreSQL: %d process(es) that died without letting go were removed: %s",
                 len(dead), dead)
    return dead


def clear_stale_postmaster(pg_dir: Path) -> bool:
    """Remove a postmaster.pid whose process is gone or is not this folder's postgres (a reused pid)."""
    import psutil

    pid_file = pg_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        proc = psutil.Process(pid)
        if proc.status() != psutil.STATUS_ZOMBIE and "postgres" in proc.name():
            return False  # a live server: join it
    except (ValueError, IndexError, psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    pid_file.unlink(missing_ok=True)
    log.info("embedded PostgreSQL: removed a stale %s", pid_file)
    return True


def _prune_at_exit(pg_dir: Path) -> None:
    try:
        from pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            prune_dead_handles(pg_dir)
    except Exception:  # exit hooks must not raise; the next start prunes again
        log.debug("could not prune embedded PostgreSQL handles", exc_info=True)
