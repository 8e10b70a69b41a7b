"""Hybrid retrieval against the real embedded Postgres + pgvector, with real MiniLM embeddings.

Covers LangChain's standard retriever suite, filters that really constrain the SQL on
both ranking paths (exact and HNSW), the pgvector 0.6.2 pitfall (a selective filter
under HNSW), inert SQL-injection attempts, reciprocal-rank-fusion ordering and the
windowing step.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from db.repos import runs, videos
from db.repos.search import SearchFilters, explain_hybrid_search, hybrid_search
from rag.query import QueryFilters
from rag.retriever import HybridRetriever, VideoNotFound, window_context

HNSW_INDEX = "events_embedding_hnsw_idx"


@pytest.fixture(scope="session")
def embeddings():
    from core.runtime.embeddings import get_embeddings

    return get_embeddings()


@lru_cache(maxsize=None)
def _vectors(texts: tuple[str, ...]) -> tuple:
    from core.runtime.embeddings import get_embeddings

    return tuple(get_embeddings().embed_documents(list(texts)))


def add_video(db, name: str, events: list[dict], *, duration: float = 600.0) -> uuid.UUID:
    """A media-less video with one run of `events` (dicts with description, type, t_start...)."""
    vectors = dict(zip(sorted({e["description"] for e in events}),
                       _vectors(tuple(sorted({e["description"] for e in events})))))
    rows = [{"track_number": e.get("track_number"), "type": e.get("type", "walking"),
             "t_start": e["t_start"], "t_end": e.get("t_end", e["t_start"] + 2.0), "zone": e.get("zone"),
             "confidence": e.get("confidence", 0.9), "attributes": e.get("attributes", {}),
             "description": e["description"], "keywords": [], "embedding": vectors[e["description"]]}
            for e in events]
    with db.connection() as conn:
        video = videos.insert(conn, name=name, original_filename=name, sha256=None, storage_key=None,
                              size_bytes=0, source="test", meta={"duration_s": duration})
        videos.update(conn, video["id"], status="completed")
        runs.write_run(conn, video_id=video["id"], run_id=uuid.uuid4(), tracks=[], events=rows, frame_stats=[])
    return video["id"]


STORE_SENTENCES = [
    "A person holding a bottle walked along the shelf",
    "A woman took a bottle of water from the fridge",
    "A man picked up a bottle and looked at the label",
    "A customer carried a bottle to the checkout",
    "A person put a bottle back on the shelf",
    "Someone dropped a glass bottle on the floor",
]


def seed_store(db, *, copies: int = 7) -> uuid.UUID:
    """42 ordinary store events in one video, enough for the standard suite's k values."""
    events = [{"description": text, "t_start": float(10 * (i * len(STORE_SENTENCES) + j))}
              for i in range(copies) for j, text in enumerate(STORE_SENTENCES)]
    return add_video(db, "store-cam-1", events)


# ---------------------------------------------------------------------------
# LangChain's standard retriever tests
# ---------------------------------------------------------------------------

# pytest-asyncio runs in strict mode, so the suite's one async test needs the mark; marking the
# inherited function itself keeps it the same object, as the suite's no-override check wants
pytest.mark.asyncio(RetrieversIntegrationTests.test_ainvoke_returns_documents)


class TestHybridRetrieverStandard(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _corpus(self, clean_db, embeddings):
        seed_store(clean_db)
        self._db, self._embeddings = clean_db, embeddings

    @property
    def retriever_constructor(self) -> type[HybridRetriever]:
        return HybridRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"db": self._db, "embeddings": self._embeddings, "k": 30}

    @property
    def retriever_query_example(self) -> str:
        return "a person holding a bottle"


def test_documents_carry_event_metadata_scores_and_embedding(clean_db, embeddings):
    video_id = seed_store(clean_db)
    docs = HybridRetriever(db=clean_db, embeddings=embeddings, k=5).invoke("a person holding a bottle")
    assert len(docs) == 5
    meta = docs[0].metadata
    assert docs[0].id == str(meta["event_id"])
    assert meta["video_id"] == str(video_id) and meta["video_name"] == "store-cam-1"
    for key in ("t_start", "t_end", "type", "zone", "confidence", "attributes", "highlight_key", "track_number"):
        assert key in meta
    assert set(meta["scores"]) == {"vector", "text", "rrf"}
    assert meta["search_method"] in ("hnsw", "exact")
    assert isinstance(meta["embedding"], list) and len(meta["embedding"]) == 384
    rrf = [d.metadata["scores"]["rrf"] for d in docs]
    assert rrf == sorted(rrf, reverse=True)


# ---------------------------------------------------------------------------
# Filters constrain the SQL, on both ranking paths
# ---------------------------------------------------------------------------

THEFT = "A man hid a bottle of whisky inside his jacket and walked out without paying"


