//! Early-warning routes: sensor event ingestion (`POST /api/v1/events`), the
//! sensor registry, watches (布控) and alerts with their lifecycle, CAP export
//! and live stream. Everything that shows identifiers needs `X-Purpose` and is
//! audited; lists show masked identifiers, single reads the full record.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use pingan_alert::{
    Alert, AlertStatus, LifecycleError, Outcome, SensorKind, Transition, WatchPolicy,
};
use pingan_core::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{LatLngDto, PageQuery, Paged, parse_time, rfc3339};
use crate::AppState;
use crate::alerts::{
    AlertDraftDto, IdentDto, IngestError, WatchSpecDto, alert_summary, watch_error,
};
use crate::audit::{Audit, Purpose};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::live::LiveEvent;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(post_events))
        .routes(routes!(list_sensors, create_sensor))
        .routes(routes!(get_sensor))
        .routes(routes!(list_watches, create_watch))
        .routes(routes!(get_watch, update_watch, cancel_watch))
        .routes(routes!(list_alerts))
        .routes(routes!(alert_stream))
        .routes(routes!(get_alert))
        .routes(routes!(ack_alert))
        .routes(routes!(verify_alert))
        .routes(routes!(dispatch_alert))
        .routes(routes!(close_alert))
        .routes(routes!(alert_cap))
}

fn busy(e: IngestError) -> Response {
    let (status, code, message) = match e {
        IngestError::Busy => (
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the alert engine is saturated; retry shortly",
        ),
        IngestError::Backlog => (
            StatusCode::TOO_MANY_REQUESTS,
            "backlog",
            "too many accepted events are waiting to be stored; slow down and retry",
        ),
        IngestError::Stopped => {
            return ApiError::internal("the alert engine has stopped").into_response();
        }
    };
    ApiError::new(status, code, message)
        .retry_after(1)
        .into_response()
}

// ---------------------------------------------------------------- events

/// A rejected event line.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventRejection {
    /// 1-based line (or array index + 1).
    pub line: usize,
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventsResult {
    pub accepted: usize,
    pub rejected: Vec<EventRejection>,
    /// When nothing was accepted (422): the first rejection in the one error
    /// shape, its field prefixed with the line (`line 3: plate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<crate::error::ErrorDetail>,
}

/// Sensor events: NDJSON (`application/x-ndjson`), one JSON object, or a JSON
/// array. Bad lines are rejected with their line number and field; the rest
/// are accepted. 422 only if nothing was accepted; 503 with `Retry-After`
/// when the engine queue is full, 429 with `Retry-After` when too many
/// accepted events still wait to be stored (`alerts.queue_events`).
#[utoipa::path(post, path = "/api/v1/events", extensions(("x-personal-data" = json!("write"))), tag = "alerts",
    request_body(content = String, description = "NDJSON, a JSON event, or a JSON array of events"),
    security(("bearer" = ["events:write"])),
    responses((status = 200, body = EventsResult), (status = 422, body = EventsResult),
        (status = 400, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody),
        (status = 503, body = crate::error::ErrorBody)))]
async fn post_events(State(s): State<AppState>, p: Principal, req: Request) -> Response {
    match events_inner(s, p, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn events_inner(s: AppState, p: Principal, req: Request) -> ApiResult<Response> {
    let ndjson =
        crate::error::body_format(req.headers(), true)? == crate::error::BodyFormat::Ndjson;
    let body = crate::error::read_body(req, &s).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("malformed_body", "body is not UTF-8"))?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("empty_body", "no events in the body"));
    }
    let owned;
    let input: &str = if ndjson {
        text
    } else {
        let v: serde_json::Value = crate::error::parse_json(text.as_bytes())?;
        owned = match v {
            serde_json::Value::Array(items) => items
                .iter()
                .map(serde_json::Value::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
            serde_json::Value::Object(_) => v.to_string(),
            _ => {
                return Err(ApiError::bad_request(
                    "malformed_body",
                    "expected a JSON object, a JSON array or NDJSON",
                ));
            }
        };
        &owned
    };
    let svc = s.alerts.clone();
    let batch = svc.with_sensor_check(&p.org_path, |known| {
        pingan_alert::parse_ndjson(input, Some(s.now()), &svc.config.parse, known)
    });
    let rejected: Vec<EventRejection> = batch
        .errors
        .iter()
        .map(|e| EventRejection {
            line: e.line,
            field: e.field.clone(),
            message: e.reason.to_string(),
        })
        .collect();
    let accepted = batch.events.len();
    let mut result = EventsResult {
        accepted,
        rejected,
        error: None,
    };
    if accepted == 0 {
        result.error = Some(crate::error::ErrorDetail {
            code: "invalid_field".into(),
            message: match result.rejected.first() {
                Some(first) => format!(
                    "all {} events were rejected; the first (line {}): {}",
                    result.rejected.len(),
                    first.line,
                    first.message
                ),
                None => "the batch holds no events".into(),
            },
            field: result.rejected.first().map(|f| {
                if f.field.is_empty() {
                    format!("line {}", f.line)
                } else {
                    format!("line {}: {}", f.line, f.field)
                }
            }),
        });
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, axum::Json(result)).into_response());
    }
    let events = batch.events.into_iter().map(|(_, e)| e).collect();
    if let Err(e) = svc.try_ingest(events) {
        return Ok(busy(e));
    }
    s.audit(
        &p,
        Audit::ok("events.ingest", "event", vec![]).detail(format!(
            "accepted {accepted}, rejected {}",
            result.rejected.len()
        )),
    )
    .await?;
    Ok((StatusCode::OK, axum::Json(result)).into_response())
}

