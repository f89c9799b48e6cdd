//! Persistence of computer-aided dispatch: incidents (with their daily
//! `JQyyyymmddNNNNNN` numbers), the calls attached to them, the timeline of every
//! state change, unit assignments, partner agencies and their webhook
//! endpoints, the durable hand-off outbox, and admin edits to the incident
//! taxonomy. State-machine rules live in `pingan-dispatch`; this module records
//! outcomes, and writes each change together with its timeline rows in one
//! transaction so the timeline never disagrees with the incident row.

use sqlx::{AssertSqlSafe, Row};

use crate::orgs::escape_like;
use crate::{Page, Result, Store, StoreError, db};

/// A stored incident. `caller_phone`/`caller_name` are personal data: callers
/// of the store mask them unless the reader is entitled to see them.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentRow {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub type_code: Option<String>,
    pub priority: Option<String>,
    pub description: String,
    pub lat: f64,
    pub lng: f64,
    pub address: Option<String>,
    /// Responsible org (station, or district/city after transfer).
    pub org_id: i64,
    pub org_path: String,
    pub caller_phone: String,
    pub caller_name: Option<String>,
    pub channel: String,
    pub disposition: Option<String>,
    pub created_at: i64,
    pub dispatched_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub updated_at: i64,
}

/// A call as received; the first call of an incident creates it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub channel: String,
    pub caller_phone: String,
    pub caller_name: Option<String>,
    pub description: String,
    pub lat: f64,
    pub lng: f64,
    pub address: Option<String>,
    pub received_at: i64,
}

/// A stored call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRow {
    pub id: i64,
    pub incident_id: i64,
    pub call: NewCall,
}

/// One timeline line to append. `data` is JSON the server needs to replay the
/// incident state machine from the timeline (e.g. type and priority of a
/// classification, target org of a transfer).
#[derive(Debug, Clone, PartialEq)]
pub struct NewTimelineEntry {
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub detail: String,
    pub unit_id: Option<i64>,
    pub data: String,
}

/// A stored timeline line.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    pub id: i64,
    pub incident_id: i64,
    pub entry: NewTimelineEntry,
}

/// A new incident: the first call, its initial fields and initial timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIncident {
    /// Local calendar day `yyyymmdd` that dates the incident number.
    pub day: String,
    pub status: String,
    pub type_code: Option<String>,
    pub priority: Option<String>,
    pub org_id: i64,
    pub call: NewCall,
    pub timeline: Vec<NewTimelineEntry>,
}

/// Changes to an incident row; `None` leaves a column as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentPatch {
    pub status: Option<String>,
    pub type_code: Option<String>,
    pub priority: Option<String>,
    pub org_id: Option<i64>,
    pub disposition: Option<String>,
    pub dispatched_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// Clears `closed_at`/`disposition` (reopening).
    pub reopen: bool,
}

/// Filters for incident lists. `path_prefix` scopes to a jurisdiction subtree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentFilter {
    pub path_prefix: String,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub type_code: Option<String>,
    /// Created at or after (ms).
    pub since: Option<i64>,
    /// Created before (ms).
    pub until: Option<i64>,
    /// Only incidents not closed.
    pub open: bool,
}

/// A unit's assignment to an incident; `seq` distinguishes repeated
/// dispatches of the same unit to the same incident.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignmentRow {
    pub incident_id: i64,
    pub unit_id: i64,
    pub seq: i64,
    /// dispatched, acknowledged, en_route, on_scene, cleared, cancelled
    pub stage: String,
    pub dispatched_at: i64,
    pub acknowledged_at: Option<i64>,
    pub arrived_at: Option<i64>,
    pub cleared_at: Option<i64>,
}

/// A partner agency's webhook endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerRow {
    /// `12345`, `120`, `119`, `traffic`.
    pub code: String,
    pub name: String,
    pub webhook_url: String,
    /// HMAC secret for the signature header.
    pub secret: String,
    pub updated_at: i64,
}

/// A hand-off to a partner in the durable outbox. `history` is the JSON list of
/// lifecycle events `[{at, state, detail}]` the server replays into the domain
/// hand-off.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffRow {
    pub id: i64,
    pub incident_id: i64,
    pub partner: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub seed: i64,
    pub payload: String,
    pub feedback: Option<String>,
    pub history: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A hand-off to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHandoff {
    pub incident_id: i64,
    pub partner: String,
    pub seed: i64,
    pub payload: String,
    pub history: String,
}