@pytest.fixture()
def timed_corpus(clean_db):
    """One video with the same theft inside and outside minute 3-5, among other events."""
    events = [{"description": THEFT, "type": "theft", "t_start": t} for t in (30.0, 200.0, 420.0)]
    events += [{"description": text, "t_start": 100.0 + 40 * i} for i, text in enumerate(STORE_SENTENCES)]
    video_id = add_video(clean_db, "till-cam", events)
    return clean_db, video_id


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "hnsw"])
def test_time_window_is_never_left(timed_corpus, embeddings, exact):
    db, _ = timed_corpus
    vector = embeddings.embed_query("man hides whisky in his jacket")
    window = SearchFilters(t_from=180.0, t_to=300.0)
    with db.connection() as conn:
        rows = hybrid_search(conn, query_embedding=vector, query_text="whisky jacket", filters=window,
                             k=30, exact=exact)
        plan = explain_hybrid_search(conn, query_embedding=vector, query_text="whisky jacket",
                                     filters=window, k=30, exact=exact)
    assert rows.method == ("exact" if exact else "hnsw")
    assert {r["search_method"] for r in rows} == {rows.method}
    if exact:  # (on a table this small the planner may sort a sequential scan for the HNSW path too)
        assert HNSW_INDEX not in plan
    assert rows, "the event inside the window must be found"
    assert all(r["t_end"] >= 180.0 and r["t_start"] <= 300.0 for r in rows)
    assert [r["t_start"] for r in rows if r["description"] == THEFT] == [200.0]


@pytest.mark.parametrize("exact", [True, False], ids=["exact", "hnsw"])
def test_retriever_window_from_the_question(timed_corpus, embeddings, exact):
    db, _ = timed_corpus
    retriever = HybridRetriever(db=db, embeddings=embeddings, exact=exact)
    docs = retriever.invoke("did anyone steal whisky between minute 3 and 5?")
    assert [d.metadata["t_start"] for d in docs] == [200.0]
    assert docs[0].metadata["search_method"] == ("exact" if exact else "hnsw")
    assert docs[0].metadata["type"] == "theft"


def test_type_zone_confidence_and_facets_filter(clean_db, embeddings):
    add_video(clean_db, "cam-facets", [
        {"description": "A man in a red coat walked to the exit", "t_start": 1.0, "zone": "exit",
         "attributes": {"gender": "male", "clothing_colour": "red"}},
        {"description": "A woman in a red coat walked to the exit", "t_start": 5.0, "zone": "exit",
         "attributes": {"gender": "female", "clothing_colour": {"upper": "red"}}},
        {"description": "A person in a red coat walked to the exit", "t_start": 9.0, "zone": None,
         "attributes": {"gender": "unknown"}},
        {"description": "A man in a red coat walked to the checkout", "t_start": 13.0, "zone": "checkout",
         "attributes": {"gender": "male"}, "confidence": 0.2},
        {"description": "A man in a red coat sat on the floor", "t_start": 17.0, "type": "sitting",
         "attributes": {"gender": "male", "clothing_colour": "blue"}},
    ])
    vector = embeddings.embed_query("person in a red coat")

    def starts(**filters) -> list[float]:
        with clean_db.connection() as conn:
            rows = hybrid_search(conn, query_embedding=vector, query_text="", k=30, exact=True,
                                 filters=SearchFilters(**filters))
        return sorted(r["t_start"] for r in rows)

    assert starts(types=["sitting"]) == [17.0]
    # an event without a zone does not say where it was: kept
    assert starts(zones=["exit"]) == [1.0, 5.0, 9.0, 17.0]
    assert starts(min_confidence=0.5) == [1.0, 5.0, 9.0, 17.0]
    # facets: a known other value excludes, an unknown or missing one keeps
    assert starts(facets={"gender": ["male"]}) == [1.0, 9.0, 13.0, 17.0]
    assert starts(facets={"gender": ["female"], "colour": ["red"]}) == [5.0, 9.0]
    assert starts(attributes={"gender": "male"}) == [1.0, 13.0, 17.0]


def test_last_seconds_are_per_video(clean_db, embeddings):
    add_video(clean_db, "short", [{"description": STORE_SENTENCES[0], "t_start": t} for t in (5.0, 55.0)],
              duration=60.0)
    add_video(clean_db, "long", [{"description": STORE_SENTENCES[0], "t_start": t} for t in (55.0, 595.0)],
              duration=600.0)
    docs = HybridRetriever(db=clean_db, embeddings=embeddings).invoke("a bottle in the last 10 seconds")
    assert sorted((d.metadata["video_name"], d.metadata["t_start"]) for d in docs) == [
        ("long", 595.0), ("short", 55.0)]