// ---------------------------------------------------------------- sensors

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SensorDto {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub org_id: i64,
    pub org_path: String,
    pub location: Option<LatLngDto>,
    /// `active`, `silent` or `disabled`.
    pub status: String,
    /// Nothing received for `alerts.sensor_silent_after_secs`: the device or
    /// its link may be down (or, at a resident's door, nobody came or went).
    pub silent: bool,
    /// Time of the latest event received from the sensor.
    pub last_seen_at: Option<String>,
    /// Same as `last_seen_at` (kept for older clients).
    pub last_seen: Option<String>,
    pub created_at: String,
}

impl From<pingan_store::SensorRow> for SensorDto {
    fn from(r: pingan_store::SensorRow) -> Self {
        SensorDto {
            location: match (r.lat, r.lng) {
                (Some(lat), Some(lng)) => Some(LatLngDto { lat, lng }),
                _ => None,
            },
            id: r.id,
            kind: r.kind,
            name: r.name,
            org_id: r.org_id,
            org_path: r.org_path,
            silent: r.status == "silent",
            last_seen_at: r.last_seen.map(rfc3339),
            last_seen: r.last_seen.map(rfc3339),
            status: r.status,
            created_at: rfc3339(r.created_at),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewSensorRequest {
    /// Stable device id used in events, e.g. `CP-0001`.
    pub id: String,
    /// `checkpoint`, `face_camera`, `access_control`, `smart_lock`, `drone`, `check_in`, `probe`.
    pub kind: String,
    pub name: String,
    pub org_id: i64,
    /// Fixed position; omit for mobile sensors.
    #[serde(default)]
    pub location: Option<LatLngDto>,
}

/// Sensors owned inside the caller's jurisdiction.
#[utoipa::path(get, path = "/api/v1/sensors", tag = "alerts", params(PageQuery), security(("bearer" = ["sensors:read"])),
    responses((status = 200, body = Paged<SensorDto>)))]
async fn list_sensors(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<Paged<SensorDto>>> {
    let page = q.page()?;
    let (rows, total) = s.store.list_sensors(&p.org_path, page).await?;
    Ok(axum::Json(Paged::new(
        rows.into_iter().map(SensorDto::from).collect(),
        total,
        page,
    )))
}

/// Registers a sensor; events from it are accepted at once.
#[utoipa::path(post, path = "/api/v1/sensors", tag = "alerts", request_body = NewSensorRequest, security(("bearer" = ["sensors:write"])),
    responses((status = 201, body = SensorDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_sensor(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewSensorRequest>,
) -> Result<(StatusCode, axum::Json<SensorDto>), Response> {
    let id = r.id.trim().to_string();
    if id.is_empty() || id.len() > 64 || id.chars().any(char::is_whitespace) {
        return Err(
            ApiError::invalid("id", "id must be 1..=64 characters without spaces").into_response(),
        );
    }
    if SensorKind::parse(&r.kind).is_none() {
        return Err(
            ApiError::invalid("kind", format!("unknown sensor kind {:?}", r.kind)).into_response(),
        );
    }
    if r.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name is empty").into_response());
    }
    let position = match r.location {
        Some(l) => {
            let ll = l.parse("location").map_err(IntoResponse::into_response)?;
            Some((ll.lat(), ll.lng()))
        }
        None => None,
    };
    let org = s.store.get_org(r.org_id).await.map_err(|_| {
        ApiError::invalid("org_id", format!("org {} does not exist", r.org_id)).into_response()
    })?;
    p.require_visible("org", &org.path)
        .map_err(IntoResponse::into_response)?;
    let row = s
        .store
        .create_sensor(
            &pingan_store::NewSensor {
                id,
                kind: r.kind,
                name: r.name.trim().to_string(),
                org_id: r.org_id,
                position,
            },
            s.now_ms(),
        )
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let info =
        crate::alerts::sensor_info(&row).map_err(|e| ApiError::internal(e).into_response())?;
    match s.alerts.register_sensor(info).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(ApiError::invalid("id", e).into_response()),
        Err(e) => return Err(busy(e)),
    }
    s.audit(
        &p,
        Audit {
            action: "sensor.create",
            object_type: "sensor",
            object_ids: vec![row.id.clone()],
            purpose: None,
            outcome: "ok",
            detail: None,
        },
    )
    .await
    .map_err(IntoResponse::into_response)?;
    Ok((StatusCode::CREATED, axum::Json(SensorDto::from(row))))
}

/// One sensor.
#[utoipa::path(get, path = "/api/v1/sensors/{id}", tag = "alerts", params(("id" = String, Path)), security(("bearer" = ["sensors:read"])),
    responses((status = 200, body = SensorDto), (status = 404, body = crate::error::ErrorBody)))]
