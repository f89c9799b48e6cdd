//! Authentication and authorisation.
//!
//! People log in with a password (argon2id) and get a bearer token that expires
//! and can be revoked; only its SHA-256 is stored. Machines (partners, sensors,
//! vehicle terminals) use API keys with scopes. Every route declares the scope it
//! needs in its OpenAPI `security` requirement; [`enforce`] reads those
//! declarations from the generated spec, so the documentation and the check are
//! one and the same, and a route under `/api/` without a declaration is refused
//! (fail closed). Jurisdiction — a principal sees only its org's subtree — is
//! checked by the handlers with [`Principal::can_see`].

use std::collections::HashMap;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::error::ApiError;

/// Roles a user or API key can hold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Commander,
    Dispatcher,
    StationOfficer,
    Analyst,
    Auditor,
    Partner,
    Sensor,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::Commander,
        Role::Dispatcher,
        Role::StationOfficer,
        Role::Analyst,
        Role::Auditor,
        Role::Partner,
        Role::Sensor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Commander => "commander",
            Role::Dispatcher => "dispatcher",
            Role::StationOfficer => "station_officer",
            Role::Analyst => "analyst",
            Role::Auditor => "auditor",
            Role::Partner => "partner",
            Role::Sensor => "sensor",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Machine roles authenticate with API keys, never passwords.
    pub fn is_machine(self) -> bool {
        matches!(self, Role::Partner | Role::Sensor)
    }

    /// The scopes this role grants.
    pub fn scopes(self) -> &'static [&'static str] {
        use scope::*;
        match self {
            Role::Admin => ALL_SCOPES,
            Role::Commander => &[
                ORGS_READ,
                UNITS_READ,
                UNITS_WRITE,
                UNITS_STATUS,
                POSITIONS_WRITE,
                USERS_READ,
                INCIDENTS_READ,
                INCIDENTS_WRITE,
                DISPATCH,
                ALERTS_READ,
                ALERTS_WRITE,
                WATCHES_READ,
                WATCHES_WRITE,
                SENSORS_READ,
                KPIS_READ,
                SEARCH,
                ENTITIES_READ,
                LEDGER_READ,
                EVALUATIONS_READ,
                EVALUATIONS_WRITE,
            ],
            Role::Dispatcher => &[
                ORGS_READ,
                UNITS_READ,
                UNITS_STATUS,
                INCIDENTS_READ,
                INCIDENTS_WRITE,
                DISPATCH,
                ALERTS_READ,
                ALERTS_WRITE,
                WATCHES_READ,
                SENSORS_READ,
                KPIS_READ,
                LEDGER_READ,
            ],
            // Search and profiles are limited to the station's jurisdiction
            // (fusion::Visibility).
            Role::StationOfficer => &[
                ORGS_READ,
                UNITS_READ,
                UNITS_STATUS,
                EVALUATIONS_READ,
                EVALUATIONS_WRITE,
                INCIDENTS_READ,
                ALERTS_READ,
                ALERTS_WRITE,
                SENSORS_READ,
                KPIS_READ,
                SEARCH,
                ENTITIES_READ,
            ],
            Role::Analyst => &[
                ORGS_READ,
                UNITS_READ,
                INCIDENTS_READ,
                ALERTS_READ,
                WATCHES_READ,
                WATCHES_WRITE,
                SENSORS_READ,
                KPIS_READ,
                SEARCH,
                ENTITIES_READ,
                ENTITIES_WRITE,
                SOURCES_READ,
                SOURCES_WRITE,
            ],
            Role::Auditor => &[
                ORGS_READ,
                USERS_READ,
                AUDIT_READ,
                LEDGER_READ,
                KPIS_READ,
                EVALUATIONS_READ,
                NOTIFICATIONS_READ,
            ],
            Role::Partner => &[HANDOFFS_WRITE],
            Role::Sensor => &[EVENTS_WRITE, POSITIONS_WRITE],
        }
    }
}

