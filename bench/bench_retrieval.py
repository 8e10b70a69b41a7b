"""Retrieval benchmark on the UCA sentences: import speed, ask-path latency, HNSW recall, hit@5.

Never run by the tests. It works in a throwaway data folder (its own embedded Postgres):

1. imports every UCA split (1,854 videos, 23,542 sentences) with `rag.importers.import_uca`,
   embeddings included, and reports events/s;
2. times retrieve + rerank (the `HybridRetriever` and the offline reranker) over the
   questions of `bench/uca_questions.json`, and scores hit@5 against their hand-labelled
   sentences; then times the whole ask (`AskService`, default composer, turn saved);
3. measures HNSW recall@10 against exact search (unfiltered, distance-based so that
   identical vectors count as equals);
4. optionally (`--scale N`) grows the table to N events by re-timing the UCA sentences
   over synthetic videos (`rag.importers.retime_uca`), reusing the stored embeddings,
   loading with COPY and building the HNSW and GIN indexes after the load, then
   measures 2 and 3 again.

Usage:
    .venv/bin/python bench/bench_retrieval.py                  # 23.5k events
    .venv/bin/python bench/bench_retrieval.py --scale 1000000  # then 1M
    .venv/bin/python bench/bench_retrieval.py --data-dir /tmp/sentinel-bench --keep   # reuse later
    .venv/bin/python bench/bench_retrieval.py --data-dir /tmp/sentinel-bench --skip-import --scale 250000

Prints a markdown table and writes it to bench/results/retrieval.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UCA_DIR = Path(os.environ.get("SENTINEL_UCA_DIR", ROOT.parent / "shared" / "datasets" / "uca"))
UCA_FILES = ["UCFCrime_Train.json", "UCFCrime_Val.json", "UCFCrime_Test.json"]
QUESTIONS = ROOT / "bench" / "uca_questions.json"
RESULTS = ROOT / "bench" / "results" / "retrieval.md"

TARGETS = {"p95_small_ms": 150.0, "p95_large_ms": 300.0, "recall": 0.95, "import_eps": 300.0}


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100.0
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

def relevance_key(metadata: dict) -> tuple[str, int] | None:
    """(source video key, sentence index) of an imported or re-timed UCA event."""
    attributes = metadata.get("attributes") or {}
    if "sentence_index" not in attributes:
        return None
    return attributes.get("source_video") or metadata.get("video_name"), int(attributes["sentence_index"])


def forget_queries(embeddings) -> None:
    """Empty the app's query-vector cache, so that every timed question pays for its embedding."""
    # core.runtime.embeddings.QueryCachedEmbeddings keeps an lru_cache there
    cache = getattr(embeddings, "_query", None)
    if hasattr(cache, "cache_clear"):
        cache.cache_clear()


