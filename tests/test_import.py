"""UCA import (library and `sentinel import-events`), and the `events` / `videos` commands."""

from __future__ import annotations

import json

import pytest

from db.repos import events, videos
from rag.importers import UcaFormatError, import_uca, load_uca, retime_uca
from tests.conftest import run_cli

TINY_UCA = {
    "Shoplifting901_x264": {
        "duration": 40.0,
        "timestamps": [[0.0, 4.5], [5.0, 9.0], [5.0, 12.0], [12.2, 20.0], [21.0, 21.0]],
        "sentences": [
            "A man in a black jacket walked into the store",
            "The man looked at the goods",
            "He hid a bottle under his coat without paying",
            "A woman picked up a box from the shelf",
            "The man ran out of the door",
        ],
    },
    "Normal_Videos_901_x264": {
        "duration": 15.0,
        "timestamps": [[1.0, 3.0], [1.0, 3.0]],
        "sentences": ["A car drove along the road", "A bus drove along the road"],
    },
}


@pytest.fixture()
def uca_file(tmp_path):
    path = tmp_path / "tiny_uca.json"
    path.write_text(json.dumps(TINY_UCA))
    return path


@pytest.fixture(scope="session")
def embeddings():
    from core.runtime.embeddings import get_embeddings

    return get_embeddings()


def _imported(db) -> dict[str, list[dict]]:
    with db.connection() as conn:
        rows = events.list_events(conn, limit=100)
    by_video: dict[str, list[dict]] = {}
    for row in rows:
        by_video.setdefault(row["video_name"], []).append(row)
    return by_video


def test_import_makes_media_less_videos_and_typed_events(clean_db, uca_file, embeddings):
    seen: list[tuple[int, int]] = []
    summary = import_uca(clean_db, uca_file, embeddings=embeddings, batch=3,
                         progress=lambda done, total: seen.append((done, total)))
    assert summary["videos"] == 2 and summary["events"] == 7
    assert summary["events_per_s"] > 0 and summary["elapsed_s"] > 0
    assert seen[0] == (0, 7) and seen[-1] == (7, 7)

    with clean_db.connection() as conn:
        shop = videos.find(conn, "Shoplifting901_x264")
        assert shop["sha256"] is None and shop["storage_key"] is None
        assert shop["status"] == "completed" and shop["source"] == "import:uca"
        assert shop["duration_s"] == 40.0
        embedded = conn.execute("SELECT count(*) AS n FROM events WHERE embedding IS NOT NULL").fetchone()["n"]
    assert embedded == 7

    by_video = _imported(clean_db)
    shop_events = sorted(by_video["Shoplifting901_x264"], key=lambda r: r["attributes"]["sentence_index"])
    assert [r["type"] for r in shop_events] == [
        "walking",  # "walked"
        "theft",  # no behaviour named: the Shoplifting category's type
        "theft",  # "hid ... without paying"
        "picking",  # "picked up"
        "anomaly",  # "ran"
    ]
    assert [r["description"] for r in shop_events] == TINY_UCA["Shoplifting901_x264"]["sentences"]
    first = shop_events[0]
    assert first["attributes"]["gender"] == "male" and first["attributes"]["clothing_colour"] == "black"
    assert first["attributes"]["category"] == "Shoplifting" and first["confidence"] == 1.0
    # the category typed sentence 1 only: the answer marks it as such
    assert [r["attributes"].get("type_from") for r in shop_events] == [None, "category", None, None, None]
    assert "shoplifting" in first["keywords"]
    assert shop_events[3]["zone"] == "shelf"
    # two theft sentences start together: both kept, the second a millisecond later
    assert [round(r["t_start"], 3) for r in shop_events[1:3]] == [5.0, 5.001]
    assert shop_events[4]["t_end"] >= shop_events[4]["t_start"]
    # a normal video's sentences naming no behaviour, at the same time, both kept
    assert sorted(r["type"] for r in by_video["Normal_Videos_901_x264"]) == ["other", "other"]


