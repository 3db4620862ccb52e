-- Ingest tokens may be bound to one service and tenant (NULL: any).
ALTER TABLE tokens ADD COLUMN service TEXT;
ALTER TABLE tokens ADD COLUMN tenant TEXT;

-- One row per (stored event, Sigma rule) match. Machine-written at ingest rate, so detections
-- are not part of the audit chain (which records what people and tokens did to incidents).
CREATE TABLE detections (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at TEXT NOT NULL,
    event_id    INTEGER NOT NULL,   -- the log store's event id
    event_time  TEXT NOT NULL,
    service     TEXT NOT NULL,
    host        TEXT NOT NULL,
    tenant      TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    rule_title  TEXT NOT NULL,
    level       TEXT NOT NULL,
    level_rank  INTEGER NOT NULL,   -- informational 0 … critical 4, for "at least" filters
    tags        TEXT NOT NULL       -- JSON array of strings
);
CREATE INDEX detections_rule ON detections (rule_id, id);
CREATE INDEX detections_service ON detections (service, id);
CREATE INDEX detections_event ON detections (event_id);
