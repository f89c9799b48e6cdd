//! Response units (patrol cars, foot patrols, grid workers, drones …): ownership,
//! status and last-known position.

use sqlx::{AssertSqlSafe, Row};

use crate::orgs::escape_like;
use crate::{Page, Result, Store, StoreError, db, json_list, parse_json_list};

#[derive(Debug, Clone, PartialEq)]
pub struct UnitRow {
    pub id: i64,
    pub callsign: String,
    pub kind: String,
    pub org_id: i64,
    pub org_path: String,
    pub status: String,
    pub capabilities: Vec<String>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub position_at: Option<i64>,
    pub incident_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUnit {
    pub callsign: String,
    pub kind: String,
    pub org_id: i64,
    pub status: String,
    pub capabilities: Vec<String>,
    pub position: Option<(f64, f64)>,
}

#[derive(Debug, Clone, Default)]
pub struct UnitPatch {
    pub callsign: Option<String>,
    pub kind: Option<String>,
    pub org_id: Option<i64>,
    pub capabilities: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    /// Only units of orgs in this subtree.
    pub path_prefix: String,
    pub org_id: Option<i64>,
    pub status: Option<String>,
    pub kind: Option<String>,
}

/// One position report. Older reports than the stored one are ignored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PositionUpdate {
    pub unit_id: i64,
    pub lat: f64,
    pub lng: f64,
    pub at: i64,
}

const COLS: &str = "id, callsign, kind, org_id, org_path, status, capabilities, lat, lng, position_at, incident_id, created_at, updated_at";