def measure_ask(app, questions: list[dict], *, repeat: int) -> dict:
    """Latency of retrieve + rerank per question, hit@5 and hit@30, and the paths taken."""
    from db.repos.search import hybrid_search
    from core.runtime.embeddings import get_embeddings
    from rag.models import get_reranker
    from rag.query import parse_question
    from rag.retriever import HybridRetriever, search_filters

    settings = app.settings
    retriever = HybridRetriever(db=app.db, embeddings=get_embeddings(settings), k=settings.retrieve_k,
                                ef_search=settings.ef_search)
    reranker = get_reranker(settings)
    for item in questions[:3]:  # warm-up: models, pool, caches
        reranker.rerank(item["question"], retriever.invoke(item["question"]), parse_question(item["question"]))

    total, retrieve, rerank, embed, sql = [], [], [], [], []
    hits5 = hits30 = 0
    distinct: list[int] = []  # different sentences among the candidates (re-timed copies repeat them)
    methods: Counter = Counter()
    misses: list[str] = []
    for round_ in range(repeat):
        for item in questions:
            question = item["question"]
            relevant = {(key, int(index)) for key, index in item["relevant"]}
            forget_queries(retriever.embeddings)  # cold, as a new question would be
            started = time.perf_counter()
            filters = parse_question(question)
            docs = retriever.invoke(question, filters=filters)
            retrieved = time.perf_counter()
            top = reranker.rerank(filters.text or question, docs, filters, k=settings.rerank_k)
            done = time.perf_counter()
            total.append((done - started) * 1000)
            retrieve.append((retrieved - started) * 1000)
            rerank.append((done - retrieved) * 1000)
            # the two parts of retrieval apart: the question's embedding, and the SQL alone
            began = time.perf_counter()
            vector = retriever.embeddings.embed_documents([filters.text or question])[0]  # uncached
            embedded = time.perf_counter()
            video_ids = [docs[0].metadata["video_id"]] if filters.video and docs else None
            with app.db.connection() as conn:
                hybrid_search(conn, query_embedding=vector, query_text=filters.text or question,
                              filters=search_filters(filters, video_ids), k=settings.retrieve_k,
                              ef_search=settings.ef_search)
            embed.append((embedded - began) * 1000)
            sql.append((time.perf_counter() - embedded) * 1000)
            if round_ == 0:
                methods[docs[0].metadata["search_method"] if docs else "none"] += 1
                found5 = bool(relevant & {relevance_key(d.metadata) for d in top})
                hits5 += found5
                hits30 += bool(relevant & {relevance_key(d.metadata) for d in docs})
                distinct.append(len({relevance_key(d.metadata) for d in docs}))
                if not found5:
                    misses.append(question)
    n = len(questions)
    return {
        "questions": n, "runs": len(total),
        "p50_ms": percentile(total, 50), "p95_ms": percentile(total, 95),
        "retrieve_p50_ms": percentile(retrieve, 50), "retrieve_p95_ms": percentile(retrieve, 95),
        "rerank_p50_ms": percentile(rerank, 50), "rerank_p95_ms": percentile(rerank, 95),
        "embed_p50_ms": percentile(embed, 50), "embed_p95_ms": percentile(embed, 95),
        "sql_p50_ms": percentile(sql, 50), "sql_p95_ms": percentile(sql, 95),
        "hit5": hits5 / n, "hit30": hits30 / n, "methods": dict(methods), "misses": misses,
        "distinct_candidates": statistics.fmean(distinct) if distinct else 0.0,
    }


def measure_whole_ask(app, questions: list[dict], *, repeat: int) -> dict:
    """Latency of the whole ask (AskService with the default composer): parse, retrieve, rerank,
    window, compose, check citations and save the turn, as `sentinel ask` runs it."""
    from rag.ask import get_ask_service

    service = get_ask_service(app)
    if service.chat_model is not None:
        raise SystemExit("unset SENTINEL_LLM: the whole-ask row measures the default composer")
    service.warm_up()
    totals: list[float] = []
    steps: dict[str, list[float]] = {}
    for _ in range(repeat):
        for item in questions:
            forget_queries(service.retriever.embeddings)  # cold, as a new question would be
            result = service.ask(item["question"])
            totals.append(result.timings_ms["total"])
            for name in ("window", "answer", "save"):
                steps.setdefault(name, []).append(result.timings_ms.get(name, 0.0))
    return {"p50_ms": percentile(totals, 50), "p95_ms": percentile(totals, 95),
            **{f"{name}_p50_ms": percentile(v, 50) for name, v in steps.items()},
            **{f"{name}_p95_ms": percentile(v, 95) for name, v in steps.items()}}


