"""The connection pool: embedded server or DATABASE_URL, migrated, with pgvector registered."""

from __future__ import annotations

import atexit
import logging
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from db.embedded import EmbeddedDatabaseError, start_embedded
from db import vector_index
from db.migrate import migrate
from settings import Settings

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached; the message says what to do."""


def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server under SENTINEL_DATA_DIR."""
    if settings.database_url:
        return settings.database_url
    try:
        return start_embedded(settings.pg_dir)
    except EmbeddedDatabaseError as exc:
        raise DatabaseUnavailable(str(exc)) from exc


def _configure(conn: psycopg.Connection) -> None:
    from pgvector.psycopg import register_vector

    register_vector(conn)
    conn.commit()


class Database:
    """A migrated PostgreSQL with a pool whose connections know the vector type."""

    def __init__(self, settings: Settings, *, max_size: int = 8) -> None:
        self.settings = settings
        self.url = resolve_url(settings)
        try:
            with psycopg.connect(self.url, connect_timeout=5) as conn:
                migrate(conn, embedding_dim=settings.embedding_dim)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = ("start the PostgreSQL server DATABASE_URL names, or unset DATABASE_URL to use the embedded one"
                     if settings.database_url else f"its log is in {settings.pg_dir / 'log'}")
            raise DatabaseUnavailable(f"The database is not running ({first}); {where}.") from exc
        self.pool = ConnectionPool(
            self.url,
            min_size=1,
            max_size=max_size,
            kwargs={"row_factory": dict_row, "connect_timeout": 5},
            configure=_configure,
            check=ConnectionPool.check_connection,
            open=True,
            name="sentinel",
        )
        with self.pool.connection() as conn:
            vector_index.ensure(conn, memory_cap_mb=self.settings.index_build_memory_mb)
        # close before pgserver's own exit hook stops the server (atexit runs last-in first-out)
        atexit.register(self.close)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block is one transaction (commit on success)."""
        with self.pool.connection() as conn:
            yield conn

    def close(self) -> None:
        if not self.pool.closed:
            self.pool.close()
