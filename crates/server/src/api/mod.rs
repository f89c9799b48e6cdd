//! Route assembly and the OpenAPI document. Each submodule owns one resource's
//! routes, DTOs and handlers; every handler carries a `#[utoipa::path]` whose
//! `security` names the scope it needs (see [`crate::auth`]).

use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub mod addresses;
pub mod alerts;
pub mod audit_log;
pub mod calls;
pub mod console;
pub mod entities;
pub mod evaluations;
pub mod geo;
pub mod health;
pub mod incidents;
pub mod kpis;
pub mod ledger;
pub mod notifications;
pub mod orgs;
pub mod portal;
pub mod search;
pub mod session;
pub mod sources;
pub mod stats;
pub mod taxonomy;
pub mod units;
pub mod users;

#[derive(OpenApi)]
#[openapi(
    info(title = "pingan API", description = "Public-safety command and data-fusion platform. Errors are always {\"error\":{\"code\",\"message\",\"field\"}}."),
    modifiers(&BearerAuth),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A login token (`pat_…`) or an API key (`pak_…`). API keys may also be sent \
                         as `X-API-Key: pak_…`; live streams (`GET …/stream`, for EventSource) also \
                         take `?access_token=`, and no other route does.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route of the API.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::routes())
        .merge(session::routes())
        .merge(orgs::routes())
        .merge(geo::routes())
        .merge(units::routes())
        .merge(calls::routes())
        .merge(incidents::routes())
        .merge(taxonomy::routes())
        .merge(kpis::routes())
        .merge(stats::routes())
        .merge(users::routes())
        .merge(audit_log::routes())
        .merge(ledger::routes())
        .merge(alerts::routes())
        .merge(sources::routes())
        .merge(search::routes())
        .merge(entities::routes())
        .merge(addresses::routes())
        .merge(portal::routes())
        .merge(evaluations::routes())
        .merge(notifications::routes())
        .pipe_openapi(query_params_in_query)
        .pipe_openapi(standard_errors)
}

/// The operations of one path, whatever their method.
fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .flatten()
}

/// Every operation documents the refusals the shared layers give it, in the
/// one error shape: 401/403 where it needs a login (`auth::enforce`), 404 for
/// an id in the path, 400 for a query or path value of the wrong type, and
/// 400/413/415/422 for a request body (`ApiJson`); 429 where login throttles.
/// Handlers' own answers are kept as they wrote them.
fn standard_errors(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let error = |what: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(what)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build(),
        )
    };
    for (template, item) in doc.paths.paths.iter_mut() {
        for op in operations_mut(item) {
            let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
            let has_query = op.parameters.iter().flatten().any(|p| {
                matches!(p, RefOr::T(p) if p.parameter_in != utoipa::openapi::path::ParameterIn::Header)
            });
            let mut add = |code: &str, what: &str| {
                op.responses
                    .responses
                    .entry(code.to_string())
                    .or_insert_with(|| error(what));
            };
            if secured {
                add("401", "no valid token or API key");
                add(
                    "403",
                    "the caller's role lacks the permission, or the object is outside its jurisdiction",
                );
            }
            if template.contains('{') {
                add("404", "no such object within the caller's jurisdiction");
            }
            if has_query || template.contains('{') {
                add("400", "a path or query value is malformed");
            }
            if op.request_body.is_some() {
                add("400", "the body is not valid JSON");
                add("413", "the body exceeds the size limit");
                add("415", "the body is not JSON");
                add("422", "a field is invalid; `field` names it");
            }
            if template == "/api/v1/auth/login" {
                add("429", "too many failed logins; see Retry-After");
            }
        }
    }
}

/// Post-processing of the assembled document, chained on the router.
trait PipeOpenApi {
    fn pipe_openapi(self, f: fn(&mut utoipa::openapi::OpenApi)) -> Self;
}

impl PipeOpenApi for OpenApiRouter<AppState> {
    fn pipe_openapi(mut self, f: fn(&mut utoipa::openapi::OpenApi)) -> Self {
        f(self.get_openapi_mut());
        self
    }
}

