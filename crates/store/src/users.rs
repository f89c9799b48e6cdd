//! Users, their login sessions (bearer tokens stored hashed) and machine API keys.
//!
//! Every authenticated request resolves its bearer token, so live lookups are
//! cached in process for [`AUTH_CACHE_TTL`] ([`AuthCache`]). Anything in this
//! process that can end or change a principal (a user update, a session or
//! key revocation, raw administrative SQL) advances the cache's epoch, which
//! empties it at once; a change made by another process sharing the database
//! is seen within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Row};

use crate::orgs::escape_like;
use crate::{Page, Result, Store, StoreError, db, json_list, parse_json_list};

#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub org_id: i64,
    pub org_path: String,
    pub unit_id: Option<i64>,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub role: String,
    pub org_id: i64,
    pub unit_id: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub org_id: Option<i64>,
    pub unit_id: Option<Option<i64>>,
    pub disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub key_hash: String,
    pub role: String,
    pub org_id: i64,
    pub org_path: String,
    pub scopes: Vec<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The partner agency a `partner` key speaks for (its code).
    pub partner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: String,
    pub key_hash: String,
    pub role: String,
    pub org_id: i64,
    pub scopes: Vec<String>,
    pub expires_at: Option<i64>,
    /// The partner agency a `partner` key speaks for (its code).
    pub partner: Option<String>,
}

/// How long a resolved session or API key is trusted without asking the
/// database again (the bound on seeing another process's revocation).
pub(crate) const AUTH_CACHE_TTL: Duration = Duration::from_secs(2);

/// Entries kept at most; the cache is emptied when full (tokens are few per
/// person, so this only bounds memory against a flood of distinct tokens).
const AUTH_CACHE_MAX: usize = 10_000;

/// Positive lookups of sessions and API keys by secret hash. Misses are never
/// cached, so a token that starts working is seen at once.
#[derive(Default)]
pub(crate) struct AuthCache {
    epoch: AtomicU64,
    sessions: Mutex<HashMap<String, Cached<(UserRow, i64)>>>,
    keys: Mutex<HashMap<String, Cached<ApiKeyRow>>>,
}

struct Cached<T> {
    value: T,
    fetched: Instant,
    epoch: u64,
}