/// An admin's edit of one taxonomy type: `spec` JSON, or `None` for removal.
#[derive(Debug, Clone, PartialEq)]
pub struct TaxonomyOverrideRow {
    pub code: String,
    pub spec: Option<String>,
    pub updated_by: String,
    pub updated_at: i64,
}

const INCIDENT_COLS: &str = "id, number, status, type_code, priority, description, lat, lng, address, org_id, org_path, caller_phone, caller_name, channel, disposition, created_at, dispatched_at, arrived_at, closed_at, updated_at";
/// Applies an [`IncidentPatch`]: $1 status, $2 type, $3 priority, $4 org id,
/// $5 org path, $6 reopen (1/0), $7 disposition, $8 dispatched, $9 arrived,
/// $10 closed, $11 updated, $12 id.
const PATCH_INCIDENT_SQL: &str = "UPDATE incidents SET status = COALESCE($1, status), type_code = COALESCE($2, type_code), priority = COALESCE($3, priority), \
     org_id = COALESCE($4, org_id), org_path = COALESCE($5, org_path), \
     disposition = CASE WHEN $6 = 1 THEN NULL ELSE COALESCE($7, disposition) END, \
     dispatched_at = COALESCE(dispatched_at, $8), arrived_at = COALESCE(arrived_at, $9), \
     closed_at = CASE WHEN $6 = 1 THEN NULL ELSE COALESCE($10, closed_at) END, updated_at = $11 WHERE id = $12";
/// Inserts or replaces one assignment, keyed by incident, unit and seq.
const PUT_ASSIGNMENT_SQL: &str = "INSERT INTO incident_assignments (incident_id, unit_id, seq, stage, dispatched_at, acknowledged_at, arrived_at, cleared_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
     ON CONFLICT (incident_id, unit_id, seq) DO UPDATE SET stage = excluded.stage, acknowledged_at = excluded.acknowledged_at, arrived_at = excluded.arrived_at, cleared_at = excluded.cleared_at";
/// A unit status change made only if the unit's status is still one of
/// `from` ([`Store::move_unit`], [`Store::update_incident_with_assignments`]).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitMove {
    pub unit_id: i64,
    /// Statuses the caller checked the move against.
    pub from: Vec<String>,
    pub to: String,
    /// The incident the unit works on after the move.
    pub incident_id: Option<i64>,
}

/// `$5` is the comma-joined list of expected statuses (codes have no commas).
const MOVE_UNIT_SQL: &str = "UPDATE units SET status = $1, incident_id = $2, updated_at = $3 \
     WHERE id = $4 AND (',' || $5 || ',') LIKE ('%,' || status || ',%')";

fn unit_moved(m: &UnitMove) -> StoreError {
    StoreError::Changed {
        entity: "unit",
        field: "status",
        message: format!(
            "unit {} is no longer {} (changed meanwhile, or does not exist)",
            m.unit_id,
            m.from.join(" or ")
        ),
    }
}

const HANDOFF_COLS: &str = "id, incident_id, partner, status, attempts, next_attempt_at, seed, payload, feedback, history, created_at, updated_at";

