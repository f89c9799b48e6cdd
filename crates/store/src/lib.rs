//! Persistence for pingan.
//!
//! One [`Store`] handle with two real adapters chosen by configuration: SQLite
//! (embedded default, WAL, one file in the data dir) and PostgreSQL. Both run the
//! same SQL where the dialects agree (`$n` placeholders, `RETURNING`, `ON CONFLICT`)
//! and their own migration set where they do not. The [`db!`] macro expands a query
//! body once per adapter, so every method is compiled against both concrete drivers
//! and the shared test suite (`tests/suite.rs`) runs against both.
//!
//! Times are stored as `BIGINT` milliseconds since the epoch, booleans as integers,
//! JSON as text: the portable subset of both databases.

use std::sync::Arc;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use thiserror::Error;

mod alert;
mod audit;
mod citizen;
mod dispatch;
mod dispatch_admin;
mod fusion;
mod ledger;
mod migrate;
mod orgs;
mod units;
mod users;

pub use alert::{
    AlertFilter, AlertLifecycle, AlertRow, NewAlert, NewEvent, NewSensor, NewWatch, SensorRow,
    WatchFilter, WatchRow, event_db_path,
};
pub use audit::{
    AuditEntry, AuditFilter, AuditRecord, AuditVerification, GENESIS_HASH, chain_hash,
};
pub use citizen::{
    CaseLeafRow, CitizenCaseRow, EvaluationFilter, EvaluationRow, EvaluationStatsRow,
    NewCitizenCase, NewEvaluation, NewNotification, NotificationAttemptRow, NotificationFilter,
    NotificationOutcome, NotificationRow,
};
pub use dispatch::{
    AssignmentRow, CallRow, HandoffRow, IncidentFilter, IncidentPatch, IncidentRow, NewCall,
    NewHandoff, NewIncident, NewTimelineEntry, PartnerRow, TaxonomyOverrideRow, TimelineRow,
    UnitMove,
};
pub use dispatch_admin::EscalationRow;
pub use fusion::{
    FusionBatch, FusionCheckpointRow, FusionRecordRow, FusionRejectionRow, FusionSourceRow,
    HouseRow, NewFusionSource, RegistryBulk, ResidentRow, ResolutionOpRow, StdAddressRow,
    VehicleRegRow,
};
pub use ledger::{
    LedgerBatch, LedgerCheckpointRow, LedgerEntryRow, LedgerFeedAck, LedgerFeedRow, LedgerTileRow,
};
pub use orgs::{NewOrg, OrgPatch, OrgRow};
pub use units::{NewUnit, PositionUpdate, UnitFilter, UnitPatch, UnitRow};
pub use users::{ApiKeyRow, NewApiKey, NewUser, UserPatch, UserRow};

/// Which adapter a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{entity} with {field} {value:?} already exists")]
    Conflict {
        entity: &'static str,
        field: &'static str,
        value: String,
    },
    /// A compare-and-set write found the row no longer in the state the caller
    /// checked (another request changed it first).
    #[error("{message}")]
    Changed {
        entity: &'static str,
        field: &'static str,
        message: String,
    },
    #[error("{entity} {id} is still referenced by {by}")]
    InUse {
        entity: &'static str,
        id: String,
        by: &'static str,
    },
    #[error("invalid database url {0:?}: use a file path, sqlite://PATH or postgres://…")]
    BadUrl(String),
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    #[error("stored value for {field} is corrupt: {reason}")]
    Corrupt { field: &'static str, reason: String },
}

impl StoreError {
    pub(crate) fn unique(
        e: sqlx::Error,
        entity: &'static str,
        field: &'static str,
        value: &str,
    ) -> Self {
        match &e {
            sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict {
                entity,
                field,
                value: value.to_string(),
            },
            _ => StoreError::Db(e),
        }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A page request for list queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Default for Page {
    fn default() -> Self {
        Page {
            limit: 50,
            offset: 0,
        }
    }
}

pub(crate) enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Expands `$body` once for each adapter with `$pool` bound to the concrete pool.
#[macro_export]
#[doc(hidden)]
macro_rules! db {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.backend() {
            $crate::BackendRef::Sqlite($pool) => $body,
            $crate::BackendRef::Postgres($pool) => $body,
        }
    };
}

/// Borrowed view of the adapter, for the [`db!`] macro (also usable by other crates
/// that add their own tables through the same pools).
pub enum BackendRef<'a> {
    Sqlite(&'a SqlitePool),
    Postgres(&'a PgPool),
}

pub(crate) struct Inner {
    pub(crate) backend: Backend,
    /// Serialises appends to the audit hash chain within this process; PostgreSQL
    /// additionally takes an advisory lock so several processes can share one chain.
    pub(crate) audit_lock: tokio::sync::Mutex<()>,
    /// Audit entries queued for the next group-committed append (`audit.rs`).
    pub(crate) audit_pending: std::sync::Mutex<Vec<audit::PendingAudit>>,
    /// SQLite only: the raw sensor-event database, a file of its own so its
    /// writes never take the main file's writer lock (see `alert.rs`).
    pub(crate) events: Option<SqlitePool>,
    /// Live sessions and API keys by secret hash (`users.rs`).
    pub(crate) auth_cache: users::AuthCache,
}

/// The handle every other part of pingan persists through. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("dialect", &self.dialect())
            .finish()
    }
}

