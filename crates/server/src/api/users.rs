//! User accounts and machine API keys (administration).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::{self, Principal, Role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(get_user, update_user, disable_user))
        .routes(routes!(list_keys, create_key))
        .routes(routes!(revoke_key))
}

#[derive(Serialize, ToSchema)]
pub struct UserDto {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub org_id: i64,
    pub unit_id: Option<i64>,
    pub disabled: bool,
    pub created_at: String,
}

impl From<pingan_store::UserRow> for UserDto {
    fn from(u: pingan_store::UserRow) -> Self {
        UserDto {
            id: u.id,
            username: u.username,
            display_name: u.display_name,
            role: u.role,
            org_id: u.org_id,
            unit_id: u.unit_id,
            disabled: u.disabled,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    pub username: String,
    pub display_name: String,
    /// At least 8 characters.
    pub password: String,
    pub role: Role,
    pub org_id: i64,
    pub unit_id: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub display_name: Option<String>,
    pub password: Option<String>,
    pub role: Option<Role>,
    pub org_id: Option<i64>,
    pub unit_id: Option<i64>,
    pub disabled: Option<bool>,
}

pub fn check_username(u: &str) -> ApiResult<()> {
    let ok = (2..=64).contains(&u.chars().count())
        && u.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "username",
            "2–64 letters, digits, '_', '-' or '.'",
        ))
    }
}

fn check_password(p: &str) -> ApiResult<()> {
    if p.chars().count() < 8 {
        Err(ApiError::invalid(
            "password",
            "password must have at least 8 characters",
        ))
    } else {
        Ok(())
    }
}

async fn visible_org(
    s: &AppState,
    p: &Principal,
    org_id: i64,
    field: &str,
) -> ApiResult<pingan_store::OrgRow> {
    let org = s
        .store
        .find_org(org_id)
        .await?
        .ok_or_else(|| ApiError::invalid(field, format!("org {org_id} does not exist")))?;
    p.require_visible("that org", &org.path)?;
    Ok(org)
}

/// A user's unit must exist and belong to the user's org subtree (a station
/// officer rides in their own station's car); anything else is a 422 on
/// `unit_id`, so a typo cannot bind someone to another station's unit.
async fn check_unit(s: &AppState, unit_id: i64, org: &pingan_store::OrgRow) -> ApiResult<()> {
    let unit =
        s.store.find_unit(unit_id).await?.ok_or_else(|| {
            ApiError::invalid("unit_id", format!("unit {unit_id} does not exist"))
        })?;
    if !unit.org_path.starts_with(&org.path) {
        return Err(ApiError::invalid(
            "unit_id",
            format!(
                "unit {unit_id} ({}) belongs to another org than {} ({})",
                unit.callsign, org.name, org.id
            ),
        ));
    }
    Ok(())
}

/// A station officer belongs to a station (org kind `station`): bound to a
/// district or the city bureau they would see every station's incidents as
/// their own. Other roles may sit at any level (a station can have its own
/// admin or commander). 422 naming `org_id` otherwise.
pub fn check_role_org(role: Role, org: &pingan_store::OrgRow) -> ApiResult<()> {
    if role == Role::StationOfficer && org.kind != "station" {
        return Err(ApiError::invalid(
            "org_id",
            format!(
                "a station_officer belongs to a police station; org {} ({}) is a {}",
                org.id, org.name, org.kind
            ),
        ));
    }
    Ok(())
}

/// Refuses a change that would leave the root org (the city bureau) without
/// an enabled admin: only a root admin can administer the whole tree, and no
/// one below it can create one again. `field` names what the change touches
/// (`role`, `disabled`, `org_id`), `None` for a DELETE. 409 `conflict`.
async fn keep_a_root_admin(
    s: &AppState,
    user: &pingan_store::UserRow,
    field: Option<&str>,
) -> ApiResult<()> {
    if user.role != Role::Admin.as_str() || user.disabled {
        return Ok(());
    }
    let org = s.store.get_org(user.org_id).await?;
    if org.parent_id.is_some() || s.store.count_enabled_admins(org.id).await? > 1 {
        return Ok(());
    }
    let err = ApiError::conflict(format!(
        "{} is the last enabled admin of {} ({}); create or enable another admin there first",
        user.username, org.name, org.id
    ));
    Err(match field {
        Some(f) => err.with_field(f),
        None => err,
    })
}