def test_reimport_replaces_instead_of_adding(clean_db, uca_file, embeddings):
    import_uca(clean_db, uca_file, embeddings=embeddings)
    first_ids = {r["id"] for rows in _imported(clean_db).values() for r in rows}
    again = import_uca(clean_db, [uca_file, uca_file], embeddings=embeddings)  # a key seen twice counts once
    assert again["videos"] == 2 and again["events"] == 7
    rows = [r for rows in _imported(clean_db).values() for r in rows]
    assert len(rows) == 7 and not first_ids & {r["id"] for r in rows}
    with clean_db.connection() as conn:
        assert len(videos.list_videos(conn)) == 2
        assert conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == 7  # old runs gone


def test_reimport_keeps_each_video_row_and_refreshes_it(clean_db, uca_file, embeddings):
    import_uca(clean_db, uca_file, embeddings=embeddings)
    with clean_db.connection() as conn:
        before = videos.find(conn, "Shoplifting901_x264")
        videos.update(conn, before["id"], status="failed", error="crashed", progress=10.0, duration_s=1.0)
    import_uca(clean_db, uca_file, embeddings=embeddings)
    with clean_db.connection() as conn:
        after = videos.find(conn, "Shoplifting901_x264")
        # an uploaded video may share the name: it has media (a sha256) and is never touched
        uploaded = videos.insert(conn, name="Shoplifting901_x264", original_filename="Shoplifting901_x264.mp4",
                                 sha256="ab" * 32, storage_key="videos/x.mp4", size_bytes=10)
        ids = videos.upsert_media_less(conn, [("Shoplifting901_x264", 41.0), ("Shoplifting901_x264", 42.0)],
                                       source="import:uca")
        assert ids == {"Shoplifting901_x264": before["id"]}  # a name given twice: one row, last duration
        assert videos.get(conn, before["id"])["duration_s"] == 42.0
        assert videos.get(conn, uploaded["id"])["status"] == uploaded["status"]
    assert after["id"] == before["id"] and after["created_at"] == before["created_at"]
    assert (after["status"], after["error"], after["progress"], after["duration_s"]) == ("completed", None, 100.0, 40.0)


def test_a_failure_midway_keeps_whole_videos_only(clean_db, uca_file, embeddings):
    from langchain_core.embeddings import Embeddings

    class FailingSecondBatch(Embeddings):
        calls = 0

        def embed_documents(self, texts):
            FailingSecondBatch.calls += 1
            if FailingSecondBatch.calls > 1:
                raise RuntimeError("embedding server went away")
            return embeddings.embed_documents(texts)

        def embed_query(self, text):
            return embeddings.embed_query(text)

    with pytest.raises(RuntimeError, match="went away"):
        import_uca(clean_db, uca_file, embeddings=FailingSecondBatch(), batch=5)  # one video per batch
    by_video = _imported(clean_db)
    assert set(by_video) == {"Shoplifting901_x264"} and len(by_video["Shoplifting901_x264"]) == 5
    with clean_db.connection() as conn:
        assert [v["name"] for v in videos.list_videos(conn)] == ["Shoplifting901_x264"]


def _index_definition(db) -> str | None:
    from db import vector_index

    with db.connection() as conn:
        return vector_index.current_definition(conn)


def test_a_bulk_load_rebuilds_the_vector_index_once_at_the_end(clean_db, uca_file, embeddings, monkeypatch):
    from db import vector_index

    before = _index_definition(clean_db)
    assert before and "hnsw" in before
    monkeypatch.setattr(vector_index, "MIN_DEFERRED_ROWS", 1)
    seen: list[str | None] = []
    summary = import_uca(clean_db, uca_file, embeddings=embeddings, batch=3,
                         progress=lambda done, total: seen.append(_index_definition(clean_db)))
    assert summary["index_deferred"] is True and summary["index_s"] > 0
    assert seen[-1] is None  # absent while the rows went in
    assert _index_definition(clean_db) == before  # the same index, built after the load
    with clean_db.connection() as conn:
        conn.execute("SET LOCAL enable_seqscan = off")  # 7 rows: make the planner show it can use the index
        plan = "\n".join(r["QUERY PLAN"] for r in conn.execute(
            "EXPLAIN SELECT id FROM events ORDER BY embedding <=> (SELECT embedding FROM events LIMIT 1) LIMIT 5"))
    assert vector_index.NAME in plan
    # re-importing the same 7 rows into a table of 7 is a bulk load too; an 8th row table would not be
    again = import_uca(clean_db, uca_file, embeddings=embeddings)
    assert again["index_deferred"] is True and _index_definition(clean_db) == before


