-- Vigil schema v1. Portable SQL (SQLite now, PostgreSQL later): TEXT ids (UUIDs), timestamps as
-- RFC 3339 UTC text with microseconds (fixed width, so they sort as text), JSON documents as TEXT,
-- booleans as INTEGER 0/1, no AUTOINCREMENT; ordered child rows carry an explicit position.

CREATE TABLE incidents (
    id                TEXT PRIMARY KEY,
    seq               INTEGER NOT NULL UNIQUE,   -- the n of INC-n
    title             TEXT NOT NULL,
    summary           TEXT NOT NULL,
    severity          TEXT NOT NULL,
    priority          TEXT NOT NULL,
    phase             TEXT NOT NULL,
    category          TEXT,
    tlp               TEXT NOT NULL,
    pap               TEXT NOT NULL,
    customer_facing   INTEGER NOT NULL,
    techniques        TEXT NOT NULL,             -- JSON array of technique ids
    root_cause        TEXT,
    post_mortem       TEXT,                      -- JSON, null until written
    data_impact       TEXT NOT NULL,             -- JSON
    next_steps        TEXT NOT NULL,             -- JSON array
    first_activity_at TEXT,
    detected_at       TEXT,
    acknowledged_at   TEXT,
    declared_at       TEXT,
    contained_at      TEXT,
    eradicated_at     TEXT,
    recovered_at      TEXT,
    closed_at         TEXT,
    created_by        TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX incidents_created_at ON incidents (created_at);
CREATE INDEX incidents_phase ON incidents (phase);

CREATE TABLE incident_services (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);
CREATE INDEX incident_services_name ON incident_services (name);

CREATE TABLE incident_tenants (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);
CREATE INDEX incident_tenants_name ON incident_tenants (name);

CREATE TABLE severity_changes (
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    position      INTEGER NOT NULL,
    from_severity TEXT,
    to_severity   TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    at            TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);

CREATE TABLE phase_changes (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    from_phase  TEXT NOT NULL,
    to_phase    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    reason      TEXT,
    at          TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);

CREATE TABLE timestamp_corrections (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    from_at     TEXT,
    to_at       TEXT,
    actor       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);

CREATE TABLE indicators (
    id             TEXT PRIMARY KEY,
    incident_id    TEXT NOT NULL REFERENCES incidents (id),
    kind           TEXT NOT NULL,
    value          TEXT NOT NULL,
    note           TEXT,
    added_by       TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    removed_by     TEXT,
    removed_at     TEXT,
    removal_reason TEXT
);
CREATE INDEX indicators_value ON indicators (value, kind);
CREATE INDEX indicators_incident ON indicators (incident_id);

-- One row per linked pair, stored with incident_a < incident_b.
CREATE TABLE incident_links (
    incident_a TEXT NOT NULL REFERENCES incidents (id),
    incident_b TEXT NOT NULL REFERENCES incidents (id),
    note       TEXT,
    linked_by  TEXT NOT NULL,
    linked_at  TEXT NOT NULL,
    PRIMARY KEY (incident_a, incident_b)
);

CREATE TABLE actions (
    id          TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    kind        TEXT NOT NULL,
    text        TEXT NOT NULL,
    UNIQUE (incident_id, position)
);

CREATE TABLE evidence (
    id           TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL REFERENCES incidents (id),
    file_name    TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    collected_by TEXT NOT NULL,
    collected_at TEXT NOT NULL,
    description  TEXT
);
CREATE INDEX evidence_incident ON evidence (incident_id);

CREATE TABLE custody (
    evidence_id TEXT NOT NULL REFERENCES evidence (id),
    position    INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL,
    PRIMARY KEY (evidence_id, position)
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the secret; the secret is never stored
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE audit (
    seq         INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    incident_id TEXT,
    payload     TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_incident ON audit (incident_id);

-- The last seq written, so deleting entries from the end of the chain is detected.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
