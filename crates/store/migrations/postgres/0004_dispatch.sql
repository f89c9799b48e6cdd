CREATE TABLE IF NOT EXISTS incident_seq (
    day TEXT PRIMARY KEY,
    last BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS incidents (
    id BIGSERIAL PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    type_code TEXT,
    priority TEXT,
    description TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    address TEXT,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_path TEXT NOT NULL,
    caller_phone TEXT NOT NULL,
    caller_name TEXT,
    channel TEXT NOT NULL,
    disposition TEXT,
    created_at BIGINT NOT NULL,
    dispatched_at BIGINT,
    arrived_at BIGINT,
    closed_at BIGINT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_org_path ON incidents(org_path);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents(created_at);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status);

CREATE TABLE IF NOT EXISTS incident_calls (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    channel TEXT NOT NULL,
    caller_phone TEXT NOT NULL,
    caller_name TEXT,
    description TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    address TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_calls_incident ON incident_calls(incident_id);

CREATE TABLE IF NOT EXISTS incident_timeline (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    at BIGINT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL,
    unit_id BIGINT,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_timeline_incident ON incident_timeline(incident_id, id);

CREATE TABLE IF NOT EXISTS incident_assignments (
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    unit_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    stage TEXT NOT NULL,
    dispatched_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    arrived_at BIGINT,
    cleared_at BIGINT,
    PRIMARY KEY (incident_id, unit_id, seq)
);
CREATE INDEX IF NOT EXISTS incident_assignments_unit ON incident_assignments(unit_id);

CREATE TABLE IF NOT EXISTS partners (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS handoffs (
    id BIGSERIAL PRIMARY KEY,
    incident_id BIGINT NOT NULL REFERENCES incidents(id),
    partner TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    seed BIGINT NOT NULL,
    payload TEXT NOT NULL,
    feedback TEXT,
    history TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS handoffs_due ON handoffs(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS handoffs_incident ON handoffs(incident_id);

CREATE TABLE IF NOT EXISTS taxonomy_overrides (
    code TEXT PRIMARY KEY,
    spec TEXT,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
