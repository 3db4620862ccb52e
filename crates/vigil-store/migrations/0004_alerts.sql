-- Alerts: one row per open or closed alert; the same dedup key within the window folds into
-- the open alert (count, last_seen). Events and the log are child rows.
CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    status      TEXT NOT NULL,
    title       TEXT NOT NULL,
    source      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    service     TEXT NOT NULL,
    dedup_key   TEXT NOT NULL,
    rule_id     TEXT,
    summary     TEXT,
    origin      TEXT,
    reporter    TEXT,
    count       INTEGER NOT NULL,
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    dismissal   TEXT
);
CREATE INDEX alerts_open ON alerts (dedup_key, status);
CREATE INDEX alerts_status ON alerts (status, id);
CREATE INDEX alerts_rule ON alerts (rule_id, id);

CREATE TABLE alert_events (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    event_id INTEGER NOT NULL,
    PRIMARY KEY (alert_id, event_id)
);

CREATE TABLE alert_log (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    seq      INTEGER NOT NULL,
    at       TEXT NOT NULL,
    actor    TEXT NOT NULL,
    action   TEXT NOT NULL,
    text     TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
);

-- New alerts per rule per hour, for the per-rule rate limit; `suppressed` counts what the
-- limit held back (visible to responders, so a noisy rule is seen, not silently dropped).
CREATE TABLE alert_rate (
    rule_id    TEXT NOT NULL,
    hour       TEXT NOT NULL,   -- RFC 3339 of the hour's start
    created    INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    PRIMARY KEY (rule_id, hour)
);