# ---------------------------------------------------------------------------
# The pgvector 0.6.2 pitfall: a selective filter under HNSW
# ---------------------------------------------------------------------------

def test_one_video_among_many_is_found_exactly(clean_db, embeddings):
    # a busy camera whose events are all nearer the question than the quiet camera's
    busy = [{"description": text, "t_start": float(i)} for i, text in
            enumerate(["A man took a bottle of wine from the shelf",
                       "A man grabbed a bottle of wine from the shelf",
                       "A man picked up a wine bottle from the shelf"] * 150)]
    add_video(clean_db, "busy-cam", busy)
    quiet = add_video(clean_db, "quiet-cam", [
        {"description": "A woman sat on a bench reading a newspaper", "t_start": 12.0},
        {"description": "A woman lifted a jar of honey off a display", "t_start": 40.0},
    ])
    question = "a bottle of wine from the shelf"
    vector = embeddings.embed_query(question)
    scope = SearchFilters(video_ids=[quiet])
    with clean_db.connection() as conn:
        conn.execute("ANALYZE events")  # the planner's row count must be this table's, not an earlier test's
    with clean_db.connection() as conn:
        # HNSW returns about ef_search rows of the whole table, all from the busy camera
        broad = hybrid_search(conn, query_embedding=vector, query_text="", filters=scope, k=30,
                              ef_search=40, exact=False)
        auto = hybrid_search(conn, query_embedding=vector, query_text="", filters=scope, k=30, ef_search=40)
        plans = {exact: explain_hybrid_search(conn, query_embedding=vector, query_text="", filters=scope,
                                              k=30, ef_search=40, exact=exact) for exact in (True, False)}
    assert broad.method == "hnsw" and len(broad) < 2  # the pitfall, shown
    assert HNSW_INDEX in plans[False] and HNSW_INDEX not in plans[True]
    assert auto.method == "exact"
    assert sorted(r["t_start"] for r in auto) == [12.0, 40.0]

    retriever = HybridRetriever(db=clean_db, embeddings=embeddings, ef_search=40)
    docs = retriever.invoke(question, video="quiet-cam")
    assert {d.metadata["video_name"] for d in docs} == {"quiet-cam"} and len(docs) == 2
    assert docs[0].metadata["search_method"] == "exact"
    # named in the question, with the casing the rule parser drops
    add_video(clean_db, "Cam07_Front", [{"description": "A woman sat on a bench", "t_start": 3.0}])
    named = retriever.invoke("what happened in video Cam07_Front?")
    assert [d.metadata["video_name"] for d in named] == ["Cam07_Front"]


def test_broad_filter_widens_the_hnsw_beam(clean_db, embeddings):
    # a third of the rows are picking events: HNSW still serves, with a wider beam
    events = [{"description": text, "t_start": float(i), "type": "picking" if i % 3 == 0 else "walking"}
              for i, text in enumerate(STORE_SENTENCES * 20)]
    add_video(clean_db, "cam-beam", events)
    with clean_db.connection() as conn:
        conn.execute("ANALYZE events")
        vector = embeddings.embed_query("a man picked up a bottle")
        rows = hybrid_search(conn, query_embedding=vector, query_text="", k=10, ef_search=20, exact_max_rows=5,
                             filters=SearchFilters(types=["picking"]))
    assert rows.method == "hnsw" and rows.plan.ef_search > 20
    assert len(rows) == 10 and {r["type"] for r in rows} == {"picking"}


def test_unknown_video_scope(clean_db, embeddings):
    seed_store(clean_db)
    retriever = HybridRetriever(db=clean_db, embeddings=embeddings)
    with pytest.raises(VideoNotFound, match="No video matches 'nowhere-cam'"):
        retriever.invoke("a bottle", video="nowhere-cam")
    # a video the question names but nobody has: nothing, rather than other videos' events
    assert retriever.invoke("a bottle in video cam99.mp4") == []


# ---------------------------------------------------------------------------
# Questions are data, never SQL
# ---------------------------------------------------------------------------

HOSTILE = [
    "'; DROP TABLE events; --",
    "bottle'); DELETE FROM videos; --",
    "1' OR '1'='1",
    "%(q)s %s $1 $$; SELECT pg_sleep(5); $$",
    '"unterminated phrase -not or or & | ! <-> :*',
    "robert\x00'); TRUNCATE events; --",
    "bottle\\' ::vector <=> '[1,2,3]'",
]


@pytest.mark.parametrize("question", HOSTILE)
def test_sql_injection_is_inert(clean_db, embeddings, question):
    seed_store(clean_db)
    with clean_db.connection() as conn:
        before = conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"]
    for exact in (True, False, None):
        docs = HybridRetriever(db=clean_db, embeddings=embeddings, k=5, exact=exact).invoke(question)
        assert len(docs) == 5
    with clean_db.connection() as conn:
        assert conn.execute("SELECT to_regclass('events') IS NOT NULL AS ok").fetchone()["ok"]
        assert conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"] == before
        assert conn.execute("SELECT count(*) AS n FROM videos").fetchone()["n"] == 1


