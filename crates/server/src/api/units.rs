//! Response units and their positions.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{LatLngDto, PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::live::LiveEvent;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_units, create_unit))
        .routes(routes!(get_unit, update_unit, delete_unit))
        .routes(routes!(post_positions))
}

/// Unit kinds.
pub const UNIT_KINDS: &[&str] = &[
    "patrol_car",
    "foot_patrol",
    "motorcycle",
    "grid_worker",
    "volunteer",
    "drone",
];
/// Unit statuses.
pub const UNIT_STATUSES: &[&str] = &[
    "available",
    "dispatched",
    "en_route",
    "on_scene",
    "busy",
    "off_duty",
];

#[derive(Serialize, ToSchema, Clone)]
pub struct UnitDto {
    pub id: i64,
    pub callsign: String,
    /// patrol_car, foot_patrol, motorcycle, grid_worker, volunteer, drone
    pub kind: String,
    pub org_id: i64,
    /// available, dispatched, en_route, on_scene, busy, off_duty
    pub status: String,
    pub capabilities: Vec<String>,
    pub position: Option<LatLngDto>,
    pub position_at: Option<String>,
    /// The last position is older than the configured threshold (or missing).
    pub stale: bool,
    pub incident_id: Option<i64>,
}

pub fn unit_dto(u: pingan_store::UnitRow, now_ms: i64, stale_secs: u64) -> UnitDto {
    let position = match (u.lat, u.lng) {
        (Some(lat), Some(lng)) => Some(LatLngDto { lat, lng }),
        _ => None,
    };
    UnitDto {
        id: u.id,
        callsign: u.callsign,
        kind: u.kind,
        org_id: u.org_id,
        status: u.status,
        capabilities: u.capabilities,
        position,
        position_at: u.position_at.map(rfc3339),
        stale: u
            .position_at
            .is_none_or(|t| now_ms - t > stale_secs as i64 * 1000),
        incident_id: u.incident_id,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct UnitQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Only units of this org node (must be in your jurisdiction).
    pub org_id: Option<i64>,
    pub status: Option<String>,
    pub kind: Option<String>,
}

fn check_kind(k: &str) -> ApiResult<()> {
    if UNIT_KINDS.contains(&k) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "kind",
            format!("{k:?} is not one of {}", UNIT_KINDS.join(", ")),
        ))
    }
}

pub(crate) async fn visible_unit(
    s: &AppState,
    p: &Principal,
    id: i64,
) -> ApiResult<pingan_store::UnitRow> {
    let u = s.store.get_unit(id).await?;
    p.require_found("unit", id, &u.org_path)?;
    Ok(u)
}

