-- store layout: every video belongs to a camera (zones drawn once serve all its videos), zones gain
-- the entrance kind, and each run keeps what the behaviour rules read so events can be re-derived
ALTER TABLE videos ADD COLUMN camera text;
UPDATE videos SET camera = COALESCE(NULLIF(regexp_replace(
           regexp_replace(regexp_replace(original_filename, '^.*[/\\]', ''), '\.[^.]*$', ''),
           '([ _-]+[0-9]{4}[0-9_T-]{2,})+$', ''), ''), name)
 WHERE camera IS NULL;
CREATE INDEX videos_camera_idx ON videos (camera);

ALTER TABLE zones DROP CONSTRAINT IF EXISTS zones_kind_check;
ALTER TABLE zones ADD CONSTRAINT zones_kind_check
    CHECK (kind IN ('shelf', 'checkout', 'exit', 'entrance', 'custom', 'region'));
CREATE INDEX zones_camera_idx ON zones (camera) WHERE camera IS NOT NULL;

-- one row per run: a compressed npz of the tracks' sampled observations and the per-frame signals
CREATE TABLE rule_inputs (
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    run_id          uuid NOT NULL,
    format          integer NOT NULL DEFAULT 1,
    fps             double precision NOT NULL,
    frame_width     integer NOT NULL,
    frame_height    integer NOT NULL,
    data            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (video_id, run_id)
);
