//! Persistence of citizen transparency: receipt codes handed to callers (only
//! a hash of each code is stored, so the table cannot be used to enumerate or
//! recover codes), the ledger leaf recorded for each incident state change,
//! the durable notification outbox with its per-attempt delivery log, and the
//! one evaluation a citizen may leave per closed case.

use sqlx::{AssertSqlSafe, Row};

use crate::orgs::escape_like;
use crate::{Page, Result, Store, StoreError, db};

/// A receipt code issued for an incident. `code_hash` is the SHA-256 of the
/// normalised code; `subject` is the salted commitment to the caller that the
/// incident's ledger leaves carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CitizenCaseRow {
    pub id: i64,
    pub incident_id: i64,
    pub code_hash: Vec<u8>,
    pub subject: Vec<u8>,
    pub created_at: i64,
}

/// One ledger leaf recorded for an incident state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseLeafRow {
    pub leaf_index: i64,
    pub incident_id: i64,
    pub status: String,
    pub org_code: String,
    pub at: i64,
}

/// A notification to enqueue. `dedupe_key` makes enqueueing idempotent (the
/// same state of the same case is announced once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub incident_id: Option<i64>,
    pub org_path: String,
    pub dedupe_key: String,
    pub template: String,
    /// Phone number (personal data: readers mask it).
    pub recipient: String,
    pub body: String,
}

/// A notification in the outbox. `status`: `pending`, `delivered`, `failed`
/// (gave up after the last attempt) or `no_channel` (nothing configured to
/// deliver it; re-queued when a channel appears).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRow {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub org_path: String,
    pub dedupe_key: String,
    pub template: String,
    pub recipient: String,
    pub body: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub delivered_at: Option<i64>,
}

/// One delivery attempt as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationAttemptRow {
    pub notification_id: i64,
    pub attempt: i64,
    pub at: i64,
    /// `webhook`, `none`, …
    pub channel: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// What an attempt did to the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    Delivered,
    /// Try again at this time (ms).
    RetryAt(i64),
    /// Give up.
    Failed,
    /// No delivery channel is configured.
    NoChannel,
}

/// Filters for the delivery log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotificationFilter {
    pub path_prefix: String,
    pub incident_id: Option<i64>,
    pub status: Option<String>,
}

/// A citizen's evaluation to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvaluation {
    pub incident_id: i64,
    /// The station responsible when the case closed.
    pub org_id: i64,
    pub org_path: String,
    pub stars: i64,
    pub comment: String,
}

/// A stored evaluation with its supervisor follow-up, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationRow {
    pub id: i64,
    pub incident_id: i64,
    pub org_id: i64,
    pub org_path: String,
    pub stars: i64,
    pub comment: String,
    pub created_at: i64,
    pub follow_up_note: Option<String>,
    pub follow_up_by: Option<String>,
    pub follow_up_at: Option<i64>,
}

/// Filters for evaluation lists. `path_prefix` scopes to a jurisdiction subtree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationFilter {
    pub path_prefix: String,
    pub org_id: Option<i64>,
    pub max_stars: Option<i64>,
    pub followed_up: Option<bool>,
}

/// Evaluation counts of one station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationStatsRow {
    pub org_id: i64,
    pub count: i64,
    /// Count per star value, index 0 = one star.
    pub distribution: [i64; 5],
    pub followed_up: i64,
}

const NOTIFICATION_COLS: &str = "id, incident_id, org_path, dedupe_key, template, recipient, body, status, attempts, next_attempt_at, last_error, created_at, updated_at, delivered_at";
const EVALUATION_COLS: &str = "id, incident_id, org_id, org_path, stars, comment, created_at, follow_up_note, follow_up_by, follow_up_at";

macro_rules! citizen_case_row {
    ($r:expr) => {
        CitizenCaseRow {
            id: $r.try_get("id")?,
            incident_id: $r.try_get("incident_id")?,
            code_hash: $r.try_get("code_hash")?,
            subject: $r.try_get("subject")?,
            created_at: $r.try_get("created_at")?,
        }
    };
}

macro_rules! case_leaf_row {
    ($r:expr) => {
        CaseLeafRow {
            leaf_index: $r.try_get("leaf_index")?,
            incident_id: $r.try_get("incident_id")?,
            status: $r.try_get("status")?,
            org_code: $r.try_get("org_code")?,
            at: $r.try_get("at")?,
        }
    };
}

