//! Login, logout and "who am I".

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::audit::Audit;
use crate::auth::{self, Principal, Role};
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    pub expires_at: String,
    pub user: Me,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub id: Option<i64>,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_id: i64,
    pub org_name: String,
    pub org_kind: String,
    pub unit_id: Option<i64>,
    /// What this principal may do.
    pub scopes: Vec<String>,
}

/// Exchanges a username and password for a bearer token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody), (status = 400, body = crate::error::ErrorBody)))]
async fn login(
    State(s): State<AppState>,
    ip: super::portal::ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<axum::Json<LoginResponse>> {
    if req.username.trim().is_empty() {
        return Err(ApiError::invalid("username", "username is empty"));
    }
    // Password guessing: after repeated failures the account (from this
    // address) and the address itself wait; the refusal is audited too.
    let now = std::time::Instant::now();
    let account = format!("{}|{}", req.username.trim().to_lowercase(), ip.0);
    let guard = &s.login_failures;
    if let Err(wait) = guard
        .per_account
        .check(&account, now)
        .and_then(|()| guard.per_address.check(&ip.0, now))
    {
        let secs = wait.as_secs().max(1);
        s.audit_anonymous(
            req.username.trim(),
            "auth.login",
            "throttled",
            Some(format!("ip {}, retry after {secs} s", ip.0)),
        )
        .await?;
        return Err(ApiError::too_many_requests(
            format!("too many failed logins: try again in {secs} s"),
            secs,
        ));
    }
    let user = s.store.get_user_by_username(req.username.trim()).await?;
    let ok_user =
        user.filter(|u| !u.disabled && Role::parse(&u.role).is_some_and(|r| !r.is_machine()));
    // Verify even for unknown users so timing does not reveal which names exist.
    let hash = match ok_user.as_ref() {
        Some(u) => u.password_hash.clone(),
        None => dummy_hash(),
    };
    let pw = req.password.clone();
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &hash))
        .await
        .unwrap_or(false);
    let Some(user) = ok_user.filter(|_| verified) else {
        let _ = guard.per_account.take(&account, now);
        let _ = guard.per_address.take(&ip.0, now);
        s.audit_anonymous(
            req.username.trim(),
            "auth.login",
            "denied",
            Some(format!("ip {}", ip.0)),
        )
        .await?;
        return Err(ApiError::unauthorized("wrong username or password"));
    };
    let token = auth::new_secret(auth::TOKEN_PREFIX);
    let now = s.now_ms();
    let expires = now + s.config.token_ttl_minutes as i64 * 60_000;
    s.store
        .create_session(&auth::secret_hash(&token), user.id, now, expires)
        .await?;
    let principal = auth::authenticate(&s, &token)
        .await?
        .ok_or_else(|| ApiError::internal("new session not found"))?;
    s.audit(&principal, Audit::ok("auth.login", "session", vec![]))
        .await?;
    let me = me_of(&s, &principal).await?;
    Ok(axum::Json(LoginResponse {
        token,
        expires_at: super::rfc3339(expires),
        user: me,
    }))
}

/// A real argon2id hash of a random password, verified against when the user is
/// unknown so both paths cost the same.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| auth::hash_password(&auth::new_secret("")).unwrap_or_default())
        .clone()
}

async fn me_of(s: &AppState, p: &Principal) -> ApiResult<Me> {
    let org = s.store.get_org(p.org_id).await?;
    let display_name = match p.user_id {
        Some(id) => s.store.get_user(id).await?.display_name,
        None => p.name.clone(),
    };
    Ok(Me {
        id: p.user_id,
        username: p.name.clone(),
        display_name,
        role: p.role,
        org_id: org.id,
        org_name: org.name,
        org_kind: org.kind,
        unit_id: p.unit_id,
        scopes: p.scopes().iter().map(|s| s.to_string()).collect(),
    })
}

/// Revokes the calling token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = ["authenticated"])),
    responses((status = 204, description = "revoked"), (status = 401, body = crate::error::ErrorBody)))]
async fn logout(State(s): State<AppState>, p: Principal) -> ApiResult<StatusCode> {
    let Some(hash) = p.token_hash.as_deref() else {
        return Err(ApiError::bad_request(
            "not_a_session",
            "API keys are revoked by an administrator, not by logout",
        ));
    };
    s.store.revoke_session(hash, s.now_ms()).await?;
    s.audit(&p, Audit::ok("auth.logout", "session", vec![]))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The calling user, their org and scopes.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = ["authenticated"])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::ErrorBody)))]
async fn me(State(s): State<AppState>, p: Principal) -> ApiResult<axum::Json<Me>> {
    Ok(axum::Json(me_of(&s, &p).await?))
}