/// `#[derive(IntoParams)]` structs default to path parameters unless the
/// handler extracts them with axum's own `Query`; ours use [`ApiQuery`]
/// (for the error shape), so their fields came out as required *path*
/// parameters. A path parameter must appear as `{name}` in the template, so
/// any other "path" parameter is a query parameter, required only when its
/// schema does not admit null (`Option<T>` fields do).
///
/// [`ApiQuery`]: crate::error::ApiQuery
fn query_params_in_query(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    use utoipa::openapi::{Required, schema};
    for (template, item) in doc.paths.paths.iter_mut() {
        for op in operations_mut(item) {
            for p in op.parameters.iter_mut().flatten() {
                let utoipa::openapi::RefOr::T(p) = p else {
                    continue;
                };
                if p.parameter_in != ParameterIn::Path
                    || template.contains(&format!("{{{}}}", p.name))
                {
                    continue;
                }
                let nullable = match &p.schema {
                    Some(utoipa::openapi::RefOr::T(schema::Schema::Object(o))) => {
                        matches!(&o.schema_type, schema::SchemaType::Array(ts) if ts.contains(&schema::Type::Null))
                    }
                    Some(utoipa::openapi::RefOr::T(schema::Schema::OneOf(o))) => o.items.iter().any(|i| {
                        matches!(i, utoipa::openapi::RefOr::T(schema::Schema::Object(o)) if o.schema_type == schema::SchemaType::Type(schema::Type::Null))
                    }),
                    _ => false,
                };
                p.parameter_in = ParameterIn::Query;
                p.required = if nullable {
                    Required::False
                } else {
                    Required::True
                };
            }
        }
    }
}

/// A WGS84 point on the wire.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct LatLngDto {
    /// Latitude, −90..=90.
    pub lat: f64,
    /// Longitude, −180..=180.
    pub lng: f64,
}

impl LatLngDto {
    /// Validates into a domain point, naming `field` on error.
    pub fn parse(self, field: &str) -> ApiResult<pingan_core::LatLng> {
        pingan_core::LatLng::new(self.lat, self.lng).map_err(|e| {
            // The domain error names `lat` for any non-finite part; name the bad one.
            let part = match e {
                pingan_core::GeoError::NotFinite if self.lat.is_finite() => "lng",
                _ => e.field(),
            };
            let name = if field.is_empty() {
                part.to_string()
            } else {
                format!("{field}.{part}")
            };
            ApiError::invalid(name, e.to_string())
        })
    }
}

impl From<pingan_core::LatLng> for LatLngDto {
    fn from(p: pingan_core::LatLng) -> Self {
        LatLngDto {
            lat: p.lat(),
            lng: p.lng(),
        }
    }
}

/// `?limit=&offset=` for lists.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// 1..=1000, default 50.
    pub limit: Option<i64>,
    /// ≥ 0, default 0.
    pub offset: Option<i64>,
}

