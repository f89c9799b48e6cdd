//! Organisation nodes (city bureau → district bureaus → police stations) with their
//! jurisdiction areas. Each node stores a materialised path (`/1/3/17/`) so that
//! "this node's subtree" is a prefix match.

use sqlx::{AssertSqlSafe, Row};

use crate::{Page, Result, Store, StoreError, db};

#[derive(Debug, Clone, PartialEq)]
pub struct OrgRow {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub kind: String,
    pub code: String,
    pub name: String,
    pub path: String,
    /// GeoJSON geometry (Polygon or MultiPolygon) as text.
    pub area: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewOrg {
    pub parent_id: Option<i64>,
    pub kind: String,
    pub code: String,
    pub name: String,
    pub area: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub code: Option<String>,
    /// `Some(None)` clears the area.
    pub area: Option<Option<String>>,
}

macro_rules! org_row {
    ($r:expr) => {
        OrgRow {
            id: $r.try_get("id")?,
            parent_id: $r.try_get("parent_id")?,
            kind: $r.try_get("kind")?,
            code: $r.try_get("code")?,
            name: $r.try_get("name")?,
            path: $r.try_get("path")?,
            area: $r.try_get("area")?,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    };
}

const COLS: &str = "id, parent_id, kind, code, name, path, area, created_at, updated_at";

/// Tables that copy an org's materialised path into `org_path` (so a subtree
/// filter is a prefix match without a join); a move rewrites them all. Every
/// `org_path` column in the migrations is listed here.
const ORG_PATH_TABLES: [&str; 8] = [
    "units",
    "alert_sensors",
    "alert_watches",
    "alerts",
    "incidents",
    "notifications",
    "evaluations",
    "ledger_feed",
];

impl Store {
    /// Creates a node under `parent_id` (or a root when `None`), computing its path.
    pub async fn create_org(&self, new: &NewOrg, now: i64) -> Result<OrgRow> {
        let parent_path = match new.parent_id {
            Some(pid) => self.get_org(pid).await?.path,
            None => "/".to_string(),
        };
        let id: i64 = db!(self, p => {
            let mut tx = p.begin().await?;
            let id: i64 = sqlx::query(
                "INSERT INTO orgs (parent_id, kind, code, name, path, area, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, '', $5, $6, $6) RETURNING id",
            )
            .bind(new.parent_id)
            .bind(&new.kind)
            .bind(&new.code)
            .bind(&new.name)
            .bind(&new.area)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| StoreError::unique(e, "org", "code", &new.code))?
            .try_get("id")?;
            sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2")
                .bind(format!("{parent_path}{id}/"))
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            id
        });
        self.get_org(id).await
    }

    pub async fn get_org(&self, id: i64) -> Result<OrgRow> {
        self.find_org(id).await?.ok_or(StoreError::NotFound {
            entity: "org",
            id: id.to_string(),
        })
    }

    pub async fn find_org(&self, id: i64) -> Result<Option<OrgRow>> {
        let sql = format!("SELECT {COLS} FROM orgs WHERE id = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
                Some(r) => Some(org_row!(r)),
                None => None,
            }),
        )
    }

    pub async fn get_org_by_code(&self, code: &str) -> Result<Option<OrgRow>> {
        let sql = format!("SELECT {COLS} FROM orgs WHERE code = $1");
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(code).fetch_optional(p).await? {
                Some(r) => Some(org_row!(r)),
                None => None,
            }),
        )
    }

    /// Nodes whose path starts with `path_prefix` (a subtree), ordered by path.
    pub async fn list_orgs(&self, path_prefix: &str, page: Page) -> Result<(Vec<OrgRow>, i64)> {
        let like = format!("{}%", escape_like(path_prefix));
        let sql = format!(
            "SELECT {COLS} FROM orgs WHERE path LIKE $1 ESCAPE '\\' ORDER BY path LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) AS n FROM orgs WHERE path LIKE $1 ESCAPE '\\'";
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(&like).bind(page.limit).bind(page.offset).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(org_row!(r));
            }
            let total: i64 = sqlx::query(count_sql).bind(&like).fetch_one(p).await?.try_get("n")?;
            (out, total)
        }))
    }

    /// Every node, for building the in-memory tree and jurisdiction index.
    pub async fn all_orgs(&self) -> Result<Vec<OrgRow>> {
        Ok(self
            .list_orgs(
                "/",
                Page {
                    limit: i64::MAX / 2,
                    offset: 0,
                },
            )
            .await?
            .0)
    }

    pub async fn update_org(&self, id: i64, patch: &OrgPatch, now: i64) -> Result<OrgRow> {
        let cur = self.get_org(id).await?;
        let name = patch.name.clone().unwrap_or(cur.name);
        let code = patch.code.clone().unwrap_or(cur.code);
        let area = patch.area.clone().unwrap_or(cur.area);
        db!(self, p => sqlx::query("UPDATE orgs SET name = $1, code = $2, area = $3, updated_at = $4 WHERE id = $5")
            .bind(&name)
            .bind(&code)
            .bind(&area)
            .bind(now)
            .bind(id)
            .execute(p)
            .await
            .map_err(|e| StoreError::unique(e, "org", "code", &code))?.rows_affected());
        self.get_org(id).await
    }

    /// Moves node `id` and its whole subtree under `new_parent_id`: the node's
    /// parent, the materialised path of the node and every descendant, and every
    /// row that copies one of those paths ([`ORG_PATH_TABLES`]) change in one
    /// transaction. Refuses (`Changed` on `parent_id`) a move under the node
    /// itself or one of its descendants. Kind rules are the caller's.
    pub async fn move_org(&self, id: i64, new_parent_id: i64, now: i64) -> Result<OrgRow> {
        let cur = self.get_org(id).await?;
        let parent = self.get_org(new_parent_id).await?;
        if parent.path.starts_with(&cur.path) {
            return Err(StoreError::Changed {
                entity: "org",
                field: "parent_id",
                message: format!(
                    "org {id} cannot move under org {new_parent_id}, which is in its own subtree"
                ),
            });
        }
        if cur.parent_id == Some(new_parent_id) {
            return Ok(cur);
        }
        let old = cur.path;
        let new = format!("{}{id}/", parent.path);
        let like = format!("{}%", escape_like(&old));
        // SUBSTR is 1-based; paths are ASCII digits and slashes.
        let rest_from = i32::try_from(old.len() + 1).map_err(|_| StoreError::Corrupt {
            field: "orgs.path",
            reason: format!("path of org {id} is {} bytes long", old.len()),
        })?;
        db!(self, p => {
            let mut tx = p.begin().await?;
            // The path guards against a concurrent move of the same node.
            let moved = sqlx::query("UPDATE orgs SET parent_id = $1, updated_at = $2 WHERE id = $3 AND path = $4")
                .bind(new_parent_id)
                .bind(now)
                .bind(id)
                .bind(&old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if moved != 1 {
                return Err(StoreError::Changed {
                    entity: "org",
                    field: "parent_id",
                    message: format!("org {id} was moved by another request; retry"),
                });
            }
            for (table, col) in std::iter::once(("orgs", "path"))
                .chain(ORG_PATH_TABLES.iter().map(|t| (*t, "org_path")))
            {
                let sql = format!(
                    "UPDATE {table} SET {col} = $1 || SUBSTR({col}, $2) WHERE {col} LIKE $3 ESCAPE '\\'"
                );
                sqlx::query(AssertSqlSafe(sql.as_str()))
                    .bind(&new)
                    .bind(rest_from)
                    .bind(&like)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        // Sessions and keys carry their org's path.
        self.inner.auth_cache.invalidate();
        self.get_org(id).await
    }

    /// Deletes a node that has no children, units or users.
    pub async fn delete_org(&self, id: i64) -> Result<()> {
        self.get_org(id).await?;
        for (table, col, by) in [
            ("orgs", "parent_id", "child orgs"),
            ("units", "org_id", "units"),
            ("users", "org_id", "users"),
            ("api_keys", "org_id", "API keys"),
            ("alert_sensors", "org_id", "sensors"),
            ("incidents", "org_id", "incidents"),
            ("evaluations", "org_id", "evaluations"),
        ] {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {col} = $1");
            let n: i64 = db!(self, p => sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_one(p).await?.try_get("n")?);
            if n > 0 {
                return Err(StoreError::InUse {
                    entity: "org",
                    id: id.to_string(),
                    by,
                });
            }
        }
        db!(self, p => sqlx::query("DELETE FROM orgs WHERE id = $1").bind(id).execute(p).await?.rows_affected());
        Ok(())
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub(crate) fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