def test_a_failed_bulk_load_still_rebuilds_the_index(clean_db, uca_file, embeddings, monkeypatch):
    from langchain_core.embeddings import Embeddings

    from db import vector_index

    class Broken(Embeddings):
        def embed_documents(self, texts):
            raise RuntimeError("out of memory")

        def embed_query(self, text):
            raise RuntimeError("out of memory")

    monkeypatch.setattr(vector_index, "MIN_DEFERRED_ROWS", 1)
    with pytest.raises(RuntimeError, match="out of memory"):
        import_uca(clean_db, uca_file, embeddings=Broken())
    assert _index_definition(clean_db) is not None


def test_startup_repairs_an_index_a_dead_load_left_dropped(clean_db):
    from db import vector_index

    with clean_db.connection() as conn:
        conn.execute(f"DROP INDEX {vector_index.NAME}")
    with clean_db.connection() as holder:  # a live bulk load holds the lock: leave its index alone
        holder.execute("SELECT pg_advisory_lock(%s)", (vector_index.BULK_LOAD_LOCK,))
        with clean_db.connection() as conn:
            assert vector_index.ensure(conn) is False
        holder.execute("SELECT pg_advisory_unlock(%s)", (vector_index.BULK_LOAD_LOCK,))
    with clean_db.connection() as conn:
        assert vector_index.ensure(conn) is True
        assert vector_index.ensure(conn) is False
    assert "hnsw" in _index_definition(clean_db)


def test_startup_leaves_an_index_being_built_alone(clean_db, monkeypatch):
    from db import vector_index

    with clean_db.connection() as conn:
        conn.execute(f"DROP INDEX {vector_index.NAME}")
    real_execute = type(conn).execute

    def pretend_a_build_runs(self, query, params=None, **kwargs):
        if "pg_stat_progress_create_index" in str(query):  # another session's CREATE INDEX is running
            query = "SELECT 1 AS building"
        return real_execute(self, query, params, **kwargs)

    with clean_db.connection() as conn:
        monkeypatch.setattr(type(conn), "execute", pretend_a_build_runs)
        assert vector_index.ensure(conn) is False
        monkeypatch.undo()
        assert vector_index.ensure(conn) is True


def test_imported_events_are_searchable(clean_db, uca_file, embeddings):
    from rag.retriever import HybridRetriever

    import_uca(clean_db, uca_file, embeddings=embeddings)
    docs = HybridRetriever(db=clean_db, embeddings=embeddings, k=3).invoke("someone concealed a bottle in a coat")
    assert docs[0].page_content == "He hid a bottle under his coat without paying"


