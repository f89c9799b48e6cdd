-- Data hub (issue 5): the data hub assigns each new record's seq itself
-- (increasing in resolution order, hence replay order) and knows from its in-memory key
-- map which rows are new, updated or repeated, so the store no longer keeps a
-- unique index on the random 128-bit record key: at millions of records every
-- ingest batch touched as many index pages as it had rows. Full records are
-- fetched by seq (the rowid). The table is rebuilt without the constraint.
CREATE TABLE fusion_records_new (
    seq INTEGER PRIMARY KEY,
    record_key TEXT NOT NULL,
    source TEXT NOT NULL,
    category TEXT NOT NULL,
    fields TEXT NOT NULL,
    file TEXT NOT NULL,
    line BIGINT NOT NULL,
    observed_at BIGINT NOT NULL,
    content_hash TEXT NOT NULL,
    stored_at BIGINT NOT NULL
);
INSERT INTO fusion_records_new (seq, record_key, source, category, fields, file, line, observed_at, content_hash, stored_at)
    SELECT seq, record_key, source, category, fields, file, line, observed_at, content_hash, stored_at
    FROM fusion_records ORDER BY seq;
DROP TABLE fusion_records;
ALTER TABLE fusion_records_new RENAME TO fusion_records;
CREATE INDEX IF NOT EXISTS fusion_records_source ON fusion_records(source);
