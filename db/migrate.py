"""Ordered SQL migrations, each applied once in its own transaction, after CREATE EXTENSION vector."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg

log = logging.getLogger(__name__)


class PgvectorMissing(RuntimeError):
    """The server has no pgvector extension."""


def migration_files() -> list[tuple[str, str]]:
    """(name, sql) of every migration, in file-name order."""
    folder = resources.files("db") / "migrations"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(name, (folder / name).read_text()) for name in names]


def ensure_vector_extension(conn: psycopg.Connection) -> None:
    """Create pgvector, or fail with one clear message if the server lacks it."""
    available = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'").fetchone()
    if not available:
        raise PgvectorMissing(
            "The PostgreSQL server at DATABASE_URL has no pgvector extension; install pgvector "
            "(https://github.com/pgvector/pgvector) or unset DATABASE_URL to use the embedded server."
        )
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def migrate(conn: psycopg.Connection, *, embedding_dim: int) -> list[str]:
    """Apply the migrations not yet applied; return their names."""
    if not conn.autocommit:
        conn.commit()  # start from a clean slate so each block below really commits
    with conn.transaction():
        # one migrator at a time across processes (app, worker and CLI may start together)
        conn.execute("SELECT pg_advisory_xact_lock(4242)")
        ensure_vector_extension(conn)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
    applied: list[str] = []
    for name, sql in migration_files():
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(4242)")
            done = conn.execute("SELECT 1 FROM schema_migrations WHERE name = %s", (name,)).fetchone()
            if done:
                continue
            # the dimension is an int from settings, never user text
            conn.execute(sql.replace("{embedding_dim}", str(int(embedding_dim))))
            conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
            log.info("applied migration %s", name)
    return applied