macro_rules! unit_row {
    ($r:expr) => {{
        let caps: String = $r.try_get("capabilities")?;
        UnitRow {
            id: $r.try_get("id")?,
            callsign: $r.try_get("callsign")?,
            kind: $r.try_get("kind")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            status: $r.try_get("status")?,
            capabilities: parse_json_list("units.capabilities", &caps)?,
            lat: $r.try_get("lat")?,
            lng: $r.try_get("lng")?,
            position_at: $r.try_get("position_at")?,
            incident_id: $r.try_get("incident_id")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    }};
}

impl Store {
    pub async fn create_unit(&self, new: &NewUnit, now: i64) -> Result<UnitRow> {
        let org = self.get_org(new.org_id).await?;
        let (lat, lng, at) = match new.position {
            Some((lat, lng)) => (Some(lat), Some(lng), Some(now)),
            None => (None, None, None),
        };
        let id: i64 = db!(self, p => sqlx::query(
            "INSERT INTO units (callsign, kind, org_id, org_path, status, capabilities, lat, lng, position_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
        )
        .bind(&new.callsign)
        .bind(&new.kind)
        .bind(new.org_id)
        .bind(&org.path)
        .bind(&new.status)
        .bind(json_list(&new.capabilities))
        .bind(lat)
        .bind(lng)
        .bind(at)
        .bind(now)
        .fetch_one(p)
        .await
        .map_err(|e| StoreError::unique(e, "unit", "callsign", &new.callsign))?
        .try_get("id")?);
        self.get_unit(id).await
    }

    /// Inserts many units in one transaction (demo city, imports).
    pub async fn create_units_bulk(&self, units: &[NewUnit], now: i64) -> Result<usize> {
        let mut paths = std::collections::HashMap::new();
        for u in units {
            if let std::collections::hash_map::Entry::Vacant(e) = paths.entry(u.org_id) {
                e.insert(self.get_org(u.org_id).await?.path);
            }
        }
        db!(self, p => {
            let mut tx = p.begin().await?;
            for u in units {
                let (lat, lng, at) = match u.position {
                    Some((lat, lng)) => (Some(lat), Some(lng), Some(now)),
                    None => (None, None, None),
                };
                sqlx::query(
                    "INSERT INTO units (callsign, kind, org_id, org_path, status, capabilities, lat, lng, position_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)",
                )
                .bind(&u.callsign)
                .bind(&u.kind)
                .bind(u.org_id)
                .bind(&paths[&u.org_id])
                .bind(&u.status)
                .bind(json_list(&u.capabilities))
                .bind(lat)
                .bind(lng)
                .bind(at)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::unique(e, "unit", "callsign", &u.callsign))?;
            }
            tx.commit().await?;
        });
        Ok(units.len())
    }

    pub async fn get_unit(&self, id: i64) -> Result<UnitRow> {
        self.find_unit(id).await?.ok_or(StoreError::NotFound {
            entity: "unit",
            id: id.to_string(),
        })
    }

    pub async fn find_unit(&self, id: i64) -> Result<Option<UnitRow>> {
        let sql = format!("SELECT {COLS} FROM units WHERE id = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
                Some(r) => Some(unit_row!(r)),
                None => None,
            }),
        )
    }

    pub async fn list_units(&self, f: &UnitFilter, page: Page) -> Result<(Vec<UnitRow>, i64)> {
        let like = format!("{}%", escape_like(&f.path_prefix));
        let filter = "org_path LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR org_id = $2) AND ($3 IS NULL OR status = $3) AND ($4 IS NULL OR kind = $4)";
        let sql = format!("SELECT {COLS} FROM units WHERE {filter} ORDER BY id LIMIT $5 OFFSET $6");
        let count_sql = format!("SELECT COUNT(*) AS n FROM units WHERE {filter}");
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(f.org_id)
                .bind(&f.status)
                .bind(&f.kind)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(unit_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&like)
                .bind(f.org_id)
                .bind(&f.status)
                .bind(&f.kind)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    pub async fn all_units(&self) -> Result<Vec<UnitRow>> {
        Ok(self
            .list_units(
                &UnitFilter {
                    path_prefix: "/".into(),
                    ..Default::default()
                },
                Page {
                    limit: i64::MAX / 2,
                    offset: 0,
                },
            )
            .await?
            .0)
    }

    pub async fn update_unit(&self, id: i64, patch: &UnitPatch, now: i64) -> Result<UnitRow> {
        let cur = self.get_unit(id).await?;
        let org_id = patch.org_id.unwrap_or(cur.org_id);
        let org_path = if org_id == cur.org_id {
            cur.org_path
        } else {
            self.get_org(org_id).await?.path
        };
        let callsign = patch.callsign.clone().unwrap_or(cur.callsign);
        let kind = patch.kind.clone().unwrap_or(cur.kind);
        let caps = patch.capabilities.clone().unwrap_or(cur.capabilities);
        db!(self, p => sqlx::query(
            "UPDATE units SET callsign = $1, kind = $2, org_id = $3, org_path = $4, capabilities = $5, updated_at = $6 WHERE id = $7",
        )
        .bind(&callsign)
        .bind(&kind)
        .bind(org_id)
        .bind(&org_path)
        .bind(json_list(&caps))
        .bind(now)
        .bind(id)
        .execute(p)
        .await
        .map_err(|e| StoreError::unique(e, "unit", "callsign", &callsign))?.rows_affected());
        self.get_unit(id).await
    }

    /// Sets status and the incident the unit is assigned to (state-machine checks
    /// are the caller's; this only records the outcome).
    pub async fn set_unit_status(
        &self,
        id: i64,
        status: &str,
        incident_id: Option<i64>,
        now: i64,
    ) -> Result<UnitRow> {
        let n = db!(self, p => sqlx::query("UPDATE units SET status = $1, incident_id = $2, updated_at = $3 WHERE id = $4")
            .bind(status)
            .bind(incident_id)
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "unit",
                id: id.to_string(),
            });
        }
        self.get_unit(id).await
    }

    /// Deletes a unit that nothing depends on now: refused while a user is
    /// bound to it or it is committed to an open incident (its past
    /// assignments keep the id in the incident history).
    pub async fn delete_unit(&self, id: i64) -> Result<()> {
        for (sql, by) in [
            (
                "SELECT COUNT(*) AS n FROM users WHERE unit_id = $1",
                "users",
            ),
            (
                "SELECT COUNT(*) AS n FROM incident_assignments a JOIN incidents i ON i.id = a.incident_id \
                 WHERE a.unit_id = $1 AND a.stage NOT IN ('cleared', 'cancelled') AND i.status NOT IN ('cleared', 'closed')",
                "an open incident",
            ),
        ] {
            let n: i64 =
                db!(self, p => sqlx::query(sql).bind(id).fetch_one(p).await?.try_get("n")?);
            if n > 0 {
                return Err(StoreError::InUse {
                    entity: "unit",
                    id: id.to_string(),
                    by,
                });
            }
        }
        let n = db!(self, p => sqlx::query("DELETE FROM units WHERE id = $1").bind(id).execute(p).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "unit",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Applies position reports in one transaction; a report older than the stored
    /// position is skipped. Returns how many were applied.
    pub async fn update_positions(&self, updates: &[PositionUpdate]) -> Result<u64> {
        Ok(db!(self, p => {
            let mut tx = p.begin().await?;
            let mut applied = 0;
            for u in updates {
                applied += sqlx::query(
                    "UPDATE units SET lat = $1, lng = $2, position_at = $3 WHERE id = $4 AND (position_at IS NULL OR position_at <= $3)",
                )
                .bind(u.lat)
                .bind(u.lng)
                .bind(u.at)
                .bind(u.unit_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            applied
        }))
    }
}
