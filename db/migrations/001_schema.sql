-- The whole schema of DESIGN section 4. {embedding_dim} is filled from settings.

CREATE TABLE videos (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name            text NOT NULL,
    original_filename text NOT NULL,
    sha256          text UNIQUE,
    storage_key     text,
    thumbnail_key   text,
    size_bytes      bigint NOT NULL DEFAULT 0,
    duration_s      double precision,
    fps             double precision,
    width           integer,
    height          integer,
    codec           text,
    frame_count     integer,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    progress        real NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    error           text,
    storage_tier    text NOT NULL DEFAULT 'hot' CHECK (storage_tier IN ('hot', 'warm', 'archive')),
    restore_state   text CHECK (restore_state IN ('restoring', 'restored')),
    restore_expires_at timestamptz,
    source          text NOT NULL DEFAULT 'upload',
    current_run_id  uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX videos_status_idx ON videos (status);
CREATE INDEX videos_created_idx ON videos (created_at);
CREATE UNIQUE INDEX videos_name_media_less_idx ON videos (name) WHERE sha256 IS NULL;

CREATE TABLE analysis_jobs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    chunk           integer NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'completed', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 3,
    lease_owner     text,
    lease_expires_at timestamptz,
    runner          text NOT NULL DEFAULT 'local',
    external_id     text,
    progress        real NOT NULL DEFAULT 0,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- one active job per video (and chunk): submitting twice is a no-op
CREATE UNIQUE INDEX analysis_jobs_active_idx ON analysis_jobs (video_id, chunk)
    WHERE status IN ('queued', 'running');
CREATE INDEX analysis_jobs_claim_idx ON analysis_jobs (status, created_at);

CREATE TABLE tracks (
    id              bigserial PRIMARY KEY,
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    run_id          uuid NOT NULL,
    track_number    integer NOT NULL,
    class_name      text NOT NULL,
    t_first         double precision NOT NULL,
    t_last          double precision NOT NULL,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    path            jsonb NOT NULL DEFAULT '[]'::jsonb,
    UNIQUE (video_id, run_id, track_number)
);

CREATE TABLE events (
    id              bigserial PRIMARY KEY,
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    run_id          uuid NOT NULL,
    track_id        bigint REFERENCES tracks(id) ON DELETE SET NULL,
    track_number    integer,
    type            text NOT NULL,
    t_start         double precision NOT NULL,
    t_end           double precision NOT NULL,
    frame           integer,
    bbox            real[],
    zone            text,
    confidence      real NOT NULL DEFAULT 0,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    description     text NOT NULL,
    keywords        text[] NOT NULL DEFAULT '{}',
    highlight_key   text,
    embedding       vector({embedding_dim}),
    search_tsv      tsvector GENERATED ALWAYS AS (
                        setweight(to_tsvector('english', coalesce(type, '')), 'A') ||
                        setweight(to_tsvector('english', coalesce(description, '')), 'B') ||
                        setweight(to_tsvector('english', coalesce(zone, '')), 'C')
                    ) STORED,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (t_end >= t_start),
    -- a run writes each (track, type, start) once, so a retried write cannot duplicate
    UNIQUE NULLS NOT DISTINCT (video_id, run_id, type, track_number, t_start)
);
CREATE INDEX events_embedding_hnsw_idx ON events USING hnsw (embedding vector_cosine_ops);
CREATE INDEX events_search_tsv_idx ON events USING gin (search_tsv);
CREATE INDEX events_video_time_idx ON events (video_id, t_start);
CREATE INDEX events_type_idx ON events (type);

CREATE TABLE frame_stats (
    video_id        uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    run_id          uuid NOT NULL,
    t               double precision NOT NULL,
    frame           integer NOT NULL,
    counts          jsonb NOT NULL DEFAULT '{}'::jsonb,      -- {"person": 3, "bottle": 1}
    region_counts   jsonb NOT NULL DEFAULT '{}'::jsonb,      -- {"left": {"person": 1}, ...}
    detections      jsonb NOT NULL DEFAULT '[]'::jsonb,      -- [{track, class, bbox, posture, region}]
    PRIMARY KEY (video_id, run_id, t)
);

CREATE TABLE zones (
    id              bigserial PRIMARY KEY,
    video_id        uuid REFERENCES videos(id) ON DELETE CASCADE,
    camera          text,
    name            text NOT NULL,
    kind            text NOT NULL DEFAULT 'custom' CHECK (kind IN ('shelf', 'checkout', 'exit', 'custom', 'region')),
    polygon         jsonb NOT NULL,   -- [[x, y], ...] in 0..1 of the frame
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE NULLS NOT DISTINCT (video_id, camera, name)
);

CREATE TABLE summaries (
    video_id        uuid PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    text            text,
    model           text,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_sessions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title           text NOT NULL DEFAULT 'New chat',
    video_id        uuid REFERENCES videos(id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_turns (
    id              bigserial PRIMARY KEY,
    session_id      uuid NOT NULL REFERENCES chat_sessions(id) ON DELETE CASCADE,
    question        text NOT NULL,
    answer          text NOT NULL,
    filters         jsonb NOT NULL DEFAULT '{}'::jsonb,
    search_method   text NOT NULL,
    cited_event_ids bigint[] NOT NULL DEFAULT '{}',
    result_count    integer NOT NULL DEFAULT 0,
    latency_ms      real NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX chat_turns_session_idx ON chat_turns (session_id, created_at);