def measure_recall(app, questions: list[dict], *, samples: int, ef_values: list[int], k: int = 10,
                   seed: int = 0) -> dict:
    """HNSW recall@k against exact search, unfiltered, over question and sentence queries.

    An HNSW result counts when its distance is within the exact k-th distance, so rows
    with equal vectors (copies of one sentence) count as equals, whatever their ids.
    """
    import numpy as np

    from db.repos.search import hybrid_search
    from core.runtime.embeddings import get_embeddings
    from rag.query import parse_question

    embeddings = get_embeddings(app.settings)
    queries = [np.asarray(v, dtype=np.float32) for v in embeddings.embed_documents(
        [parse_question(q["question"]).text or q["question"] for q in questions])][:samples]
    with app.db.connection() as conn:
        # random stored sentences as queries too (their own row is the nearest)
        count = conn.execute("SELECT max(id) AS n FROM events").fetchone()["n"] or 0
        rng = random.Random(seed)
        ids = [rng.randint(1, count) for _ in range(max(0, samples - len(queries)))]
        rows = conn.execute("SELECT embedding FROM events WHERE id = ANY(%s) AND embedding IS NOT NULL",
                            (ids,)).fetchall()
    queries += [row["embedding"].to_numpy() for row in rows]
    recalls: dict[int, list[float]] = {ef: [] for ef in ef_values}
    # the same, by sentence: copies of one sentence are one answer, whichever copy is returned
    sentence_recalls: dict[int, list[float]] = {ef: [] for ef in ef_values}
    hnsw_ms: dict[int, list[float]] = {ef: [] for ef in ef_values}
    exact_ms: list[float] = []
    with app.db.connection() as conn:
        for vector in queries:
            began = time.perf_counter()
            exact = hybrid_search(conn, query_embedding=vector, query_text="", k=k, exact=True)
            exact_ms.append((time.perf_counter() - began) * 1000)
            if not exact:
                continue
            kth = max(1 - r["vector_score"] for r in exact)
            for ef in ef_values:
                began = time.perf_counter()
                approx = hybrid_search(conn, query_embedding=vector, query_text="", k=k, ef_search=ef, exact=False)
                hnsw_ms[ef].append((time.perf_counter() - began) * 1000)
                good = sum(1 for r in approx if 1 - r["vector_score"] <= kth + 1e-6)
                recalls[ef].append(min(good, len(exact)) / len(exact))
                wanted = {relevance_key(r) for r in exact}
                sentence_recalls[ef].append(len(wanted & {relevance_key(r) for r in approx}) / len(wanted))
    return {"queries": len(exact_ms), "exact_p50_ms": percentile(exact_ms, 50),
            "by_ef": {ef: {"recall": statistics.fmean(recalls[ef]) if recalls[ef] else float("nan"),
                           "sentence_recall": statistics.fmean(sentence_recalls[ef]) if sentence_recalls[ef]
                           else float("nan"),
                           "p50_ms": percentile(hnsw_ms[ef], 50)} for ef in ef_values}}


# ---------------------------------------------------------------------------
# Scale-up: re-timed sentences, loaded with COPY
# ---------------------------------------------------------------------------

INDEX_SQL = {
    "events_embedding_hnsw_idx":
        "CREATE INDEX events_embedding_hnsw_idx ON events USING hnsw (embedding vector_cosine_ops)",
    "events_search_tsv_idx": "CREATE INDEX events_search_tsv_idx ON events USING gin (search_tsv)",
}