macro_rules! notification_row {
    ($r:expr) => {
        NotificationRow {
            id: $r.try_get("id")?,
            incident_id: $r.try_get("incident_id")?,
            org_path: $r.try_get("org_path")?,
            dedupe_key: $r.try_get("dedupe_key")?,
            template: $r.try_get("template")?,
            recipient: $r.try_get("recipient")?,
            body: $r.try_get("body")?,
            status: $r.try_get("status")?,
            attempts: $r.try_get("attempts")?,
            next_attempt_at: $r.try_get("next_attempt_at")?,
            last_error: $r.try_get("last_error")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
            delivered_at: $r.try_get("delivered_at")?,
        }
    };
}

macro_rules! attempt_row {
    ($r:expr) => {
        NotificationAttemptRow {
            notification_id: $r.try_get("notification_id")?,
            attempt: $r.try_get("attempt")?,
            at: $r.try_get("at")?,
            channel: $r.try_get("channel")?,
            status_code: $r.try_get("status_code")?,
            error: $r.try_get("error")?,
            duration_ms: $r.try_get("duration_ms")?,
        }
    };
}

macro_rules! evaluation_row {
    ($r:expr) => {
        EvaluationRow {
            id: $r.try_get("id")?,
            incident_id: $r.try_get("incident_id")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            stars: $r.try_get("stars")?,
            comment: $r.try_get("comment")?,
            created_at: $r.try_get("created_at")?,
            follow_up_note: $r.try_get("follow_up_note")?,
            follow_up_by: $r.try_get("follow_up_by")?,
            follow_up_at: $r.try_get("follow_up_at")?,
        }
    };
}

/// `WHERE` clause and text binds of a notification filter (integers are inlined).
fn notification_where(f: &NotificationFilter) -> (String, Vec<String>) {
    let mut binds = vec![format!("{}%", escape_like(&f.path_prefix))];
    let mut sql = String::from("org_path LIKE $1 ESCAPE '\\'");
    if let Some(i) = f.incident_id {
        sql.push_str(&format!(" AND incident_id = {i}"));
    }
    if let Some(s) = &f.status {
        binds.push(s.clone());
        sql.push_str(&format!(" AND status = ${}", binds.len()));
    }
    (sql, binds)
}

/// `WHERE` clause of an evaluation filter: the path bind is `$1`, numbers are
/// inlined (they are typed integers, not text).
fn evaluation_where(f: &EvaluationFilter) -> String {
    let mut sql = String::from("org_path LIKE $1 ESCAPE '\\'");
    if let Some(o) = f.org_id {
        sql.push_str(&format!(" AND org_id = {o}"));
    }
    if let Some(m) = f.max_stars {
        sql.push_str(&format!(" AND stars <= {m}"));
    }
    match f.followed_up {
        Some(true) => sql.push_str(" AND follow_up_at IS NOT NULL"),
        Some(false) => sql.push_str(" AND follow_up_at IS NULL"),
        None => {}
    }
    sql
}

/// Puts notification `$n` in the outbox, due at `$now`; the query returns its
/// id, or no row if the dedupe key is taken.
macro_rules! enqueue_notification {
    ($n:expr, $now:expr) => {
        sqlx::query(
            "INSERT INTO notifications (incident_id, org_path, dedupe_key, template, recipient, body, status, attempts, next_attempt_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7) ON CONFLICT (dedupe_key) DO NOTHING RETURNING id",
        )
        .bind($n.incident_id)
        .bind(&$n.org_path)
        .bind(&$n.dedupe_key)
        .bind(&$n.template)
        .bind(&$n.recipient)
        .bind(&$n.body)
        .bind($now)
    };
}

/// Keeps a caller commitment for an incident unless one was kept first.
const PUT_CASE_SUBJECT_SQL: &str = "INSERT INTO case_subjects (incident_id, subject) VALUES ($1, $2) ON CONFLICT (incident_id) DO NOTHING";

/// What [`Store::open_citizen_case`] writes.
#[derive(Debug, Clone, Copy)]
pub struct NewCitizenCase<'a> {
    pub incident_id: i64,
    /// The receipt code's hash.
    pub code_hash: &'a [u8],
    /// A fresh salted commitment to the caller, and its salt (kept only if
    /// the incident has no subject yet).
    pub subject: &'a [u8],
    pub salt: &'a [u8],
    /// The acceptance notification to the caller.
    pub notification: &'a NewNotification,
}

