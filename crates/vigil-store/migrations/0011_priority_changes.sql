-- Every move of an incident's derived priority, with who made the change that moved it and
-- what changed (a severity change, a data-impact assessment, the services in scope): the
-- priority is never typed in, so this is the only record of why it is what it is. Incidents
-- opened before this table have no rows for the moves made before it.
CREATE TABLE priority_changes (
    incident_id   TEXT NOT NULL REFERENCES incidents (id),
    position      INTEGER NOT NULL,
    from_priority TEXT NOT NULL,
    to_priority   TEXT NOT NULL,
    actor         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    at            TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);
