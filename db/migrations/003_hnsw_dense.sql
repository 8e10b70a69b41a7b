-- A denser HNSW graph: with m 16 (32 links a node) tight groups of near-identical descriptions
-- (the same behaviour seen again and again) close themselves off, and recall@10 at 1M events
-- falls to 0.72-0.89; m 32 / ef_construction 128 with ef_search 400 reaches 0.98 (m 24 / 100: 0.94)
-- (bench/results/retrieval.md). Rebuilding takes seconds for thousands of events.
-- enough memory for the graph to be built in one pass (the default 64MB spills and crawls at 1M rows)
SET LOCAL maintenance_work_mem = '1GB';
SET LOCAL max_parallel_maintenance_workers = 1;
DROP INDEX IF EXISTS events_embedding_hnsw_idx;
CREATE INDEX events_embedding_hnsw_idx ON events USING hnsw (embedding vector_cosine_ops)
    WITH (m = 32, ef_construction = 128);
