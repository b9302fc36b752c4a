-- The scheduler looks for stopped sendings that still have unsent dispatches, by status and age.
CREATE INDEX sendings_by_status ON sendings (status, updated_at);

-- Idempotency-Key (spec §1.4): one row per key and owner (LC + token); kept 24 hours.
CREATE TABLE idempotency_keys (
    owner         bytea NOT NULL,            -- sha256 of the LC slug and the token
    key           text NOT NULL,
    fingerprint   bytea NOT NULL,            -- sha256 of the path and the body
    status        smallint,                  -- null while the first request runs
    content_type  text,
    body          bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
