-- Every data-impact assessment of an incident, oldest first, each the assessment as JSON (the
-- flags, the notes, who made it and when): an incident once assessed as a data breach needs a
-- post-mortem before it closes even when the assessment is cleared later, and the refusal says
-- who assessed it and when. Incidents assessed before this table have no rows until their next
-- assessment, which puts the one of then first (not copied here, so that the states the audit
-- trail recorded for them stay valid).
CREATE TABLE data_impact_assessments (
    incident_id TEXT NOT NULL REFERENCES incidents (id),
    position    INTEGER NOT NULL,
    assessment  TEXT NOT NULL,
    PRIMARY KEY (incident_id, position)
);