/// How often the background checkpointer copies the WAL into the database.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Copies committed WAL frames into the main SQLite file every
/// [`CHECKPOINT_EVERY`], off the request path. PASSIVE never waits for
/// readers or writers; SQLite restarts the WAL from its start once a
/// checkpoint has copied all of it. Ends when the store is dropped or closed.
fn spawn_checkpointer(inner: std::sync::Weak<Inner>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let Backend::Sqlite(pool) = &inner.backend else {
                return;
            };
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
            {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            }
        }
    });
}

impl Store {
    /// Opens (creating if needed) the database named by `url` and applies migrations.
    ///
    /// `url` is `postgres://…`/`postgresql://…`, `sqlite://PATH`, or a plain file path.
    pub async fn open(url: &str) -> Result<Store> {
        let mut events = None;
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts: PgConnectOptions = url
                .parse()
                .map_err(|_| StoreError::BadUrl(url.to_string()))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            Backend::Postgres(pool)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            if path.is_empty() {
                return Err(StoreError::BadUrl(url.to_string()));
            }
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // Checkpoints run in the background (`spawn_checkpointer`), not
                // inside whichever commit crosses 1,000 WAL pages: that commit
                // used to pay tens of milliseconds, the write paths' worst tail.
                .pragma("wal_autocheckpoint", "0");
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(opts)
                .await?;
            events = Some(alert::open_event_db(path).await?);
            Backend::Sqlite(pool)
        };
        let store = Store {
            inner: Arc::new(Inner {
                backend,
                audit_lock: tokio::sync::Mutex::new(()),
                audit_pending: std::sync::Mutex::new(Vec::new()),
                events,
                auth_cache: users::AuthCache::default(),
            }),
        };
        migrate::run(&store).await?;
        if store.dialect() == Dialect::Sqlite {
            spawn_checkpointer(Arc::downgrade(&store.inner));
        }
        Ok(store)
    }

    /// On SQLite, the in-process turn at the main file's writer lock, taken by
    /// the hot write paths (alert inserts and liveness, incident changes, unit
    /// moves, receipts and notifications, ledger appends) and shared with
    /// audit appends, which hold it for a whole transaction. Waiting here is
    /// a FIFO queue; colliding inside SQLite instead means its busy handler's
    /// sleeps of 1, 2, 5, 10, 15 … ms, which made up the latency tails of
    /// the alert and dispatch paths. PostgreSQL locks rows, so it takes no
    /// turn. Never held across a call that takes it again.
    pub(crate) async fn main_writer(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.dialect() {
            Dialect::Sqlite => Some(self.inner.audit_lock.lock().await),
            Dialect::Postgres => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match &self.inner.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres(_) => Dialect::Postgres,
        }
    }

    #[doc(hidden)]
    pub fn backend(&self) -> BackendRef<'_> {
        match &self.inner.backend {
            Backend::Sqlite(p) => BackendRef::Sqlite(p),
            Backend::Postgres(p) => BackendRef::Postgres(p),
        }
    }

    /// Runs a raw SQL statement. For administration and for tests that tamper with
    /// stored data on purpose; application code uses the typed methods.
    pub async fn execute_raw(&self, sql: &str) -> Result<u64> {
        let n = db!(self, p => sqlx::raw_sql(AssertSqlSafe(sql)).execute(p).await?.rows_affected());
        // Raw SQL may end or change any principal: nothing cached survives it.
        self.inner.auth_cache.invalidate();
        Ok(n)
    }

    /// A fingerprint of the org tree (node count, id sum, latest change): it
    /// moves whenever a node is added, removed or changed, by this process
    /// or another (`pingan org import` beside a running server).
    pub async fn org_tree_version(&self) -> Result<(i64, i64, i64)> {
        use sqlx::Row;
        Ok(db!(self, p => {
            let r = sqlx::query(
                // PostgreSQL sums BIGINT to NUMERIC: cast back.
                "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(id), 0) AS BIGINT) AS ids, \
                 CAST(COALESCE(MAX(updated_at), 0) AS BIGINT) AS at FROM orgs",
            )
            .fetch_one(p)
            .await?;
            (r.try_get("n")?, r.try_get("ids")?, r.try_get("at")?)
        }))
    }

    pub async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        use sqlx::Row;
        let row = db!(self, p => sqlx::query("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(p)
            .await?
            .map(|r| r.try_get::<String, _>("value"))
            .transpose()?);
        Ok(row)
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<()> {
        db!(self, p => sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await?.rows_affected());
        Ok(())
    }

    /// Checks the database answers, for `/healthz`.
    pub async fn ping(&self) -> Result<()> {
        db!(self, p => sqlx::query("SELECT 1").execute(p).await?.rows_affected());
        Ok(())
    }

    /// Closes every pooled connection, waiting for in-flight queries.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(p) => p.close().await,
            Backend::Postgres(p) => p.close().await,
        }
        if let Some(p) = &self.inner.events {
            p.close().await;
        }
    }
}

pub(crate) fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_string())
}

pub(crate) fn parse_json_list(field: &'static str, s: &str) -> Result<Vec<String>> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        field,
        reason: e.to_string(),
    })
}
