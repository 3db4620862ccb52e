-- `GET /alerts` filters by service and by source and pages newest first with an offset: an
-- index per filter ending in `id` lets it count and step through the matching alerts in order
-- instead of reading the whole table (status and rule have theirs since 0004_alerts).
CREATE INDEX alerts_service ON alerts (service, id);
CREATE INDEX alerts_source ON alerts (source, id);