impl Store {
    /// The case a receipt code hash belongs to.
    pub async fn citizen_case_by_code(&self, code_hash: &[u8]) -> Result<Option<CitizenCaseRow>> {
        Ok(db!(self, p => match sqlx::query(
            "SELECT id, incident_id, code_hash, subject, created_at FROM citizen_cases WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some(citizen_case_row!(r)),
            None => None,
        }))
    }

    /// The receipt record of an incident, if a code was issued.
    pub async fn citizen_case_by_incident(
        &self,
        incident_id: i64,
    ) -> Result<Option<CitizenCaseRow>> {
        Ok(db!(self, p => match sqlx::query(
            "SELECT id, incident_id, code_hash, subject, created_at FROM citizen_cases WHERE incident_id = $1",
        )
        .bind(incident_id)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some(citizen_case_row!(r)),
            None => None,
        }))
    }

    /// Remembers which ledger leaf recorded a state of an incident (idempotent per leaf).
    pub async fn put_case_leaf(&self, leaf: &CaseLeafRow) -> Result<()> {
        db!(self, p => sqlx::query(
            "INSERT INTO case_leaves (leaf_index, incident_id, status, org_code, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (leaf_index) DO NOTHING",
        )
        .bind(leaf.leaf_index)
        .bind(leaf.incident_id)
        .bind(&leaf.status)
        .bind(&leaf.org_code)
        .bind(leaf.at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// The ledger leaves of an incident in log order.
    pub async fn case_leaves(&self, incident_id: i64) -> Result<Vec<CaseLeafRow>> {
        let rows = db!(self, p => {
            let mut out = Vec::new();
            for r in sqlx::query(
                "SELECT leaf_index, incident_id, status, org_code, at FROM case_leaves WHERE incident_id = $1 ORDER BY leaf_index",
            )
            .bind(incident_id)
            .fetch_all(p)
            .await?
            {
                out.push(case_leaf_row!(r));
            }
            out
        });
        Ok(rows)
    }

    /// The latest ledger leaf of an incident.
    pub async fn last_case_leaf(&self, incident_id: i64) -> Result<Option<CaseLeafRow>> {
        Ok(db!(self, p => match sqlx::query(
            "SELECT leaf_index, incident_id, status, org_code, at FROM case_leaves WHERE incident_id = $1 ORDER BY leaf_index DESC LIMIT 1",
        )
        .bind(incident_id)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some(case_leaf_row!(r)),
            None => None,
        }))
    }

    /// The salted caller commitment of an incident, if one was made.
    pub async fn case_subject(&self, incident_id: i64) -> Result<Option<Vec<u8>>> {
        Ok(
            db!(self, p => match sqlx::query("SELECT subject FROM case_subjects WHERE incident_id = $1")
                .bind(incident_id)
                .fetch_optional(p)
                .await?
            {
                Some(r) => Some(r.try_get::<Vec<u8>, _>("subject")?),
                None => None,
            }),
        )
    }

    /// Keeps `subject` as the incident's caller commitment unless one was
    /// kept first; returns the one that stands (so intake and the ledger feed,
    /// racing, agree on one commitment per case).
    pub async fn put_case_subject(&self, incident_id: i64, subject: &[u8]) -> Result<Vec<u8>> {
        let _writer = self.main_writer().await;
        db!(self, p => sqlx::query(PUT_CASE_SUBJECT_SQL)
        .bind(incident_id)
        .bind(subject)
        .execute(p)
        .await?
        .rows_affected());
        self.case_subject(incident_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                field: "case_subjects.incident_id",
                reason: format!("no subject stored for incident {incident_id}"),
            })
    }

    /// Opens an incident's citizen case in one transaction (one writer turn
    /// for what intake used to write in four): keeps `c.subject` as the
    /// caller commitment, with its salt, unless the incident has one already
    /// (then that one stands and the fresh salt is not kept), records the
    /// receipt code hash under the standing subject, and queues the
    /// acceptance notification. Returns the case and the notification id
    /// (`None` if one with the same dedupe key was queued before). A code
    /// hash that is taken is a `Conflict` and nothing is written.
    pub async fn open_citizen_case(
        &self,
        c: &NewCitizenCase<'_>,
        now: i64,
    ) -> Result<(CitizenCaseRow, Option<i64>)> {
        let n = c.notification;
        let _writer = self.main_writer().await;
        Ok(db!(self, p => {
            let mut tx = p.begin().await?;
            let kept = sqlx::query(PUT_CASE_SUBJECT_SQL)
            .bind(c.incident_id)
            .bind(c.subject)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            let subject: Vec<u8> = if kept == 1 {
                sqlx::query(crate::ledger::PUT_SALT_SQL)
                .bind(c.subject)
                .bind(c.salt)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                c.subject.to_vec()
            } else {
                sqlx::query("SELECT subject FROM case_subjects WHERE incident_id = $1")
                    .bind(c.incident_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("subject")?
            };
            let row = sqlx::query(
                "INSERT INTO citizen_cases (incident_id, code_hash, subject, created_at) VALUES ($1, $2, $3, $4) \
                 RETURNING id, incident_id, code_hash, subject, created_at",
            )
            .bind(c.incident_id)
            .bind(c.code_hash)
            .bind(&subject)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "receipt code", "incident", &c.incident_id.to_string()))?;
            let case = citizen_case_row!(row);
            let queued = match enqueue_notification!(n, now)
                .fetch_optional(&mut *tx)
                .await?
            {
                Some(r) => Some(r.try_get::<i64, _>("id")?),
                None => None,
            };
            tx.commit().await?;
            (case, queued)
        }))
    }

    /// Puts a notification in the outbox, due now. Returns `None` when one with
    /// the same `dedupe_key` already exists.
    pub async fn enqueue_notification(&self, n: &NewNotification, now: i64) -> Result<Option<i64>> {
        let _writer = self.main_writer().await;
        Ok(db!(self, p => match enqueue_notification!(n, now)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some(r.try_get::<i64, _>("id")?),
            None => None,
        }))
    }

    pub async fn get_notification(&self, id: i64) -> Result<NotificationRow> {
        let sql = format!("SELECT {NOTIFICATION_COLS} FROM notifications WHERE id = $1");
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(p)
            .await?
        {
            Some(r) => Ok(notification_row!(r)),
            None => Err(StoreError::NotFound { entity: "notification", id: id.to_string() }),
        })
    }

    /// Pending notifications due at `now`, oldest first.
    pub async fn due_notifications(&self, now: i64, limit: i64) -> Result<Vec<NotificationRow>> {
        let sql = format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE status = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        );
        let rows = db!(self, p => {
            let mut out = Vec::new();
            for r in sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(now)
                .bind(limit)
                .fetch_all(p)
                .await?
            {
                out.push(notification_row!(r));
            }
            out
        });
        Ok(rows)
    }

    /// Claims a due pending notification for one delivery attempt by moving
    /// its due time to `lease_until`: only one worker (of any process sharing
    /// the database) wins a claim, and a worker that dies mid-attempt leaves
    /// the message due again when the lease runs out.
    pub async fn claim_notification(&self, id: i64, now: i64, lease_until: i64) -> Result<bool> {
        let _writer = self.main_writer().await;
        Ok(db!(self, p => sqlx::query(
            "UPDATE notifications SET next_attempt_at = $3 WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2",
        )
        .bind(id)
        .bind(now)
        .bind(lease_until)
        .execute(p)
        .await?
        .rows_affected())
            == 1)
    }

    /// When the next pending notification falls due, if any.
    pub async fn next_notification_due(&self) -> Result<Option<i64>> {
        Ok(db!(self, p => sqlx::query(
            "SELECT MIN(next_attempt_at) AS t FROM notifications WHERE status = 'pending'",
        )
        .fetch_one(p)
        .await?
        .try_get::<Option<i64>, _>("t")?))
    }

    /// Logs one delivery attempt and applies its outcome, in one transaction.
    /// Only a `pending` notification is changed; returns the updated row, or
    /// `None` if it was no longer pending (another worker got there first).
    pub async fn record_notification_attempt(
        &self,
        attempt: &NotificationAttemptRow,
        outcome: NotificationOutcome,
    ) -> Result<Option<NotificationRow>> {
        let (status, next, delivered): (&str, Option<i64>, Option<i64>) = match outcome {
            NotificationOutcome::Delivered => ("delivered", None, Some(attempt.at)),
            NotificationOutcome::RetryAt(t) => ("pending", Some(t), None),
            NotificationOutcome::Failed => ("failed", None, None),
            NotificationOutcome::NoChannel => ("no_channel", None, None),
        };
        let sql = format!(
            "UPDATE notifications SET status = $1, attempts = attempts + 1, next_attempt_at = $2, last_error = $3, updated_at = $4, delivered_at = $5 \
             WHERE id = $6 AND status = 'pending' RETURNING {NOTIFICATION_COLS}"
        );
        let _writer = self.main_writer().await;
        let row = db!(self, p => {
            let mut tx = p.begin().await?;
            let updated = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(status)
                .bind(next)
                .bind(&attempt.error)
                .bind(attempt.at)
                .bind(delivered)
                .bind(attempt.notification_id)
                .fetch_optional(&mut *tx)
                .await?;
            match updated {
                None => None,
                Some(r) => {
                    sqlx::query(
                        "INSERT INTO notification_attempts (notification_id, attempt, at, channel, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(attempt.notification_id)
                    .bind(attempt.attempt)
                    .bind(attempt.at)
                    .bind(&attempt.channel)
                    .bind(attempt.status_code)
                    .bind(&attempt.error)
                    .bind(attempt.duration_ms)
                    .execute(&mut *tx)
                    .await?;
                    let row = notification_row!(r);
                    tx.commit().await?;
                    Some(row)
                }
            }
        });
        Ok(row)
    }

    /// Puts notifications held for lack of a channel and created at or after
    /// `created_since` back in the queue (a channel is now configured); older
    /// ones stay held, visible in the log. Returns how many were re-queued.
    pub async fn requeue_unchannelled_notifications(
        &self,
        now: i64,
        created_since: i64,
    ) -> Result<u64> {
        Ok(db!(self, p => sqlx::query(
            "UPDATE notifications SET status = 'pending', next_attempt_at = $1, updated_at = $1 WHERE status = 'no_channel' AND created_at >= $2",
        )
        .bind(now)
        .bind(created_since)
        .execute(p)
        .await?
        .rows_affected()))
    }

    /// The delivery log, newest first, with the total count.
    pub async fn list_notifications(
        &self,
        f: &NotificationFilter,
        page: Page,
    ) -> Result<(Vec<NotificationRow>, i64)> {
        let (w, binds) = notification_where(f);
        let sql = format!(
            "SELECT {NOTIFICATION_COLS} FROM notifications WHERE {w} ORDER BY id DESC LIMIT {} OFFSET {}",
            page.limit, page.offset
        );
        let count = format!("SELECT COUNT(*) AS n FROM notifications WHERE {w}");
        let out = db!(self, p => {
            let mut q = sqlx::query(AssertSqlSafe(sql.as_str()));
            let mut c = sqlx::query(AssertSqlSafe(count.as_str()));
            for b in &binds {
                q = q.bind(b);
                c = c.bind(b);
            }
            let mut rows = Vec::new();
            for r in q.fetch_all(p).await? {
                rows.push(notification_row!(r));
            }
            let total: i64 = c.fetch_one(p).await?.try_get("n")?;
            (rows, total)
        });
        Ok(out)
    }

    /// The attempts logged for a notification, in order.
    pub async fn notification_attempts(&self, id: i64) -> Result<Vec<NotificationAttemptRow>> {
        let rows = db!(self, p => {
            let mut out = Vec::new();
            for r in sqlx::query(
                "SELECT notification_id, attempt, at, channel, status_code, error, duration_ms FROM notification_attempts WHERE notification_id = $1 ORDER BY id",
            )
            .bind(id)
            .fetch_all(p)
            .await?
            {
                out.push(attempt_row!(r));
            }
            out
        });
        Ok(rows)
    }

    /// Stores a citizen's evaluation; a second one for the same incident is a conflict.
    pub async fn create_evaluation(&self, e: &NewEvaluation, now: i64) -> Result<EvaluationRow> {
        let sql = format!(
            "INSERT INTO evaluations (incident_id, org_id, org_path, stars, comment, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {EVALUATION_COLS}"
        );
        let r = db!(self, p => {
            let row = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(e.incident_id)
                .bind(e.org_id)
                .bind(&e.org_path)
                .bind(e.stars)
                .bind(&e.comment)
                .bind(now)
                .fetch_one(p)
                .await
                .map_err(|err| StoreError::unique(err, "evaluation", "incident", &e.incident_id.to_string()))?;
            evaluation_row!(row)
        });
        Ok(r)
    }

    pub async fn get_evaluation(&self, id: i64) -> Result<EvaluationRow> {
        let sql = format!("SELECT {EVALUATION_COLS} FROM evaluations WHERE id = $1");
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(id)
            .fetch_optional(p)
            .await?
        {
            Some(r) => Ok(evaluation_row!(r)),
            None => Err(StoreError::NotFound { entity: "evaluation", id: id.to_string() }),
        })
    }

    /// The evaluation left for an incident, if any.
    pub async fn evaluation_for_incident(&self, incident_id: i64) -> Result<Option<EvaluationRow>> {
        let sql = format!("SELECT {EVALUATION_COLS} FROM evaluations WHERE incident_id = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(incident_id)
                .fetch_optional(p)
                .await?
            {
                Some(r) => Some(evaluation_row!(r)),
                None => None,
            }),
        )
    }

    /// Evaluations matching `f`, newest first, with the total count.
    pub async fn list_evaluations(
        &self,
        f: &EvaluationFilter,
        page: Page,
    ) -> Result<(Vec<EvaluationRow>, i64)> {
        let w = evaluation_where(f);
        let prefix = format!("{}%", escape_like(&f.path_prefix));
        let sql = format!(
            "SELECT {EVALUATION_COLS} FROM evaluations WHERE {w} ORDER BY id DESC LIMIT {} OFFSET {}",
            page.limit, page.offset
        );
        let count = format!("SELECT COUNT(*) AS n FROM evaluations WHERE {w}");
        let out = db!(self, p => {
            let mut rows = Vec::new();
            for r in sqlx::query(AssertSqlSafe(sql.as_str())).bind(&prefix).fetch_all(p).await? {
                rows.push(evaluation_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count.as_str()))
                .bind(&prefix)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (rows, total)
        });
        Ok(out)
    }

    /// Records a supervisor's follow-up of an evaluation (a later one replaces it).
    pub async fn follow_up_evaluation(
        &self,
        id: i64,
        note: &str,
        by: &str,
        now: i64,
    ) -> Result<EvaluationRow> {
        let sql = format!(
            "UPDATE evaluations SET follow_up_note = $1, follow_up_by = $2, follow_up_at = $3 WHERE id = $4 RETURNING {EVALUATION_COLS}"
        );
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str()))
            .bind(note)
            .bind(by)
            .bind(now)
            .bind(id)
            .fetch_optional(p)
            .await?
        {
            Some(r) => Ok(evaluation_row!(r)),
            None => Err(StoreError::NotFound { entity: "evaluation", id: id.to_string() }),
        })
    }

    /// Per-station counts (by stars, and followed up) of the evaluations under
    /// `path_prefix`, ordered by station id.
    pub async fn evaluation_stats(&self, path_prefix: &str) -> Result<Vec<EvaluationStatsRow>> {
        let prefix = format!("{}%", escape_like(path_prefix));
        let rows: Vec<(i64, i64, i64, i64)> = db!(self, p => {
            let mut out = Vec::new();
            for r in sqlx::query(
                "SELECT org_id, stars, COUNT(*) AS n, COUNT(follow_up_at) AS f FROM evaluations \
                 WHERE org_path LIKE $1 ESCAPE '\\' GROUP BY org_id, stars ORDER BY org_id, stars",
            )
            .bind(&prefix)
            .fetch_all(p)
            .await?
            {
                out.push((r.try_get("org_id")?, r.try_get("stars")?, r.try_get("n")?, r.try_get("f")?));
            }
            out
        });
        let mut out: Vec<EvaluationStatsRow> = Vec::new();
        for (org_id, stars, n, f) in rows {
            if out.last().is_none_or(|s| s.org_id != org_id) {
                out.push(EvaluationStatsRow {
                    org_id,
                    count: 0,
                    distribution: [0; 5],
                    followed_up: 0,
                });
            }
            let s = out.last_mut().ok_or(StoreError::Corrupt {
                field: "evaluations",
                reason: "stats grouping".into(),
            })?;
            let slot = usize::try_from(stars - 1)
                .ok()
                .filter(|i| *i < 5)
                .ok_or_else(|| StoreError::Corrupt {
                    field: "evaluations.stars",
                    reason: format!("{stars} is outside 1..=5"),
                })?;
            s.distribution[slot] += n;
            s.count += n;
            s.followed_up += f;
        }
        Ok(out)
    }
}