async fn get_sensor(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<axum::Json<SensorDto>> {
    let row = s.store.get_sensor(&id).await?;
    p.require_found("sensor", &id, &row.org_path)?;
    Ok(axum::Json(SensorDto::from(row)))
}

// ---------------------------------------------------------------- watches

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WatchDto {
    pub id: i64,
    pub label: String,
    pub owner: String,
    pub legal_basis: String,
    pub case_ref: String,
    pub org_path: String,
    pub expires_at: String,
    pub created_by: String,
    /// `active`, `expired` or `cancelled`.
    pub status: String,
    pub ended_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub spec: WatchSpecDto,
}

fn watch_dto(r: pingan_store::WatchRow) -> ApiResult<WatchDto> {
    let spec: WatchSpecDto = serde_json::from_str(&r.spec)
        .map_err(|e| ApiError::internal(format!("stored watch {} is unreadable: {e}", r.id)))?;
    Ok(WatchDto {
        id: r.id,
        label: r.label,
        owner: r.owner,
        legal_basis: r.legal_basis,
        case_ref: r.case_ref,
        org_path: r.org_path,
        expires_at: rfc3339(r.expires_at),
        created_by: r.created_by,
        status: r.status,
        ended_at: r.ended_at.map(rfc3339),
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        spec,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WatchQuery {
    /// `active`, `expired` or `cancelled`.
    pub status: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Watches owned inside the caller's jurisdiction (they name identifiers: `X-Purpose` required, audited).
#[utoipa::path(get, path = "/api/v1/watches", extensions(("x-personal-data" = json!("read"))), tag = "alerts", params(WatchQuery, ("X-Purpose" = String, Header)), security(("bearer" = ["watches:read"])),
    responses((status = 200, body = Paged<WatchDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_watches(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiQuery(q): ApiQuery<WatchQuery>,
) -> ApiResult<axum::Json<Paged<WatchDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    let (rows, total) = s
        .store
        .list_watches(
            &pingan_store::WatchFilter {
                path_prefix: p.org_path.clone(),
                status: q.status,
            },
            page,
        )
        .await?;
    let ids = rows.iter().map(|r| r.id.to_string()).collect();
    let items = rows
        .into_iter()
        .map(watch_dto)
        .collect::<ApiResult<Vec<_>>>()?;
    s.audit(
        &p,
        Audit {
            action: "watch.list",
            object_type: "watch",
            object_ids: ids,
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok(axum::Json(Paged::new(items, total, page)))
}

fn check_scope(p: &Principal, spec: &WatchSpecDto) -> ApiResult<()> {
    if let crate::alerts::ScopeDto::Org { org_path } = &spec.scope
        && !p.can_see(org_path)
    {
        return Err(ApiError::invalid(
            "scope.org_path",
            "the scope is outside your jurisdiction",
        ));
    }
    Ok(())
}

async fn validated(
    s: &AppState,
    p: &Principal,
    dto: &WatchSpecDto,
) -> ApiResult<pingan_alert::WatchSpec> {
    check_scope(p, dto)?;
    let now = s.now();
    let spec = dto.to_spec(&p.name, now)?;
    pingan_alert::watch::validate(&spec, now, &WatchPolicy::default())
        .map_err(|e| watch_error(&e))?;
    if let pingan_alert::Scope::Sensors(list) = &spec.scope
        && let Some((i, _)) = list
            .iter()
            .enumerate()
            .find(|(_, id)| !s.alerts.sensor_allowed(id, "/"))
    {
        return Err(ApiError::invalid(
            format!("scope.sensors[{i}]"),
            "unknown sensor",
        ));
    }
    Ok(spec)
}

/// Creates a watch (一键布控) applied at once to every sensor in scope.
/// `legal_basis`, `case_ref` and `expires_at` are mandatory; `X-Purpose` states
/// the reason and is audited.
#[utoipa::path(post, path = "/api/v1/watches", extensions(("x-personal-data" = json!("write"))), tag = "alerts", request_body = WatchSpecDto, params(("X-Purpose" = String, Header)),
    security(("bearer" = ["watches:write"])),
    responses((status = 201, body = WatchDto), (status = 422, body = crate::error::ErrorBody)))]
async fn create_watch(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiJson(dto): ApiJson<WatchSpecDto>,
) -> Result<(StatusCode, axum::Json<WatchDto>), Response> {
    let spec = validated(&s, &p, &dto)
        .await
        .map_err(IntoResponse::into_response)?;
    let stored = dto.normalised(&spec);
    let row = s
        .store
        .create_watch(
            &pingan_store::NewWatch {
                label: spec.label.to_string(),
                spec: serde_json::to_string(&stored)
                    .map_err(|e| ApiError::internal(e.to_string()).into_response())?,
                legal_basis: spec.legal_basis.to_string(),
                case_ref: spec.case_ref.to_string(),
                owner: spec.owner.to_string(),
                org_path: p.org_path.clone(),
                expires_at: spec.expires_at.millis(),
                created_by: p.name.clone(),
            },
            s.now_ms(),
        )
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let case_ref = spec.case_ref.to_string();
    match s.alerts.add_watch(row.id, &row.org_path, spec).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            // The engine refused what validation passed (e.g. a sensor removed
            // meanwhile): the stored watch must not look active.
            let _ = s.store.end_watch(row.id, "cancelled", s.now_ms()).await;
            return Err(watch_error(&e).into_response());
        }
        Err(e) => {
            let _ = s.store.end_watch(row.id, "cancelled", s.now_ms()).await;
            return Err(busy(e));
        }
    }
    s.audit(
        &p,
        Audit {
            action: "watch.create",
            object_type: "watch",
            object_ids: vec![row.id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: Some(format!("case_ref {case_ref}")),
        },
    )
    .await
    .map_err(IntoResponse::into_response)?;
    s.citizen.feed.wake();
    let dto = watch_dto(row).map_err(IntoResponse::into_response)?;
    Ok((StatusCode::CREATED, axum::Json(dto)))
}

async fn visible_watch(s: &AppState, p: &Principal, id: i64) -> ApiResult<pingan_store::WatchRow> {
    let row = s.store.get_watch(id).await?;
    p.require_found("watch", id, &row.org_path)?;
    Ok(row)
}

/// One watch (`X-Purpose` required, audited).
#[utoipa::path(get, path = "/api/v1/watches/{id}", extensions(("x-personal-data" = json!("read"))), tag = "alerts", params(("id" = i64, Path), ("X-Purpose" = String, Header)),
    security(("bearer" = ["watches:read"])),
    responses((status = 200, body = WatchDto), (status = 404, body = crate::error::ErrorBody)))]
async fn get_watch(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<WatchDto>> {
    let row = visible_watch(&s, &p, id).await?;
    s.audit(
        &p,
        Audit {
            action: "watch.read",
            object_type: "watch",
            object_ids: vec![id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok(axum::Json(watch_dto(row)?))
}

/// Changes an active watch: the body's top-level fields replace the stored
/// ones (same shape as creation). Audited with `X-Purpose`.
#[utoipa::path(patch, path = "/api/v1/watches/{id}", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path), ("X-Purpose" = String, Header)),
    request_body = Object, security(("bearer" = ["watches:write"])),
    responses((status = 200, body = WatchDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_watch(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(id): ApiPath<i64>,
    ApiJson(patch): ApiJson<serde_json::Map<String, serde_json::Value>>,
) -> Result<axum::Json<WatchDto>, Response> {
    let row = visible_watch(&s, &p, id)
        .await
        .map_err(IntoResponse::into_response)?;
    if row.status != "active" {
        return Err(ApiError::conflict(format!("watch {id} is {}", row.status))
            .with_field("status")
            .into_response());
    }
    let mut merged: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row.spec)
        .map_err(|e| ApiError::internal(e.to_string()).into_response())?;
    let changed: Vec<String> = patch.keys().cloned().collect();
    merged.extend(patch);
    let dto: WatchSpecDto = serde_json::from_value(serde_json::Value::Object(merged))
        .map_err(|e| ApiError::invalid("", e.to_string()).into_response())?;
    let spec = validated(&s, &p, &dto)
        .await
        .map_err(IntoResponse::into_response)?;
    let stored = dto.normalised(&spec);
    let new = pingan_store::NewWatch {
        label: spec.label.to_string(),
        spec: serde_json::to_string(&stored)
            .map_err(|e| ApiError::internal(e.to_string()).into_response())?,
        legal_basis: spec.legal_basis.to_string(),
        case_ref: spec.case_ref.to_string(),
        owner: spec.owner.to_string(),
        org_path: row.org_path.clone(),
        expires_at: spec.expires_at.millis(),
        created_by: row.created_by.clone(),
    };
    match s.alerts.replace_watch(id, spec).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(watch_error(&e).into_response()),
        Err(e) => return Err(busy(e)),
    }
    let row = s
        .store
        .update_watch(id, &new, s.now_ms())
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    s.audit(
        &p,
        Audit {
            action: "watch.update",
            object_type: "watch",
            object_ids: vec![id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: Some(format!("changed {}", changed.join(","))),
        },
    )
    .await
    .map_err(IntoResponse::into_response)?;
    s.citizen.feed.wake();
    Ok(axum::Json(
        watch_dto(row).map_err(IntoResponse::into_response)?,
    ))
}

/// Cancels a watch: it stops matching at once. Audited with `X-Purpose`.
#[utoipa::path(delete, path = "/api/v1/watches/{id}", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path), ("X-Purpose" = String, Header)),
    security(("bearer" = ["watches:write"])),
    responses((status = 200, body = WatchDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn cancel_watch(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(id): ApiPath<i64>,
) -> Result<axum::Json<WatchDto>, Response> {
    visible_watch(&s, &p, id)
        .await
        .map_err(IntoResponse::into_response)?;
    if !s
        .store
        .end_watch(id, "cancelled", s.now_ms())
        .await
        .map_err(|e| ApiError::from(e).into_response())?
    {
        return Err(
            ApiError::conflict(format!("watch {id} is no longer active"))
                .with_field("status")
                .into_response(),
        );
    }
    s.alerts.remove_watch(id).await.map_err(busy)?;
    s.audit(
        &p,
        Audit {
            action: "watch.cancel",
            object_type: "watch",
            object_ids: vec![id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await
    .map_err(IntoResponse::into_response)?;
    let row = s
        .store
        .get_watch(id)
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    // A cancellation is a change of the watch's status.
    s.citizen.feed.wake();
    Ok(axum::Json(
        watch_dto(row).map_err(IntoResponse::into_response)?,
    ))
}

// ---------------------------------------------------------------- alerts

/// One recorded lifecycle step.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryDto {
    pub from: String,
    pub to: String,
    /// `acknowledge`, `verify`, `dispatch`, `close`.
    pub action: String,
    pub by: String,
    pub at: i64,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub incident_id: Option<String>,
    #[serde(default)]
    pub outcome: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AlertDto {
    pub id: i64,
    pub status: String,
    pub rule: String,
    pub priority: String,
    pub label: String,
    pub time: String,
    pub org_path: String,
    pub watch_id: Option<i64>,
    pub sensor_id: Option<String>,
    pub location: Option<LatLngDto>,
    /// Masked in lists, in full on a single read.
    pub identifiers: Vec<IdentDto>,
    pub case_ref: Option<String>,
    pub hits: i64,
    pub outcome: Option<String>,
    pub incident_id: Option<String>,
    pub history: Vec<HistoryDto>,
    pub created_at: String,
    pub updated_at: String,
    /// The full engine draft (single reads only).
    pub draft: Option<AlertDraftDto>,
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::TruePositive => "true_positive",
        Outcome::FalsePositive => "false_positive",
    }
}

fn parse_outcome(s: &str) -> Option<Outcome> {
    match s {
        "true_positive" => Some(Outcome::TruePositive),
        "false_positive" => Some(Outcome::FalsePositive),
        _ => None,
    }
}

fn stored_draft(r: &pingan_store::AlertRow) -> ApiResult<AlertDraftDto> {
    serde_json::from_str(&r.draft)
        .map_err(|e| ApiError::internal(format!("stored alert {} is unreadable: {e}", r.id)))
}

fn stored_history(r: &pingan_store::AlertRow) -> ApiResult<Vec<HistoryDto>> {
    serde_json::from_str(&r.history).map_err(|e| {
        ApiError::internal(format!("stored alert {} history is unreadable: {e}", r.id))
    })
}

fn alert_dto(r: pingan_store::AlertRow, full: bool) -> ApiResult<AlertDto> {
    let d = stored_draft(&r)?;
    let history = stored_history(&r)?;
    let (identifiers, label) = if full {
        (d.identifiers.clone(), d.label.clone())
    } else {
        d.masked()
    };
    Ok(AlertDto {
        id: r.id,
        status: r.status,
        rule: r.rule,
        priority: r.priority,
        label,
        time: rfc3339(r.time),
        org_path: r.org_path,
        watch_id: r.watch_id,
        sensor_id: d.sensor_id.clone(),
        location: d.location,
        identifiers,
        case_ref: d.case_ref.clone(),
        hits: r.hits,
        outcome: r.outcome,
        incident_id: r.incident_id,
        history,
        created_at: rfc3339(r.created_at),
        updated_at: rfc3339(r.updated_at),
        draft: full.then_some(d),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertQuery {
    /// `new`, `acknowledged`, `verified`, `dispatched`, `closed`.
    pub status: Option<String>,
    /// Rule name, e.g. `sighting`, `co_occurrence`.
    pub rule: Option<String>,
    /// RFC 3339 or epoch ms: only alerts at or after this time.
    pub since: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Values of an alert's `status` (the lifecycle's [`AlertStatus::as_str`]).
const ALERT_STATUSES: &[&str] = &["new", "acknowledged", "verified", "dispatched", "closed"];

/// Values of an alert's `rule` (the engine's `RuleKind::as_str`, as parsed
/// by [`crate::alerts::rule_parse`]).
const ALERT_RULES: &[&str] = &[
    "sighting",
    "geofence_enter",
    "geofence_exit",
    "geofence_dwell",
    "frequency",
    "co_occurrence",
    "first_appearance",
    "silence",
    "curfew",
    "spike",
];

/// Alerts routed into the caller's jurisdiction, newest first, identifiers
/// masked (`X-Purpose` required, audited).
#[utoipa::path(get, path = "/api/v1/alerts", extensions(("x-personal-data" = json!("read"))), tag = "alerts", params(AlertQuery, ("X-Purpose" = String, Header)),
    security(("bearer" = ["alerts:read"])),
    responses((status = 200, body = Paged<AlertDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_alerts(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiQuery(q): ApiQuery<AlertQuery>,
) -> ApiResult<axum::Json<Paged<AlertDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    super::check_status_filter(q.status.as_deref(), ALERT_STATUSES)?;
    super::check_filter("rule", q.rule.as_deref(), ALERT_RULES)?;
    let since = match &q.since {
        Some(t) => Some(parse_time("since", t)?),
        None => None,
    };
    let (rows, total) = s
        .store
        .list_alerts(
            &pingan_store::AlertFilter {
                path_prefix: p.org_path.clone(),
                status: q.status,
                rule: q.rule,
                since,
            },
            page,
        )
        .await?;
    let ids = rows.iter().map(|r| r.id.to_string()).collect();
    let items = rows
        .into_iter()
        .map(|r| alert_dto(r, false))
        .collect::<ApiResult<Vec<_>>>()?;
    s.audit(
        &p,
        Audit {
            action: "alert.list",
            object_type: "alert",
            object_ids: ids,
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok(axum::Json(Paged::new(items, total, page)))
}

async fn visible_alert(s: &AppState, p: &Principal, id: i64) -> ApiResult<pingan_store::AlertRow> {
    let row = s.store.get_alert(id).await?;
    p.require_found("alert", id, &row.org_path)?;
    Ok(row)
}

/// One alert with full identifiers and the engine draft (`X-Purpose` required, audited).
#[utoipa::path(get, path = "/api/v1/alerts/{id}", extensions(("x-personal-data" = json!("read"))), tag = "alerts", params(("id" = i64, Path), ("X-Purpose" = String, Header)),
    security(("bearer" = ["alerts:read"])),
    responses((status = 200, body = AlertDto), (status = 404, body = crate::error::ErrorBody)))]
async fn get_alert(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<AlertDto>> {
    let row = visible_alert(&s, &p, id).await?;
    s.audit(
        &p,
        Audit {
            action: "alert.read",
            object_type: "alert",
            object_ids: vec![id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok(axum::Json(alert_dto(row, true)?))
}

/// Live alerts in the caller's jurisdiction (SSE; identifiers masked).
#[utoipa::path(get, path = "/api/v1/alerts/stream", tag = "alerts", security(("bearer" = ["alerts:read"])),
    responses((status = 200, content_type = "text/event-stream", description = "alert.created / alert.updated events")))]
async fn alert_stream(State(s): State<AppState>, p: Principal) -> impl IntoResponse {
    crate::live::sse(p, s.live.subscribe(), &["alert."])
}

/// Body of a lifecycle step (all fields optional except where the step needs them).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct TransitionRequest {
    #[serde(default)]
    pub note: Option<String>,
    /// Required by `dispatch`.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// Required by `close`: `true_positive` or `false_positive`.
    #[serde(default)]
    pub outcome: Option<String>,
}

fn rebuild(row: &pingan_store::AlertRow) -> ApiResult<Alert> {
    let draft = stored_draft(row)?.to_draft().map_err(|f| {
        ApiError::internal(format!("stored alert {} field {f} is unreadable", row.id))
    })?;
    let mut alert = Alert::new(row.id.to_string(), draft, Timestamp(row.created_at));
    for h in stored_history(row)? {
        let tr = transition(
            &h.action,
            h.note.clone(),
            h.incident_id.clone(),
            h.outcome.as_deref(),
        )?;
        alert.apply(tr, &h.by, Timestamp(h.at)).map_err(|e| {
            ApiError::internal(format!(
                "stored alert {} history does not replay: {e}",
                row.id
            ))
        })?;
    }
    Ok(alert)
}

fn transition(
    action: &str,
    note: Option<String>,
    incident_id: Option<String>,
    outcome: Option<&str>,
) -> ApiResult<Transition> {
    Ok(match action {
        "acknowledge" => Transition::Acknowledge,
        "verify" => Transition::Verify {
            note: note.unwrap_or_default(),
        },
        "dispatch" => Transition::Dispatch {
            incident_id: incident_id
                .ok_or_else(|| ApiError::invalid("incident_id", "incident_id is required"))?,
        },
        "close" => Transition::Close {
            outcome: match outcome {
                Some(o) => parse_outcome(o).ok_or_else(|| {
                    ApiError::invalid(
                        "outcome",
                        format!("{o:?} is not true_positive or false_positive"),
                    )
                })?,
                None => return Err(ApiError::invalid("outcome", "outcome is required")),
            },
            note: note.unwrap_or_default(),
        },
        other => {
            return Err(ApiError::internal(format!(
                "unknown lifecycle action {other}"
            )));
        }
    })
}

async fn step(
    s: AppState,
    p: Principal,
    id: i64,
    action: &'static str,
    req: Request,
) -> ApiResult<axum::Json<AlertDto>> {
    // The body is optional (empty = no note), but one that is sent must be JSON.
    let tr_req: TransitionRequest = crate::error::json_or_default(req, &s).await?;
    let row = visible_alert(&s, &p, id).await?;
    let mut alert = rebuild(&row)?;
    let from = alert.status();
    let tr = transition(
        action,
        tr_req.note.clone(),
        tr_req.incident_id.clone(),
        tr_req.outcome.as_deref(),
    )?;
    let now = s
        .now()
        .max(alert.history().last().map_or(Timestamp(i64::MIN), |h| h.at));
    match alert.apply(tr, &p.name, now) {
        Ok(_) => {}
        Err(e @ LifecycleError::IllegalTransition { .. }) => {
            return Err(ApiError::conflict(e.to_string()).with_field("status"));
        }
        Err(e) => return Err(ApiError::invalid(e.field(), e.to_string())),
    }
    let history: Vec<HistoryDto> = alert
        .history()
        .iter()
        .map(|h| {
            let (note, incident_id, outcome) = match &h.transition {
                Transition::Acknowledge => (None, None, None),
                Transition::Verify { note } => (Some(note.clone()), None, None),
                Transition::Dispatch { incident_id } => (None, Some(incident_id.clone()), None),
                Transition::Close { outcome, note } => (
                    Some(note.clone()),
                    None,
                    Some(outcome_str(*outcome).to_string()),
                ),
            };
            HistoryDto {
                from: h.from.as_str().into(),
                to: h.to.as_str().into(),
                action: h.transition.name().into(),
                by: h.by.clone(),
                at: h.at.millis(),
                note,
                incident_id,
                outcome,
            }
        })
        .collect();
    let change = pingan_store::AlertLifecycle {
        expected_status: from.as_str().into(),
        status: alert.status().as_str().into(),
        history: serde_json::to_string(&history).map_err(|e| ApiError::internal(e.to_string()))?,
        outcome: alert.outcome().map(|o| outcome_str(o).to_string()),
        incident_id: alert.incident_id().map(str::to_string),
    };
    let row = s
        .store
        .update_alert_lifecycle(id, &change, now.millis())
        .await?;
    s.citizen.feed.wake();
    s.audit(
        &p,
        Audit {
            action: match action {
                "acknowledge" => "alert.acknowledge",
                "verify" => "alert.verify",
                "dispatch" => "alert.dispatch",
                _ => "alert.close",
            },
            object_type: "alert",
            object_ids: vec![id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: Some(format!("{} -> {}", from.as_str(), alert.status().as_str())),
        },
    )
    .await?;
    let d = stored_draft(&row)?;
    let _ = s.live.send(LiveEvent {
        name: "alert.updated",
        org_path: Some(row.org_path.clone()),
        data: alert_summary(
            row.id,
            &d,
            &row.org_path,
            &row.status,
            row.hits,
            now.millis(),
        ),
    });
    debug_assert!(alert.status() != AlertStatus::New);
    alert_dto(row, false).map(axum::Json)
}

/// Acknowledges a new alert (409 from any other status).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/ack", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path)), security(("bearer" = ["alerts:write"])),
    responses((status = 200, body = AlertDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn ack_alert(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<axum::Json<AlertDto>> {
    step(s, p, id, "acknowledge", req).await
}

/// A human confirms the hit (`note` optional).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/verify", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path)), request_body = TransitionRequest, security(("bearer" = ["alerts:write"])),
    responses((status = 200, body = AlertDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn verify_alert(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<axum::Json<AlertDto>> {
    step(s, p, id, "verify", req).await
}

/// Links a verified alert to an incident (`incident_id` required).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/dispatch", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path)), request_body = TransitionRequest, security(("bearer" = ["alerts:write"])),
    responses((status = 200, body = AlertDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn dispatch_alert(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<axum::Json<AlertDto>> {
    step(s, p, id, "dispatch", req).await
}

/// Closes an alert with `outcome` (a true positive needs prior verification).
#[utoipa::path(post, path = "/api/v1/alerts/{id}/close", extensions(("x-personal-data" = json!("write"))), tag = "alerts", params(("id" = i64, Path)), request_body = TransitionRequest, security(("bearer" = ["alerts:write"])),
    responses((status = 200, body = AlertDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn close_alert(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    req: Request,
) -> ApiResult<axum::Json<AlertDto>> {
    step(s, p, id, "close", req).await
}

/// The alert as a CAP 1.2 document (identifiers masked; `X-Purpose` required, audited).
#[utoipa::path(get, path = "/api/v1/alerts/{id}/cap", extensions(("x-personal-data" = json!("read"))), tag = "alerts", params(("id" = i64, Path), ("X-Purpose" = String, Header)),
    security(("bearer" = ["alerts:read"])),
    responses((status = 200, content_type = "application/cap+xml", body = String), (status = 404, body = crate::error::ErrorBody)))]
async fn alert_cap(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let row = visible_alert(&s, &p, id).await?;
    let draft = stored_draft(&row)?
        .to_draft()
        .map_err(|f| ApiError::internal(format!("stored alert {id} field {f} is unreadable")))?;
    let xml = pingan_alert::to_cap_xml(
        &draft,
        &format!("pingan-alert-{id}"),
        s.now(),
        &pingan_alert::CapOptions::default(),
    )
    .map_err(|e| ApiError::internal(e.to_string()))?;
    s.audit(
        &p,
        Audit {
            action: "alert.export_cap",
            object_type: "alert",
            object_ids: vec![id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok((
        [(header::CONTENT_TYPE, "application/cap+xml; charset=utf-8")],
        xml,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use pingan_alert::RuleKind;

    use super::*;

    /// The filter lists hold exactly the names the domain writes; the
    /// wildcard-free matches stop compiling when a variant is added, which
    /// is the cue to extend the list.
    #[test]
    fn filter_lists_match_the_domain_names() {
        use AlertStatus as S;
        let statuses = [
            S::New,
            S::Acknowledged,
            S::Verified,
            S::Dispatched,
            S::Closed,
        ]
        .map(|st| match st {
            S::New | S::Acknowledged | S::Verified | S::Dispatched | S::Closed => st.as_str(),
        });
        assert_eq!(statuses.as_slice(), ALERT_STATUSES);
        for name in ALERT_RULES {
            let rule = crate::alerts::rule_parse(name).expect(name);
            match rule {
                RuleKind::Sighting
                | RuleKind::GeofenceEnter
                | RuleKind::GeofenceExit
                | RuleKind::GeofenceDwell
                | RuleKind::Frequency
                | RuleKind::CoOccurrence
                | RuleKind::FirstAppearance
                | RuleKind::Silence
                | RuleKind::Curfew
                | RuleKind::Spike => assert_eq!(rule.as_str(), *name),
            }
        }
        assert_eq!(ALERT_RULES.len(), 10);
    }
}
