-- Pending escalations of unacknowledged dispatches, so a restart re-arms them.
CREATE TABLE IF NOT EXISTS dispatch_escalations (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
    state TEXT NOT NULL,
    deadline INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS dispatch_escalations_deadline ON dispatch_escalations(deadline);