impl PageQuery {
    pub fn page(&self) -> ApiResult<pingan_store::Page> {
        let limit = self.limit.unwrap_or(50);
        let offset = self.offset.unwrap_or(0);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("limit {limit} is outside 1..=1000"),
            )
            .with_field("limit"));
        }
        if offset < 0 {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("offset {offset} is negative"),
            )
            .with_field("offset"));
        }
        Ok(pingan_store::Page { limit, offset })
    }
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T: ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T: ToSchema> Paged<T> {
    pub fn new(items: Vec<T>, total: i64, page: pingan_store::Page) -> Self {
        Paged {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// Checks an optional `status` query filter against the values a list knows
/// (400 `invalid_query` naming `status`).
pub fn check_status_filter(status: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    check_filter("status", status, allowed)
}

/// Checks an optional query filter `field` against the values it can match
/// (400 `invalid_query` naming `field`), so a misspelt value is an error
/// rather than an empty page.
pub fn check_filter(field: &str, value: Option<&str>, allowed: &[&str]) -> ApiResult<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(ApiError::bad_request(
            "invalid_query",
            format!("{field} {v:?} is not one of {}", allowed.join(", ")),
        )
        .with_field(field)),
        _ => Ok(()),
    }
}

/// Refuses query parameters a list does not know (400 `invalid_query`
/// naming the first one): serde ignores unknown keys, so `?rol=admin` would
/// otherwise answer everyone as if no filter had been asked for.
pub fn reject_unknown_params(raw: Option<&str>, known: &[&str]) -> ApiResult<()> {
    let Some(raw) = raw else { return Ok(()) };
    let pairs = axum::extract::Query::<Vec<(String, String)>>::try_from_uri(
        &format!("/?{raw}")
            .parse()
            .map_err(|_| ApiError::bad_request("invalid_query", "query string is not valid"))?,
    )
    .map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?
    .0;
    match pairs.iter().find(|(k, _)| !known.contains(&k.as_str())) {
        Some((k, _)) => Err(ApiError::bad_request(
            "invalid_query",
            format!("unknown query parameter {k:?}; known: {}", known.join(", ")),
        )
        .with_field(k.clone())),
        None => Ok(()),
    }
}

/// The materialised path a list's `org_id` filter narrows to: that org's
/// subtree, which must exist (400 naming `org_id`) and lie in the caller's
/// jurisdiction (403); without the filter, the caller's own subtree.
pub async fn org_filter_path(
    s: &AppState,
    p: &crate::auth::Principal,
    org_id: Option<i64>,
) -> ApiResult<String> {
    let Some(org) = org_id else {
        return Ok(p.org_path.clone());
    };
    let o = s.store.find_org(org).await?.ok_or_else(|| {
        ApiError::bad_request("invalid_query", format!("org {org} does not exist"))
            .with_field("org_id")
    })?;
    p.require_visible("that org", &o.path)?;
    Ok(o.path)
}

/// RFC 3339 UTC for a millisecond timestamp.
pub fn rfc3339(ms: i64) -> String {
    pingan_core::Timestamp(ms).to_rfc3339()
}

/// Parses a time parameter given as RFC 3339 (`2026-11-24T08:00:00Z`, offset
/// allowed) or epoch milliseconds.
pub fn parse_time(field: &str, s: &str) -> ApiResult<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    parse_rfc3339(s).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            format!("{s:?} is not an RFC 3339 time or epoch milliseconds"),
        )
        .with_field(field)
    })
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let (y, mo, d, h, mi, se) = (
        n(0..4)? as i32,
        n(5..7)?,
        n(8..10)?,
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    let mut ms = 0i64;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits: String = frac.chars().take_while(char::is_ascii_digit).collect();
        if digits.is_empty() {
            return None;
        }
        ms = format!("{:0<3}", &digits[..digits.len().min(3)])
            .parse()
            .ok()?;
        rest = &frac[digits.len()..];
    }
    let offset_min: i64 = match rest {
        "Z" | "z" => 0,
        r if (r.starts_with('+') || r.starts_with('-')) && r.len() == 6 && &r[3..4] == ":" => {
            let sign = if r.starts_with('-') { -1 } else { 1 };
            sign * (r[1..3].parse::<i64>().ok()? * 60 + r[4..6].parse::<i64>().ok()?)
        }
        _ => return None,
    };
    Some(
        pingan_core::Timestamp::from_civil_utc(y, mo, d, h, mi, se).millis() + ms
            - offset_min * 60_000,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse() {
        assert_eq!(parse_time("t", "1000").unwrap(), 1000);
        assert_eq!(parse_time("t", "1970-01-01T00:00:01Z").unwrap(), 1000);
        assert_eq!(
            parse_time("t", "1970-01-01T08:00:01.5+08:00").unwrap(),
            1500
        );
        assert_eq!(
            parse_time("from", "yesterday")
                .unwrap_err()
                .field
                .as_deref(),
            Some("from")
        );
    }
}
