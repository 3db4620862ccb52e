-- The pages of an escalation step that reached a person on none of their contacts (a mail relay
-- down, a webhook failing): tried again, with growing waits, until one is delivered or the alert
-- is acknowledged or closed. Stored, so that a restart goes on retrying them.
CREATE TABLE alert_page_retries (
    alert_id INTEGER NOT NULL REFERENCES alerts (id),
    step     TEXT NOT NULL,     -- the escalation clock's state when the level was paged (alert_pages.step)
    person   TEXT NOT NULL,
    label    TEXT NOT NULL,     -- the step as the page and the log name it: level 1 of 2 (round 1)
    team     TEXT NOT NULL,     -- whose policy paged them
    reason   TEXT NOT NULL,     -- why them: on call in schedule primary
    tries    INTEGER NOT NULL,  -- deliveries that failed so far
    first_at TEXT NOT NULL,     -- when the first one failed
    next_at  TEXT NOT NULL,
    error    TEXT NOT NULL,     -- the last failure
    PRIMARY KEY (alert_id, step, person)
);
CREATE INDEX alert_page_retries_due ON alert_page_retries (next_at);