/// Scope names as they appear in the OpenAPI `security` requirements.
pub mod scope {
    pub const ORGS_READ: &str = "orgs:read";
    pub const ORGS_WRITE: &str = "orgs:write";
    pub const UNITS_READ: &str = "units:read";
    pub const UNITS_WRITE: &str = "units:write";
    pub const UNITS_STATUS: &str = "units:status";
    pub const POSITIONS_WRITE: &str = "positions:write";
    pub const USERS_READ: &str = "users:read";
    pub const USERS_WRITE: &str = "users:write";
    pub const APIKEYS_WRITE: &str = "apikeys:write";
    pub const AUDIT_READ: &str = "audit:read";
    pub const INCIDENTS_READ: &str = "incidents:read";
    pub const INCIDENTS_WRITE: &str = "incidents:write";
    pub const DISPATCH: &str = "dispatch";
    pub const ALERTS_READ: &str = "alerts:read";
    pub const ALERTS_WRITE: &str = "alerts:write";
    pub const WATCHES_READ: &str = "watches:read";
    pub const WATCHES_WRITE: &str = "watches:write";
    pub const SENSORS_READ: &str = "sensors:read";
    pub const SENSORS_WRITE: &str = "sensors:write";
    pub const EVENTS_WRITE: &str = "events:write";
    pub const KPIS_READ: &str = "kpis:read";
    pub const SEARCH: &str = "search";
    pub const ENTITIES_READ: &str = "entities:read";
    pub const ENTITIES_WRITE: &str = "entities:write";
    pub const SOURCES_READ: &str = "sources:read";
    pub const SOURCES_WRITE: &str = "sources:write";
    pub const HANDOFFS_WRITE: &str = "handoffs:write";
    pub const LEDGER_READ: &str = "ledger:read";
    pub const EVALUATIONS_READ: &str = "evaluations:read";
    pub const EVALUATIONS_WRITE: &str = "evaluations:write";
    /// The citizen notification delivery log.
    pub const NOTIFICATIONS_READ: &str = "notifications:read";
    /// Editing the incident taxonomy (admins).
    pub const TAXONOMY_WRITE: &str = "taxonomy:write";
    /// Any authenticated principal (e.g. `/auth/me`).
    pub const AUTHENTICATED: &str = "authenticated";

    pub const ALL_SCOPES: &[&str] = &[
        ORGS_READ,
        ORGS_WRITE,
        UNITS_READ,
        UNITS_WRITE,
        UNITS_STATUS,
        POSITIONS_WRITE,
        USERS_READ,
        USERS_WRITE,
        APIKEYS_WRITE,
        AUDIT_READ,
        INCIDENTS_READ,
        INCIDENTS_WRITE,
        DISPATCH,
        ALERTS_READ,
        ALERTS_WRITE,
        WATCHES_READ,
        WATCHES_WRITE,
        SENSORS_READ,
        SENSORS_WRITE,
        EVENTS_WRITE,
        KPIS_READ,
        SEARCH,
        ENTITIES_READ,
        ENTITIES_WRITE,
        SOURCES_READ,
        SOURCES_WRITE,
        HANDOFFS_WRITE,
        LEDGER_READ,
        EVALUATIONS_READ,
        EVALUATIONS_WRITE,
        NOTIFICATIONS_READ,
        TAXONOMY_WRITE,
    ];
}

/// Who is calling: a logged-in user or an API key.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Option<i64>,
    pub api_key_id: Option<i64>,
    pub name: String,
    pub role: Role,
    pub org_id: i64,
    /// Materialised path of the org node; the principal sees this subtree.
    pub org_path: String,
    pub unit_id: Option<i64>,
    scopes: Vec<&'static str>,
    pub token_hash: Option<String>,
    /// For a partner agency's API key: the partner it speaks for.
    pub partner: Option<String>,
}

impl Principal {
    pub fn has_scope(&self, s: &str) -> bool {
        s == scope::AUTHENTICATED || self.scopes.contains(&s)
    }

    /// Whether an object owned by the org at `org_path` is within this principal's jurisdiction.
    pub fn can_see(&self, org_path: &str) -> bool {
        org_path.starts_with(&self.org_path)
    }

    pub fn require_visible(&self, what: &str, org_path: &str) -> Result<(), ApiError> {
        if self.can_see(org_path) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "{what} is outside your jurisdiction"
            )))
        }
    }

    /// Answers 404 for an object outside the jurisdiction, so its existence is
    /// not revealed; used by every "load one object by id" handler.
    pub fn require_found(
        &self,
        what: &str,
        id: impl std::fmt::Display,
        org_path: &str,
    ) -> Result<(), ApiError> {
        if self.can_see(org_path) {
            Ok(())
        } else {
            Err(ApiError::not_found(what, id))
        }
    }

    pub fn scopes(&self) -> &[&'static str] {
        &self.scopes
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("authentication required"))
    }
}