async fn visible_user(s: &AppState, p: &Principal, id: i64) -> ApiResult<pingan_store::UserRow> {
    let u = s.store.get_user(id).await?;
    p.require_found("user", id, &u.org_path)?;
    Ok(u)
}

/// `GET /api/v1/users` filters; every one narrows the caller's jurisdiction
/// further, and any other parameter is refused (400 naming it).
#[derive(Debug, Deserialize, IntoParams)]
pub struct UserQuery {
    /// Only users holding this role: `admin`, `commander`, `dispatcher`,
    /// `station_officer`, `analyst` or `auditor` (400 naming `role` otherwise).
    pub role: Option<String>,
    /// Only users bound within this org node's subtree; the node must be in
    /// the caller's jurisdiction (403 otherwise, 400 if it does not exist).
    pub org_id: Option<i64>,
    /// `true`: only disabled users; `false`: only enabled ones.
    pub disabled: Option<bool>,
    /// Case-insensitive substring of the username or the display name.
    pub q: Option<String>,
    /// 1..=1000, default 50.
    pub limit: Option<i64>,
    /// ≥ 0, default 0.
    pub offset: Option<i64>,
}

/// The parameters [`UserQuery`] knows, for [`super::reject_unknown_params`].
const USER_QUERY_PARAMS: &[&str] = &["role", "org_id", "disabled", "q", "limit", "offset"];

/// Role names a user (not a machine key) can hold.
fn user_roles() -> Vec<&'static str> {
    Role::ALL
        .into_iter()
        .filter(|r| !r.is_machine())
        .map(Role::as_str)
        .collect()
}

/// Users in the caller's jurisdiction, optionally filtered by role, org
/// subtree, disabled flag and name text.
#[utoipa::path(get, path = "/api/v1/users", extensions(("x-personal-data" = json!("read"))), tag = "users", params(UserQuery), security(("bearer" = ["users:read"])),
    responses((status = 200, body = Paged<UserDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_users(
    State(s): State<AppState>,
    p: Principal,
    RawQuery(raw): RawQuery,
    ApiQuery(q): ApiQuery<UserQuery>,
) -> ApiResult<axum::Json<Paged<UserDto>>> {
    super::reject_unknown_params(raw.as_deref(), USER_QUERY_PARAMS)?;
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    super::check_filter("role", q.role.as_deref(), &user_roles())?;
    let prefix = super::org_filter_path(&s, &p, q.org_id).await?;
    // An empty `q=` asks for no text filter rather than "matches everything".
    let text = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let (rows, total) = s
        .store
        .find_users(&prefix, q.role.as_deref(), q.disabled, text, page)
        .await?;
    let ids = rows.iter().map(|u| u.id.to_string()).collect();
    s.audit(&p, Audit::ok("user.list", "user", ids)).await?;
    Ok(axum::Json(Paged::new(
        rows.into_iter().map(UserDto::from).collect(),
        total,
        page,
    )))
}

/// Creates a user bound to an org node in the caller's jurisdiction.
#[utoipa::path(post, path = "/api/v1/users", extensions(("x-personal-data" = json!("write"))), tag = "users", request_body = NewUserRequest, security(("bearer" = ["users:write"])),
    responses((status = 201, body = UserDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_user(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewUserRequest>,
) -> ApiResult<(StatusCode, axum::Json<UserDto>)> {
    check_username(&r.username)?;
    check_password(&r.password)?;
    if r.display_name.trim().is_empty() {
        return Err(ApiError::invalid("display_name", "display name is empty"));
    }
    if r.role.is_machine() {
        return Err(ApiError::invalid(
            "role",
            "machine roles (partner, sensor) use API keys: POST /api/v1/apikeys",
        ));
    }
    let org = visible_org(&s, &p, r.org_id, "org_id").await?;
    check_role_org(r.role, &org)?;
    if let Some(unit_id) = r.unit_id {
        check_unit(&s, unit_id, &org).await?;
    }
    let pw = r.password.clone();
    let hash = tokio::task::spawn_blocking(move || auth::hash_password(&pw))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    let u = s
        .store
        .create_user(
            &pingan_store::NewUser {
                username: r.username,
                display_name: r.display_name,
                password_hash: hash,
                role: r.role.as_str().into(),
                org_id: r.org_id,
                unit_id: r.unit_id,
            },
            s.now_ms(),
        )
        .await?;
    s.audit(&p, Audit::ok("user.create", "user", vec![u.id.to_string()]))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(u.into())))
}

/// One user.
#[utoipa::path(get, path = "/api/v1/users/{id}", extensions(("x-personal-data" = json!("read"))), tag = "users", params(("id" = i64, Path)), security(("bearer" = ["users:read"])),
    responses((status = 200, body = UserDto), (status = 404, body = crate::error::ErrorBody)))]
