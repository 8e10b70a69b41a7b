"""The events' HNSW index: deferred during bulk loads, rebuilt afterwards, repaired at start-up.

Growing an HNSW graph row by row is the slow part of writing events (about 5 ms a row here,
against 0.1 ms for everything else), while building it once over the whole table takes about
0.4 ms a row with a parallel worker. So a load that at least doubles the table drops the index
first and builds it again at the end, failure or not. Meanwhile searches take the exact path.

Example:
    >>> with deferred_vector_index(app.db, adding=23_542) as deferred:
    ...     load_everything()
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from contextlib import contextmanager
from typing import Any, ContextManager, Iterator, Protocol

import psycopg


class ConnectionSource(Protocol):
    """What a bulk load needs of `db.database.Database` (named structurally: the database imports this module)."""

    settings: Any

    def connection(self) -> ContextManager[psycopg.Connection]: ...

log = logging.getLogger(__name__)

NAME = "events_embedding_hnsw_idx"
# the graph of migration 003 (which only drops the old one): built at start-up, and after bulk loads
DEFINITION = (f"CREATE INDEX IF NOT EXISTS {NAME} ON events USING hnsw (embedding vector_cosine_ops)"
              " WITH (m = 32, ef_construction = 128)")
MIN_DEFERRED_ROWS = 1000  # below this, inserting into the index costs less than a rebuild's fixed cost
BULK_LOAD_LOCK = 4243  # advisory lock a bulk load holds while the index is intentionally absent


def current_definition(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (NAME,)).fetchone()
    return row["indexdef"] if row else None


def graph_memory_mb(rows: int, dim: int, m: int) -> int:
    """Megabytes pgvector's in-memory HNSW build needs for `rows` vectors (it spills and slows ~10x beyond)."""
    per_row = dim * 4 + 2 * m * 16 + 256  # the vector, 2m layer-0 neighbours, element and upper layers
    return math.ceil(rows * per_row * 1.25 / 2**20)


def build_memory_mb(conn: psycopg.Connection, definition: str, cap_mb: int) -> int:
    """maintenance_work_mem for this build: at least 1 GB, the whole graph if `cap_mb` allows."""
    row = conn.execute(
        """SELECT (SELECT count(*) FROM events) AS rows, atttypmod AS dim FROM pg_attribute
           WHERE attrelid = 'events'::regclass AND attname = 'embedding'""").fetchone()
    found = re.search(r"\bm\s*=\s*'?(\d+)", definition)
    need = graph_memory_mb(int(row["rows"]), max(1, int(row["dim"])), int(found.group(1)) if found else 16)
    return max(1024, min(need, cap_mb))


def build(conn: psycopg.Connection, definition: str = DEFINITION, *, memory_cap_mb: int = 4096) -> float:
    """Build the index (if missing) with every core; returns seconds. Writers wait, readers do not."""
    began = time.perf_counter()
    spilled: list[str] = []

    def notice(diag: psycopg.errors.Diagnostic) -> None:
        if "no longer fits" in (diag.message_primary or ""):  # pgvector's notice when the graph spills
            spilled.append(diag.message_primary)

    conn.add_notice_handler(notice)
    try:
        with conn.transaction():
            memory = build_memory_mb(conn, definition, memory_cap_mb)
            conn.execute(f"SET LOCAL maintenance_work_mem = '{memory}MB'")  # the graph fits: one pass, no spill
            conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 1) - 1)}")
            conn.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                         if "IF NOT EXISTS" not in definition else definition)
    finally:
        conn.remove_notice_handler(notice)
    if spilled:
        log.warning("the HNSW build outgrew %d MB of memory and went on disk (%s): raise "
                    "SENTINEL_INDEX_BUILD_MEMORY_MB for faster rebuilds", memory, spilled[0])
    conn.execute("ANALYZE events")
    return time.perf_counter() - began


def ensure(conn: psycopg.Connection, *, memory_cap_mb: int = 4096) -> bool:
    """Build the index if it is missing (migration 003 drops it; so does a bulk load that died); True if built."""
    if current_definition(conn) is not None:
        return False
    if not conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS free", (BULK_LOAD_LOCK,)).fetchone()["free"]:
        return False  # a live bulk load dropped it and will build it
    building = conn.execute("SELECT 1 FROM pg_stat_progress_create_index WHERE relid = 'events'::regclass").fetchone()
    if building:
        return False  # someone is building it right now (a rebuild, a REINDEX): its index is not visible yet
    log.info("the events vector index is missing (a new schema version, or an interrupted bulk load): building it")
    build(conn, memory_cap_mb=memory_cap_mb)
    return True


@contextmanager
def deferred_vector_index(db: ConnectionSource, *, adding: int) -> Iterator[dict]:
    """Drop the HNSW index while `adding` rows go in, if that at least doubles the table; rebuild after.

    Yields a dict that ends up as {"deferred": bool, "index_s": seconds spent rebuilding}.
    """
    report = {"deferred": False, "index_s": 0.0}
    with db.connection() as conn:
        have = conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"]
        definition = current_definition(conn)
    if definition is None or adding < max(MIN_DEFERRED_ROWS, have):
        yield report
        return
    with db.connection() as guard:
        guard.autocommit = True  # the session lock below outlives transactions
        if not guard.execute("SELECT pg_try_advisory_lock(%s) AS got", (BULK_LOAD_LOCK,)).fetchone()["got"]:
            yield report  # another bulk load has the index down already; just insert
            return
        try:
            with guard.transaction():
                guard.execute("SET LOCAL lock_timeout = '10s'")  # never queue forever behind a long reader
                guard.execute(f"DROP INDEX IF EXISTS {NAME}")
            report["deferred"] = True
            log.info("bulk load of %d rows into %d: vector index dropped, rebuilt at the end", adding, have)
            try:
                yield report
            finally:
                cap = db.settings.index_build_memory_mb
                report["index_s"] = round(build(guard, definition, memory_cap_mb=cap), 3)
                log.info("vector index rebuilt in %.1f s", report["index_s"])
        finally:
            guard.execute("SELECT pg_advisory_unlock(%s)", (BULK_LOAD_LOCK,))
            guard.autocommit = False  # back to the pool as it came