def scale_up(app, target: int, *, splits: list[str] = UCA_FILES, seed: int = 0, jitter: float = 0.0,
             hnsw_with: str = "") -> dict:
    """Grow the events table to `target` rows with re-timed UCA sentences; return load timings.

    `jitter` adds Gaussian noise of that deviation per dimension to each copy's vector
    (then renormalises): 0.007 keeps a copy at cosine ~0.99 of its sentence, so the index
    holds distinct vectors as real footage would, instead of ~40 identical ones per sentence.
    """
    import numpy as np
    from psycopg.types.json import Jsonb

    from rag.importers import load_uca, retime_uca

    items = load_uca([UCA_DIR / name for name in splits])
    with app.db.connection() as conn:
        have = conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"]
        made = conn.execute("SELECT count(*) AS n FROM videos WHERE source = 'bench:retimed'").fetchone()["n"]
        # what each source sentence became on import: its type, zone, attributes... and vector
        stored = conn.execute(
            """SELECT v.name, (e.attributes->>'sentence_index')::int AS i, e.type, e.zone, e.attributes,
                      e.keywords, e.embedding
               FROM events e JOIN videos v ON v.id = e.video_id AND v.current_run_id = e.run_id
               WHERE v.source = 'import:uca'""").fetchall()
    facts = {(r["name"], r["i"]): r for r in stored}
    flat = [(video.key, i) for video in items for i in range(len(video.sentences))]
    missing = [key for key in flat if key not in facts]
    if missing:
        raise SystemExit(f"{len(missing)} UCA sentences are not imported (e.g. {missing[0]}); "
                         "run without --skip-import.")
    vectors = np.stack([facts[key]["embedding"].to_numpy() for key in flat])
    needed = target - have
    if needed <= 0:
        log(f"already {have} events; nothing to add")
        return {"added": 0, "copy_s": 0.0, "index_s": {}, "copy_rows_per_s": 0.0}
    mean_len = len(flat) / len(items)
    copies = int(needed / mean_len * 1.5) + 10  # the loop below stops once enough rows are planned
    log(f"adding about {needed} events over {copies} synthetic videos")

    started = time.perf_counter()
    synthetic, planned = [], 0
    for video, rows in retime_uca(items, copies=copies, seed=seed + made, start=made):
        if planned >= needed:
            break
        synthetic.append((uuid.uuid4(), uuid.uuid4(), video, rows))
        planned += len(rows)
    added = 0
    from db import vector_index

    guard = app.db.pool.getconn()  # other processes starting now must not rebuild the index mid-load
    guard.autocommit = True
    guard.execute("SELECT pg_advisory_lock(%s)", (vector_index.BULK_LOAD_LOCK,))
    with app.db.connection() as conn:
        for name in INDEX_SQL:  # cheaper to build once after the load than to grow per row
            conn.execute(f"DROP INDEX IF EXISTS {name}")
        with conn.cursor() as cur:
            # videos first: the events' foreign key is checked row by row
            with cur.copy("COPY videos (id, name, original_filename, duration_s, status, progress, source,"
                          " current_run_id) FROM STDIN") as copy:
                for video_id, run_id, video, _ in synthetic:
                    copy.write_row((video_id, video.key, video.key, video.duration, "completed", 100.0,
                                    "bench:retimed", run_id))
            with cur.copy("COPY events (video_id, run_id, type, t_start, t_end, zone, confidence, attributes,"
                          " description, keywords, embedding) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["uuid", "uuid", "text", "float8", "float8", "text", "float4", "jsonb", "text",
                                "text[]", "vector"])
                noise = np.random.default_rng(seed + made)
                for n, (video_id, run_id, video, rows) in enumerate(synthetic):
                    used: set[tuple[str, float]] = set()
                    for (start, end), sentence, row in zip(video.spans, video.sentences, rows):
                        key = flat[row]
                        fact = facts[key]
                        while (fact["type"], round(start, 6)) in used:  # the run's unique key
                            start += 0.001
                        used.add((fact["type"], round(start, 6)))
                        attributes = {**fact["attributes"], "source": "uca-retimed", "source_video": key[0]}
                        vector = vectors[row]
                        if jitter:
                            vector = vector + noise.normal(0.0, jitter, vector.shape).astype(np.float32)
                            vector /= np.linalg.norm(vector)
                        copy.write_row((video_id, run_id, fact["type"], start, max(end, start), fact["zone"],
                                        1.0, Jsonb(attributes), sentence, fact["keywords"], vector))
                        added += 1
                    if n % 5000 == 4999:
                        log(f"  {added} events copied")
        conn.commit()
    copy_s = time.perf_counter() - started
    log(f"copied {added} events in {copy_s:.0f} s; building indexes")

    index_s = {}
    with app.db.connection() as conn:
        conn.execute("SET maintenance_work_mem = '4GB'")  # the HNSW graph of 1M rows fits: one pass
        conn.execute("SET max_parallel_maintenance_workers = 1")
        conn.commit()
        for name, sql in INDEX_SQL.items():
            began = time.perf_counter()
            if name == "events_embedding_hnsw_idx" and hnsw_with:
                sql += f" WITH ({hnsw_with})"  # e.g. "m = 32, ef_construction = 128"
            conn.execute(sql)
            conn.commit()
            index_s[name] = time.perf_counter() - began
            log(f"  {name}: {index_s[name]:.0f} s")
        conn.execute("ANALYZE")
        conn.commit()
    guard.execute("SELECT pg_advisory_unlock(%s)", (vector_index.BULK_LOAD_LOCK,))
    guard.autocommit = False
    app.db.pool.putconn(guard)
    return {"added": added, "copy_s": copy_s, "copy_rows_per_s": added / copy_s if copy_s else 0.0,
            "index_s": index_s, "videos": len(synthetic), "jitter": jitter, "hnsw_with": hnsw_with,
            "copies_per_sentence": (have + added) / len(flat)}


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def report(runs: list[dict], imported: dict | None, scaled: dict | None, machine: str) -> str:
    head = "| metric | " + " | ".join(r["label"] for r in runs) + " | target |"
    rule = "|---|" + "---|" * len(runs) + "---|"
    lines = [head, rule]

    def row(name: str, values: list[str], target: str = "") -> None:
        lines.append(f"| {name} | " + " | ".join(values) + f" | {target} |")

    row("events in the table", [f"{r['events']:,}" for r in runs])
    row("load average while measuring (start/end mean)", [fmt(r["load"]) for r in runs])
    if imported:
        row("UCA import, events/s (embeddings included)",
            [fmt(imported["events_per_s"]) if i == 0 and not r.get("scaled") else "—" for i, r in enumerate(runs)],
            f">= {TARGETS['import_eps']:.0f}")
    if scaled and scaled.get("added"):
        row("bulk load of re-timed events (COPY), rows/s",
            [fmt(scaled["copy_rows_per_s"], 0) if r.get("scaled") else "—" for r in runs])
        row("HNSW index build after the load, s",
            [fmt(scaled["index_s"].get("events_embedding_hnsw_idx"), 0) if r.get("scaled") else "—" for r in runs])
    row("retrieve + rerank p50, ms", [fmt(r["ask"]["p50_ms"]) for r in runs])
    row("retrieve + rerank p95, ms", [fmt(r["ask"]["p95_ms"]) for r in runs],
        f"<= {TARGETS['p95_small_ms']:.0f} (23.5k), <= {TARGETS['p95_large_ms']:.0f} (1M)")
    row("retrieve p50 / p95, ms",
        [f"{fmt(r['ask']['retrieve_p50_ms'])} / {fmt(r['ask']['retrieve_p95_ms'])}" for r in runs])
    row("  of which: embed the question p50 / p95, ms",
        [f"{fmt(r['ask']['embed_p50_ms'])} / {fmt(r['ask']['embed_p95_ms'])}" for r in runs])
    row("  of which: the hybrid SQL statement p50 / p95, ms",
        [f"{fmt(r['ask']['sql_p50_ms'])} / {fmt(r['ask']['sql_p95_ms'])}" for r in runs])
    row("rerank p50 / p95, ms", [f"{fmt(r['ask']['rerank_p50_ms'])} / {fmt(r['ask']['rerank_p95_ms'])}" for r in runs])
    row("whole ask, default composer, p50 / p95, ms",
        [f"{fmt(r['whole']['p50_ms'])} / {fmt(r['whole']['p95_ms'])}" if r.get("whole") else "—" for r in runs])
    row("  of which: window / compose / save the turn p95, ms",
        [" / ".join(fmt(r["whole"][f"{n}_p95_ms"]) for n in ("window", "answer", "save")) if r.get("whole") else "—"
         for r in runs])
    row("ranking paths (first pass)",
        [", ".join(f"{k} {v}" for k, v in sorted(r["ask"]["methods"].items())) for r in runs])
    row("hit@5 after rerank", [f"{fmt(r['ask']['hit5'], 3)} ({round(r['ask']['hit5'] * r['ask']['questions'])}"
                               f"/{r['ask']['questions']})" for r in runs])
    row("hit@30 before rerank", [fmt(r["ask"]["hit30"], 3) for r in runs])
    row("distinct sentences among the 30 candidates (mean)", [fmt(r["ask"]["distinct_candidates"]) for r in runs])
    for ef in runs[0]["recall"]["by_ef"]:
        row(f"HNSW recall@10 vs exact, ef_search={ef}: rows / sentences",
            [f"{fmt(r['recall']['by_ef'][ef]['recall'], 3)} / {fmt(r['recall']['by_ef'][ef]['sentence_recall'], 3)}"
             for r in runs], f">= {TARGETS['recall']}")
    row("vector-only top-10 p50, ms: HNSW " + " / ".join(f"ef {ef}" for ef in runs[0]["recall"]["by_ef"])
        + " / exact", [" / ".join(fmt(v["p50_ms"]) for v in r["recall"]["by_ef"].values())
                       + f" / {fmt(r['recall']['exact_p50_ms'])}" for r in runs])
    row("recall queries (questions + random stored sentences)", [str(r["recall"]["queries"]) for r in runs])
    text = "\n".join(lines)
    notes = [
        "",
        f"Machine: {machine}. Latency = parse + embed the question (cold) + one hybrid SQL statement + offline rerank "
        "(whose question vector comes from the app's query cache); "
        f"{runs[0]['ask']['runs'] // max(runs[0]['ask']['questions'], 1)} passes over "
        f"{runs[0]['ask']['questions']} questions from bench/uca_questions.json.",
        "Whole ask = `AskService.ask` as `sentinel ask` runs it (cold question embedding, the count listing "
        "beside retrieval, windowing, the grounded composer, the citation check and saving the turn), same passes.",
        "Recall@10, rows: an HNSW row counts when its distance is within the exact 10th; sentences: the "
        "share of the exact top-10's sentences that HNSW returns (copies of one sentence are one answer).",
        "hit@5 counts a question when one of its hand-labelled UCA test sentences (or, at scale, a re-timed "
        "copy of it) is in the top 5; unlabelled but equally good sentences count as misses.",
    ]
    if imported:
        notes.append(f"Import: {imported['events']:,} events of {imported['videos']:,} videos in "
                     f"{imported['elapsed_s']:.0f} s; time in embedding {imported['embed_s']:.0f} s, "
                     f"in writing {imported['write_s']:.0f} s (they overlap)"
                     + (f"; the HNSW index was built once after the rows went in ({imported['index_s']:.0f} s, "
                        "included)." if imported.get("index_deferred") else "."))
    if scaled and scaled.get("added"):
        notes.append(f"Scale-up: {scaled['added']:,} re-timed UCA events over {scaled['videos']:,} synthetic videos, "
                     f"stored vectors reused with noise sigma {scaled['jitter']} per dimension (cosine ~0.99 to "
                     "the sentence; 0 would store identical vectors), loaded with COPY; the "
                     f"HNSW ({scaled['hnsw_with']}) and GIN indexes built after the load. Each sentence then "
                     f"has ~{scaled['copies_per_sentence']:.0f} near-identical copies, which crowd the 30 "
                     "candidates (see 'distinct sentences') and lower hit@5: a property of this synthetic "
                     "corpus, not of a real store's footage.")
    for r in runs:
        if r["ask"]["misses"]:
            notes.append(f"Misses at {r['label']}: " + "; ".join(f"\"{m}\"" for m in r["ask"]["misses"]))
    return text + "\n" + "\n".join(notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="data folder to use (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the data folder afterwards")
    parser.add_argument("--skip-import", action="store_true", help="reuse the UCA events already in --data-dir")
    parser.add_argument("--scale", type=int, default=0, help="grow the table to this many events, then measure again")
    parser.add_argument("--splits", default=",".join(UCA_FILES), help="UCA files to import (comma-separated)")
    parser.add_argument("--jitter", type=float, default=0.007,
                        help="noise per dimension on re-timed copies' vectors (0: exact duplicates)")
    parser.add_argument("--hnsw-with", default="m = 32, ef_construction = 128",
                        help="HNSW build options at scale (default: migration 003's)")
    parser.add_argument("--ef-sweep", default="100,200,400", help="ef_search values for recall@10")
    parser.add_argument("--scale-only", action="store_true", help="with --scale: measure only after scaling")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions for latency")
    parser.add_argument("--recall-queries", type=int, default=200, help="queries for recall@10 (fewer at scale)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--append", action="store_true", help="add this run's table to --out instead of replacing it")
    args = parser.parse_args(argv)
    if args.scale_only and not args.scale:
        parser.error("--scale-only needs --scale N")

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="sentinel-bench-"))
    os.environ["SENTINEL_DATA_DIR"] = str(data_dir)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("SENTINEL_LLM", None)  # the whole-ask row is the offline composer's
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    from bootstrap import get_app, reset_app
    from rag.importers import import_uca
    from core.runtime.embeddings import get_embeddings

    machine = f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at start"
    questions = json.loads(QUESTIONS.read_text())["questions"]
    ef_values = [int(v) for v in args.ef_sweep.split(",") if v.strip()]
    app = get_app()
    try:
        imported = None
        if not args.skip_import:
            log(f"importing UCA into {data_dir}")
            files = [UCA_DIR / name for name in args.splits.split(",")]
            last = [0.0]

            def progress(done: int, total: int) -> None:
                if time.monotonic() - last[0] > 10 or done == total:
                    last[0] = time.monotonic()
                    log(f"  {done}/{total} events")

            imported = import_uca(app.db, files, embeddings=get_embeddings(app.settings), progress=progress)
            log(f"imported: {imported}")
        with app.db.connection() as conn:
            conn.execute("ANALYZE")

        def measure(label: str, recall_queries: int) -> dict:
            with app.db.connection() as conn:
                events = conn.execute("SELECT count(*) AS n FROM events").fetchone()["n"]
            log(f"measuring at {events} events")
            load = os.getloadavg()[0]  # other jobs on the machine move every latency below
            ask = measure_ask(app, questions, repeat=args.repeat)
            log(f"  ask: p50 {ask['p50_ms']:.0f} ms, p95 {ask['p95_ms']:.0f} ms, hit@5 {ask['hit5']:.3f}")
            whole = measure_whole_ask(app, questions, repeat=args.repeat)
            log(f"  whole ask: p50 {whole['p50_ms']:.0f} ms, p95 {whole['p95_ms']:.0f} ms")
            recall = measure_recall(app, questions, samples=recall_queries, ef_values=ef_values)
            log("  recall@10: " + ", ".join(f"ef {ef}: {v['recall']:.3f}" for ef, v in recall["by_ef"].items()))
            return {"label": label, "events": events, "ask": ask, "whole": whole, "recall": recall,
                    "load": (load + os.getloadavg()[0]) / 2}

        runs = [] if args.scale_only else [measure("", args.recall_queries)]
        scaled = None
        if args.scale:
            scaled = scale_up(app, args.scale, splits=args.splits.split(","), jitter=args.jitter,
                              hnsw_with=args.hnsw_with)
            runs.append({**measure("", max(30, args.recall_queries // 6)), "scaled": True})
        for run in runs:
            run["label"] = f"{run['events']:,} events"
        text = report(runs, imported, scaled, machine)
        print(text)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.append and args.out.exists():
            args.out.write_text(args.out.read_text() + f"\n### {time.strftime('%Y-%m-%d %H:%M')}\n\n" + text)
        else:
            args.out.write_text("# Retrieval benchmark\n\n" + f"## {time.strftime('%Y-%m-%d %H:%M')}\n\n" + text)
        log(f"wrote {args.out}")
    finally:
        reset_app()
        from db.embedded import stop_embedded

        stop_embedded(data_dir / "pg")
        if not args.keep and not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
