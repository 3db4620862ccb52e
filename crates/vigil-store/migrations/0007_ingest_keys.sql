-- The answer given to a batch of events sent with an Idempotency-Key, so that a sender that
-- lost the answer and sends the batch again gets the same answer instead of storing the
-- events twice. Keyed by the sending token: one sender's keys never meet another's.
CREATE TABLE ingest_keys (
    token_id    TEXT NOT NULL,
    key         TEXT NOT NULL,
    -- SHA-256 of what was sent (service, host, tenant, body), to refuse a key reused for
    -- another batch.
    fingerprint TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (token_id, key)
);
CREATE INDEX ingest_keys_created ON ingest_keys (created_at);
