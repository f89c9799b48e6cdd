//! Incidents: lists and details with timeline, classification confirm or
//! override, unit recommendations by road ETA, one-key dispatch of several
//! units, transfers, closing, one-key diversion to partners, the partner
//! callback for hand-offs, unit status reports, and the incident taxonomy.

use std::str::FromStr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use pingan_core::LatLng;
use pingan_core::normalize::mask::{mask_name, mask_phone};
use pingan_dispatch::recommend::{Leg, RecommendConfig, RecommendRequest, TravelTimes};
use pingan_dispatch::{CommandLevel, Partner, PartnerUpdate, Priority, UnitStatus};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{LatLngDto, PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::{Principal, Role};
use crate::dispatch::{self as svc, incident_error};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_incidents))
        .routes(routes!(get_incident))
        .routes(routes!(classify))
        .routes(routes!(recommendations))
        .routes(routes!(dispatch))
        .routes(routes!(transfer))
        .routes(routes!(close))
        .routes(routes!(merge))
        .routes(routes!(divert))
        .routes(routes!(unit_status))
        .routes(routes!(handoff_status))
}

#[derive(Serialize, ToSchema, Clone)]
pub struct IncidentOrg {
    pub station_id: Option<i64>,
    pub station_name: Option<String>,
    pub district_id: Option<i64>,
    pub city_id: Option<i64>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct CallerDto {
    pub phone_masked: String,
    pub name_masked: Option<String>,
    /// Only for dispatchers/commanders/admins who sent X-Purpose (audited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct IncidentUnitDto {
    pub unit_id: i64,
    pub callsign: String,
    /// Assignment stage: dispatched, acknowledged, en_route, on_scene, cleared, cancelled.
    pub status: String,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct IncidentDto {
    pub id: i64,
    pub number: String,
    pub status: String,
    pub type_code: Option<String>,
    pub type_name: Option<String>,
    pub priority: Option<String>,
    pub description: String,
    pub location: LatLngDto,
    pub address: Option<String>,
    pub org: IncidentOrg,
    pub caller: CallerDto,
    pub channel: String,
    pub disposition: Option<String>,
    pub created_at: String,
    pub dispatched_at: Option<String>,
    pub arrived_at: Option<String>,
    pub closed_at: Option<String>,
    pub units: Vec<IncidentUnitDto>,
}

#[derive(Serialize, ToSchema)]
pub struct TimelineDto {
    pub at: String,
    pub kind: String,
    pub actor: String,
    pub detail: String,
    pub unit_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct IncidentDetail {
    #[serde(flatten)]
    pub incident: IncidentDto,
    pub timeline: Vec<TimelineDto>,
    pub handoffs: Vec<HandoffDto>,
}

#[derive(Serialize, ToSchema)]
pub struct HandoffDto {
    pub id: i64,
    pub partner: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub feedback: Option<String>,
}

fn handoff_dto(h: pingan_store::HandoffRow) -> HandoffDto {
    HandoffDto {
        id: h.id,
        partner: h.partner,
        status: h.status,
        attempts: h.attempts,
        next_attempt_at: h.next_attempt_at.map(rfc3339),
        feedback: h.feedback,
    }
}

/// Whether this caller may see caller identity: dispatch roles, with a purpose.
pub(crate) fn may_reveal(p: &Principal, headers: &HeaderMap) -> Option<String> {
    let role_ok = matches!(p.role, Role::Dispatcher | Role::Commander | Role::Admin);
    let purpose = crate::audit::header_purpose(headers).filter(|s| s.chars().count() <= 500)?;
    role_ok.then_some(purpose)
}

/// The wire shape of an incident; caller data masked unless `reveal`.
pub async fn incident_dto(
    s: &AppState,
    row: &pingan_store::IncidentRow,
    reveal: bool,
) -> ApiResult<IncidentDto> {
    let j = s.jurisdiction();
    let mut org = IncidentOrg {
        station_id: None,
        station_name: None,
        district_id: None,
        city_id: None,
    };
    let mut chain: Vec<&pingan_jurisdiction::OrgNode> = j.ancestors(row.org_id);
    if let Some(n) = j.node(row.org_id) {
        chain.push(n);
    }
    for n in chain {
        match n.kind.as_str() {
            "station" => {
                org.station_id = Some(n.id);
                org.station_name = Some(n.name.clone());
            }
            "district" => org.district_id = Some(n.id),
            "city" => org.city_id = Some(n.id),
            _ => {}
        }
    }
    let tax = s.dispatch.taxonomy();
    let mut units = Vec::new();
    // Assignments are stored with the first dispatch, which also sets
    // `dispatched_at` for good: an incident never dispatched has none (new
    // incidents are described several times per call; skip the read).
    let assignments = if row.dispatched_at.is_some() {
        s.store.incident_assignments(row.id).await?
    } else {
        Vec::new()
    };
    for a in assignments {
        let callsign = match s.dispatch.unit(a.unit_id) {
            Some(u) => u.callsign,
            None => s
                .store
                .find_unit(a.unit_id)
                .await?
                .map(|u| u.callsign)
                .unwrap_or_default(),
        };
        units.push(IncidentUnitDto {
            unit_id: a.unit_id,
            callsign,
            status: a.stage,
        });
    }
    Ok(IncidentDto {
        id: row.id,
        number: row.number.clone(),
        status: row.status.clone(),
        type_name: row
            .type_code
            .as_deref()
            .and_then(|c| tax.get(c))
            .map(|t| t.name_zh().to_string()),
        type_code: row.type_code.clone(),
        priority: row.priority.clone(),
        description: row.description.clone(),
        location: LatLngDto {
            lat: row.lat,
            lng: row.lng,
        },
        address: row.address.clone(),
        org,
        caller: CallerDto {
            phone_masked: mask_phone(&row.caller_phone),
            name_masked: row.caller_name.as_deref().map(mask_name),
            phone: reveal.then(|| row.caller_phone.clone()),
            name: if reveal {
                row.caller_name.clone()
            } else {
                None
            },
        },
        channel: row.channel.clone(),
        disposition: row.disposition.clone(),
        created_at: rfc3339(row.created_at),
        dispatched_at: row.dispatched_at.map(rfc3339),
        arrived_at: row.arrived_at.map(rfc3339),
        closed_at: row.closed_at.map(rfc3339),
        units,
    })
}

/// Loads an incident visible to the caller (404 otherwise, not leaking existence).
pub(crate) async fn visible_incident(
    s: &AppState,
    p: &Principal,
    id: i64,
) -> ApiResult<pingan_store::IncidentRow> {
    match s.store.find_incident(id).await? {
        Some(r) if p.can_see(&r.org_path) => Ok(r),
        _ => Err(ApiError::not_found("incident", id)),
    }
}

/// Audits a caller-data read and returns whether to reveal.
pub(crate) async fn reveal_for(
    s: &AppState,
    p: &Principal,
    headers: &HeaderMap,
    ids: Vec<String>,
) -> ApiResult<bool> {
    let Some(purpose) = may_reveal(p, headers) else {
        return Ok(false);
    };
    if ids.is_empty() {
        return Ok(true);
    }
    s.audit(
        p,
        Audit {
            action: "incident.caller.read",
            object_type: "incident",
            object_ids: ids,
            purpose: Some(&purpose),
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok(true)
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct IncidentQuery {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub r#type: Option<String>,
    pub org_id: Option<i64>,
    /// RFC 3339 or epoch ms.
    pub since: Option<String>,
    pub open: Option<bool>,
}

const STATUSES: &[&str] = &[
    "created",
    "classified",
    "diverted",
    "dispatched",
    "acknowledged",
    "en_route",
    "on_scene",
    "cleared",
    "closed",
];

/// Incidents in the caller's jurisdiction, newest first.
#[utoipa::path(get, path = "/api/v1/incidents", extensions(("x-personal-data" = json!("reveal"))), tag = "incidents", params(IncidentQuery, ("X-Purpose" = Option<String>, Header, description = "why caller identity is needed; dispatchers, commanders and admins who state one see it unmasked (audited)")), security(("bearer" = ["incidents:read"])),
    responses((status = 200, body = Paged<IncidentDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_incidents(
    State(s): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<IncidentQuery>,
) -> ApiResult<axum::Json<Paged<IncidentDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    super::check_status_filter(q.status.as_deref(), STATUSES)?;
    if let Some(pr) = &q.priority
        && Priority::from_str(pr).is_err()
    {
        return Err(
            ApiError::bad_request("invalid_query", "priority must be P1..P4")
                .with_field("priority"),
        );
    }
    let mut prefix = p.org_path.clone();
    if let Some(org) = q.org_id {
        let o = s.store.find_org(org).await?.ok_or_else(|| {
            ApiError::bad_request("invalid_query", format!("org {org} does not exist"))
                .with_field("org_id")
        })?;
        p.require_visible("that org", &o.path)?;
        prefix = o.path;
    }
    let since = q
        .since
        .as_deref()
        .map(|t| super::parse_time("since", t))
        .transpose()?;
    let f = pingan_store::IncidentFilter {
        path_prefix: prefix,
        status: q.status,
        priority: q.priority,
        type_code: q.r#type,
        since,
        until: None,
        open: q.open.unwrap_or(false),
    };
    let (rows, total) = s.store.list_incidents(&f, page).await?;
    let reveal = reveal_for(
        &s,
        &p,
        &headers,
        rows.iter().map(|r| r.id.to_string()).collect(),
    )
    .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        items.push(incident_dto(&s, r, reveal).await?);
    }
    Ok(axum::Json(Paged::new(items, total, page)))
}

/// One incident with its timeline and hand-offs.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", extensions(("x-personal-data" = json!("reveal"))), tag = "incidents", params(("id" = i64, Path), ("X-Purpose" = Option<String>, Header, description = "why caller identity is needed; dispatchers, commanders and admins who state one see it unmasked (audited)")), security(("bearer" = ["incidents:read"])),
    responses((status = 200, body = IncidentDetail), (status = 404, body = crate::error::ErrorBody)))]
async fn get_incident(
    State(s): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<IncidentDetail>> {
    let row = visible_incident(&s, &p, id).await?;
    let reveal = reveal_for(&s, &p, &headers, vec![id.to_string()]).await?;
    let timeline = s
        .store
        .incident_timeline(id)
        .await?
        .into_iter()
        .map(|t| TimelineDto {
            at: rfc3339(t.entry.at),
            kind: t.entry.kind,
            actor: t.entry.actor,
            detail: t.entry.detail,
            unit_id: t.entry.unit_id,
        })
        .collect();
    let handoffs = s
        .store
        .incident_handoffs(id)
        .await?
        .into_iter()
        .map(handoff_dto)
        .collect();
    Ok(axum::Json(IncidentDetail {
        incident: incident_dto(&s, &row, reveal).await?,
        timeline,
        handoffs,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassifyRequest {
    pub type_code: String,
    /// P1..P4; default: the type's default priority.
    pub priority: Option<String>,
}

/// Confirms or overrides the type and priority.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/classify", tag = "incidents", params(("id" = i64, Path)), request_body = ClassifyRequest,
    security(("bearer" = ["incidents:write"])), responses((status = 200, body = IncidentDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn classify(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<ClassifyRequest>,
) -> ApiResult<axum::Json<IncidentDto>> {
    visible_incident(&s, &p, id).await?;
    let tax = s.dispatch.taxonomy();
    let ty = tax.get(&r.type_code).ok_or_else(|| {
        ApiError::invalid(
            "type_code",
            format!("unknown incident type {:?}", r.type_code),
        )
    })?;
    let prio = match &r.priority {
        Some(x) => Priority::from_str(x)
            .map_err(|_| ApiError::invalid("priority", "priority must be P1..P4"))?,
        None => ty.default_priority(),
    };
    let code = ty.code().to_string();
    let actor = p.name.clone();
    let (row, _) = svc::mutate(&s, id, move |inc, now| {
        let e = inc
            .classify(&code, prio, now, &actor)
            .map_err(incident_error)?;
        Ok((vec![e], json!({"type": code, "priority": prio.to_string()})))
    })
    .await?;
    Ok(axum::Json(incident_dto(&s, &row, false).await?))
}

#[derive(Serialize, ToSchema, Clone)]
pub struct RecommendationDto {
    pub unit_id: i64,
    pub callsign: String,
    pub kind: String,
    pub eta_s: u32,
    pub distance_m: u32,
    pub first_responder: bool,
    pub position_stale: bool,
    /// Machine codes: fastest_eta, slower_than_best, has_required_capabilities, first_responder, position_stale, preempts_lower_priority.
    pub reasons: Vec<String>,
    pub explanation: String,
}

#[derive(Serialize, ToSchema)]
pub struct Recommendations {
    pub items: Vec<RecommendationDto>,
}

/// Road travel times from the router: one backward search from the incident
/// over the snapped unit positions (exact, best first), reusing the snaps the
/// unit index keeps.
struct RoadTravel<'a> {
    router: &'a pingan_roads::Router,
    snaps: &'a std::collections::HashMap<(u64, u64), pingan_roads::Snap>,
}

impl RoadTravel<'_> {
    fn snaps_of(&self, from: &[LatLng]) -> Vec<pingan_roads::Snap> {
        from.iter()
            .map(
                |p| match self.snaps.get(&(p.lat().to_bits(), p.lng().to_bits())) {
                    Some(s) => *s,
                    None => self.router.snap(*p),
                },
            )
            .collect()
    }

    fn collect(n: usize, found: Vec<(usize, pingan_roads::Eta)>) -> Vec<Option<(u32, u32)>> {
        let mut out = vec![None; n];
        for (i, eta) in found {
            out[i] = Some((eta.secs().round() as u32, eta.metres.round() as u32));
        }
        out
    }
}

impl TravelTimes for RoadTravel<'_> {
    fn etas(&self, to: LatLng, from: &[LatLng]) -> Vec<Option<(u32, u32)>> {
        let target = self.router.snap(to);
        let sources = self.snaps_of(from);
        let found = self.router.nearest_by_eta(&sources, &target, sources.len());
        Self::collect(from.len(), found)
    }

    /// One backward search that stops once the `k` fastest units and those
    /// within the slack of them are settled, instead of reaching every
    /// shortlisted unit (the farthest of which set the cost before).
    fn fastest(&self, to: LatLng, from: &[LatLng], k: usize, slack_s: u32) -> Vec<Leg> {
        let target = self.router.snap(to);
        let sources = self.snaps_of(from);
        let found =
            self.router
                .nearest_by_eta_within(&sources, &target, k, u64::from(slack_s) * 1000);
        // Fewer than k found: the search ran out of road, so the rest have
        // no route; otherwise it stopped at the bound.
        let missing = if found.len() >= k {
            Leg::TooSlow
        } else {
            Leg::NoRoute
        };
        let mut out = vec![missing; from.len()];
        for (i, eta) in found {
            out[i] = Leg::Eta {
                eta_s: eta.secs().round() as u32,
                distance_m: eta.metres.round() as u32,
            };
        }
        out
    }
}

/// Ranks units for an incident. Exposed for the bench and the demo.
pub fn recommend_for(
    s: &AppState,
    point: LatLng,
    type_code: &str,
    priority: Priority,
    max_results: usize,
) -> ApiResult<Vec<RecommendationDto>> {
    let tax = s.dispatch.taxonomy();
    let ty = tax.get(type_code).ok_or_else(|| {
        ApiError::conflict("classify the incident before asking for units").with_field("type_code")
    })?;
    let city = s.city().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_road_network",
            "the road network is not loaded",
        )
    })?;
    let cfg = RecommendConfig {
        max_results,
        allow_preemption: false,
        stale_after_s: s.config.position_stale_secs as u32,
        ..RecommendConfig::default()
    };
    let request = RecommendRequest {
        point,
        incident_type: ty,
        priority,
    };
    // The cheap phase runs over the shared unit index; only the shortlisted
    // few are copied out and routed.
    let (list, meta) = s.dispatch.shortlist(&request, &cfg, s.now_ms());
    let snaps = list
        .units()
        .filter_map(|c| {
            Some((
                (c.position.lat().to_bits(), c.position.lng().to_bits()),
                meta.get(&c.unit_id)?.snap?,
            ))
        })
        .collect();
    let travel = RoadTravel {
        router: &city.router,
        snaps: &snaps,
    };
    let out = pingan_dispatch::rank(&request, list, &travel, &cfg);
    Ok(out
        .recommendations
        .into_iter()
        .filter_map(|r| {
            let m = meta.get(&r.unit_id)?;
            Some(RecommendationDto {
                unit_id: m.id,
                callsign: m.callsign.clone(),
                kind: r.kind.code().to_string(),
                eta_s: r.eta_s,
                distance_m: r.distance_m,
                first_responder: r.first_responder,
                position_stale: r.position_stale,
                reasons: r.reasons.iter().map(|x| x.code().to_string()).collect(),
                explanation: r.explanation_zh,
            })
        })
        .collect())
}

/// The best available units by road ETA, with reasons.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/recommendations", tag = "incidents", params(("id" = i64, Path)),
    security(("bearer" = ["dispatch"])), responses((status = 200, body = Recommendations), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
async fn recommendations(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<Recommendations>> {
    let row = visible_incident(&s, &p, id).await?;
    s.dispatch.ensure_units(&s).await?;
    let tc = row.type_code.clone().ok_or_else(|| {
        ApiError::conflict("classify the incident before asking for units").with_field("type_code")
    })?;
    let prio = row
        .priority
        .as_deref()
        .and_then(|x| Priority::from_str(x).ok())
        .unwrap_or(Priority::P3);
    let point = LatLng::new(row.lat, row.lng).map_err(|e| ApiError::internal(e.to_string()))?;
    let items = recommend_for(&s, point, &tc, prio, 5)?;
    s.dispatch.remember_recommendation(
        id,
        s.now_ms(),
        items
            .iter()
            .filter(|r| !r.first_responder)
            .map(|r| r.unit_id)
            .collect(),
    );
    Ok(axum::Json(Recommendations { items }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DispatchRequest {
    pub unit_ids: Vec<i64>,
}

/// Assigns one or more units in one action (unit status machine enforced).
#[utoipa::path(post, path = "/api/v1/incidents/{id}/dispatch", tag = "incidents", params(("id" = i64, Path)), request_body = DispatchRequest,
    security(("bearer" = ["dispatch"])), responses((status = 200, body = IncidentDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn dispatch(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<DispatchRequest>,
) -> ApiResult<axum::Json<IncidentDto>> {
    let row = visible_incident(&s, &p, id).await?;
    if r.unit_ids.len() > 50 {
        return Err(ApiError::invalid(
            "unit_ids",
            "at most 50 units per dispatch",
        ));
    }
    // Next candidates for escalation: the police units the dispatcher was
    // just shown for this incident, else the recommendation order now.
    s.dispatch.ensure_units(&s).await?;
    let recent = s.dispatch.recent_recommendation(id, s.now_ms());
    let next = match (
        recent,
        row.type_code.as_deref(),
        LatLng::new(row.lat, row.lng),
    ) {
        (Some(units), _, _) => units,
        (None, Some(tc), Ok(pt)) => {
            let prio = row
                .priority
                .as_deref()
                .and_then(|x| Priority::from_str(x).ok())
                .unwrap_or(Priority::P3);
            recommend_for(&s, pt, tc, prio, 5)
                .map(|v| {
                    v.into_iter()
                        .filter(|r| !r.first_responder)
                        .map(|r| r.unit_id)
                        .collect()
                })
                .unwrap_or_default()
        }
        (None, _, _) => Vec::new(),
    };
    let row = svc::dispatch_units(&s, id, &r.unit_ids, &p.name, next).await?;
    Ok(axum::Json(incident_dto(&s, &row, false).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub org_id: i64,
    pub reason: String,
}

/// Hands the incident to another station, or up to district/city command.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/transfer", tag = "incidents", params(("id" = i64, Path)), request_body = TransferRequest,
    security(("bearer" = ["incidents:write"])), responses((status = 200, body = IncidentDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn transfer(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<TransferRequest>,
) -> ApiResult<axum::Json<IncidentDto>> {
    visible_incident(&s, &p, id).await?;
    let org =
        s.store.find_org(r.org_id).await?.ok_or_else(|| {
            ApiError::invalid("org_id", format!("org {} does not exist", r.org_id))
        })?;
    let level = match org.kind.as_str() {
        "station" => CommandLevel::Station,
        "district" => CommandLevel::District,
        _ => CommandLevel::City,
    };
    let actor = p.name.clone();
    let oid = org.id.to_string();
    let (row, _) = svc::mutate(&s, id, move |inc, now| {
        let e = inc
            .transfer(&oid, level, &r.reason, now, &actor)
            .map_err(incident_error)?;
        Ok((
            vec![e],
            json!({"org": oid, "level": level.code(), "reason": r.reason}),
        ))
    })
    .await?;
    Ok(axum::Json(incident_dto(&s, &row, false).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
    /// resolved, case_opened:<case no>, mediated, no_finding, false_report, handled_by_partner, duplicate:<number>, other:<text>
    pub disposition: String,
}

/// Closes the incident with a disposition.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/close", tag = "incidents", params(("id" = i64, Path)), request_body = CloseRequest,
    security(("bearer" = ["incidents:write"])), responses((status = 200, body = IncidentDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn close(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<CloseRequest>,
) -> ApiResult<axum::Json<IncidentDto>> {
    visible_incident(&s, &p, id).await?;
    let d = svc::parse_disposition(&r.disposition).ok_or_else(|| {
        ApiError::invalid(
            "disposition",
            format!("unknown disposition {:?}", r.disposition),
        )
    })?;
    let actor = p.name.clone();
    let text = r.disposition.clone();
    let (row, _) = svc::mutate(&s, id, move |inc, now| {
        let e = inc.close(d, now, &actor).map_err(incident_error)?;
        Ok((vec![e], json!({"disposition": text})))
    })
    .await?;
    s.dispatch.escalation_drop(id);
    Ok(axum::Json(incident_dto(&s, &row, false).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The duplicate incident; it is closed as `duplicate:<this incident's number>`.
    pub from_incident_id: i64,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct MergeResult {
    /// The surviving incident, with the duplicate's calls attached.
    pub incident: IncidentDto,
    /// The duplicate, now closed.
    pub merged: IncidentDto,
    pub calls_moved: u64,
}

/// Merges a duplicate incident into this one: the duplicate is closed with
/// disposition `duplicate:<number>` (its state machine must allow it: before
/// dispatch, or once cleared), its calls are re-attached here, and both
/// timelines record the merge.
pub async fn merge_incidents(
    s: &AppState,
    into: &pingan_store::IncidentRow,
    from: &pingan_store::IncidentRow,
    reason: &str,
    actor: &str,
) -> ApiResult<(pingan_store::IncidentRow, pingan_store::IncidentRow, u64)> {
    if into.id == from.id {
        return Err(ApiError::invalid(
            "from_incident_id",
            "an incident cannot be merged into itself",
        ));
    }
    if into.status == "closed" {
        return Err(ApiError::conflict(format!(
            "{} is closed; merge into an open incident",
            into.number
        ))
        .with_field("id"));
    }
    let of = into.number.clone();
    let (who, why) = (actor.to_string(), reason.to_string());
    let (merged, _) = svc::mutate(s, from.id, move |inc, now| {
        let mut e = inc
            .close(
                pingan_dispatch::Disposition::Duplicate { of: of.clone() },
                now,
                &who,
            )
            .map_err(|e| incident_error(e).with_field("from_incident_id"))?;
        e.detail = format!("并入 {of}：{why}");
        Ok((vec![e], json!({ "disposition": format!("duplicate:{of}") })))
    })
    .await?;
    s.dispatch.escalation_drop(from.id);
    let moved = s.store.move_incident_calls(from.id, into.id).await?;
    let summary = format!("合并重复警情 {}（{moved} 通来电）：{reason}", from.number);
    let (who, from_id) = (actor.to_string(), from.id);
    let (row, _) = svc::mutate(s, into.id, move |inc, now| {
        let e = inc
            .merge_call(now, &who, &summary)
            .map_err(incident_error)?;
        Ok((vec![e], json!({ "from": from_id })))
    })
    .await?;
    Ok((row, merged, moved))
}

/// Merges a duplicate incident (its calls, its timeline note) into this one.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/merge", extensions(("x-personal-data" = json!("write"))), tag = "incidents", params(("id" = i64, Path)), request_body = MergeRequest,
    security(("bearer" = ["incidents:write"])), responses((status = 200, body = MergeResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn merge(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<MergeRequest>,
) -> ApiResult<axum::Json<MergeResult>> {
    let reason = r.reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::invalid(
            "reason",
            "give a reason of 1-500 characters",
        ));
    }
    let into = visible_incident(&s, &p, id).await?;
    let from = visible_incident(&s, &p, r.from_incident_id)
        .await
        .map_err(|e| e.with_field("from_incident_id"))?;
    let (row, merged, moved) = merge_incidents(&s, &into, &from, reason, &p.name).await?;
    s.audit(
        &p,
        Audit {
            action: "incident.merge",
            object_type: "incident",
            object_ids: vec![id.to_string(), from.id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: Some(reason.to_string()),
        },
    )
    .await?;
    Ok(axum::Json(MergeResult {
        incident: incident_dto(&s, &row, false).await?,
        merged: incident_dto(&s, &merged, false).await?,
        calls_moved: moved,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DivertRequest {
    /// Partner codes: 12345, 120, 119, traffic.
    pub partners: Vec<String>,
    #[serde(default)]
    pub note: String,
}

#[derive(Serialize, ToSchema)]
pub struct DivertResult {
    pub incident: IncidentDto,
    pub handoffs: Vec<HandoffDto>,
}

/// One-key diversion: queues a signed hand-off per partner. Incidents police
/// still attend (joint incidents) keep their state; others become `diverted`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/divert", extensions(("x-personal-data" = json!("write"))), tag = "incidents", params(("id" = i64, Path)), request_body = DivertRequest,
    security(("bearer" = ["incidents:write"])), responses((status = 202, body = DivertResult), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn divert(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<DivertRequest>,
) -> ApiResult<(StatusCode, axum::Json<DivertResult>)> {
    visible_incident(&s, &p, id).await?;
    if r.partners.is_empty() {
        return Err(ApiError::invalid("partners", "name at least one partner"));
    }
    let mut partners = Vec::new();
    for code in &r.partners {
        let pt = Partner::from_code(code)
            .ok_or_else(|| ApiError::invalid("partners", format!("unknown partner {code:?}")))?;
        if !partners.contains(&pt) {
            partners.push(pt);
        }
    }
    let (row, ids) = svc::divert_incident(&s, id, &partners, &r.note, &p.name).await?;
    // The hand-off carries the caller's phone and name to another agency.
    let codes: Vec<&str> = partners.iter().map(|x| x.code()).collect();
    s.audit(
        &p,
        Audit::ok("incident.divert", "incident", vec![id.to_string()])
            .detail(format!("caller data sent to partners {}", codes.join(","))),
    )
    .await?;
    let mut handoffs = Vec::new();
    for h in s.store.incident_handoffs(id).await? {
        if ids.contains(&h.id) {
            handoffs.push(handoff_dto(h));
        }
    }
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(DivertResult {
            incident: incident_dto(&s, &row, false).await?,
            handoffs,
        }),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoffStatusRequest {
    /// accepted, rejected, resolved, return_to_110
    pub status: String,
    #[serde(default)]
    pub feedback: String,
}

/// Partner callback on a hand-off (API key of role partner).
#[utoipa::path(post, path = "/api/v1/handoffs/{id}/status", tag = "incidents", params(("id" = i64, Path)), request_body = HandoffStatusRequest,
    security(("bearer" = ["handoffs:write"])), responses((status = 200, body = HandoffDto), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn handoff_status(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<HandoffStatusRequest>,
) -> ApiResult<axum::Json<HandoffDto>> {
    // A partner's key answers only for its own hand-offs; anyone else with
    // the scope (an admin recording a phoned-in answer) only within their
    // jurisdiction.
    let h = s.store.get_handoff(id).await?;
    if p.role == Role::Partner {
        if p.partner.as_deref() != Some(h.partner.as_str()) {
            return Err(ApiError::forbidden(format!(
                "hand-off {id} is addressed to partner {}; this key speaks for {}",
                h.partner,
                p.partner.as_deref().unwrap_or("no partner")
            )));
        }
    } else {
        visible_incident(&s, &p, h.incident_id).await?;
    }
    let f = r.feedback.clone();
    let update = match r.status.as_str() {
        "accepted" => PartnerUpdate::Accepted { note: f },
        "rejected" => PartnerUpdate::Rejected { reason: f },
        "resolved" => PartnerUpdate::Resolved { feedback: f },
        "return_to_110" | "returned_to_110" => PartnerUpdate::ReturnTo110 { reason: f },
        other => {
            return Err(ApiError::invalid(
                "status",
                format!("{other:?} is not one of accepted, rejected, resolved, return_to_110"),
            ));
        }
    };
    let h = svc::partner_callback(&s, id, update).await?;
    Ok(axum::Json(handoff_dto(h)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnitStatusRequest {
    /// acknowledged, en_route, on_scene, available (cleared), busy, off_duty
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct UnitStatusResult {
    pub id: i64,
    pub status: String,
    pub incident_id: Option<i64>,
}

/// A unit reports progress (by its own officer or a dispatcher). Moves the
/// incident's timeline too; illegal transitions are 409.
#[utoipa::path(post, path = "/api/v1/units/{id}/status", tag = "units", params(("id" = i64, Path)), request_body = UnitStatusRequest,
    security(("bearer" = ["units:status"])), responses((status = 200, body = UnitStatusResult), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn unit_status(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<UnitStatusRequest>,
) -> ApiResult<axum::Json<UnitStatusResult>> {
    let u = crate::api::units::visible_unit(&s, &p, id).await?;
    if p.role == Role::StationOfficer && p.unit_id.is_some_and(|own| own != id) {
        return Err(ApiError::forbidden(
            "officers report only their own unit's status",
        ));
    }
    let (status, incident) = apply_unit_status(&s, &u, &r.status, &p.name).await?;
    Ok(axum::Json(UnitStatusResult {
        id,
        status,
        incident_id: incident,
    }))
}

/// The unit status machine plus the incident step it implies. Shared by the
/// API and the demo.
pub async fn apply_unit_status(
    s: &AppState,
    u: &pingan_store::UnitRow,
    requested: &str,
    actor: &str,
) -> ApiResult<(String, Option<i64>)> {
    let from = UnitStatus::from_code(&u.status)
        .ok_or_else(|| ApiError::internal(format!("unit {} has unknown status", u.id)))?;
    let inc = u.incident_id;
    let uid = u.id.to_string();
    let step = |to: &str| {
        ApiError::conflict(format!("unit {} cannot go from {} to {to}", u.id, u.status))
            .with_field("status")
    };
    match requested {
        "acknowledged" => {
            let Some(iid) = inc.filter(|_| from == UnitStatus::Dispatched) else {
                return Err(step("acknowledged"));
            };
            svc::mutate(s, iid, move |i, now| {
                Ok((
                    vec![i.acknowledge(&uid, now).map_err(incident_error)?],
                    json!({}),
                ))
            })
            .await?;
            s.dispatch.escalation_ack(iid, u.id);
            Ok((from.code().to_string(), inc))
        }
        "cleared" | "available" | "en_route" | "on_scene" | "busy" | "off_duty" | "dispatched" => {
            let to = match requested {
                "cleared" => UnitStatus::Available,
                x => UnitStatus::from_code(x).ok_or_else(|| step(x))?,
            };
            if to == UnitStatus::Dispatched {
                return Err(ApiError::invalid(
                    "status",
                    "use POST /incidents/{id}/dispatch to dispatch a unit",
                ));
            }
            from.transition(to)
                .map_err(|e| ApiError::conflict(e.to_string()).with_field("status"))?;
            // The unit moves only from the status it was read in (a
            // concurrent change makes this a 409), with the incident's step
            // when there is one.
            let mut keep = inc;
            let mut moved = false;
            if let Some(iid) = inc {
                let who = actor.to_string();
                match (from, to) {
                    (_, UnitStatus::EnRoute) => {
                        let m = svc::move_from(u, to, Some(iid));
                        svc::mutate_moving(s, iid, vec![m], move |i, now| {
                            Ok((
                                vec![i.en_route(&uid, now).map_err(incident_error)?],
                                json!({}),
                            ))
                        })
                        .await?;
                        moved = true;
                        s.dispatch.escalation_ack(iid, u.id);
                    }
                    (_, UnitStatus::OnScene) => {
                        let m = svc::move_from(u, to, Some(iid));
                        svc::mutate_moving(s, iid, vec![m], move |i, now| {
                            Ok((
                                vec![i.arrive(&uid, now).map_err(incident_error)?],
                                json!({}),
                            ))
                        })
                        .await?;
                        moved = true;
                        s.dispatch.escalation_ack(iid, u.id);
                    }
                    (UnitStatus::OnScene, _) => {
                        keep = None;
                        let m = svc::move_from(u, to, None);
                        svc::mutate_moving(s, iid, vec![m], move |i, now| {
                            Ok((
                                i.clear_unit(&uid, now).map_err(incident_error)?,
                                json!({"op": "clear_unit"}),
                            ))
                        })
                        .await?;
                        moved = true;
                    }
                    (UnitStatus::Dispatched | UnitStatus::EnRoute, UnitStatus::Available) => {
                        keep = None;
                        let m = svc::move_from(u, to, None);
                        svc::mutate_moving(s, iid, vec![m], move |i, now| {
                            Ok((
                                vec![
                                    i.cancel_unit(&uid, now, &who, "unit stood down")
                                        .map_err(incident_error)?,
                                ],
                                json!({"op": "cancel"}),
                            ))
                        })
                        .await?;
                        moved = true;
                    }
                    _ => keep = None,
                }
            }
            if !moved {
                svc::move_unit(s, svc::move_from(u, to, keep)).await?;
            }
            Ok((to.code().to_string(), keep))
        }
        other => Err(ApiError::invalid(
            "status",
            format!(
                "{other:?} is not one of acknowledged, en_route, on_scene, available, cleared, busy, off_duty"
            ),
        )),
    }
}
