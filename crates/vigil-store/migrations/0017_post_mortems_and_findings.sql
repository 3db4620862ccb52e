-- The full post-mortem and the findings incidents leave for owning teams.
--
-- A post-mortem stays one JSON document in incidents.post_mortem: the fields added to it
-- (contributing factors, participants, what went well and badly, detection improvements) are
-- absent in the summary-only documents earlier releases wrote, which read as having none. The
-- versions a post-mortem replaced are kept, oldest first, as a JSON array here; null for the
-- incidents whose post-mortem was never replaced (every incident before this migration), so
-- that the states the audit trail recorded for them stay valid.
ALTER TABLE incidents ADD COLUMN post_mortem_history TEXT;

-- Findings: work items raised on an incident and owned by a team of the organisation document,
-- FND-n where n is `seq`. Part of the incident's record (loaded, logged and audited with it);
-- listed across incidents by team, state, due day and the times a review asks about.
CREATE TABLE findings (
    seq         INTEGER PRIMARY KEY,            -- the n of FND-n
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    title       TEXT NOT NULL,
    description TEXT,
    kind        TEXT NOT NULL,                  -- prevent, detect, respond
    team        TEXT NOT NULL,
    assignee    TEXT,
    due         TEXT,                           -- YYYY-MM-DD
    state       TEXT NOT NULL,                  -- open, in_progress, done, wont_fix
    ticket      TEXT,
    raised_in   TEXT NOT NULL,                  -- the incident's phase when raised
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    closed_at   TEXT,                           -- set while done or wont_fix
    history     TEXT NOT NULL                   -- JSON array of changes, oldest first
);
CREATE INDEX findings_incident ON findings (incident_id, seq);
CREATE INDEX findings_team ON findings (team, state);
CREATE INDEX findings_state_due ON findings (state, due);
CREATE INDEX findings_created_at ON findings (created_at);
CREATE INDEX findings_closed_at ON findings (closed_at);