async fn get_user(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<UserDto>> {
    let u = visible_user(&s, &p, id).await?;
    s.audit(&p, Audit::ok("user.read", "user", vec![id.to_string()]))
        .await?;
    Ok(axum::Json(u.into()))
}

/// Changes a user; a password change, role change or disabling revokes their sessions.
#[utoipa::path(patch, path = "/api/v1/users/{id}", extensions(("x-personal-data" = json!("write"))), tag = "users", params(("id" = i64, Path)), request_body = UserUpdate, security(("bearer" = ["users:write"])),
    responses((status = 200, body = UserDto), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_user(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<UserUpdate>,
) -> ApiResult<axum::Json<UserDto>> {
    let current = visible_user(&s, &p, id).await?;
    let new_org = match r.org_id {
        Some(org) => Some(visible_org(&s, &p, org, "org_id").await?),
        None => None,
    };
    match (r.unit_id.or(current.unit_id), &new_org) {
        (Some(unit_id), Some(org)) => check_unit(&s, unit_id, org).await?,
        (Some(unit_id), None) if r.unit_id.is_some() => {
            let org = s.store.get_org(current.org_id).await?;
            check_unit(&s, unit_id, &org).await?;
        }
        _ => {}
    }
    if r.role.is_some_and(Role::is_machine) {
        return Err(ApiError::invalid("role", "machine roles use API keys"));
    }
    if r.role.is_some() || new_org.is_some() {
        let role = match r.role {
            Some(role) => role,
            None => Role::parse(&current.role).ok_or_else(|| {
                ApiError::internal(format!("user {id} has unknown role {:?}", current.role))
            })?,
        };
        let org = match new_org {
            Some(org) => org,
            None => s.store.get_org(current.org_id).await?,
        };
        check_role_org(role, &org)?;
    }
    // Each way of ceasing to be an enabled admin at the root, named by its field.
    let leaves_root_admin = [
        ("role", r.role.is_some_and(|role| role != Role::Admin)),
        ("disabled", r.disabled == Some(true)),
        ("org_id", r.org_id.is_some_and(|org| org != current.org_id)),
    ];
    if let Some((field, _)) = leaves_root_admin.into_iter().find(|(_, leaves)| *leaves) {
        keep_a_root_admin(&s, &current, Some(field)).await?;
    }
    let password_hash = match r.password {
        Some(pw) => {
            check_password(&pw)?;
            Some(
                tokio::task::spawn_blocking(move || auth::hash_password(&pw))
                    .await
                    .map_err(|e| ApiError::internal(e.to_string()))??,
            )
        }
        None => None,
    };
    let revoke = password_hash.is_some()
        || r.role.is_some()
        || r.disabled == Some(true)
        || r.org_id.is_some();
    let patch = pingan_store::UserPatch {
        display_name: r.display_name,
        password_hash,
        role: r.role.map(|r| r.as_str().to_string()),
        org_id: r.org_id,
        unit_id: r.unit_id.map(Some),
        disabled: r.disabled,
    };
    let now = s.now_ms();
    let u = s.store.update_user(id, &patch, now).await?;
    if revoke {
        s.store.revoke_user_sessions(id, now).await?;
    }
    s.audit(&p, Audit::ok("user.update", "user", vec![id.to_string()]))
        .await?;
    Ok(axum::Json(u.into()))
}

/// Disables a user (kept for the audit trail) and revokes their sessions.
#[utoipa::path(delete, path = "/api/v1/users/{id}", extensions(("x-personal-data" = json!("write"))), tag = "users", params(("id" = i64, Path)), security(("bearer" = ["users:write"])),
    responses((status = 204, description = "disabled"), (status = 404, body = crate::error::ErrorBody)))]
