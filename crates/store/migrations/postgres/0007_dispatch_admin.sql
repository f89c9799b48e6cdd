-- Pending escalations of unacknowledged dispatches, so a restart re-arms them.
CREATE TABLE IF NOT EXISTS dispatch_escalations (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents(id),
    state TEXT NOT NULL,
    deadline BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS dispatch_escalations_deadline ON dispatch_escalations(deadline);
