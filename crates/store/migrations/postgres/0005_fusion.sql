-- Data hub (issue 5): sources, ingested records, rejections, import checkpoints,
-- the entity-resolution journal, and the standard address / house / resident /
-- vehicle registries.
CREATE TABLE IF NOT EXISTS fusion_sources (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    department TEXT NOT NULL,
    category TEXT NOT NULL,
    legal_basis TEXT NOT NULL,
    update_mode TEXT NOT NULL,
    mapping_toml TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- seq is the replay order: the resolver is rebuilt by adding records in seq order.
CREATE TABLE IF NOT EXISTS fusion_records (
    seq BIGSERIAL PRIMARY KEY,
    record_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    category TEXT NOT NULL,
    fields TEXT NOT NULL,
    file TEXT NOT NULL,
    line BIGINT NOT NULL,
    observed_at BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS fusion_records_source ON fusion_records(source);

CREATE TABLE IF NOT EXISTS fusion_rejections (
    id BIGSERIAL PRIMARY KEY,
    source TEXT NOT NULL,
    file TEXT NOT NULL,
    line BIGINT NOT NULL,
    field TEXT,
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS fusion_rejections_source ON fusion_rejections(source, file);

CREATE TABLE IF NOT EXISTS fusion_checkpoints (
    source TEXT NOT NULL,
    file_hash TEXT NOT NULL,
    file TEXT NOT NULL,
    last_line BIGINT NOT NULL,
    read_rows BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    updated BIGINT NOT NULL,
    merged BIGINT NOT NULL,
    finished BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (source, file_hash)
);

-- Analyst operations on the resolver (merge/split/undo) in the order applied.
CREATE TABLE IF NOT EXISTS fusion_resolution_ops (
    id BIGSERIAL PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS fusion_addresses (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    province TEXT NOT NULL,
    city TEXT NOT NULL,
    district TEXT NOT NULL,
    street TEXT NOT NULL,
    community TEXT NOT NULL,
    road TEXT NOT NULL,
    number TEXT NOT NULL,
    building TEXT,
    unit TEXT,
    room TEXT,
    full_text TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS fusion_addresses_road ON fusion_addresses(road, number);

CREATE TABLE IF NOT EXISTS fusion_houses (
    id BIGSERIAL PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    address_id BIGINT NOT NULL REFERENCES fusion_addresses(id),
    kind TEXT NOT NULL,
    area_m2 DOUBLE PRECISION,
    owner_id_number TEXT
);
CREATE INDEX IF NOT EXISTS fusion_houses_address ON fusion_houses(address_id);

CREATE TABLE IF NOT EXISTS fusion_residents (
    id BIGSERIAL PRIMARY KEY,
    house_id BIGINT NOT NULL REFERENCES fusion_houses(id),
    id_number TEXT NOT NULL,
    name TEXT NOT NULL,
    relation TEXT NOT NULL,
    since TEXT,
    until TEXT
);
CREATE INDEX IF NOT EXISTS fusion_residents_house ON fusion_residents(house_id);
CREATE INDEX IF NOT EXISTS fusion_residents_person ON fusion_residents(id_number);

CREATE TABLE IF NOT EXISTS fusion_vehicles (
    id BIGSERIAL PRIMARY KEY,
    plate TEXT NOT NULL UNIQUE,
    owner_id_number TEXT NOT NULL,
    brand TEXT NOT NULL,
    color TEXT NOT NULL,
    registered_on TEXT
);
CREATE INDEX IF NOT EXISTS fusion_vehicles_owner ON fusion_vehicles(owner_id_number);
