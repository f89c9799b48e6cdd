-- Data hub (issue 5): the data hub assigns each new record's seq itself
-- (increasing in resolution order, hence replay order) and knows from its in-memory key
-- map which rows are new, updated or repeated, so the store no longer keeps a
-- unique index on the random 128-bit record key: at millions of records every
-- ingest batch touched as many index pages as it had rows. Full records are
-- fetched by seq (the primary key).
ALTER TABLE fusion_records DROP CONSTRAINT IF EXISTS fusion_records_record_key_key;
ALTER TABLE fusion_records ALTER COLUMN seq DROP DEFAULT;
