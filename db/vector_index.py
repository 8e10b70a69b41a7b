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
import os
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

import psycopg

if TYPE_CHECKING:
    from db.database import Database

log = logging.getLogger(__name__)

NAME = "events_embedding_hnsw_idx"
# the definition of migration 003, for repairing a database whose bulk load died before its rebuild
DEFINITION = (f"CREATE INDEX IF NOT EXISTS {NAME} ON events USING hnsw (embedding vector_cosine_ops)"
              " WITH (m = 32, ef_construction = 128)")
MIN_DEFERRED_ROWS = 1000  # below this, inserting into the index costs less than a rebuild's fixed cost
BULK_LOAD_LOCK = 4243  # advisory lock a bulk load holds while the index is intentionally absent


def current_definition(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", (NAME,)).fetchone()
    return row["indexdef"] if row else None


def build(conn: psycopg.Connection, definition: str = DEFINITION, *, memory: str = "1GB") -> float:
    """Build the index (if missing) with every core; returns seconds. Writers wait, readers do not."""
    began = time.perf_counter()
    with conn.transaction():
        conn.execute(f"SET LOCAL maintenance_work_mem = '{memory}'")  # the graph fits: one pass, no spill
        conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {max(0, (os.cpu_count() or 1) - 1)}")
        conn.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1)
                     if "IF NOT EXISTS" not in definition else definition)
    conn.execute("ANALYZE events")
    return time.perf_counter() - began


def ensure(conn: psycopg.Connection) -> bool:
    """Recreate the index if a bulk load died between dropping and rebuilding it; True if it did."""
    if current_definition(conn) is not None:
        return False
    if not conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS free", (BULK_LOAD_LOCK,)).fetchone()["free"]:
        return False  # a live bulk load dropped it and will build it
    building = conn.execute("SELECT 1 FROM pg_stat_progress_create_index WHERE relid = 'events'::regclass").fetchone()
    if building:
        return False  # someone is building it right now (a rebuild, a REINDEX): its index is not visible yet
    log.warning("the events vector index is missing (an interrupted bulk load?): rebuilding it")
    build(conn)
    return True


@contextmanager
def deferred_vector_index(db: Database, *, adding: int) -> Iterator[dict]:
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
                report["index_s"] = round(build(guard, definition), 3)
                log.info("vector index rebuilt in %.1f s", report["index_s"])
        finally:
            guard.execute("SELECT pg_advisory_unlock(%s)", (BULK_LOAD_LOCK,))
            guard.autocommit = False  # back to the pool as it came
