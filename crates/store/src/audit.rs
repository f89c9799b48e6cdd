//! The audit log: an append-only, hash-chained record of every read or write of
//! personal data. Each record's hash covers the previous record's hash and the
//! record's canonical encoding, so editing, deleting or reordering rows in the
//! database breaks the chain and [`Store::audit_verify`] names the first bad row.

use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Row};

use crate::{Dialect, Page, Result, Store, StoreError, db, json_list, parse_json_list};

/// Entries waiting for the next group-committed append, with where to answer.
pub(crate) struct PendingAudit {
    entries: Vec<AuditEntry>,
    done: tokio::sync::oneshot::Sender<std::result::Result<Vec<i64>, String>>,
}

/// The `prev_hash` of the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, by whom, to what, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    /// e.g. `unit.read`, `search`, `incident.create`.
    pub action: String,
    /// e.g. `unit`, `person`, `incident`.
    pub object_type: String,
    pub object_ids: Vec<String>,
    /// The `X-Purpose` reason given for a sensitive read.
    pub purpose: Option<String>,
    /// `ok`, `denied`, `error:<code>`.
    pub outcome: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub entry: AuditEntry,
    pub prev_hash: String,
    pub hash: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub username: Option<String>,
    /// Matches records whose `object_ids` contain this id.
    pub object_id: Option<String>,
    pub object_type: Option<String>,
    pub action: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// Only records of users whose org is in the subtree at this path (what an
    /// auditor below the city bureau may see); `None`: every record.
    pub within_org_path: Option<String>,
}

/// Outcome of re-walking the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditVerification {
    pub checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
    /// The first broken record, with why.
    pub first_bad: Option<(i64, String)>,
}