impl AuthCache {
    /// Forgets everything: called after any change that can end or alter a principal.
    pub(crate) fn invalidate(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        lock(&self.sessions).clear();
        lock(&self.keys).clear();
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn get<T: Clone>(&self, map: &Mutex<HashMap<String, Cached<T>>>, hash: &str) -> Option<T> {
        let epoch = self.epoch();
        let m = lock(map);
        let c = m.get(hash)?;
        (c.epoch == epoch && c.fetched.elapsed() < AUTH_CACHE_TTL).then(|| c.value.clone())
    }

    /// Keeps `value` unless the epoch moved since `epoch` was read before the
    /// database lookup (a revocation raced the lookup: its answer may be stale).
    fn put<T>(&self, map: &Mutex<HashMap<String, Cached<T>>>, hash: &str, value: T, epoch: u64) {
        let mut m = lock(map);
        if self.epoch() != epoch {
            return;
        }
        if m.len() >= AUTH_CACHE_MAX {
            m.clear();
        }
        m.insert(
            hash.to_owned(),
            Cached {
                value,
                fetched: Instant::now(),
                epoch,
            },
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const USER_COLS: &str = "u.id, u.username, u.display_name, u.password_hash, u.role, u.org_id, o.path AS org_path, \
     u.unit_id, u.disabled, u.created_at, u.updated_at";

macro_rules! user_row {
    ($r:expr) => {{
        let disabled: i64 = $r.try_get("disabled")?;
        UserRow {
            id: $r.try_get("id")?,
            username: $r.try_get("username")?,
            display_name: $r.try_get("display_name")?,
            password_hash: $r.try_get("password_hash")?,
            role: $r.try_get("role")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            unit_id: $r.try_get("unit_id")?,
            disabled: disabled != 0,
            created_at: $r.try_get("created_at")?,
            updated_at: $r.try_get("updated_at")?,
        }
    }};
}

const KEY_COLS: &str = "k.id, k.name, k.key_hash, k.role, k.org_id, o.path AS org_path, k.scopes, k.created_at, k.expires_at, k.revoked_at, k.partner";

macro_rules! key_row {
    ($r:expr) => {{
        let scopes: String = $r.try_get("scopes")?;
        ApiKeyRow {
            id: $r.try_get("id")?,
            name: $r.try_get("name")?,
            key_hash: $r.try_get("key_hash")?,
            role: $r.try_get("role")?,
            org_id: $r.try_get("org_id")?,
            org_path: $r.try_get("org_path")?,
            scopes: parse_json_list("api_keys.scopes", &scopes)?,
            created_at: $r.try_get("created_at")?,
            expires_at: $r.try_get("expires_at")?,
            revoked_at: $r.try_get("revoked_at")?,
            partner: $r.try_get("partner")?,
        }
    }};
}

impl Store {
    pub async fn create_user(&self, new: &NewUser, now: i64) -> Result<UserRow> {
        self.get_org(new.org_id).await?;
        let id: i64 = db!(self, p => sqlx::query(
            "INSERT INTO users (username, display_name, password_hash, role, org_id, unit_id, disabled, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING id",
        )
        .bind(&new.username)
        .bind(&new.display_name)
        .bind(&new.password_hash)
        .bind(&new.role)
        .bind(new.org_id)
        .bind(new.unit_id)
        .bind(now)
        .fetch_one(p)
        .await
        .map_err(|e| StoreError::unique(e, "user", "username", &new.username))?
        .try_get("id")?);
        self.get_user(id).await
    }

    pub async fn get_user(&self, id: i64) -> Result<UserRow> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1"
        );
        db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(user_row!(r)),
            None => Err(StoreError::NotFound { entity: "user", id: id.to_string() }),
        })
    }

