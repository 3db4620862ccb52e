-- The organisation (people, teams with their on-call schedules, service ownership) as applied
-- documents: each apply that changes something adds a version; the newest is in force.
CREATE TABLE org_versions (
    version    INTEGER PRIMARY KEY AUTOINCREMENT,
    applied_at TEXT NOT NULL,
    applied_by TEXT NOT NULL,
    document   TEXT NOT NULL   -- canonical JSON of vigil_oncall::OrgDocument
);
