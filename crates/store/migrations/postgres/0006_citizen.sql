-- Citizen transparency: receipt codes (only their hashes), the ledger leaves
-- recorded per incident, the notification outbox with its delivery log, and
-- citizens' evaluations of closed cases.

CREATE TABLE IF NOT EXISTS citizen_cases (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL UNIQUE REFERENCES incidents(id),
    code_hash BYTEA NOT NULL UNIQUE,
    subject BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS case_leaves (
    leaf_index BIGINT PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    status TEXT NOT NULL,
    org_code TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS case_leaves_incident ON case_leaves(incident_id, leaf_index);

CREATE TABLE IF NOT EXISTS notifications (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT REFERENCES incidents(id),
    org_path TEXT NOT NULL,
    dedupe_key TEXT NOT NULL UNIQUE,
    template TEXT NOT NULL,
    recipient TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    delivered_at BIGINT
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS notifications_incident ON notifications(incident_id);

CREATE TABLE IF NOT EXISTS notification_attempts (
    id BIGSERIAL PRIMARY KEY,
    notification_id BIGINT NOT NULL REFERENCES notifications(id),
    attempt BIGINT NOT NULL,
    at BIGINT NOT NULL,
    channel TEXT NOT NULL,
    status_code BIGINT,
    error TEXT,
    duration_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS notification_attempts_n ON notification_attempts(notification_id, id);

CREATE TABLE IF NOT EXISTS evaluations (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL UNIQUE REFERENCES incidents(id),
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_path TEXT NOT NULL,
    stars BIGINT NOT NULL CHECK (stars BETWEEN 1 AND 5),
    comment TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    follow_up_note TEXT,
    follow_up_by TEXT,
    follow_up_at BIGINT
);
CREATE INDEX IF NOT EXISTS evaluations_org_path ON evaluations(org_path);
