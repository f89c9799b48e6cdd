//! Early-warning persistence (the tables behind `crates/alert`): the sensor
//! registry, watches (布控) with their mandatory legal basis, case reference,
//! owner and expiry, alerts with their lifecycle history, and the raw accepted
//! events, which are kept only for a retention period unless they hit a rule.
//!
//! Watch specs and alert drafts are stored as JSON text written by the server;
//! the columns beside them (status, org path, times) are what queries filter on.
//!
//! On SQLite the raw events live in a database file of their own beside the
//! main one (`pingan.db` → `pingan.events.db`, see [`event_db_path`]), with
//! its own pool: SQLite has one writer lock per file, and the raw-event stream
//! (hundreds of thousands of rows a second) must never hold the lock that
//! alert, audit and every other write takes. PostgreSQL keeps them in its one
//! database (row-level locking already keeps them apart).

use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, Row};

use crate::orgs::escape_like;
use crate::{BackendRef, Page, Result, Store, StoreError, db};

#[derive(Debug, Clone, PartialEq)]
pub struct SensorRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub org_id: i64,
    pub org_path: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// `active`, `silent` or `disabled`.
    pub status: String,
    pub last_seen: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewSensor {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub org_id: i64,
    pub position: Option<(f64, f64)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WatchRow {
    pub id: i64,
    pub label: String,
    /// The watch specification as JSON (the server's wire form).
    pub spec: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub owner: String,
    /// Org subtree that owns (and may see) the watch.
    pub org_path: String,
    pub expires_at: i64,
    pub created_by: String,
    /// `active`, `expired` or `cancelled`.
    pub status: String,
    pub ended_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A watch to create, or the new version of one.
#[derive(Debug, Clone)]
pub struct NewWatch {
    pub label: String,
    pub spec: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub owner: String,
    pub org_path: String,
    pub expires_at: i64,
    pub created_by: String,
}

#[derive(Debug, Clone, Default)]
pub struct WatchFilter {
    pub path_prefix: String,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertRow {
    pub id: i64,
    pub rule: String,
    pub watch_id: Option<i64>,
    /// Routing org path: the station responsible for the place, else the owner's org.
    pub org_path: String,
    pub priority: String,
    pub status: String,
    /// Event time (or deadline for clock-fired alerts).
    pub time: i64,
    /// The alert draft as JSON.
    pub draft: String,
    /// Lifecycle history as a JSON array.
    pub history: String,
    pub outcome: Option<String>,
    pub incident_id: Option<String>,
    /// 1 + repeat hits swallowed by the suppression window.
    pub hits: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub rule: String,
    pub watch_id: Option<i64>,
    pub org_path: String,
    pub priority: String,
    pub time: i64,
    pub draft: String,
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub path_prefix: String,
    pub status: Option<String>,
    pub rule: Option<String>,
    /// Only alerts with `time >= since`.
    pub since: Option<i64>,
}

/// A lifecycle change, applied only if the alert is still in `expected_status`
/// (so two officers acting at once cannot both win).
#[derive(Debug, Clone)]
pub struct AlertLifecycle {
    pub expected_status: String,
    pub status: String,
    pub history: String,
    pub outcome: Option<String>,
    pub incident_id: Option<String>,
}

/// One accepted raw event line.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub at: i64,
    pub sensor_id: String,
    pub raw: String,
    /// Whether the event triggered an alert (then it outlives the retention).
    pub hit: bool,
}

const SENSOR_COLS: &str =
    "id, kind, name, org_id, org_path, lat, lng, status, last_seen, created_at, updated_at";
const WATCH_COLS: &str = "id, label, spec, legal_basis, case_ref, owner, org_path, expires_at, created_by, status, ended_at, created_at, updated_at";
const ALERT_COLS: &str = "id, rule, watch_id, org_path, priority, status, alert_time, draft, history, outcome, incident_id, hits, created_at, updated_at";

/// Rows per multi-row INSERT of raw events on PostgreSQL (4 parameters each).
const EVENT_CHUNK: usize = 500;

/// Schema of the SQLite raw-event database. `id` is a plain rowid (no
/// AUTOINCREMENT bookkeeping per insert); the purge index covers only events
/// that hit no rule, the only ones the retention purge deletes.
const EVENT_DB_SCHEMA: &str = "\
CREATE TABLE IF NOT EXISTS alert_events (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    sensor_id TEXT NOT NULL,
    raw TEXT NOT NULL,
    hit INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_events_unhit_at ON alert_events(at) WHERE hit = 0;
PRAGMA user_version = 1;
";

/// The raw-event database file that goes with the main SQLite file `main`:
/// `x.db` → `x.events.db`, any other name gets `.events.db` appended.
pub fn event_db_path(main: &str) -> String {
    match main.strip_suffix(".db") {
        Some(stem) => format!("{stem}.events.db"),
        None => format!("{main}.events.db"),
    }
}

/// Opens (creating if needed) the raw-event database beside the main SQLite
/// file `main` and returns its pool.
///
/// Raw events of an older layout, kept in the main file's `alert_events`, are
/// moved over once, keeping their ids (so a move cut short by a crash is
/// simply redone: rows already moved are skipped).
pub(crate) async fn open_event_db(main: &str) -> Result<SqlitePool> {
    let opts = SqliteConnectOptions::new()
        .filename(event_db_path(main))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let mut conn = sqlx::SqliteConnection::connect_with(&opts).await?;
    sqlx::raw_sql(EVENT_DB_SCHEMA).execute(&mut conn).await?;
    sqlx::query("ATTACH DATABASE ? AS legacy")
        .bind(main)
        .execute(&mut conn)
        .await?;
    let legacy: Option<i64> = sqlx::query(
        "SELECT 1 AS x FROM legacy.sqlite_master WHERE type = 'table' AND name = 'alert_events'",
    )
    .fetch_optional(&mut conn)
    .await?
    .map(|r| r.try_get("x"))
    .transpose()?;
    let pending = match legacy {
        Some(_) => sqlx::query("SELECT 1 AS x FROM legacy.alert_events LIMIT 1")
            .fetch_optional(&mut conn)
            .await?
            .is_some(),
        None => false,
    };
    if pending {
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT OR IGNORE INTO main.alert_events (id, at, sensor_id, raw, hit) \
             SELECT id, at, sensor_id, raw, hit FROM legacy.alert_events",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM legacy.alert_events")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    sqlx::query("DETACH DATABASE legacy")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    // One writer at a time anyway; the second connection serves counts and
    // purges without waiting for an insert to finish.
    Ok(SqlitePoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(opts)
        .await?)
}

/// `[[at,"sensor_id","raw",hit],…]`: a whole raw-event batch as one JSON
/// parameter for SQLite's `json_each` (one cached statement and one bind per
/// batch instead of four binds per row).
fn events_json(events: &[NewEvent]) -> String {
    let rows: Vec<(i64, &str, &str, i64)> = events
        .iter()
        .map(|e| (e.at, e.sensor_id.as_str(), e.raw.as_str(), i64::from(e.hit)))
        .collect();
    serde_json::to_string(&rows).unwrap_or_else(|_| "[]".to_string())
}

/// Rows deleted per statement by the retention purge.
const PURGE_CHUNK: i64 = 5_000;

macro_rules! sensor_row {
    ($r:expr) => {
        SensorRow {
            id: $r.try_get("id")?,
            kind: $r.try_get("kind")?,
            name: $r.try_get("name")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            lat: $r.try_get("lat")?,
            lng: $r.try_get("lng")?,
            status: $r.try_get("status")?,
            last_seen: $r.try_get("last_seen")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

macro_rules! watch_row {
    ($r:expr) => {
        WatchRow {
            id: $r.try_get("id")?,
            label: $r.try_get("label")?,
            spec: $r.try_get("spec")?,
            legal_basis: $r.try_get("legal_basis")?,
            case_ref: $r.try_get("case_ref")?,
            owner: $r.try_get("owner")?,
            org_path: $r.try_get("org_path")?,
            expires_at: $r.try_get("expires_at")?,
            created_by: $r.try_get("created_by")?,
            status: $r.try_get("status")?,
            ended_at: $r.try_get("ended_at")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

macro_rules! alert_row {
    ($r:expr) => {
        AlertRow {
            id: $r.try_get("id")?,
            rule: $r.try_get("rule")?,
            watch_id: $r.try_get("watch_id")?,
            org_path: $r.try_get("org_path")?,
            priority: $r.try_get("priority")?,
            status: $r.try_get("status")?,
            time: $r.try_get("alert_time")?,
            draft: $r.try_get("draft")?,
            history: $r.try_get("history")?,
            outcome: $r.try_get("outcome")?,
            incident_id: $r.try_get("incident_id")?,
            hits: $r.try_get("hits")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

/// [`db!`] over the raw-event pool (see [`Store::events_backend`]).
macro_rules! events_db {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store.events_backend() {
            BackendRef::Sqlite($pool) => $body,
            BackendRef::Postgres($pool) => $body,
        }
    };
}

impl Store {
    // ---- sensors ----

    pub async fn create_sensor(&self, new: &NewSensor, now: i64) -> Result<SensorRow> {
        let org = self.get_org(new.org_id).await?;
        let (lat, lng) = match new.position {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        db!(self, p => sqlx::query(
            "INSERT INTO alert_sensors (id, kind, name, org_id, org_path, lat, lng, status, last_seen, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', NULL, $8, $8)",
        )
        .bind(&new.id)
        .bind(&new.kind)
        .bind(&new.name)
        .bind(new.org_id)
        .bind(&org.path)
        .bind(lat)
        .bind(lng)
        .bind(now)
        .execute(p)
        .await
        .map_err(|e| StoreError::unique(e, "sensor", "id", &new.id))?
        .rows_affected());
        self.get_sensor(&new.id).await
    }

    pub async fn get_sensor(&self, id: &str) -> Result<SensorRow> {
        let sql = format!("SELECT {SENSOR_COLS} FROM alert_sensors WHERE id = $1");
        let row = db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Some(sensor_row!(r)),
            None => None,
        });
        row.ok_or_else(|| StoreError::NotFound {
            entity: "sensor",
            id: id.to_string(),
        })
    }

    /// Sensors owned by orgs in the subtree `path_prefix`, by id.
    pub async fn list_sensors(
        &self,
        path_prefix: &str,
        page: Page,
    ) -> Result<(Vec<SensorRow>, i64)> {
        let like = format!("{}%", escape_like(path_prefix));
        let sql = format!(
            "SELECT {SENSOR_COLS} FROM alert_sensors WHERE org_path LIKE $1 ESCAPE '\\' ORDER BY id LIMIT $2 OFFSET $3"
        );
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(sensor_row!(r));
            }
            let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM alert_sensors WHERE org_path LIKE $1 ESCAPE '\\'")
                .bind(&like)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    pub async fn all_sensors(&self) -> Result<Vec<SensorRow>> {
        Ok(self
            .list_sensors(
                "/",
                Page {
                    limit: i64::MAX / 2,
                    offset: 0,
                },
            )
            .await?
            .0)
    }

    /// Records liveness: `last_seen` only moves forward; `status` is set when given.
    pub async fn update_sensor_liveness(
        &self,
        id: &str,
        status: Option<&str>,
        last_seen: Option<i64>,
        now: i64,
    ) -> Result<()> {
        db!(self, p => sqlx::query(
            "UPDATE alert_sensors SET status = COALESCE($2, status), \
             last_seen = CASE WHEN $3 IS NOT NULL AND (last_seen IS NULL OR last_seen < $3) THEN $3 ELSE last_seen END, \
             updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(status)
        .bind(last_seen)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Moves `last_seen` forward for many sensors in one statement (the
    /// write-behind path records liveness once per flush, not per event). One
    /// statement, not one per sensor: on SQLite a transaction holds the main
    /// file's write lock for all its round trips, and alert writes queue behind it.
    pub async fn touch_sensors(&self, seen: &[(String, i64)], now: i64) -> Result<()> {
        if seen.is_empty() {
            return Ok(());
        }
        // One row per sensor: UPDATE … FROM uses an arbitrary one of several matches.
        let mut latest: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
        for (id, at) in seen {
            let t = latest.entry(id.as_str()).or_insert(*at);
            *t = (*t).max(*at);
        }
        match self.backend() {
            BackendRef::Sqlite(p) => {
                let json = serde_json::to_string(&latest.into_iter().collect::<Vec<_>>())
                    .unwrap_or_else(|_| "[]".to_string());
                let _writer = self.main_writer().await;
                sqlx::query(
                    "UPDATE alert_sensors SET \
                     last_seen = CASE WHEN last_seen IS NULL OR last_seen < j.at THEN j.at ELSE last_seen END, \
                     updated_at = $2 \
                     FROM (SELECT value ->> 0 AS id, value ->> 1 AS at FROM json_each($1)) AS j \
                     WHERE alert_sensors.id = j.id",
                )
                .bind(json)
                .bind(now)
                .execute(p)
                .await?;
            }
            BackendRef::Postgres(p) => {
                let (ids, ats): (Vec<String>, Vec<i64>) =
                    latest.into_iter().map(|(k, v)| (k.to_string(), v)).unzip();
                sqlx::query(
                    "UPDATE alert_sensors AS s SET \
                     last_seen = CASE WHEN s.last_seen IS NULL OR s.last_seen < j.at THEN j.at ELSE s.last_seen END, \
                     updated_at = $3 \
                     FROM UNNEST($1::text[], $2::bigint[]) AS j(id, at) \
                     WHERE s.id = j.id",
                )
                .bind(ids)
                .bind(ats)
                .bind(now)
                .execute(p)
                .await?;
            }
        }
        Ok(())
    }

    // ---- watches ----

    pub async fn create_watch(&self, new: &NewWatch, now: i64) -> Result<WatchRow> {
        let id: i64 = db!(self, p => sqlx::query(
            "INSERT INTO alert_watches (label, spec, legal_basis, case_ref, owner, org_path, expires_at, created_by, status, ended_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', NULL, $9, $9) RETURNING id",
        )
        .bind(&new.label)
        .bind(&new.spec)
        .bind(&new.legal_basis)
        .bind(&new.case_ref)
        .bind(&new.owner)
        .bind(&new.org_path)
        .bind(new.expires_at)
        .bind(&new.created_by)
        .bind(now)
        .fetch_one(p)
        .await?
        .try_get("id")?);
        self.get_watch(id).await
    }

    pub async fn get_watch(&self, id: i64) -> Result<WatchRow> {
        let sql = format!("SELECT {WATCH_COLS} FROM alert_watches WHERE id = $1");
        let row = db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Some(watch_row!(r)),
            None => None,
        });
        row.ok_or_else(|| StoreError::NotFound {
            entity: "watch",
            id: id.to_string(),
        })
    }

    pub async fn list_watches(&self, f: &WatchFilter, page: Page) -> Result<(Vec<WatchRow>, i64)> {
        let like = format!("{}%", escape_like(&f.path_prefix));
        let filter = "org_path LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR status = $2)";
        let sql = format!(
            "SELECT {WATCH_COLS} FROM alert_watches WHERE {filter} ORDER BY id LIMIT $3 OFFSET $4"
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM alert_watches WHERE {filter}");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(watch_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    /// Every watch still `active`, for restoring the engine at start.
    pub async fn active_watches(&self) -> Result<Vec<WatchRow>> {
        Ok(self
            .list_watches(
                &WatchFilter {
                    path_prefix: "/".into(),
                    status: Some("active".into()),
                },
                Page {
                    limit: i64::MAX / 2,
                    offset: 0,
                },
            )
            .await?
            .0)
    }

    /// Replaces the specification of an active watch (`created_by` is kept).
    pub async fn update_watch(&self, id: i64, new: &NewWatch, now: i64) -> Result<WatchRow> {
        let n = db!(self, p => sqlx::query(
            "UPDATE alert_watches SET label = $2, spec = $3, legal_basis = $4, case_ref = $5, owner = $6, org_path = $7, expires_at = $8, updated_at = $9 \
             WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(&new.label)
        .bind(&new.spec)
        .bind(&new.legal_basis)
        .bind(&new.case_ref)
        .bind(&new.owner)
        .bind(&new.org_path)
        .bind(new.expires_at)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        if n == 0 {
            let w = self.get_watch(id).await?;
            return Err(StoreError::Conflict {
                entity: "watch",
                field: "status",
                value: w.status,
            });
        }
        self.get_watch(id).await
    }

    /// Ends an active watch with `status` (`expired` or `cancelled`). Returns
    /// false if it was not active any more.
    pub async fn end_watch(&self, id: i64, status: &str, at: i64) -> Result<bool> {
        let n = db!(self, p => sqlx::query(
            "UPDATE alert_watches SET status = $2, ended_at = $3, updated_at = $3 WHERE id = $1 AND status = 'active'",
        )
        .bind(id)
        .bind(status)
        .bind(at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    // ---- alerts ----

    /// Inserts alerts atomically; returns their ids in order. A single alert
    /// (the usual case on the hot path) is one autocommit statement: one
    /// round trip to the database instead of BEGIN, INSERT and COMMIT.
    pub async fn create_alerts(&self, alerts: &[NewAlert], now: i64) -> Result<Vec<i64>> {
        const INSERT: &str = "INSERT INTO alerts (rule, watch_id, org_path, priority, status, alert_time, draft, history, outcome, incident_id, hits, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'new', $5, $6, '[]', NULL, NULL, 1, $7, $7) RETURNING id";
        macro_rules! insert {
            ($a:expr, $exec:expr) => {{
                let id: i64 = sqlx::query(INSERT)
                    .bind(&$a.rule)
                    .bind($a.watch_id)
                    .bind(&$a.org_path)
                    .bind(&$a.priority)
                    .bind($a.time)
                    .bind(&$a.draft)
                    .bind(now)
                    .fetch_one($exec)
                    .await?
                    .try_get("id")?;
                id
            }};
        }
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let _writer = self.main_writer().await;
        Ok(match alerts {
            [] => Vec::new(),
            [a] => db!(self, p => vec![insert!(a, p)]),
            _ => db!(self, p => {
                let mut tx = p.begin().await?;
                let mut ids = Vec::with_capacity(alerts.len());
                for a in alerts {
                    ids.push(insert!(a, &mut *tx));
                }
                tx.commit().await?;
                ids
            }),
        })
    }

    pub async fn get_alert(&self, id: i64) -> Result<AlertRow> {
        let sql = format!("SELECT {ALERT_COLS} FROM alerts WHERE id = $1");
        let row = db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Some(alert_row!(r)),
            None => None,
        });
        row.ok_or_else(|| StoreError::NotFound {
            entity: "alert",
            id: id.to_string(),
        })
    }

    /// Alerts routed into the subtree, newest first.
    pub async fn list_alerts(&self, f: &AlertFilter, page: Page) -> Result<(Vec<AlertRow>, i64)> {
        let like = format!("{}%", escape_like(&f.path_prefix));
        let filter = "org_path LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR rule = $3) AND ($4 IS NULL OR alert_time >= $4)";
        let sql = format!(
            "SELECT {ALERT_COLS} FROM alerts WHERE {filter} ORDER BY alert_time DESC, id DESC LIMIT $5 OFFSET $6"
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM alerts WHERE {filter}");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .bind(&f.rule)
                .bind(f.since)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(alert_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .bind(&f.rule)
                .bind(f.since)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    /// Applies a lifecycle change if the alert is still in the expected status;
    /// otherwise a `Conflict` on `status` naming the current one.
    pub async fn update_alert_lifecycle(
        &self,
        id: i64,
        change: &AlertLifecycle,
        now: i64,
    ) -> Result<AlertRow> {
        let n = db!(self, p => sqlx::query(
            "UPDATE alerts SET status = $3, history = $4, outcome = $5, incident_id = $6, updated_at = $7 WHERE id = $1 AND status = $2",
        )
        .bind(id)
        .bind(&change.expected_status)
        .bind(&change.status)
        .bind(&change.history)
        .bind(&change.outcome)
        .bind(&change.incident_id)
        .bind(now)
        .execute(p)
        .await?
        .rows_affected());
        if n == 0 {
            let cur = self.get_alert(id).await?;
            return Err(StoreError::Conflict {
                entity: "alert",
                field: "status",
                value: cur.status,
            });
        }
        self.get_alert(id).await
    }

    /// Counts repeat hits swallowed by a suppression window.
    pub async fn add_alert_hits(&self, id: i64, n: i64, now: i64) -> Result<()> {
        db!(self, p => sqlx::query("UPDATE alerts SET hits = hits + $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(n)
            .bind(now)
            .execute(p)
            .await?
            .rows_affected());
        Ok(())
    }

    // ---- raw events ----

    /// Where raw events live: their own SQLite database, or PostgreSQL's one.
    fn events_backend(&self) -> BackendRef<'_> {
        match &self.inner.events {
            Some(p) => BackendRef::Sqlite(p),
            None => self.backend(),
        }
    }

    /// Appends accepted raw events atomically (one statement on SQLite,
    /// multi-row inserts in one transaction on PostgreSQL).
    pub async fn insert_events(&self, events: &[NewEvent]) -> Result<u64> {
        if events.is_empty() {
            return Ok(0);
        }
        Ok(match self.events_backend() {
            BackendRef::Sqlite(p) => sqlx::query(
                "INSERT INTO alert_events (at, sensor_id, raw, hit) \
                 SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3 FROM json_each(?)",
            )
            .bind(events_json(events))
            .execute(p)
            .await?
            .rows_affected(),
            BackendRef::Postgres(p) => {
                let mut total = 0;
                let mut tx = p.begin().await?;
                for chunk in events.chunks(EVENT_CHUNK) {
                    let sql = format!(
                        "INSERT INTO alert_events (at, sensor_id, raw, hit) VALUES {}",
                        crate::ledger::placeholders(self.dialect(), chunk.len(), 4)
                    );
                    let mut q = sqlx::query(AssertSqlSafe(sql));
                    for e in chunk {
                        q = q
                            .bind(e.at)
                            .bind(&e.sensor_id)
                            .bind(&e.raw)
                            .bind(i64::from(e.hit));
                    }
                    total += q.execute(&mut *tx).await?.rows_affected();
                }
                tx.commit().await?;
                total
            }
        })
    }

    /// Deletes events older than `before` that hit no rule; returns how many.
    /// Deletes in chunks of 5 000 rows, one statement (and so one SQLite
    /// write lock) per chunk, so a large purge never holds up alert writes for long.
    pub async fn purge_events(&self, before: i64) -> Result<u64> {
        let mut total = 0;
        loop {
            let n = events_db!(self, p => sqlx::query(
                "DELETE FROM alert_events WHERE id IN \
                 (SELECT id FROM alert_events WHERE at < $1 AND hit = 0 LIMIT $2)",
            )
            .bind(before)
            .bind(PURGE_CHUNK)
            .execute(p)
            .await?
            .rows_affected());
            total += n;
            if n < PURGE_CHUNK as u64 {
                return Ok(total);
            }
        }
    }

    /// `(total, hits)` of stored raw events.
    pub async fn count_events(&self) -> Result<(i64, i64)> {
        Ok(events_db!(self, p => {
            let r = sqlx::query("SELECT COUNT(*) AS n, (SELECT COUNT(*) FROM alert_events WHERE hit = 1) AS h FROM alert_events")
                .fetch_one(p)
                .await?;
            (r.try_get::<i64, _>("n")?, r.try_get::<i64, _>("h")?)
        }))
    }
}