pub fn hash_password(password: &str) -> Result<String, ApiError> {
    let salt: [u8; 16] = rand::random();
    let hash: Result<PasswordHash, _> =
        Argon2::default().hash_password_with_salt(password.as_bytes(), &salt);
    hash.map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("password hashing failed: {e}")))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random secret (256 bits, base64url) with the given prefix.
pub fn new_secret(prefix: &str) -> String {
    let bytes: [u8; 32] = rand::random();
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The OpenAPI extension an operation carries when it reads or writes
/// personal data: `"read"`, `"write"`, or `"reveal"` (personal fields are
/// masked unless the caller may reveal them and states a purpose).
pub const PERSONAL_DATA_EXTENSION: &str = "x-personal-data";

/// Required scopes per (method, route template), and which routes touch
/// personal data, read from the OpenAPI document.
#[derive(Debug, Default)]
pub struct RouteScopes {
    map: HashMap<(Method, String), Vec<String>>,
    personal: HashMap<(Method, String), Personal>,
}

/// How an operation touches personal data (its `x-personal-data` value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personal {
    /// Serves personal data: every answer is audited, or withheld.
    Read,
    /// Writes or discloses personal data: every success is audited.
    Write,
    /// Serves records whose personal fields are masked unless revealed; a
    /// reveal is audited.
    Reveal,
}

impl RouteScopes {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> RouteScopes {
        let value = serde_json::to_value(doc).unwrap_or_default();
        let mut map = HashMap::new();
        let mut personal = HashMap::new();
        if let Some(paths) = value.get("paths").and_then(|p| p.as_object()) {
            for (path, item) in paths {
                let Some(item) = item.as_object() else {
                    continue;
                };
                for (method, op) in item {
                    let Ok(m) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                        continue;
                    };
                    let scopes: Vec<String> = op
                        .get("security")
                        .and_then(|s| s.as_array())
                        .map(|reqs| {
                            reqs.iter()
                                .filter_map(|r| r.as_object())
                                .flat_map(|r| r.values())
                                .filter_map(|v| v.as_array())
                                .flatten()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    // An operation with a security requirement but no scopes still needs a login.
                    let needs_auth =
                        op.get("security")
                            .and_then(|s| s.as_array())
                            .is_some_and(|a| {
                                !a.is_empty()
                                    && a.iter()
                                        .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                            });
                    let scopes = if needs_auth && scopes.is_empty() {
                        vec![scope::AUTHENTICATED.to_string()]
                    } else {
                        scopes
                    };
                    let kind = match op.get(PERSONAL_DATA_EXTENSION).and_then(|v| v.as_str()) {
                        Some("read") => Some(Personal::Read),
                        Some("write") => Some(Personal::Write),
                        Some("reveal") => Some(Personal::Reveal),
                        _ => None,
                    };
                    if let Some(k) = kind {
                        personal.insert((m.clone(), path.clone()), k);
                    }
                    map.insert((m, path.clone()), scopes);
                }
            }
        }
        RouteScopes { map, personal }
    }

    /// How the route touches personal data, if it does.
    pub fn personal(&self, method: &Method, path: &str) -> Option<Personal> {
        self.personal
            .get(&(method.clone(), path.to_string()))
            .copied()
    }

    /// `None`: route unknown to the spec. `Some([])`: public. Otherwise the scopes (any of them suffices).
    pub fn get(&self, method: &Method, path: &str) -> Option<&[String]> {
        let m = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        self.map
            .get(&(m.clone(), path.to_string()))
            .map(Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&Method, &str, &[String])> {
        self.map
            .iter()
            .map(|((m, p), s)| (m, p.as_str(), s.as_slice()))
    }
}

fn bearer(parts: &axum::http::HeaderMap) -> Option<String> {
    if let Some(v) = parts
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        if let Some(t) = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
        {
            return Some(t.trim().to_string());
        }
    }
    if let Some(k) = parts.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(k.trim().to_string());
    }
    None
}

/// `?access_token=` (what EventSource clients send).
fn url_access_token(query: Option<&str>) -> Option<String> {
    query.and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("access_token="))
            .map(|t| t.to_string())
    })
}