def test_hostile_explicit_filters_are_parameters(clean_db, embeddings):
    seed_store(clean_db)
    hostile = QueryFilters(event_types=[], zones=[], video=None, text="x'); DROP TABLE videos; --")
    docs = HybridRetriever(db=clean_db, embeddings=embeddings, k=3).invoke("ignored", filters=hostile)
    assert len(docs) == 3
    with clean_db.connection() as conn:
        rows = hybrid_search(conn, query_embedding=[0.0] * 384, query_text="a",
                             filters=SearchFilters(types=["walking' OR '1'='1"], zones=["'; --"]), k=5)
        assert rows == []
        assert conn.execute("SELECT count(*) AS n FROM videos").fetchone()["n"] == 1


# ---------------------------------------------------------------------------
# Reciprocal rank fusion
# ---------------------------------------------------------------------------

def test_event_matching_text_and_vector_ranks_first(clean_db, embeddings):
    add_video(clean_db, "back-door", [
        {"description": "A man forced the back door open with a crowbar", "t_start": 50.0},
        {"description": "A man forced the gate open with a metal bar", "t_start": 10.0},
        {"description": "A man broke the lock of the back entrance with a tool", "t_start": 20.0},
        {"description": "A crowbar lay on the counter next to the till", "t_start": 30.0},
        {"description": "A woman held the door open for a customer", "t_start": 40.0},
    ])
    docs = HybridRetriever(db=clean_db, embeddings=embeddings, k=5).invoke("crowbar door")
    top = docs[0].metadata
    assert docs[0].page_content == "A man forced the back door open with a crowbar"
    assert top["vector_rank"] is not None and top["text_rank"] == 1
    assert top["scores"]["rrf"] == pytest.approx(1 / (60 + top["vector_rank"]) + 1 / 61)
    # every other event is in at most one list, so it scores less
    assert all(d.metadata["scores"]["rrf"] < top["scores"]["rrf"] for d in docs[1:])


def test_a_vague_question_gets_the_incidents_among_many_routine_events(clean_db, embeddings):
    routine = [{"description": f"A person in grey stands still at the counter ({n})", "type": "standing",
                "t_start": float(n)} for n in range(40)]
    incidents = [{"description": "A person takes an item and hides it at the waist", "type": "theft",
                  "t_start": 63.0},
                 {"description": "A person reaches out to take something", "type": "picking", "t_start": 90.0},
                 {"description": "A person collapses to the floor", "type": "collapse", "t_start": 300.0}]
    add_video(clean_db, "counter", routine + incidents)
    retriever = HybridRetriever(db=clean_db, embeddings=embeddings, k=10)
    found = [d.metadata["type"] for d in retriever.invoke("what happened?")]
    assert set(found[:3]) == {"theft", "picking", "collapse"} and found.count("standing") == 7  # rerank orders
    # in a window, only what is in it
    window = [d.metadata["type"] for d in retriever.invoke("what happened between minute 1 and 2?")]
    assert sorted(window) == ["picking", "theft"]
    # a question with words to look for is ranked on them as before: no incidents pushed in
    asked = [d.metadata["type"] for d in retriever.invoke("who stood still at the counter?")]
    assert asked == ["standing"] * 10


# ---------------------------------------------------------------------------
# Windowing
# ---------------------------------------------------------------------------

def test_window_context_merges_overlaps_per_video(clean_db, embeddings):
    a = add_video(clean_db, "cam-a", [{"description": STORE_SENTENCES[i % 6], "t_start": t}
                                      for i, t in enumerate([0.0, 8.0, 14.0, 20.0, 60.0, 100.0])])
    add_video(clean_db, "cam-b", [{"description": STORE_SENTENCES[0], "t_start": 5.0}])
    retriever = HybridRetriever(db=clean_db, embeddings=embeddings, k=30)
    docs = retriever.invoke("a bottle", video="cam-a")
    by_start = {d.metadata["t_start"]: d for d in docs}
    hits = [by_start[20.0], by_start[8.0]]  # reranked order: not by time
    with clean_db.connection() as conn:
        context = window_context(conn, hits, window_s=5.0)
    assert [d.metadata["t_start"] for d in context] == [8.0, 14.0, 20.0]
    assert {d.metadata["video_id"] for d in context} == {str(a)}
    assert [d.metadata["is_hit"] for d in context] == [True, False, True]
    # [3, 15] and [15, 27] touch: one window
    assert all(d.metadata["window"] == [3.0, 27.0] for d in context)
    with clean_db.connection() as conn:
        assert window_context(conn, [], window_s=5.0) == []
