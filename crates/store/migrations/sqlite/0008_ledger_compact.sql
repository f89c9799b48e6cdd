-- The ledger's storage, compacted and fed durably.
--
-- 1. ledger_entries drops its leaf_hash column: the same 32 bytes are already
--    in the level-0 hash tile, and the leaf hash is SHA-256(0x00 || data) of
--    the stored entry anyway (about 10% of the bytes per entry). Existing
--    entries keep their data and index and stay readable.
ALTER TABLE ledger_entries DROP COLUMN leaf_hash;

-- 2. The ledger feed: every state change that must reach the log (incident
--    states, watches created/changed/expired, alert dispositions) is written
--    here by a trigger, in the same transaction as the change itself, so a
--    crash can never lose one. The server's feed worker turns pending rows into
--    leaves in order and deletes them in the transaction that appends the
--    leaves (pingan_store::LedgerBatch::feed), so each becomes exactly one leaf.
--    Triggers, not application code, because every path that changes these
--    tables must feed the log, including ones written later.
CREATE TABLE IF NOT EXISTS ledger_feed (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'case' | 'watch.created' | 'watch.changed' | 'watch.expired' | 'alert'
    kind TEXT NOT NULL,
    -- incidents.id, alert_watches.id or alerts.id
    ref_id INTEGER NOT NULL,
    -- incident status, watch status, or alert disposition ('closed:<outcome>')
    status TEXT NOT NULL,
    -- incidents only: the responsible org
    org_id INTEGER,
    org_path TEXT NOT NULL,
    at INTEGER NOT NULL,
    -- watches only: the definition at that moment (committed, never published)
    spec TEXT,
    expires_at INTEGER
);

CREATE TRIGGER IF NOT EXISTS ledger_feed_incident_created AFTER INSERT ON incidents
BEGIN
    INSERT INTO ledger_feed (kind, ref_id, status, org_id, org_path, at)
    VALUES ('case', NEW.id, NEW.status, NEW.org_id, NEW.org_path, NEW.created_at);
END;

CREATE TRIGGER IF NOT EXISTS ledger_feed_incident_changed AFTER UPDATE OF status, org_id ON incidents
WHEN OLD.status IS NOT NEW.status OR OLD.org_id IS NOT NEW.org_id
BEGIN
    INSERT INTO ledger_feed (kind, ref_id, status, org_id, org_path, at)
    VALUES ('case', NEW.id, NEW.status, NEW.org_id, NEW.org_path, NEW.updated_at);
END;

CREATE TRIGGER IF NOT EXISTS ledger_feed_watch_created AFTER INSERT ON alert_watches
BEGIN
    INSERT INTO ledger_feed (kind, ref_id, status, org_path, at, spec, expires_at)
    VALUES ('watch.created', NEW.id, NEW.status, NEW.org_path, NEW.created_at, NEW.spec, NEW.expires_at);
END;

CREATE TRIGGER IF NOT EXISTS ledger_feed_watch_changed AFTER UPDATE ON alert_watches
WHEN OLD.status IS NOT NEW.status OR OLD.spec IS NOT NEW.spec OR OLD.expires_at IS NOT NEW.expires_at
    OR OLD.label IS NOT NEW.label OR OLD.legal_basis IS NOT NEW.legal_basis
    OR OLD.case_ref IS NOT NEW.case_ref OR OLD.owner IS NOT NEW.owner OR OLD.org_path IS NOT NEW.org_path
BEGIN
    INSERT INTO ledger_feed (kind, ref_id, status, org_path, at, spec, expires_at)
    VALUES (CASE WHEN NEW.status = 'expired' AND OLD.status IS NOT 'expired' THEN 'watch.expired' ELSE 'watch.changed' END,
            NEW.id, NEW.status, NEW.org_path, NEW.updated_at, NEW.spec, NEW.expires_at);
END;

CREATE TRIGGER IF NOT EXISTS ledger_feed_alert_disposed AFTER UPDATE OF status ON alerts
WHEN OLD.status IS NOT NEW.status
BEGIN
    INSERT INTO ledger_feed (kind, ref_id, status, org_path, at)
    VALUES ('alert', NEW.id,
            CASE WHEN NEW.status = 'closed' AND NEW.outcome IS NOT NULL THEN 'closed:' || NEW.outcome ELSE NEW.status END,
            NEW.org_path, NEW.updated_at);
END;

-- 3. The salted commitment to an incident's caller, made once: whichever of
--    intake (receipt code) and the feed worker (first leaf) needs it first
--    creates it, and both use the same one, so every leaf of a case carries
--    the commitment its citizen case holds.
CREATE TABLE IF NOT EXISTS case_subjects (
    incident_id INTEGER PRIMARY KEY REFERENCES incidents(id),
    subject BLOB NOT NULL
);
INSERT INTO case_subjects (incident_id, subject) SELECT incident_id, subject FROM citizen_cases;
