-- A denser HNSW graph: with m 16 (32 links a node) tight groups of near-identical descriptions
-- (the same behaviour seen again and again) close themselves off, and recall@10 at 1M events
-- falls to 0.72-0.89; m 24 / ef_construction 100 with ef_search 400 reaches 0.97
-- (bench/results/retrieval.md). Rebuilding takes seconds for thousands of events.
DROP INDEX IF EXISTS events_embedding_hnsw_idx;
CREATE INDEX events_embedding_hnsw_idx ON events USING hnsw (embedding vector_cosine_ops)
    WITH (m = 24, ef_construction = 100);
