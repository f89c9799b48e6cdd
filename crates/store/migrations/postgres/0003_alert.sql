-- Early warning (crates/alert): sensors, watches (布控), alerts and the raw
-- accepted events kept for a retention period.

CREATE TABLE IF NOT EXISTS alert_sensors (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    org_id BIGINT NOT NULL REFERENCES orgs(id),
    org_path TEXT NOT NULL,
    lat DOUBLE PRECISION,
    lng DOUBLE PRECISION,
    status TEXT NOT NULL,
    last_seen BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_sensors_org_path ON alert_sensors(org_path);

CREATE TABLE IF NOT EXISTS alert_watches (
    id BIGSERIAL PRIMARY KEY,
    label TEXT NOT NULL,
    spec TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    case_ref TEXT NOT NULL,
    owner TEXT NOT NULL,
    org_path TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    status TEXT NOT NULL,
    ended_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_watches_status ON alert_watches(status);

CREATE TABLE IF NOT EXISTS alerts (
    id BIGSERIAL PRIMARY KEY,
    rule TEXT NOT NULL,
    watch_id BIGINT,
    org_path TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    alert_time BIGINT NOT NULL,
    draft TEXT NOT NULL,
    history TEXT NOT NULL,
    outcome TEXT,
    incident_id TEXT,
    hits BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_org_path ON alerts(org_path);
CREATE INDEX IF NOT EXISTS alerts_time ON alerts(alert_time);

CREATE TABLE IF NOT EXISTS alert_events (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    sensor_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    hit BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_at ON alert_events(at);
