-- The analysis run a summary was written from: a newer run of the video makes the summary stale.
-- Rows written before this column existed stay NULL, so they read as stale and get rewritten.
ALTER TABLE summaries ADD COLUMN run_id uuid;