@pytest.mark.parametrize("content, message", [
    ("not json", "is not valid JSON"),
    ("[1, 2]", "expected an object of videos"),
    ('{"v1": {"timestamps": [[0, 1]], "sentences": []}}', "has 1 timestamps for 0 sentences"),
    ('{"v1": {"timestamps": [[0]], "sentences": ["a"]}}', r"is not \[start, end\]"),
    ('{"v1": {"duration": 3}}', "expected duration, timestamps and sentences"),
])
def test_malformed_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UcaFormatError, match=message):
        load_uca(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_uca(tmp_path / "missing.json")


def test_retime_reuses_sentences_at_new_times(uca_file):
    items = load_uca(uca_file)
    flat = [s for video in items for s in video.sentences]
    made = list(retime_uca(items, copies=6, seed=3, min_duration=30.0, max_duration=90.0))
    assert made == list(retime_uca(items, copies=6, seed=3, min_duration=30.0, max_duration=90.0))
    assert len({video.key for video, _ in made}) == 6
    for video, rows in made:
        assert video.key.split("~")[0] in {v.key for v in items}
        assert [flat[i] for i in rows] == list(video.sentences)
        assert 30.0 <= video.duration <= 90.0
        assert all(0.0 <= start <= end <= video.duration + 0.1 for start, end in video.spans)
        assert list(video.spans) == sorted(video.spans)


# ---------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------

def test_import_events_cli_is_idempotent_and_lists(clean_db, uca_file):
    first = run_cli("import-events", str(uca_file), "--format", "uca", "--json")
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout)
    assert set(summary) == {"videos", "events", "elapsed_s", "events_per_s"}
    assert (summary["videos"], summary["events"]) == (2, 7)
    assert "imported 7/7 events" in first.stderr

    again = run_cli("import-events", str(uca_file), "--json")
    assert again.returncode == 0, again.stderr
    assert (json.loads(again.stdout)["videos"], json.loads(again.stdout)["events"]) == (2, 7)

    listed = json.loads(run_cli("videos", "--json").stdout)
    assert sorted((v["name"], v["event_count"], v["source"]) for v in listed) == [
        ("Normal_Videos_901_x264", 2, "import:uca"), ("Shoplifting901_x264", 5, "import:uca")]

    shop = json.loads(run_cli("events", "--video", "Shoplifting901_x264", "--json").stdout)
    assert len(shop) == 5 and {e["video_name"] for e in shop} == {"Shoplifting901_x264"}
    assert "embedding" not in shop[0]
    theft = json.loads(run_cli("events", "--type", "theft", "--from", "6", "--to", "0:10", "--json").stdout)
    assert [e["description"] for e in theft] == ["The man looked at the goods",
                                                 "He hid a bottle under his coat without paying"]
    assert json.loads(run_cli("events", "--type", "collapse", "--json").stdout) == []

    table = run_cli("events", "--video", "Normal_Videos_901_x264")
    assert table.returncode == 0 and "A car drove along the road" in table.stdout
    assert "Shoplifting901_x264" in run_cli("videos").stdout


def test_cli_errors_are_one_clear_line(clean_db, tmp_path):
    missing = run_cli("events", "--video", "no-such-video")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "sentinel: No video matches 'no-such-video'; `sentinel videos` lists them."

    bad = tmp_path / "bad.json"
    bad.write_text('{"v1": {"timestamps": [[0, 1]], "sentences": []}}')
    result = run_cli("import-events", str(bad), "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "has 1 timestamps for 0 sentences" in json.loads(result.stdout)["error"]
    assert len([line for line in result.stderr.splitlines() if line.startswith("sentinel:")]) == 1

    result = run_cli("import-events", str(tmp_path / "nope.json"))
    assert result.returncode == 1 and "does not exist" in result.stderr


def test_index_builds_get_the_memory_their_graph_needs(clean_db, monkeypatch, caplog):
    from db import vector_index

    assert vector_index.graph_memory_mb(23_542, 384, 32) < 1024 < vector_index.graph_memory_mb(1_000_000, 384, 32)
    assert 3000 < vector_index.graph_memory_mb(1_000_000, 384, 32) < 4096  # the default cap holds 1M events
    with clean_db.connection() as conn:
        video = videos.insert(conn, name="many", original_filename="many", sha256=None, storage_key=None,
                              size_bytes=0)
        conn.execute(
            """INSERT INTO events (video_id, run_id, type, t_start, t_end, description, embedding)
               SELECT %s, gen_random_uuid(), 'walking', g, g, 'a person walks',
                      array(SELECT random() FROM generate_series(1, 384) WHERE g > 0)::vector
               FROM generate_series(1, 1500) AS g""", (video["id"],))
        assert vector_index.build_memory_mb(conn, vector_index.DEFINITION, 4096) == 1024  # small: the 1 GB floor
        monkeypatch.setattr(vector_index, "graph_memory_mb", lambda rows, dim, m: rows * dim * m)
        assert vector_index.build_memory_mb(conn, vector_index.DEFINITION, 2048) == 2048  # big: up to the cap
        assert vector_index.build_memory_mb(conn, "... WITH (m='16')", 10**9) == 1500 * 384 * 16
        conn.execute(f"DROP INDEX {vector_index.NAME}")
    # a cap too small for the graph: pgvector spills to disk, still builds, and the log says what to raise
    monkeypatch.setattr(vector_index, "build_memory_mb", lambda conn, definition, cap: 1)
    with clean_db.connection() as conn, caplog.at_level("WARNING", logger="db.vector_index"):
        vector_index.build(conn)
        assert vector_index.current_definition(conn) is not None
    assert "SENTINEL_INDEX_BUILD_MEMORY_MB" in caplog.text
