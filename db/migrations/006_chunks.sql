-- a long video is analysed as chunks: each is a job with its time span, all of one analysis share a batch id
ALTER TABLE analysis_jobs ADD COLUMN batch_id uuid;
ALTER TABLE analysis_jobs ADD COLUMN t_start double precision;
ALTER TABLE analysis_jobs ADD COLUMN t_end double precision;
CREATE INDEX analysis_jobs_batch_idx ON analysis_jobs (batch_id, chunk) WHERE batch_id IS NOT NULL;

-- each finished chunk's partial result (tracks, signals and frame stats of its span), until the run is stitched
CREATE TABLE chunk_results (
    job_id          uuid PRIMARY KEY REFERENCES analysis_jobs(id) ON DELETE CASCADE,
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    batch_id        uuid NOT NULL,
    chunk           integer NOT NULL,
    t_start         double precision NOT NULL,
    t_end           double precision NOT NULL,
    fps             double precision NOT NULL,
    frame_width     integer NOT NULL,
    frame_height    integer NOT NULL,
    frames          integer NOT NULL,
    data            bytea NOT NULL,
    stats           bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chunk_results_batch_idx ON chunk_results (batch_id, chunk);
