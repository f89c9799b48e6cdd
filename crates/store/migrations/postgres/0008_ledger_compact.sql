-- The ledger's storage, compacted and fed durably.
--
-- 1. ledger_entries drops its leaf_hash column: the same 32 bytes are already
--    in the level-0 hash tile, and the leaf hash is SHA-256(0x00 || data) of
--    the stored entry anyway (about 10% of the bytes per entry). Existing
--    entries keep their data and index and stay readable.
ALTER TABLE ledger_entries DROP COLUMN IF EXISTS leaf_hash;

-- 2. The ledger feed: every state change that must reach the log (incident
--    states, watches created/changed/expired, alert dispositions) is written
--    here by a trigger, in the same transaction as the change itself, so a
--    crash can never lose one. The server's feed worker turns pending rows into
--    leaves in order and deletes them in the transaction that appends the
--    leaves (pingan_store::LedgerBatch::feed), so each becomes exactly one leaf.
--    Triggers, not application code, because every path that changes these
--    tables must feed the log, including ones written later.
CREATE TABLE IF NOT EXISTS ledger_feed (
    seq BIGSERIAL PRIMARY KEY,
    -- 'case' | 'watch.created' | 'watch.changed' | 'watch.expired' | 'alert'
    kind TEXT NOT NULL,
    -- incidents.id, alert_watches.id or alerts.id
    ref_id BIGINT NOT NULL,
    -- incident status, watch status, or alert disposition ('closed:<outcome>')
    status TEXT NOT NULL,
    -- incidents only: the responsible org
    org_id BIGINT,
    org_path TEXT NOT NULL,
    at BIGINT NOT NULL,
    -- watches only: the definition at that moment (committed, never published)
    spec TEXT,
    expires_at BIGINT
);

CREATE OR REPLACE FUNCTION ledger_feed_incident() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_feed (kind, ref_id, status, org_id, org_path, at)
        VALUES ('case', NEW.id, NEW.status, NEW.org_id, NEW.org_path, NEW.created_at);
    ELSIF OLD.status IS DISTINCT FROM NEW.status OR OLD.org_id IS DISTINCT FROM NEW.org_id THEN
        INSERT INTO ledger_feed (kind, ref_id, status, org_id, org_path, at)
        VALUES ('case', NEW.id, NEW.status, NEW.org_id, NEW.org_path, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS ledger_feed_incident ON incidents;
CREATE TRIGGER ledger_feed_incident AFTER INSERT OR UPDATE OF status, org_id ON incidents
    FOR EACH ROW EXECUTE FUNCTION ledger_feed_incident();

CREATE OR REPLACE FUNCTION ledger_feed_watch() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO ledger_feed (kind, ref_id, status, org_path, at, spec, expires_at)
        VALUES ('watch.created', NEW.id, NEW.status, NEW.org_path, NEW.created_at, NEW.spec, NEW.expires_at);
    ELSIF OLD.status IS DISTINCT FROM NEW.status OR OLD.spec IS DISTINCT FROM NEW.spec
        OR OLD.expires_at IS DISTINCT FROM NEW.expires_at OR OLD.label IS DISTINCT FROM NEW.label
        OR OLD.legal_basis IS DISTINCT FROM NEW.legal_basis OR OLD.case_ref IS DISTINCT FROM NEW.case_ref
        OR OLD.owner IS DISTINCT FROM NEW.owner OR OLD.org_path IS DISTINCT FROM NEW.org_path THEN
        INSERT INTO ledger_feed (kind, ref_id, status, org_path, at, spec, expires_at)
        VALUES (CASE WHEN NEW.status = 'expired' AND OLD.status IS DISTINCT FROM 'expired'
                     THEN 'watch.expired' ELSE 'watch.changed' END,
                NEW.id, NEW.status, NEW.org_path, NEW.updated_at, NEW.spec, NEW.expires_at);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS ledger_feed_watch ON alert_watches;
CREATE TRIGGER ledger_feed_watch AFTER INSERT OR UPDATE ON alert_watches
    FOR EACH ROW EXECUTE FUNCTION ledger_feed_watch();

CREATE OR REPLACE FUNCTION ledger_feed_alert() RETURNS trigger AS $$
BEGIN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
        INSERT INTO ledger_feed (kind, ref_id, status, org_path, at)
        VALUES ('alert', NEW.id,
                CASE WHEN NEW.status = 'closed' AND NEW.outcome IS NOT NULL
                     THEN 'closed:' || NEW.outcome ELSE NEW.status END,
                NEW.org_path, NEW.updated_at);
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS ledger_feed_alert ON alerts;
CREATE TRIGGER ledger_feed_alert AFTER UPDATE OF status ON alerts
    FOR EACH ROW EXECUTE FUNCTION ledger_feed_alert();

-- 3. The salted commitment to an incident's caller, made once: whichever of
--    intake (receipt code) and the feed worker (first leaf) needs it first
--    creates it, and both use the same one, so every leaf of a case carries
--    the commitment its citizen case holds.
CREATE TABLE IF NOT EXISTS case_subjects (
    incident_id BIGINT PRIMARY KEY REFERENCES incidents(id),
    subject BYTEA NOT NULL
);
INSERT INTO case_subjects (incident_id, subject)
SELECT incident_id, subject FROM citizen_cases ON CONFLICT (incident_id) DO NOTHING;