/// Units in the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/units", tag = "units", params(UnitQuery), security(("bearer" = ["units:read"])), responses((status = 200, body = Paged<UnitDto>)))]
async fn list_units(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UnitQuery>,
) -> ApiResult<axum::Json<Paged<UnitDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    if let Some(k) = &q.kind {
        check_kind(k).map_err(|e| ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_query",
            ..e
        })?;
    }
    super::check_status_filter(q.status.as_deref(), UNIT_STATUSES)?;
    let mut prefix = p.org_path.clone();
    if let Some(org) = q.org_id {
        let o = s.store.find_org(org).await?.ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("org {org} does not exist"))
                .with_field("org_id")
        })?;
        p.require_visible("that org", &o.path)?;
        prefix = o.path;
    }
    let f = pingan_store::UnitFilter {
        path_prefix: prefix,
        org_id: None,
        status: q.status,
        kind: q.kind,
    };
    let (rows, total) = s.store.list_units(&f, page).await?;
    let now = s.now_ms();
    let stale = s.config.position_stale_secs;
    Ok(axum::Json(Paged::new(
        rows.into_iter().map(|u| unit_dto(u, now, stale)).collect(),
        total,
        page,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUnitRequest {
    pub callsign: String,
    pub kind: String,
    pub org_id: i64,
    #[serde(default)]
    pub capabilities: Vec<String>,
    pub position: Option<LatLngDto>,
}

/// Creates a unit under an org node in the caller's jurisdiction.
#[utoipa::path(post, path = "/api/v1/units", tag = "units", request_body = NewUnitRequest, security(("bearer" = ["units:write"])),
    responses((status = 201, body = UnitDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_unit(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewUnitRequest>,
) -> ApiResult<(StatusCode, axum::Json<UnitDto>)> {
    if r.callsign.trim().is_empty() {
        return Err(ApiError::invalid("callsign", "callsign is empty"));
    }
    check_kind(&r.kind)?;
    let pos = r.position.map(|p| p.parse("position")).transpose()?;
    let org =
        s.store.find_org(r.org_id).await?.ok_or_else(|| {
            ApiError::invalid("org_id", format!("org {} does not exist", r.org_id))
        })?;
    p.require_visible("that org", &org.path)?;
    let u = s
        .store
        .create_unit(
            &pingan_store::NewUnit {
                callsign: r.callsign.trim().to_string(),
                kind: r.kind,
                org_id: r.org_id,
                status: "available".into(),
                capabilities: r.capabilities,
                position: pos.map(|p| (p.lat(), p.lng())),
            },
            s.now_ms(),
        )
        .await?;
    s.audit(&p, Audit::ok("unit.create", "unit", vec![u.id.to_string()]))
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(unit_dto(u, s.now_ms(), s.config.position_stale_secs)),
    ))
}

/// One unit.
#[utoipa::path(get, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)), security(("bearer" = ["units:read"])),
    responses((status = 200, body = UnitDto), (status = 404, body = crate::error::ErrorBody), (status = 400, body = crate::error::ErrorBody)))]
async fn get_unit(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<UnitDto>> {
    let u = visible_unit(&s, &p, id).await?;
    Ok(axum::Json(unit_dto(
        u,
        s.now_ms(),
        s.config.position_stale_secs,
    )))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitUpdate {
    pub callsign: Option<String>,
    pub kind: Option<String>,
    pub org_id: Option<i64>,
    pub capabilities: Option<Vec<String>>,
}

/// Changes a unit's callsign, kind, org or capabilities.
#[utoipa::path(patch, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)), request_body = UnitUpdate, security(("bearer" = ["units:write"])),
    responses((status = 200, body = UnitDto), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_unit(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<UnitUpdate>,
) -> ApiResult<axum::Json<UnitDto>> {
    visible_unit(&s, &p, id).await?;
    if let Some(k) = &r.kind {
        check_kind(k)?;
    }
    if r.callsign.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return Err(ApiError::invalid("callsign", "callsign is empty"));
    }
    if let Some(org) = r.org_id {
        let o = s
            .store
            .find_org(org)
            .await?
            .ok_or_else(|| ApiError::invalid("org_id", format!("org {org} does not exist")))?;
        p.require_visible("that org", &o.path)?;
    }
    let u = s
        .store
        .update_unit(
            id,
            &pingan_store::UnitPatch {
                callsign: r.callsign,
                kind: r.kind,
                org_id: r.org_id,
                capabilities: r.capabilities,
            },
            s.now_ms(),
        )
        .await?;
    s.audit(&p, Audit::ok("unit.update", "unit", vec![id.to_string()]))
        .await?;
    Ok(axum::Json(unit_dto(
        u,
        s.now_ms(),
        s.config.position_stale_secs,
    )))
}

/// Deletes a unit.
#[utoipa::path(delete, path = "/api/v1/units/{id}", tag = "units", params(("id" = i64, Path)), security(("bearer" = ["units:write"])),
    responses((status = 204, description = "deleted"), (status = 404, body = crate::error::ErrorBody)))]
async fn delete_unit(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    visible_unit(&s, &p, id).await?;
    s.store.delete_unit(id).await?;
    s.audit(&p, Audit::ok("unit.delete", "unit", vec![id.to_string()]))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct PositionReport {
    pub unit_id: i64,
    pub lat: f64,
    pub lng: f64,
    /// RFC 3339 or epoch ms; default now.
    #[schema(value_type = Option<String>)]
    pub at: Option<ReportTime>,
}

/// A report's time as sent: epoch milliseconds or RFC 3339 text. Typed here so a
/// value of any other kind is a type error naming `at`.
#[derive(Deserialize, Clone)]
#[serde(untagged, expecting = "an RFC 3339 string or epoch milliseconds")]
pub enum ReportTime {
    Millis(i64),
    Text(String),
}

#[derive(Serialize, ToSchema)]
pub struct BatchRejection {
    /// 1-based line (NDJSON) or array index + 1.
    pub line: usize,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct PositionsResult {
    pub accepted: usize,
    /// Accepted but older than the stored position, so not applied.
    pub superseded: usize,
    pub rejected: Vec<BatchRejection>,
    /// When nothing was accepted (422): the first rejection in the one error
    /// shape, its field prefixed with the item (`[3].lat`, 0-based).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

/// Position reports from vehicle terminals and phones: a JSON array, or NDJSON
/// (`Content-Type: application/x-ndjson`). Bad lines are rejected with their line
/// number; the rest are applied.
#[utoipa::path(post, path = "/api/v1/units/positions", tag = "units", request_body(content = Vec<PositionReport>, description = "JSON array or NDJSON"),
    security(("bearer" = ["positions:write"])), responses((status = 200, body = PositionsResult), (status = 422, body = PositionsResult), (status = 400, body = crate::error::ErrorBody)))]
async fn post_positions(
    State(s): State<AppState>,
    p: Principal,
    req: Request,
) -> ApiResult<(StatusCode, axum::Json<PositionsResult>)> {
    let ndjson =
        crate::error::body_format(req.headers(), true)? == crate::error::BodyFormat::Ndjson;
    let body = crate::error::read_body(req, &s).await?;
    let mut parsed: Vec<(usize, Result<PositionReport, BatchRejection>)> = Vec::new();
    if ndjson {
        let text = std::str::from_utf8(&body)
            .map_err(|_| ApiError::bad_request("malformed_ndjson", "body is not UTF-8"))?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let r = crate::error::parse_json::<PositionReport>(line.as_bytes()).map_err(|e| {
                BatchRejection {
                    line: i + 1,
                    field: e.field,
                    message: e.message,
                }
            });
            parsed.push((i + 1, r));
        }
    } else {
        let items: Vec<serde_json::Value> = crate::error::parse_json(&body)?;
        for (i, v) in items.into_iter().enumerate() {
            let r =
                crate::error::from_json_value::<PositionReport>(v).map_err(|e| BatchRejection {
                    line: i + 1,
                    field: e.field,
                    message: e.message,
                });
            parsed.push((i + 1, r));
        }
    }
    if parsed.len() > 100_000 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "batch_too_large",
            "at most 100000 positions per batch",
        ));
    }
    let now = s.now_ms();
    let mut rejected = Vec::new();
    let mut good = Vec::new();
    for (line, r) in parsed {
        let rep = match r {
            Ok(r) => r,
            Err(e) => {
                rejected.push(e);
                continue;
            }
        };
        if let Err(e) = (LatLngDto {
            lat: rep.lat,
            lng: rep.lng,
        })
        .parse("")
        {
            rejected.push(BatchRejection {
                line,
                field: e.field,
                message: e.message,
            });
            continue;
        }
        let at = match &rep.at {
            None => now,
            Some(ReportTime::Millis(ms)) => *ms,
            Some(ReportTime::Text(t)) => match super::parse_time("at", t) {
                Ok(ms) => ms,
                Err(e) => {
                    rejected.push(BatchRejection {
                        line,
                        field: Some("at".into()),
                        message: e.message,
                    });
                    continue;
                }
            },
        };
        if at > now + 5 * 60_000 {
            rejected.push(BatchRejection {
                line,
                field: Some("at".into()),
                message: "time is more than 5 minutes in the future".into(),
            });
            continue;
        }
        good.push((
            line,
            pingan_store::PositionUpdate {
                unit_id: rep.unit_id,
                lat: rep.lat,
                lng: rep.lng,
                at,
            },
        ));
    }
    // Unknown units and units outside the caller's jurisdiction are rejected per line.
    let mut applied_updates = Vec::with_capacity(good.len());
    let mut known: std::collections::HashMap<i64, Option<String>> =
        std::collections::HashMap::new();
    let mut paths = Vec::with_capacity(good.len());
    for (line, u) in good {
        let path = match known.get(&u.unit_id) {
            Some(v) => v.clone(),
            None => {
                let v = s
                    .store
                    .find_unit(u.unit_id)
                    .await?
                    .map(|row| row.org_path)
                    .filter(|path| p.can_see(path));
                known.insert(u.unit_id, v.clone());
                v
            }
        };
        match path {
            Some(path) => {
                applied_updates.push(u);
                paths.push(path);
            }
            None => rejected.push(BatchRejection {
                line,
                field: Some("unit_id".into()),
                message: format!("unit {} does not exist in your jurisdiction", u.unit_id),
            }),
        }
    }
    let applied = s.store.update_positions(&applied_updates).await? as usize;
    rejected.sort_by_key(|r| r.line);
    // One live event per station, so subscribers only see their jurisdiction's units.
    let mut by_path: std::collections::BTreeMap<&str, Vec<serde_json::Value>> =
        std::collections::BTreeMap::new();
    for (u, path) in applied_updates.iter().zip(&paths) {
        by_path.entry(path).or_default().push(serde_json::json!({"id": u.unit_id, "position": {"lat": u.lat, "lng": u.lng}, "at": rfc3339(u.at)}));
    }
    for (path, items) in by_path {
        let _ = s.live.send(LiveEvent {
            name: "unit.positions",
            org_path: Some(path.to_string()),
            data: serde_json::json!({ "items": items }),
        });
    }
    let (status, error) = match rejected.first() {
        Some(first) if applied_updates.is_empty() => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(crate::error::ErrorDetail {
                code: "invalid_field".into(),
                message: format!(
                    "all {} positions were rejected; the first (item {}): {}",
                    rejected.len(),
                    first.line,
                    first.message
                ),
                field: Some(match &first.field {
                    Some(f) => format!("[{}].{f}", first.line - 1),
                    None => format!("[{}]", first.line - 1),
                }),
            }),
        ),
        _ => (StatusCode::OK, None),
    };
    Ok((
        status,
        axum::Json(PositionsResult {
            accepted: applied_updates.len(),
            superseded: applied_updates.len() - applied,
            rejected,
            error,
        }),
    ))
}