    pub async fn get_user_by_username(&self, username: &str) -> Result<Option<UserRow>> {
        let sql = format!(
            "SELECT {USER_COLS} FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.username = $1"
        );
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(username).fetch_optional(p).await? {
                Some(r) => Some(user_row!(r)),
                None => None,
            }),
        )
    }

    /// Users whose org is in the subtree `path_prefix`.
    pub async fn list_users(&self, path_prefix: &str, page: Page) -> Result<(Vec<UserRow>, i64)> {
        self.find_users(path_prefix, None, None, None, page).await
    }

    /// Users bound within the org subtree `path_prefix`, optionally only
    /// those of `role`, those whose `disabled` flag matches, and those whose
    /// username or display name holds `text` (case-insensitive), in id order,
    /// with the number of matches.
    pub async fn find_users(
        &self,
        path_prefix: &str,
        role: Option<&str>,
        disabled: Option<bool>,
        text: Option<&str>,
        page: Page,
    ) -> Result<(Vec<UserRow>, i64)> {
        let like = format!("{}%", escape_like(path_prefix));
        // Lower-cased on both sides so `q=Zhang` finds `zhang.wei`; CJK
        // display names have no case and match as written.
        let text = text.map(|t| format!("%{}%", escape_like(&t.to_lowercase())));
        let disabled = disabled.map(i64::from);
        const WHERE: &str = "o.path LIKE $1 ESCAPE '\\' AND ($2 IS NULL OR u.role = $2) AND ($3 IS NULL OR u.disabled = $3) \
             AND ($4 IS NULL OR LOWER(u.username) LIKE $4 ESCAPE '\\' OR LOWER(u.display_name) LIKE $4 ESCAPE '\\')";
        let sql = format!(
            "SELECT {USER_COLS} FROM users u JOIN orgs o ON o.id = u.org_id WHERE {WHERE} ORDER BY u.id LIMIT $5 OFFSET $6"
        );
        let count_sql = format!(
            "SELECT COUNT(*) AS n FROM users u JOIN orgs o ON o.id = u.org_id WHERE {WHERE}"
        );
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str()))
                .bind(&like)
                .bind(role)
                .bind(disabled)
                .bind(&text)
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(p)
                .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(user_row!(r));
            }
            let total: i64 = sqlx::query(AssertSqlSafe(count_sql.as_str()))
                .bind(&like)
                .bind(role)
                .bind(disabled)
                .bind(&text)
                .fetch_one(p)
                .await?
                .try_get("n")?;
            (out, total)
        }))
    }

    /// Enabled users of role `admin` bound to the org `org_id` itself (not
    /// its subtree): the guard against leaving the city bureau without one.
    pub async fn count_enabled_admins(&self, org_id: i64) -> Result<i64> {
        Ok(db!(self, p => sqlx::query(
            "SELECT COUNT(*) AS n FROM users WHERE org_id = $1 AND role = 'admin' AND disabled = 0",
        )
        .bind(org_id)
        .fetch_one(p)
        .await?
        .try_get("n")?))
    }

    pub async fn update_user(&self, id: i64, patch: &UserPatch, now: i64) -> Result<UserRow> {
        let cur = self.get_user(id).await?;
        if let Some(org) = patch.org_id {
            self.get_org(org).await?;
        }
        db!(self, p => sqlx::query(
            "UPDATE users SET display_name = $1, password_hash = $2, role = $3, org_id = $4, unit_id = $5, disabled = $6, updated_at = $7 WHERE id = $8",
        )
        .bind(patch.display_name.as_ref().unwrap_or(&cur.display_name))
        .bind(patch.password_hash.as_ref().unwrap_or(&cur.password_hash))
        .bind(patch.role.as_ref().unwrap_or(&cur.role))
        .bind(patch.org_id.unwrap_or(cur.org_id))
        .bind(patch.unit_id.unwrap_or(cur.unit_id))
        .bind(i64::from(patch.disabled.unwrap_or(cur.disabled)))
        .bind(now)
        .bind(id)
        .execute(p)
        .await?.rows_affected());
        self.inner.auth_cache.invalidate();
        self.get_user(id).await
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        db!(self, p => sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(p)
            .await?.rows_affected());
        Ok(())
    }

    /// The user behind a live (unexpired, unrevoked) session, with its expiry.
    /// Cached for [`AUTH_CACHE_TTL`] (see the module doc).
    pub async fn session_user(&self, token_hash: &str, now: i64) -> Result<Option<(UserRow, i64)>> {
        let cache = &self.inner.auth_cache;
        if let Some((u, exp)) = cache.get(&cache.sessions, token_hash) {
            return Ok((exp > now).then_some((u, exp)));
        }
        let epoch = cache.epoch();
        let row: Option<(i64, i64)> = db!(self, p => match sqlx::query(
            "SELECT user_id, expires_at FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(p)
        .await?
        {
            Some(r) => Some((r.try_get("user_id")?, r.try_get("expires_at")?)),
            None => None,
        });
        match row {
            Some((uid, exp)) => {
                let found = (self.get_user(uid).await?, exp);
                cache.put(&cache.sessions, token_hash, found.clone(), epoch);
                Ok(Some(found))
            }
            None => Ok(None),
        }
    }

    /// Revokes one session; returns whether it existed and was live.
    pub async fn revoke_session(&self, token_hash: &str, now: i64) -> Result<bool> {
        let n = db!(self, p => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(token_hash)
            .execute(p)
            .await?
            .rows_affected());
        // After the write: a lookup racing it cannot re-cache the old answer.
        self.inner.auth_cache.invalidate();
        Ok(n > 0)
    }

    /// Revokes every session of a user (password change, disabling).
    pub async fn revoke_user_sessions(&self, user_id: i64, now: i64) -> Result<u64> {
        let n = db!(self, p => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(user_id)
            .execute(p)
            .await?
            .rows_affected());
        self.inner.auth_cache.invalidate();
        Ok(n)
    }

    pub async fn create_api_key(&self, new: &NewApiKey, now: i64) -> Result<ApiKeyRow> {
        self.get_org(new.org_id).await?;
        let id: i64 = db!(self, p => sqlx::query(
            "INSERT INTO api_keys (name, key_hash, role, org_id, scopes, created_at, expires_at, partner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(&new.name)
        .bind(&new.key_hash)
        .bind(&new.role)
        .bind(new.org_id)
        .bind(json_list(&new.scopes))
        .bind(now)
        .bind(new.expires_at)
        .bind(&new.partner)
        .fetch_one(p)
        .await
        .map_err(|e| StoreError::unique(e, "api key", "name", &new.name))?
        .try_get("id")?);
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE k.id = $1"
        );
        db!(self, p => {
            let r = sqlx::query(AssertSqlSafe(sql.as_str())).bind(id).fetch_one(p).await?;
            Ok(key_row!(r))
        })
    }

    /// A live API key by the hash of its secret. Cached for [`AUTH_CACHE_TTL`]
    /// (see the module doc).
    pub async fn api_key_by_hash(&self, key_hash: &str, now: i64) -> Result<Option<ApiKeyRow>> {
        let cache = &self.inner.auth_cache;
        if let Some(k) = cache.get(&cache.keys, key_hash) {
            return Ok(k.expires_at.is_none_or(|e| e > now).then_some(k));
        }
        let epoch = cache.epoch();
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys k JOIN orgs o ON o.id = k.org_id \
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2)"
        );
        let found = db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(key_hash).bind(now).fetch_optional(p).await? {
            Some(r) => Some(key_row!(r)),
            None => None,
        });
        if let Some(k) = &found {
            cache.put(&cache.keys, key_hash, k.clone(), epoch);
        }
        Ok(found)
    }

    pub async fn list_api_keys(&self, path_prefix: &str) -> Result<Vec<ApiKeyRow>> {
        let like = format!("{}%", escape_like(path_prefix));
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE o.path LIKE $1 ESCAPE '\\' ORDER BY k.id"
        );
        db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(&like).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(key_row!(r));
            }
            Ok(out)
        })
    }

    /// One page of the API keys in the subtree `path_prefix`, in id order,
    /// with their total.
    pub async fn list_api_keys_page(
        &self,
        path_prefix: &str,
        page: Page,
    ) -> Result<(Vec<ApiKeyRow>, i64)> {
        let like = format!("{}%", escape_like(path_prefix));
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE o.path LIKE $1 ESCAPE '\\' ORDER BY k.id LIMIT $2 OFFSET $3"
        );
        let count_sql = "SELECT COUNT(*) AS n FROM api_keys k JOIN orgs o ON o.id = k.org_id WHERE o.path LIKE $1 ESCAPE '\\'";
        Ok(db!(self, p => {
            let rows = sqlx::query(AssertSqlSafe(sql.as_str())).bind(&like).bind(page.limit).bind(page.offset).fetch_all(p).await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(key_row!(r));
            }
            let total: i64 = sqlx::query(count_sql).bind(&like).fetch_one(p).await?.try_get("n")?;
            (out, total)
        }))
    }

    /// The live (unrevoked, unexpired) key of org `org_id` named `name`, if
    /// any: key names are what the audit log shows (`key:<name>`), so two
    /// live keys of one org must not share one.
    pub async fn live_api_key_named(
        &self,
        org_id: i64,
        name: &str,
        now: i64,
    ) -> Result<Option<ApiKeyRow>> {
        let sql = format!(
            "SELECT {KEY_COLS} FROM api_keys k JOIN orgs o ON o.id = k.org_id \
             WHERE k.org_id = $1 AND k.name = $2 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $3) \
             ORDER BY k.id LIMIT 1"
        );
        Ok(
            db!(self, p => match sqlx::query(AssertSqlSafe(sql.as_str())).bind(org_id).bind(name).bind(now).fetch_optional(p).await? {
                Some(r) => Some(key_row!(r)),
                None => None,
            }),
        )
    }

    pub async fn revoke_api_key(&self, id: i64, now: i64) -> Result<()> {
        let n = db!(self, p => sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(p)
            .await?
            .rows_affected());
        self.inner.auth_cache.invalidate();
        if n == 0 {
            return Err(StoreError::NotFound {
                entity: "api key",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}
