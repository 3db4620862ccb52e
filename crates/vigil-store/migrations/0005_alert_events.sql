-- The matched events themselves travel with their alert (triage and declaring an incident
-- need them without a round trip to the log store), and an alert remembers the incident it
-- was declared as or merged into.
ALTER TABLE alert_events ADD COLUMN event TEXT;
ALTER TABLE alerts ADD COLUMN incident TEXT;
