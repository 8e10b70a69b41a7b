"""The database layer against a real embedded PostgreSQL + pgvector."""

from __future__ import annotations

import uuid

import numpy as np
import psycopg
import pytest

from db.migrate import migrate
from db.repos import chat, events, jobs, runs, summaries, videos, zones


def test_migrations_run_twice_without_change(database, settings):
    def schema(conn):
        return conn.execute(
            """SELECT table_name, column_name, data_type FROM information_schema.columns
               WHERE table_schema = 'public' ORDER BY 1, 2"""
        ).fetchall()

    with psycopg.connect(database.url) as conn:
        before = schema(conn)
        assert migrate(conn, embedding_dim=settings.embedding_dim) == []
        assert migrate(conn, embedding_dim=settings.embedding_dim) == []
        assert schema(conn) == before
        applied = conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0]
        assert applied >= 1


def test_schema_has_vector_column_hnsw_and_gin(database, settings):
    with database.connection() as conn:
        col = conn.execute(
            """SELECT format_type(a.atttypid, a.atttypmod) AS t FROM pg_attribute a
               WHERE a.attrelid = 'events'::regclass AND a.attname = 'embedding'"""
        ).fetchone()
        assert col["t"] == f"vector({settings.embedding_dim})"
        idx = {r["indexname"]: r["indexdef"] for r in conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'").fetchall()}
        assert any("USING hnsw" in d and "vector_cosine_ops" in d for d in idx.values())
        # migration 003's denser graph, and the repair definition builds the same one
        assert "m='32'" in idx["events_embedding_hnsw_idx"]
        assert "ef_construction='128'" in idx["events_embedding_hnsw_idx"]
        from db import vector_index

        assert "m = 32, ef_construction = 128" in vector_index.DEFINITION
        assert any("USING gin" in d and "search_tsv" in d for d in idx.values())
        assert any("(video_id, t_start)" in d for d in idx.values())


def test_embedded_server_keeps_data_across_stop_and_start(tmp_path):
    from db.embedded import start_embedded, stop_embedded

    pg_dir = tmp_path / "pg"
    url = start_embedded(pg_dir)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('survives')")
    stop_embedded(pg_dir)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2).close()
    url = start_embedded(pg_dir)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == "survives"
    stop_embedded(pg_dir)


def _video(conn, name="v.mp4", sha=None):
    return videos.insert(conn, name=name, original_filename=name, sha256=sha or uuid.uuid4().hex,
                         storage_key=f"videos/{name}", size_bytes=10, meta={"duration_s": 60.0, "fps": 10.0})


def test_job_queue_claims_once_and_retries_to_a_limit(clean_db):
    with clean_db.connection() as conn:
        v = _video(conn)
        job = jobs.submit(conn, video_id=v["id"], max_attempts=2)
        assert jobs.submit(conn, video_id=v["id"])["id"] == job["id"]  # idempotent
    with clean_db.connection() as a, clean_db.connection() as b:
        first = jobs.claim(a, owner="w1", lease_s=30)
        assert first["id"] == job["id"]
        assert jobs.claim(b, owner="w2", lease_s=30) is None  # locked / taken
    with clean_db.connection() as conn:
        assert jobs.fail(conn, job_id=job["id"], error="boom", owner="w1")["status"] == "queued"
        again = jobs.claim(conn, owner="w2", lease_s=30)
        assert again["attempts"] == 2
        assert jobs.fail(conn, job_id=job["id"], error="boom again", owner="w2")["status"] == "failed"
        assert jobs.claim(conn, owner="w3", lease_s=30) is None


def test_expired_lease_is_claimed_again_and_cancel_stops_renewal(clean_db):
    with clean_db.connection() as conn:
        v = _video(conn)
        job = jobs.submit(conn, video_id=v["id"])
        jobs.claim(conn, owner="dead", lease_s=0.01)
    import time

    time.sleep(0.05)
    with clean_db.connection() as conn:
        taken = jobs.claim(conn, owner="alive", lease_s=30)
        assert taken["id"] == job["id"] and taken["lease_owner"] == "alive"
        assert not jobs.renew(conn, job_id=job["id"], owner="dead", lease_s=30)
        assert jobs.cancel(conn, job["id"])["status"] == "cancelled"
        assert not jobs.renew(conn, job_id=job["id"], owner="alive", lease_s=30)


def test_write_run_replaces_the_previous_run_atomically(clean_db, settings):
    dim = settings.embedding_dim
    with clean_db.connection() as conn:
        v = _video(conn)

    def payload(n):
        tracks = [{"track_number": 1, "class_name": "person", "t_first": 0, "t_last": 5}]
        evs = [{"track_number": 1, "type": "walking", "t_start": float(i), "t_end": float(i) + 1, "frame": i,
                "bbox": [0, 0, 10, 10], "zone": "left", "confidence": 0.9, "description": f"walk {i}",
                "keywords": ["walking"], "embedding": np.random.rand(dim)} for i in range(n)]
        stats = [{"t": 0.0, "frame": 0, "counts": {"person": 1}}]
        return tracks, evs, stats

    with clean_db.connection() as conn:
        t, e, s = payload(3)
        runs.write_run(conn, video_id=v["id"], run_id=uuid.uuid4(), tracks=t, events=e, frame_stats=s)
    with clean_db.connection() as conn:
        assert len(events.list_events(conn, video_id=v["id"])) == 3
    # a crash in the middle of the next run leaves the first run intact
    t, e, s = payload(2)
    e[1]["type"] = None  # violates NOT NULL half-way through the write
    with pytest.raises(psycopg.errors.NotNullViolation):
        with clean_db.connection() as conn:
            runs.write_run(conn, video_id=v["id"], run_id=uuid.uuid4(), tracks=t, events=e, frame_stats=s)
    with clean_db.connection() as conn:
        assert [r["description"] for r in events.list_events(conn, video_id=v["id"])] == ["walk 0", "walk 1", "walk 2"]
        t, e, s = payload(2)
        runs.write_run(conn, video_id=v["id"], run_id=uuid.uuid4(), tracks=t, events=e, frame_stats=s)
    with clean_db.connection() as conn:
        assert len(events.list_events(conn, video_id=v["id"])) == 2
        assert conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 2
        assert conn.execute("SELECT count(*) AS n FROM tracks").fetchone()["n"] == 1