/// Resolves a bearer token or API key to a principal.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<Option<Principal>, ApiError> {
    let hash = secret_hash(secret);
    let now = state.now_ms();
    if secret.starts_with(API_KEY_PREFIX) {
        let Some(k) = state.store.api_key_by_hash(&hash, now).await? else {
            return Ok(None);
        };
        let Some(role) = Role::parse(&k.role) else {
            return Ok(None);
        };
        let scopes = role
            .scopes()
            .iter()
            .copied()
            .filter(|s| k.scopes.iter().any(|ks| ks == s))
            .collect();
        return Ok(Some(Principal {
            user_id: None,
            api_key_id: Some(k.id),
            name: format!("key:{}", k.name),
            role,
            org_id: k.org_id,
            org_path: k.org_path,
            unit_id: None,
            scopes,
            token_hash: None,
            partner: k.partner,
        }));
    }
    let Some((u, _exp)) = state.store.session_user(&hash, now).await? else {
        return Ok(None);
    };
    if u.disabled {
        return Ok(None);
    }
    let Some(role) = Role::parse(&u.role) else {
        return Ok(None);
    };
    Ok(Some(Principal {
        user_id: Some(u.id),
        api_key_id: None,
        name: u.username,
        role,
        org_id: u.org_id,
        org_path: u.org_path,
        unit_id: u.unit_id,
        scopes: role.scopes().to_vec(),
        token_hash: Some(hash),
        partner: None,
    }))
}

pub const API_KEY_PREFIX: &str = "pak_";
pub const TOKEN_PREFIX: &str = "pat_";

/// Middleware: authenticates the caller and checks the route's declared scope.
/// On a route that touches personal data, a refusal of an authenticated caller
/// (no permission, outside the jurisdiction, no purpose, bad input) is audited
/// too: the auditor sees attempts, not only the reads that succeeded.
pub async fn enforce(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let Some(path) = path else {
        return next.run(req).await;
    };
    let required = match state.route_scopes.get(req.method(), &path) {
        Some(s) => s.to_vec(),
        None if path.starts_with("/api/") => {
            return ApiError::forbidden(format!(
                "{} {path} declares no permission; refused",
                req.method()
            ))
            .into_response();
        }
        None => Vec::new(),
    };
    // EventSource cannot set headers, so live streams (and only they) take
    // the token from the URL; elsewhere it would land in proxy logs.
    let stream = req.method() == Method::GET && path.ends_with("/stream");
    let url_token = url_access_token(req.uri().query());
    let secret = bearer(req.headers()).or_else(|| url_token.clone().filter(|_| stream));
    let sent = secret.is_some();
    let principal = match secret {
        Some(s) => match authenticate(&state, &s).await {
            Ok(p) => p,
            Err(e) => return e.into_response(),
        },
        None => None,
    };
    let personal = state.route_scopes.personal(req.method(), &path);
    // On a personal-data route: its name in audit records, and the purpose the
    // request states (bounded as the `Purpose` extractor bounds it), given to
    // records whose handler names none and to refusals.
    let route = match personal {
        Some(_) => format!("{} {path}", req.method()),
        None => String::new(),
    };
    let purpose = personal
        .and_then(|_| crate::audit::header_purpose(req.headers()))
        .map(|p| p.chars().take(500).collect::<String>());
    let attempt = principal
        .as_ref()
        .filter(|_| personal.is_some())
        .map(|p| Attempt {
            who: p.clone(),
            action: route.clone(),
            template: path.clone(),
            uri_path: req.uri().path().to_string(),
            purpose: purpose.clone(),
        });
    if !required.is_empty() {
        let Some(p) = principal.as_ref() else {
            let message = if sent {
                "the token or API key is unknown, expired or revoked: log in again"
            } else if url_token.is_some() {
                "access_token in the URL is accepted only by live streams: send Authorization: Bearer <token>"
            } else {
                "authentication required: send Authorization: Bearer <token>"
            };
            return ApiError::unauthorized(message).into_response();
        };
        if !required.iter().any(|s| p.has_scope(s)) {
            state.metrics.denied(&path);
            let holder = if p.api_key_id.is_some() {
                format!("API key {} (role {})", p.name, p.role.as_str())
            } else {
                format!("role {}", p.role.as_str())
            };
            let refusal = ApiError::forbidden(format!(
                "{holder} lacks permission {} for {} {path}",
                required.join(" or "),
                req.method()
            ))
            .into_response();
            if let Some(a) = attempt {
                a.audit_refusal(&state, refusal_of(&refusal)).await;
            }
            return refusal;
        }
    }
    if let Some(p) = principal {
        req.extensions_mut().insert(p);
    }
    let Some(kind) = personal else {
        return next.run(req).await;
    };
    let (resp, audited) = crate::audit::tallied(purpose, next.run(req)).await;
    if resp.status().is_success() && audited == 0 && kind != Personal::Reveal {
        // A handler served or changed personal data without an audit record:
        // a defect. Counted (tests assert the count stays zero); a read's
        // answer is withheld, a write has already happened and stands.
        state.metrics.unaudited(&route);
        tracing::error!(%route, "personal data answered without an audit record");
        if kind == Personal::Read {
            return ApiError::internal(format!(
                "{route} answered without an audit record; the answer is withheld"
            ))
            .into_response();
        }
    }
    if let Some(a) = attempt
        && resp.status().is_client_error()
        && resp.status() != StatusCode::UNAUTHORIZED
    {
        a.audit_refusal(&state, refusal_of(&resp)).await;
    }
    resp
}

