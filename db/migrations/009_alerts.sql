-- the outbox of alert webhooks: one row per alerted event, delivered and retried by whoever writes runs or polls
CREATE TABLE alerts (
    id          bigserial PRIMARY KEY,
    video_id    uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
    event_id    bigint,
    dedupe      text NOT NULL UNIQUE,
    payload     jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts    integer NOT NULL DEFAULT 0,
    next_at     timestamptz NOT NULL DEFAULT now(),
    last_error  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz
);
CREATE INDEX alerts_due_idx ON alerts (next_at) WHERE status = 'pending';