def test_bulk_event_runs_replace_each_videos_run_and_nothing_else(clean_db, settings):
    dim = settings.embedding_dim
    with clean_db.connection() as conn:
        a, b, untouched = _video(conn, "a.mp4"), _video(conn, "b.mp4"), _video(conn, "c.mp4")
        for v in (a, untouched):  # an analysed run with a track and frame stats
            runs.write_run(conn, video_id=v["id"], run_id=uuid.uuid4(),
                           tracks=[{"track_number": 1, "class_name": "person", "t_first": 0, "t_last": 1}],
                           events=[{"track_number": 1, "type": "walking", "t_start": 0.0, "t_end": 1.0,
                                    "description": "old", "embedding": np.random.rand(dim)}],
                           frame_stats=[{"t": 0.0, "frame": 0, "counts": {"person": 1}}])

    def ev(text, t, vector=True):
        return {"type": "theft", "t_start": t, "t_end": t + 2, "zone": "shelf", "confidence": 1.0,
                "attributes": {"source": "uca"}, "description": text, "keywords": ["theft"],
                "embedding": np.random.rand(dim) if vector else None}

    with clean_db.connection() as conn:
        written = runs.write_event_runs(conn, [(a["id"], uuid.uuid4(), [ev("a1", 1.0), ev("a2", 5.0, False)]),
                                               (b["id"], uuid.uuid4(), [ev("b1", 3.0)])])
        assert written == 3 and runs.write_event_runs(conn, []) == 0
    with clean_db.connection() as conn:
        described = {v["name"]: sorted(r["description"] for r in events.list_events(conn, video_id=v["id"]))
                     for v in (a, b, untouched)}
        assert described == {"a.mp4": ["a1", "a2"], "b.mp4": ["b1"], "c.mp4": ["old"]}
        per_video = {r["video_id"]: r["n"] for r in conn.execute(
            "SELECT video_id, count(*) AS n FROM tracks GROUP BY video_id").fetchall()}
        assert per_video == {untouched["id"]: 1}  # a's old run went with its track
        row = conn.execute("SELECT attributes, keywords, embedding IS NULL AS empty FROM events "
                           "WHERE description = 'a2'").fetchone()
        assert row["attributes"] == {"source": "uca"} and row["keywords"] == ["theft"] and row["empty"]
    # a bad row rolls the whole batch back: the videos keep their runs
    with pytest.raises(psycopg.errors.NotNullViolation):
        with clean_db.connection() as conn:
            runs.write_event_runs(conn, [(b["id"], uuid.uuid4(), [ev("b2", 1.0)]),
                                         (a["id"], uuid.uuid4(), [{**ev("bad", 2.0), "type": None}])])
    with clean_db.connection() as conn:
        assert [r["description"] for r in events.list_events(conn, video_id=b["id"])] == ["b1"]


def test_event_filters_and_other_repositories(clean_db):
    with clean_db.connection() as conn:
        v = _video(conn, "shop.mp4")
        runs.write_run(conn, video_id=v["id"], run_id=uuid.uuid4(), tracks=[], frame_stats=[], events=[
            {"type": "theft", "t_start": 200.0, "t_end": 210.0, "zone": "exit", "confidence": 0.8,
             "attributes": {"gender": "male"}, "description": "a man leaves with a bottle"},
            {"type": "walking", "t_start": 10.0, "t_end": 20.0, "zone": "left", "confidence": 0.6,
             "attributes": {"gender": "female"}, "description": "a woman walks"},
        ])
        assert [e["type"] for e in events.list_events(conn, t_from=180, t_to=300)] == ["theft"]
        assert [e["type"] for e in events.list_events(conn, attributes={"gender": "female"})] == ["walking"]
        assert events.counts_by_type(conn) == {"theft": 1, "walking": 1}
        assert videos.find(conn, "shop.mp4")["id"] == v["id"]
        assert videos.find(conn, "SHOP.MP4")["id"] == v["id"]  # names match in any case
        assert videos.find(conn, str(v["id"]))["id"] == v["id"]
        assert videos.get(conn, "not-a-uuid") is None
        zones.upsert(conn, name="till", kind="checkout", polygon=[[0, 0], [1, 0], [1, 1]], video_id=v["id"])
        assert [z["name"] for z in zones.for_video(conn, v["id"])] == ["till"]
        assert summaries.set_status(conn, v["id"], "completed", text="ok")["text"] == "ok"
        s = chat.create_session(conn)
        chat.add_turn(conn, session_id=s["id"], question="q", answer="a", filters={"types": ["theft"]},
                      search_method="hybrid", cited_event_ids=[1], result_count=1, latency_ms=3.0)
        assert chat.turns(conn, s["id"])[0]["filters"] == {"types": ["theft"]}
        assert chat.rename_session(conn, s["id"], "Thefts")["title"] == "Thefts"
        assert videos.delete(conn, v["id"]) is not None
        assert conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 0
