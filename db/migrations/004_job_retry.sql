-- a dependency outage (object store, database) defers a job instead of spending its attempts
ALTER TABLE analysis_jobs ADD COLUMN not_before timestamptz;
ALTER TABLE analysis_jobs ADD COLUMN deferrals integer NOT NULL DEFAULT 0;
ALTER TABLE analysis_jobs ADD COLUMN deferred_since timestamptz;