impl AuditVerification {
    pub fn ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// SHA-256 over the previous hash and the record's canonical encoding (a JSON
/// array in fixed field order), hex-encoded.
pub fn chain_hash(prev_hash: &str, seq: i64, e: &AuditEntry) -> String {
    let canonical = serde_json::json!([
        seq,
        e.at,
        e.user_id,
        e.username,
        e.role,
        e.action,
        e.object_type,
        e.object_ids,
        e.purpose,
        e.outcome,
        e.detail
    ])
    .to_string();
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

const COLS: &str = "seq, at, user_id, username, role, action, object_type, object_ids, purpose, outcome, detail, prev_hash, hash";

macro_rules! audit_row {
    ($r:expr) => {{
        let ids: String = $r.try_get("object_ids")?;
        AuditRecord {
            seq: $r.try_get("seq")?,
            entry: AuditEntry {
                at: $r.try_get("at")?,
                user_id: $r.try_get("user_id")?,
                username: $r.try_get("username")?,
                role: $r.try_get("role")?,
                action: $r.try_get("action")?,
                object_type: $r.try_get("object_type")?,
                object_ids: parse_json_list("audit_log.object_ids", &ids)?,
                purpose: $r.try_get("purpose")?,
                outcome: $r.try_get("outcome")?,
                detail: $r.try_get("detail")?,
            },
            prev_hash: $r.try_get("prev_hash")?,
            hash: $r.try_get("hash")?,
        }
    }};
}

impl Store {
    /// Appends entries to the chain in order, in one transaction. Returns their seqs.
    ///
    /// The transaction reads the chain head and then writes after it, so two
    /// appenders must never both read the same head (that would fork the chain).
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken before the head
    /// is read, other writers — in this process or another one on the same file —
    /// wait for it (busy timeout), and a deferred transaction's failed
    /// read-to-write upgrade (`SQLITE_BUSY`, not retried by the busy timeout)
    /// cannot happen. PostgreSQL takes a transaction-scoped advisory lock. The
    /// in-process mutex only keeps this process's appenders from queueing on
    /// the database lock while holding pool connections.
    ///
    /// Group commit: concurrent callers queue their entries and one task
    /// appends everything queued so far in a single transaction, so under load
    /// the chain grows by batches instead of one write transaction (and one
    /// wait for the database's write lock) per request. Each caller's entries
    /// stay contiguous and in order. The append runs in a task of its own, so
    /// a caller that gives up waiting cannot abandon the others' entries.
    pub async fn audit_append(&self, entries: &[AuditEntry]) -> Result<Vec<i64>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let (done, result) = tokio::sync::oneshot::channel();
        self.inner
            .audit_pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(PendingAudit {
                entries: entries.to_vec(),
                done,
            });
        let store = self.clone();
        tokio::spawn(async move { store.audit_drain().await });
        match result.await {
            Ok(Ok(seqs)) => Ok(seqs),
            Ok(Err(e)) => Err(StoreError::Db(sqlx::Error::Protocol(format!(
                "audit append failed: {e}"
            )))),
            Err(_) => Err(StoreError::Db(sqlx::Error::Protocol(
                "audit append abandoned".into(),
            ))),
        }
    }

    /// Appends every queued entry (see [`Store::audit_append`]) and answers
    /// each caller with its seqs, or every caller with the failure.
    async fn audit_drain(&self) {
        let _guard = self.inner.audit_lock.lock().await;
        let batch = std::mem::take(
            &mut *self
                .inner
                .audit_pending
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if batch.is_empty() {
            // An earlier drain took these entries with its own.
            return;
        }
        let all: Vec<AuditEntry> = batch.iter().flat_map(|b| b.entries.clone()).collect();
        match self.audit_append_locked(&all).await {
            Ok(seqs) => {
                let mut rest = seqs.as_slice();
                for b in batch {
                    let (mine, tail) = rest.split_at(b.entries.len().min(rest.len()));
                    rest = tail;
                    let _ = b.done.send(Ok(mine.to_vec()));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, entries = all.len(), "audit append failed");
                let msg = e.to_string();
                for b in batch {
                    let _ = b.done.send(Err(msg.clone()));
                }
            }
        }
    }

    /// One append transaction; the caller holds `audit_lock`.
    async fn audit_append_locked(&self, entries: &[AuditEntry]) -> Result<Vec<i64>> {
        let pg = self.dialect() == Dialect::Postgres;
        let begin = if pg { "BEGIN" } else { "BEGIN IMMEDIATE" };
        Ok(db!(self, p => {
            let mut tx = p.begin_with(begin).await?;
            if pg {
                // Several pingan processes may share one PostgreSQL chain.
                sqlx::query("SELECT pg_advisory_xact_lock(727361)").execute(&mut *tx).await?;
            }
            let head = sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
            let (mut seq, mut prev): (i64, String) = match head {
                Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
                None => (0, GENESIS_HASH.to_string()),
            };
            let mut seqs = Vec::with_capacity(entries.len());
            for e in entries {
                seq += 1;
                let hash = chain_hash(&prev, seq, e);
                sqlx::query(
                    "INSERT INTO audit_log (seq, at, user_id, username, role, action, object_type, object_ids, purpose, outcome, detail, prev_hash, hash) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(seq)
                .bind(e.at)
                .bind(e.user_id)
                .bind(&e.username)
                .bind(&e.role)
                .bind(&e.action)
                .bind(&e.object_type)
                .bind(json_list(&e.object_ids))
                .bind(&e.purpose)
                .bind(&e.outcome)
                .bind(&e.detail)
                .bind(&prev)
                .bind(&hash)
                .execute(&mut *tx)
                .await?;
                seqs.push(seq);
                prev = hash;
            }
            tx.commit().await?;
            seqs
        }))
    }

    /// Records matching `f`, newest first, with the total count.
    pub async fn audit_query(
        &self,
        f: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditRecord>, i64)> {
        let object_like = f
            .object_id
            .as_ref()
            .map(|id| format!("%{}%", serde_json::to_string(id).unwrap_or_default()));
        let within = f
            .within_org_path
            .as_ref()
            .map(|p| format!("{}%", crate::orgs::escape_like(p)));
        let filter = "($1 IS NULL OR username = $1) AND ($2 IS NULL OR object_ids LIKE $2) AND ($3 IS NULL OR object_type = $3) \
                      AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
                      AND ($7 IS NULL OR user_id IN (SELECT u.id FROM users u JOIN orgs o ON o.id = u.org_id WHERE o.path LIKE $7 ESCAPE '\\'))";
        let sql = format!(
            "SELECT {COLS} FROM audit_log WHERE {filter} ORDER BY seq DESC LIMIT $8 OFFSET $9"
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM audit_log WHERE {filter}");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&f.username)
                .bind(&object_like)
                .bind(&f.object_type)
                .bind(&f.action)
                .bind(f.from)
                .bind(f.to)
                .bind(&within)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(audit_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&f.username)
                .bind(&object_like)
                .bind(&f.object_type)
                .bind(&f.action)
                .bind(f.from)
                .bind(f.to)
                .bind(&within)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    /// The last record's seq and hash (the chain head), for ledger checkpoints.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        Ok(
            db!(self, p => match sqlx::query("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetch_optional(p).await? {
                Some(r) => (r.try_get("seq")?, r.try_get("hash")?),
                None => (0, GENESIS_HASH.to_string()),
            }),
        )
    }

    /// The stored hash of record `seq`, if there is one.
    pub async fn audit_hash_at(&self, seq: i64) -> Result<Option<String>> {
        Ok(
            db!(self, p => match sqlx::query("SELECT hash FROM audit_log WHERE seq = $1")
                .bind(seq)
                .fetch_optional(p)
                .await?
            {
                Some(r) => Some(r.try_get("hash")?),
                None => None,
            }),
        )
    }

    /// Re-walks the whole chain in pages and reports the first record whose stored
    /// links or hash disagree with a recomputation.
    pub async fn audit_verify(&self) -> Result<AuditVerification> {
        let mut expected_seq = 1i64;
        let mut prev = GENESIS_HASH.to_string();
        let mut checked = 0u64;
        let sql = format!("SELECT {COLS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT 5000");
        loop {
            let batch: Vec<AuditRecord> = db!(self, p => {
                let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(expected_seq).fetch_all(p).await?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    out.push(audit_row!(r));
                }
                out
            });
            if batch.is_empty() {
                break;
            }
            for rec in batch {
                let bad = if rec.seq != expected_seq {
                    Some(format!(
                        "expected seq {expected_seq}, found {} (record missing)",
                        rec.seq
                    ))
                } else if rec.prev_hash != prev {
                    Some("prev_hash does not match the previous record's hash".to_string())
                } else if chain_hash(&prev, rec.seq, &rec.entry) != rec.hash {
                    Some("record content does not match its hash (edited)".to_string())
                } else {
                    None
                };
                if let Some(reason) = bad {
                    return Ok(AuditVerification {
                        checked,
                        head_seq: expected_seq - 1,
                        head_hash: prev,
                        first_bad: Some((rec.seq, reason)),
                    });
                }
                prev = rec.hash;
                expected_seq += 1;
                checked += 1;
            }
        }
        Ok(AuditVerification {
            checked,
            head_seq: expected_seq - 1,
            head_hash: prev,
            first_bad: None,
        })
    }
}
