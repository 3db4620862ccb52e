-- The escalation clock of each open alert, stored so a restart continues at the right step:
-- the next level to page, which round of the policy, and when it is due.
CREATE TABLE alert_escalations (
    alert_id   INTEGER PRIMARY KEY REFERENCES alerts (id),
    level      INTEGER NOT NULL,
    round      INTEGER NOT NULL,
    started_at TEXT NOT NULL,   -- when this round began (level delays count from here)
    next_at    TEXT NOT NULL,
    done       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alert_escalations_due ON alert_escalations (done, next_at);
