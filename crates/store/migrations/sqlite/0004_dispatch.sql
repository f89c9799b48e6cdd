CREATE TABLE IF NOT EXISTS incident_seq (
    day TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    type_code TEXT,
    priority TEXT,
    description TEXT NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    address TEXT,
    org_id INTEGER NOT NULL REFERENCES orgs(id),
    org_path TEXT NOT NULL,
    caller_phone TEXT NOT NULL,
    caller_name TEXT,
    channel TEXT NOT NULL,
    disposition TEXT,
    created_at INTEGER NOT NULL,
    dispatched_at INTEGER,
    arrived_at INTEGER,
    closed_at INTEGER,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_org_path ON incidents(org_path);
CREATE INDEX IF NOT EXISTS incidents_created ON incidents(created_at);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status);

CREATE TABLE IF NOT EXISTS incident_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    channel TEXT NOT NULL,
    caller_phone TEXT NOT NULL,
    caller_name TEXT,
    description TEXT NOT NULL,
    lat REAL NOT NULL,
    lng REAL NOT NULL,
    address TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_calls_incident ON incident_calls(incident_id);

CREATE TABLE IF NOT EXISTS incident_timeline (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    detail TEXT NOT NULL,
    unit_id INTEGER,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incident_timeline_incident ON incident_timeline(incident_id, id);

CREATE TABLE IF NOT EXISTS incident_assignments (
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    unit_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    stage TEXT NOT NULL,
    dispatched_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    arrived_at INTEGER,
    cleared_at INTEGER,
    PRIMARY KEY (incident_id, unit_id, seq)
);
CREATE INDEX IF NOT EXISTS incident_assignments_unit ON incident_assignments(unit_id);

CREATE TABLE IF NOT EXISTS partners (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    webhook_url TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS handoffs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    partner TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    seed INTEGER NOT NULL,
    payload TEXT NOT NULL,
    feedback TEXT,
    history TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS handoffs_due ON handoffs(status, next_attempt_at);
CREATE INDEX IF NOT EXISTS handoffs_incident ON handoffs(incident_id);

CREATE TABLE IF NOT EXISTS taxonomy_overrides (
    code TEXT PRIMARY KEY,
    spec TEXT,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
