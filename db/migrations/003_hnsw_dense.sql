-- A denser HNSW graph: with m 16 (32 links a node) tight groups of near-identical descriptions
-- (the same behaviour seen again and again) close themselves off, and recall@10 at 1M events
-- falls to 0.72-0.89; m 32 / ef_construction 128 with ef_search 400 reaches 0.98 (m 24 / 100: 0.94)
-- (bench/results/retrieval.md).
-- Only the old graph is dropped here: right after the migrations, start-up (db.vector_index.ensure)
-- builds the new one with memory sized to the table, which a fixed setting here cannot be
-- (1 GB spilled to disk at 1M events). Seconds for thousands of events, minutes at a million.
DROP INDEX IF EXISTS events_embedding_hnsw_idx;
