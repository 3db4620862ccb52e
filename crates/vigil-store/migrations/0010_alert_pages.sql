-- The pages of an escalation step that were delivered, each written as it completes (with its
-- entry in the alert's log), so that a step cut short by a crash resends only what was not
-- delivered when it runs again.
CREATE TABLE alert_pages (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    step     TEXT NOT NULL,   -- the escalation clock's state when the level was paged
    contact  TEXT NOT NULL,   -- the person and the contact method
    PRIMARY KEY (alert_id, step, contact)
);