/// A request of an authenticated caller to a personal-data route, kept until
/// its answer is known.
struct Attempt {
    who: Principal,
    /// `METHOD /route/{template}`, the record's action.
    action: String,
    template: String,
    uri_path: String,
    purpose: Option<String>,
}

impl Attempt {
    /// Appends the refusal to the audit log: the route's objects (its path
    /// parameters), the outcome (`denied` for 403, `not_found` for 404 — also
    /// what an object outside the jurisdiction answers — `refused` otherwise)
    /// and the error code. The refusal stands even if the record cannot be
    /// written; that failure is logged.
    async fn audit_refusal(self, state: &AppState, (status, code): (StatusCode, &str)) {
        let outcome = match status {
            StatusCode::FORBIDDEN => "denied",
            StatusCode::NOT_FOUND => "not_found",
            _ => "refused",
        };
        let (object_type, object_ids) = route_objects(&self.template, &self.uri_path);
        let entry = crate::audit::Audit {
            action: &self.action,
            object_type: &object_type,
            object_ids,
            purpose: self.purpose.as_deref(),
            outcome,
            detail: Some(format!("{} {code}", status.as_u16()).trim_end().to_string()),
        };
        if let Err(e) = state.audit(&self.who, entry).await {
            tracing::warn!(route = %self.action, error = %e, "could not audit a refused personal-data request");
        }
    }
}

/// A refusal's status and error code (from [`crate::error::ErrorCode`]).
fn refusal_of(resp: &Response) -> (StatusCode, &'static str) {
    let code = resp
        .extensions()
        .get::<crate::error::ErrorCode>()
        .map_or("", |c| c.0);
    (resp.status(), code)
}

/// The objects a request names: the resource of its route template (the last
/// literal segment before the first parameter, singular) and the values of its
/// path parameters.
fn route_objects(template: &str, uri_path: &str) -> (String, Vec<String>) {
    let mut resource = "";
    let mut ids = Vec::new();
    for (t, v) in template.split('/').zip(uri_path.split('/')) {
        if t.starts_with('{') {
            ids.push(v.to_string());
        } else if ids.is_empty() && !t.is_empty() {
            resource = t;
        }
    }
    let singular = if let Some(stem) = resource.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = resource
        .strip_suffix("sses")
        .or_else(|| resource.strip_suffix("ches"))
    {
        format!("{stem}{}", &resource[stem.len()..resource.len() - 2])
    } else {
        resource.strip_suffix('s').unwrap_or(resource).to_string()
    };
    (singular, ids)
}

/// Shared handle type for the route table.
pub type SharedRouteScopes = Arc<RouteScopes>;

#[cfg(test)]
mod tests {
    use super::route_objects;

    #[test]
    fn a_refused_request_names_its_resource_and_ids() {
        let cases = [
            ("/api/v1/users/{id}", "/api/v1/users/7", "user", vec!["7"]),
            (
                "/api/v1/watches/{id}",
                "/api/v1/watches/3",
                "watch",
                vec!["3"],
            ),
            (
                "/api/v1/addresses/{id}",
                "/api/v1/addresses/9",
                "address",
                vec!["9"],
            ),
            (
                "/api/v1/entities/{id}/merge",
                "/api/v1/entities/5/merge",
                "entity",
                vec!["5"],
            ),
            (
                "/api/v1/alerts/{id}/cap",
                "/api/v1/alerts/12/cap",
                "alert",
                vec!["12"],
            ),
            ("/api/v1/search", "/api/v1/search", "search", vec![]),
            ("/api/v1/alerts", "/api/v1/alerts", "alert", vec![]),
        ];
        for (template, path, ty, ids) in cases {
            let (t, i) = route_objects(template, path);
            assert_eq!(
                (t.as_str(), i),
                (ty, ids.iter().map(|s| s.to_string()).collect()),
                "{template}"
            );
        }
    }
}