async fn disable_user(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let current = visible_user(&s, &p, id).await?;
    if p.user_id == Some(id) {
        return Err(ApiError::conflict("you cannot disable yourself"));
    }
    keep_a_root_admin(&s, &current, None).await?;
    let now = s.now_ms();
    s.store
        .update_user(
            id,
            &pingan_store::UserPatch {
                disabled: Some(true),
                ..Default::default()
            },
            now,
        )
        .await?;
    s.store.revoke_user_sessions(id, now).await?;
    s.audit(&p, Audit::ok("user.disable", "user", vec![id.to_string()]))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyDto {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub org_id: i64,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked: bool,
    /// For a `partner` key: the partner agency it speaks for (12345, 120, 119, traffic).
    pub partner: Option<String>,
    /// The secret, shown once at creation; send it as `Authorization: Bearer …` or `X-Api-Key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<pingan_store::ApiKeyRow> for ApiKeyDto {
    fn from(k: pingan_store::ApiKeyRow) -> Self {
        ApiKeyDto {
            id: k.id,
            name: k.name,
            role: k.role,
            org_id: k.org_id,
            scopes: k.scopes,
            created_at: rfc3339(k.created_at),
            expires_at: k.expires_at.map(rfc3339),
            revoked: k.revoked_at.is_some(),
            partner: k.partner,
            secret: None,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    /// Unique among the org's live (unrevoked, unexpired) keys: the audit log
    /// names a key's caller `key:<name>` (409 naming `name` otherwise).
    pub name: String,
    /// A machine role: `partner` or `sensor` (422 naming `role` otherwise;
    /// people log in as users).
    pub role: Role,
    pub org_id: i64,
    /// Subset of the role's scopes; default all of them.
    pub scopes: Option<Vec<String>>,
    /// Days until expiry, 1..=3650; default never.
    pub expires_in_days: Option<i64>,
    /// Required for role `partner`, refused for others: the partner agency
    /// the key speaks for (12345, 120, 119, traffic). Its hand-off feedback is
    /// accepted only for hand-offs to that partner.
    pub partner: Option<String>,
}

/// API keys in the caller's jurisdiction, one page in id order.
#[utoipa::path(get, path = "/api/v1/apikeys", tag = "users", params(PageQuery), security(("bearer" = ["apikeys:write"])),
    responses((status = 200, body = Paged<ApiKeyDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_keys(
    State(s): State<AppState>,
    p: Principal,
    RawQuery(raw): RawQuery,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<Paged<ApiKeyDto>>> {
    super::reject_unknown_params(raw.as_deref(), &["limit", "offset"])?;
    let page = q.page()?;
    let (rows, total) = s.store.list_api_keys_page(&p.org_path, page).await?;
    Ok(axum::Json(Paged::new(
        rows.into_iter().map(ApiKeyDto::from).collect(),
        total,
        page,
    )))
}

/// Longest key lifetime a request may ask for: ten years.
const MAX_KEY_DAYS: i64 = 3650;

/// Creates a machine API key; the secret is returned once.
#[utoipa::path(post, path = "/api/v1/apikeys", tag = "users", request_body = NewApiKeyRequest, security(("bearer" = ["apikeys:write"])),
    responses((status = 201, body = ApiKeyDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_key(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewApiKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<ApiKeyDto>)> {
    if r.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name is empty"));
    }
    if !r.role.is_machine() {
        return Err(ApiError::invalid(
            "role",
            format!(
                "API keys carry machine roles only (partner, sensor), not {}; people log in as users",
                r.role.as_str()
            ),
        ));
    }
    // Zero days would be a key born expired; beyond ten years the expiry
    // leaves the range RFC 3339 can write (and is no expiry at all).
    if let Some(days) = r.expires_in_days
        && !(1..=MAX_KEY_DAYS).contains(&days)
    {
        return Err(ApiError::invalid(
            "expires_in_days",
            format!("expires_in_days {days} is outside 1..={MAX_KEY_DAYS}"),
        ));
    }
    visible_org(&s, &p, r.org_id, "org_id").await?;
    let now = s.now_ms();
    if let Some(k) = s.store.live_api_key_named(r.org_id, &r.name, now).await? {
        return Err(ApiError::conflict(format!(
            "org {} already has a live API key named {:?} (id {}); revoke it or pick another name",
            r.org_id, r.name, k.id
        ))
        .with_field("name"));
    }
    let partner = match (r.role, r.partner.as_deref()) {
        (Role::Partner, Some(code)) => Some(
            pingan_dispatch::Partner::from_code(code)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "partner",
                        format!("unknown partner {code:?} (12345, 120, 119 or traffic)"),
                    )
                })?
                .code()
                .to_string(),
        ),
        (Role::Partner, None) => {
            return Err(ApiError::invalid(
                "partner",
                "a partner key names the partner agency it speaks for",
            ));
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid(
                "partner",
                "only a key of role partner speaks for a partner agency",
            ));
        }
        (_, None) => None,
    };
    let allowed = r.role.scopes();
    let scopes: Vec<String> = match r.scopes {
        Some(list) => {
            for (i, sc) in list.iter().enumerate() {
                if !allowed.contains(&sc.as_str()) {
                    return Err(ApiError::invalid(
                        format!("scopes[{i}]"),
                        format!("{sc:?} is not a scope of role {}", r.role.as_str()),
                    ));
                }
            }
            list
        }
        None => allowed.iter().map(|s| s.to_string()).collect(),
    };
    let secret = auth::new_secret(auth::API_KEY_PREFIX);
    let row = s
        .store
        .create_api_key(
            &pingan_store::NewApiKey {
                name: r.name,
                key_hash: auth::secret_hash(&secret),
                role: r.role.as_str().into(),
                org_id: r.org_id,
                scopes,
                expires_at: r.expires_in_days.map(|d| now + d * 86_400_000),
                partner,
            },
            now,
        )
        .await?;
    s.audit(
        &p,
        Audit::ok("apikey.create", "api_key", vec![row.id.to_string()]),
    )
    .await?;
    let mut dto = ApiKeyDto::from(row);
    dto.secret = Some(secret);
    Ok((StatusCode::CREATED, axum::Json(dto)))
}

/// Revokes an API key.
#[utoipa::path(delete, path = "/api/v1/apikeys/{id}", tag = "users", params(("id" = i64, Path)), security(("bearer" = ["apikeys:write"])),
    responses((status = 204, description = "revoked"), (status = 404, body = crate::error::ErrorBody)))]
async fn revoke_key(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let keys = s.store.list_api_keys(&p.org_path).await?;
    if !keys.iter().any(|k| k.id == id) {
        return Err(ApiError::not_found("api key", id));
    }
    s.store.revoke_api_key(id, s.now_ms()).await?;
    s.audit(
        &p,
        Audit::ok("apikey.revoke", "api_key", vec![id.to_string()]),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