macro_rules! incident_row {
    ($r:expr) => {
        IncidentRow {
            id: $r.try_get("id")?,
            number: $r.try_get("number")?,
            status: $r.try_get("status")?,
            type_code: $r.try_get("type_code")?,
            priority: $r.try_get("priority")?,
            description: $r.try_get("description")?,
            lat: $r.try_get("lat")?,
            lng: $r.try_get("lng")?,
            address: $r.try_get("address")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            caller_phone: $r.try_get("caller_phone")?,
            caller_name: $r.try_get("caller_name")?,
            channel: $r.try_get("channel")?,
            disposition: $r.try_get("disposition")?,
            created_at: $r.try_get("created_at")?,
            dispatched_at: $r.try_get("dispatched_at")?,
            arrived_at: $r.try_get("arrived_at")?,
            closed_at: $r.try_get("closed_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

macro_rules! handoff_row {
    ($r:expr) => {
        HandoffRow {
            id: $r.try_get("id")?,
            incident_id: $r.try_get("incident_id")?,
            partner: $r.try_get("partner")?,
            status: $r.try_get("status")?,
            attempts: $r.try_get("attempts")?,
            next_attempt_at: $r.try_get("next_attempt_at")?,
            seed: $r.try_get("seed")?,
            payload: $r.try_get("payload")?,
            feedback: $r.try_get("feedback")?,
            history: $r.try_get("history")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

macro_rules! assignment_row {
    ($r:expr) => {
        AssignmentRow {
            incident_id: $r.try_get("incident_id")?,
            unit_id: $r.try_get("unit_id")?,
            seq: $r.try_get("seq")?,
            stage: $r.try_get("stage")?,
            dispatched_at: $r.try_get("dispatched_at")?,
            acknowledged_at: $r.try_get("acknowledged_at")?,
            arrived_at: $r.try_get("arrived_at")?,
            cleared_at: $r.try_get("cleared_at")?,
        }
    };
}

/// Applies an [`IncidentPatch`] inside an open transaction (with the org id
/// and path to bind, which the caller resolves); evaluates to the rows
/// affected.
macro_rules! patch_incident {
    ($tx:expr, $id:expr, $patch:expr, $org_id:expr, $org_path:expr, $now:expr) => {
        sqlx::query(PATCH_INCIDENT_SQL)
            .bind(&$patch.status)
            .bind(&$patch.type_code)
            .bind(&$patch.priority)
            .bind($org_id)
            .bind($org_path)
            .bind(i64::from($patch.reopen))
            .bind(&$patch.disposition)
            .bind($patch.dispatched_at)
            .bind($patch.arrived_at)
            .bind($patch.closed_at)
            .bind($now)
            .bind($id)
            .execute(&mut *$tx)
            .await?
            .rows_affected()
    };
}

/// Inserts timeline rows inside an open transaction.
macro_rules! insert_timeline {
    ($tx:expr, $incident:expr, $entries:expr) => {
        for e in $entries {
            sqlx::query(
                "INSERT INTO incident_timeline (incident_id, at, kind, actor, detail, unit_id, data) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind($incident)
            .bind(e.at)
            .bind(&e.kind)
            .bind(&e.actor)
            .bind(&e.detail)
            .bind(e.unit_id)
            .bind(&e.data)
            .execute(&mut *$tx)
            .await?;
        }
    };
}

fn not_found(entity: &'static str, id: impl ToString) -> StoreError {
    StoreError::NotFound {
        entity,
        id: id.to_string(),
    }
}

impl Store {
    /// Creates an incident from its first call: takes the next number of `day`
    /// (`JQ` + day + 6-digit sequence), inserts the incident, the call and the
    /// initial timeline, all in one transaction.
    pub async fn create_incident(&self, new: &NewIncident, now: i64) -> Result<IncidentRow> {
        self.insert_incident(new, None, now).await
    }

    /// [`Store::create_incident`] followed, in the same transaction, by a first
    /// change of the new row (the call taker's suggested classification). The
    /// change is a separate UPDATE, so whatever records state changes of
    /// incidents sees the creation and the change as two steps, while the
    /// request pays for one transaction. `new.timeline` holds the lines of both.
    pub async fn create_incident_changed(
        &self,
        new: &NewIncident,
        change: &IncidentPatch,
        now: i64,
    ) -> Result<IncidentRow> {
        if change.org_id.is_some() {
            return Err(StoreError::Corrupt {
                field: "incident.org_id",
                reason: "a new incident's first change cannot move it".into(),
            });
        }
        self.insert_incident(new, Some(change), now).await
    }

    async fn insert_incident(
        &self,
        new: &NewIncident,
        change: Option<&IncidentPatch>,
        now: i64,
    ) -> Result<IncidentRow> {
        if new.day.len() != 8 || !new.day.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Corrupt {
                field: "incident.day",
                reason: format!("{:?} is not yyyymmdd", new.day),
            });
        }
        let org = self.get_org(new.org_id).await?;
        let c = &new.call;
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1");
        let _writer = self.main_writer().await;
        let row = db!(self, p => {
            let mut tx = p.begin().await?;
            let seq: i64 = sqlx::query(
                "INSERT INTO incident_seq (day, last) VALUES ($1, 1) ON CONFLICT (day) DO UPDATE SET last = incident_seq.last + 1 RETURNING last",
            )
            .bind(&new.day)
            .fetch_one(&mut *tx)
            .await?
            .try_get("last")?;
            if seq > 999_999 {
                return Err(StoreError::Conflict {
                    entity: "incident",
                    field: "number",
                    value: format!("JQ{}{seq}", new.day),
                });
            }
            let number = format!("JQ{}{seq:06}", new.day);
            let id: i64 = sqlx::query(
                "INSERT INTO incidents (number, status, type_code, priority, description, lat, lng, address, org_id, org_path, caller_phone, caller_name, channel, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
            )
            .bind(&number)
            .bind(&new.status)
            .bind(&new.type_code)
            .bind(&new.priority)
            .bind(&c.description)
            .bind(c.lat)
            .bind(c.lng)
            .bind(&c.address)
            .bind(new.org_id)
            .bind(&org.path)
            .bind(&c.caller_phone)
            .bind(&c.caller_name)
            .bind(&c.channel)
            .bind(c.received_at)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "incident", "number", &number))?
            .try_get("id")?;
            sqlx::query(
                "INSERT INTO incident_calls (incident_id, channel, caller_phone, caller_name, description, lat, lng, address, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(&c.channel)
            .bind(&c.caller_phone)
            .bind(&c.caller_name)
            .bind(&c.description)
            .bind(c.lat)
            .bind(c.lng)
            .bind(&c.address)
            .bind(c.received_at)
            .execute(&mut *tx)
            .await?;
            if let Some(patch) = change {
                patch_incident!(tx, id, patch, None::<i64>, None::<String>, now);
            }
            insert_timeline!(tx, id, &new.timeline);
            // Read back inside the transaction: no second pool round trip.
            let r = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_one(&mut *tx).await?;
            let row = incident_row!(r);
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    pub async fn find_incident(&self, id: i64) -> Result<Option<IncidentRow>> {
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
                Some(r) => Some(incident_row!(r)),
                None => None,
            }),
        )
    }

    pub async fn get_incident(&self, id: i64) -> Result<IncidentRow> {
        self.find_incident(id)
            .await?
            .ok_or_else(|| not_found("incident", id))
    }

    pub async fn find_incident_by_number(&self, number: &str) -> Result<Option<IncidentRow>> {
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents WHERE number = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(number).fetch_optional(p).await? {
                Some(r) => Some(incident_row!(r)),
                None => None,
            }),
        )
    }

    /// Incidents matching `f`, newest first, and the total count.
    pub async fn list_incidents(
        &self,
        f: &IncidentFilter,
        page: Page,
    ) -> Result<(Vec<IncidentRow>, i64)> {
        let like = format!("{}%", escape_like(&f.path_prefix));
        let filter = "org_path LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR status = $2) AND ($3 IS NULL OR priority = $3) \
             AND ($4 IS NULL OR type_code = $4) AND ($5 IS NULL OR created_at >= $5) AND ($6 IS NULL OR created_at < $6) \
             AND ($7 = 0 OR closed_at IS NULL)";
        let sql = format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE {filter} ORDER BY created_at DESC, id DESC LIMIT $8 OFFSET $9"
        );
        let count_sql = format!("SELECT COUNT(*) AS n FROM incidents WHERE {filter}");
        let open = i64::from(f.open);
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .bind(&f.priority)
                .bind(&f.type_code)
                .bind(f.since)
                .bind(f.until)
                .bind(open)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(incident_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&like)
                .bind(&f.status)
                .bind(&f.priority)
                .bind(&f.type_code)
                .bind(f.since)
                .bind(f.until)
                .bind(open)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    /// Open incidents created at or after `since` (ms) inside the bounding
    /// box `[min_lat, max_lat] × [min_lng, max_lng]`, newest first, at most
    /// `limit`: the candidates of duplicate-call suggestions, read through the
    /// partial index of open incidents by position (migration 0010) instead
    /// of scanning every open incident.
    pub async fn open_incidents_near(
        &self,
        (min_lat, max_lat): (f64, f64),
        (min_lng, max_lng): (f64, f64),
        since: i64,
        limit: i64,
    ) -> Result<Vec<IncidentRow>> {
        let sql = format!(
            "SELECT {INCIDENT_COLS} FROM incidents WHERE closed_at IS NULL AND lat >= $1 AND lat <= $2 \
             AND lng >= $3 AND lng <= $4 AND created_at >= $5 ORDER BY created_at DESC, id DESC LIMIT $6"
        );
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(min_lat)
                .bind(max_lat)
                .bind(min_lng)
                .bind(max_lng)
                .bind(since)
                .bind(limit)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(incident_row!(r));
            }
            out
        }))
    }

    /// Moves a unit to `to` only if its status is still one of `from`
    /// (compare-and-set: two dispatchers racing for one unit cannot both
    /// win). `Changed` on field `status` when it is not.
    pub async fn move_unit(&self, m: &UnitMove, now: i64) -> Result<()> {
        let _writer = self.main_writer().await;
        let n = db!(self, p => sqlx::query(MOVE_UNIT_SQL)
            .bind(&m.to)
            .bind(m.incident_id)
            .bind(now)
            .bind(m.unit_id)
            .bind(m.from.join(","))
            .execute(p)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(unit_moved(m));
        }
        Ok(())
    }

    /// Applies `patch` and appends `entries` to the timeline in one transaction.
    pub async fn update_incident(
        &self,
        id: i64,
        patch: &IncidentPatch,
        entries: &[NewTimelineEntry],
        now: i64,
    ) -> Result<IncidentRow> {
        self.update_incident_with_assignments(id, patch, entries, &[], &[], now)
            .await
    }

    /// [`Store::update_incident`] that also inserts or replaces `assignments`
    /// (as [`Store::put_assignment`]) and moves `units` (as
    /// [`Store::move_unit`]) in the same transaction, so the row, its timeline,
    /// its unit assignments and the units' statuses never disagree. If a unit
    /// is no longer in an expected status nothing is written (`Changed`).
    /// Returns the updated row, read back inside the transaction.
    pub async fn update_incident_with_assignments(
        &self,
        id: i64,
        patch: &IncidentPatch,
        entries: &[NewTimelineEntry],
        assignments: &[AssignmentRow],
        units: &[UnitMove],
        now: i64,
    ) -> Result<IncidentRow> {
        let org_path = match patch.org_id {
            Some(o) => Some(self.get_org(o).await?.path),
            None => None,
        };
        let sql = format!("SELECT {INCIDENT_COLS} FROM incidents WHERE id = $1");
        let _writer = self.main_writer().await;
        let row = db!(self, p => {
            let mut tx = p.begin().await?;
            let n = patch_incident!(tx, id, patch, patch.org_id, &org_path, now);
            if n == 1 {
                insert_timeline!(tx, id, entries);
                for a in assignments {
                    if a.incident_id != id {
                        return Err(StoreError::Corrupt {
                            field: "assignment.incident_id",
                            reason: format!("assignment of incident {} written with incident {id}", a.incident_id),
                        });
                    }
                    sqlx::query(PUT_ASSIGNMENT_SQL)
                        .bind(a.incident_id)
                        .bind(a.unit_id)
                        .bind(a.seq)
                        .bind(&a.stage)
                        .bind(a.dispatched_at)
                        .bind(a.acknowledged_at)
                        .bind(a.arrived_at)
                        .bind(a.cleared_at)
                        .execute(&mut *tx)
                        .await?;
                }
                for m in units {
                    let moved = sqlx::query(MOVE_UNIT_SQL)
                        .bind(&m.to)
                        .bind(m.incident_id)
                        .bind(now)
                        .bind(m.unit_id)
                        .bind(m.from.join(","))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    if moved == 0 {
                        return Err(unit_moved(m));
                    }
                }
                let r = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_one(&mut *tx).await?;
                let row = incident_row!(r);
                tx.commit().await?;
                Some(row)
            } else {
                None
            }
        });
        row.ok_or_else(|| not_found("incident", id))
    }

    /// Attaches a further call (a merged duplicate) to an incident, with its
    /// timeline line.
    pub async fn add_call(
        &self,
        incident_id: i64,
        call: &NewCall,
        entry: &NewTimelineEntry,
    ) -> Result<CallRow> {
        self.get_incident(incident_id).await?;
        let id: i64 = db!(self, p => {
            let mut tx = p.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO incident_calls (incident_id, channel, caller_phone, caller_name, description, lat, lng, address, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
            )
            .bind(incident_id)
            .bind(&call.channel)
            .bind(&call.caller_phone)
            .bind(&call.caller_name)
            .bind(&call.description)
            .bind(call.lat)
            .bind(call.lng)
            .bind(&call.address)
            .bind(call.received_at)
            .fetch_one(&mut *tx)
            .await?
            .try_get("id")?;
            insert_timeline!(tx, incident_id, std::slice::from_ref(entry));
            tx.commit().await?;
            id
        });
        Ok(CallRow {
            id,
            incident_id,
            call: call.clone(),
        })
    }

    /// The calls of an incident, in arrival order.
    pub async fn incident_calls(&self, incident_id: i64) -> Result<Vec<CallRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query("SELECT id, incident_id, channel, caller_phone, caller_name, description, lat, lng, address, received_at FROM incident_calls WHERE incident_id = $1 ORDER BY id")
                .bind(incident_id)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(CallRow {
                    id: r.try_get("id")?,
                    incident_id: r.try_get("incident_id")?,
                    call: NewCall {
                        channel: r.try_get("channel")?,
                        caller_phone: r.try_get("caller_phone")?,
                        caller_name: r.try_get("caller_name")?,
                        description: r.try_get("description")?,
                        lat: r.try_get("lat")?,
                        lng: r.try_get("lng")?,
                        address: r.try_get("address")?,
                        received_at: r.try_get("received_at")?,
                    },
                });
            }
            out
        }))
    }

    /// The timeline of an incident, in order.
    pub async fn incident_timeline(&self, incident_id: i64) -> Result<Vec<TimelineRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query("SELECT id, incident_id, at, kind, actor, detail, unit_id, data FROM incident_timeline WHERE incident_id = $1 ORDER BY id")
                .bind(incident_id)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(TimelineRow {
                    id: r.try_get("id")?,
                    incident_id: r.try_get("incident_id")?,
                    entry: NewTimelineEntry {
                        at: r.try_get("at")?,
                        kind: r.try_get("kind")?,
                        actor: r.try_get("actor")?,
                        detail: r.try_get("detail")?,
                        unit_id: r.try_get("unit_id")?,
                        data: r.try_get("data")?,
                    },
                });
            }
            out
        }))
    }

    /// Inserts or replaces one assignment (keyed by incident, unit and seq).
    pub async fn put_assignment(&self, a: &AssignmentRow) -> Result<()> {
        db!(self, p => sqlx::query(PUT_ASSIGNMENT_SQL)
        .bind(a.incident_id)
        .bind(a.unit_id)
        .bind(a.seq)
        .bind(&a.stage)
        .bind(a.dispatched_at)
        .bind(a.acknowledged_at)
        .bind(a.arrived_at)
        .bind(a.cleared_at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Assignments of an incident, in dispatch order.
    pub async fn incident_assignments(&self, incident_id: i64) -> Result<Vec<AssignmentRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query("SELECT incident_id, unit_id, seq, stage, dispatched_at, acknowledged_at, arrived_at, cleared_at FROM incident_assignments WHERE incident_id = $1 ORDER BY dispatched_at, unit_id, seq")
                .bind(incident_id)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(assignment_row!(r));
            }
            out
        }))
    }

    /// Creates or updates a partner endpoint.
    pub async fn upsert_partner(&self, partner: &PartnerRow) -> Result<()> {
        db!(self, p => sqlx::query(
            "INSERT INTO partners (code, name, webhook_url, secret, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, webhook_url = excluded.webhook_url, secret = excluded.secret, updated_at = excluded.updated_at",
        )
        .bind(&partner.code)
        .bind(&partner.name)
        .bind(&partner.webhook_url)
        .bind(&partner.secret)
        .bind(partner.updated_at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    pub async fn find_partner(&self, code: &str) -> Result<Option<PartnerRow>> {
        Ok(
            db!(self, p => match sqlx::query("SELECT code, name, webhook_url, secret, updated_at FROM partners WHERE code = $1")
                .bind(code)
                .fetch_optional(p)
                .await? {
                Some(r) => Some(PartnerRow {
                    code: r.try_get("code")?,
                    name: r.try_get("name")?,
                    webhook_url: r.try_get("webhook_url")?,
                    secret: r.try_get("secret")?,
                    updated_at: r.try_get("updated_at")?,
                }),
                None => None,
            }),
        )
    }

    /// Enqueues hand-offs (one per partner) in one transaction, due now.
    pub async fn enqueue_handoffs(&self, items: &[NewHandoff], now: i64) -> Result<Vec<i64>> {
        Ok(db!(self, p => {
            let mut tx = p.begin().await?;
            let mut ids = Vec::with_capacity(items.len());
            for h in items {
                let id: i64 = sqlx::query(
                    "INSERT INTO handoffs (incident_id, partner, status, attempts, next_attempt_at, seed, payload, history, created_at, updated_at) \
                     VALUES ($1, $2, 'queued', 0, $3, $4, $5, $6, $3, $3) RETURNING id",
                )
                .bind(h.incident_id)
                .bind(&h.partner)
                .bind(now)
                .bind(h.seed)
                .bind(&h.payload)
                .bind(&h.history)
                .fetch_one(&mut *tx)
                .await?
                .try_get("id")?;
                ids.push(id);
            }
            tx.commit().await?;
            ids
        }))
    }

    pub async fn get_handoff(&self, id: i64) -> Result<HandoffRow> {
        let sql = format!("SELECT {HANDOFF_COLS} FROM handoffs WHERE id = $1");
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(handoff_row!(r)),
            None => Err(not_found("handoff", id)),
        })
    }

    /// Queued hand-offs whose next attempt is due at `now`, oldest first.
    pub async fn due_handoffs(&self, now: i64, limit: i64) -> Result<Vec<HandoffRow>> {
        let sql = format!(
            "SELECT {HANDOFF_COLS} FROM handoffs WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2"
        );
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(now).bind(limit).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(handoff_row!(r));
            }
            out
        }))
    }

    /// Earliest pending attempt time, so the outbox worker can sleep until then.
    pub async fn next_handoff_due(&self) -> Result<Option<i64>> {
        Ok(
            db!(self, p => sqlx::query("SELECT MIN(next_attempt_at) AS t FROM handoffs WHERE status = 'queued'")
            .fetch_one(p)
            .await?
            .try_get::<Option<i64>, _>("t")?),
        )
    }

    /// Hand-offs of an incident, in creation order.
    pub async fn incident_handoffs(&self, incident_id: i64) -> Result<Vec<HandoffRow>> {
        let sql = format!("SELECT {HANDOFF_COLS} FROM handoffs WHERE incident_id = $1 ORDER BY id");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(incident_id).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(handoff_row!(r));
            }
            out
        }))
    }

    /// Records a hand-off's new lifecycle state. `expect_status` guards against
    /// two writers: the update only applies while the row is still in that
    /// state (returns false otherwise).
    pub async fn update_handoff(
        &self,
        h: &HandoffRow,
        expect_status: &str,
        now: i64,
    ) -> Result<bool> {
        let n = db!(self, p => sqlx::query(
            "UPDATE handoffs SET status = $1, attempts = $2, next_attempt_at = $3, feedback = $4, history = $5, updated_at = $6 WHERE id = $7 AND status = $8",
        )
        .bind(&h.status)
        .bind(h.attempts)
        .bind(h.next_attempt_at)
        .bind(&h.feedback)
        .bind(&h.history)
        .bind(now)
        .bind(h.id)
        .bind(expect_status)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    /// Stores an admin edit of one taxonomy type (`spec: None` removes it).
    pub async fn put_taxonomy_override(&self, o: &TaxonomyOverrideRow) -> Result<()> {
        db!(self, p => sqlx::query(
            "INSERT INTO taxonomy_overrides (code, spec, updated_by, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (code) DO UPDATE SET spec = excluded.spec, updated_by = excluded.updated_by, updated_at = excluded.updated_at",
        )
        .bind(&o.code)
        .bind(&o.spec)
        .bind(&o.updated_by)
        .bind(o.updated_at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Every stored taxonomy edit, in update order (apply in this order).
    pub async fn taxonomy_overrides(&self) -> Result<Vec<TaxonomyOverrideRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query("SELECT code, spec, updated_by, updated_at FROM taxonomy_overrides ORDER BY updated_at, code")
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(TaxonomyOverrideRow {
                    code: r.try_get("code")?,
                    spec: r.try_get("spec")?,
                    updated_by: r.try_get("updated_by")?,
                    updated_at: r.try_get("updated_at")?,
                });
            }
            out
        }))
    }
}
