//! Call intake (`POST /api/v1/calls`): validates the caller, places the call
//! (coordinates, or an address geocoded to the best street match), classifies
//! the description, resolves the responsible station, creates the incident
//! with its timeline and suggests duplicates of open incidents nearby.

use axum::extract::State;
use axum::http::StatusCode;
use pingan_core::normalize::phone::Phone;
use pingan_core::{LatLng, Timestamp};
use pingan_dispatch::{Channel, Classification, Evidence, Incident, IncidentNumber};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::LatLngDto;
use super::incidents::{IncidentDto, incident_dto};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(post_call))
}

#[derive(Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CallRequest {
    /// 110, 12345, 119, 120, app, sms, partner
    pub channel: String,
    pub caller_phone: String,
    pub caller_name: Option<String>,
    pub description: String,
    pub location: Option<LatLngDto>,
    pub address: Option<String>,
    /// RFC 3339 or epoch ms; default now.
    pub time: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SuggestionDto {
    pub type_code: String,
    pub type_name: String,
    pub priority: String,
    pub confidence: f64,
    pub evidence: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DuplicateDto {
    pub incident_id: i64,
    pub number: String,
    pub distance_m: f64,
    pub minutes_ago: f64,
}

#[derive(Serialize, ToSchema)]
pub struct CallResult {
    pub incident: IncidentDto,
    /// The caller's receipt code for the citizen portal: read it out (it is
    /// also sent to the caller). `null` only if it could not be issued.
    pub receipt_code: Option<String>,
    pub suggestion: SuggestionDto,
    pub duplicates: Vec<DuplicateDto>,
}

/// How far from any road a point outside every district may be before it is
/// considered outside the city.
const MAX_OFF_ROAD_M: f64 = 2_000.0;

/// Places the call: coordinates as given, or the address's street.
pub fn place(s: &AppState, r: &CallRequest) -> ApiResult<(LatLng, Option<String>)> {
    if let Some(l) = r.location {
        let p = l.parse("location")?;
        return Ok((p, r.address.clone().filter(|a| !a.trim().is_empty())));
    }
    let Some(addr) = r.address.as_deref().filter(|a| !a.trim().is_empty()) else {
        return Err(ApiError::invalid(
            "location",
            "give location {lat,lng} or an address",
        ));
    };
    let city = s.city().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_road_network",
            "no street index loaded to geocode addresses",
        )
    })?;
    let parsed = pingan_core::normalize::address::parse_address(addr);
    // The road (路/街/道) is what the street index knows; fall back to the
    // street-level name, the POI, then the raw text.
    let queries = [
        parsed.road.clone(),
        parsed.street.clone(),
        parsed.poi.clone(),
        Some(addr.to_string()),
    ];
    for q in queries.into_iter().flatten() {
        if let Some(m) = city.router.streets().find(&q, 1).into_iter().next() {
            return Ok((m.point, Some(addr.to_string())));
        }
    }
    Err(ApiError::invalid(
        "address",
        format!("no street matches {addr:?}"),
    ))
}

fn evidence_text(e: &Evidence) -> String {
    match e {
        Evidence::Keyword {
            word, type_code, ..
        } => format!("关键词「{word}」→ {type_code}"),
        Evidence::ModelFeature { feature, .. } => format!("模型特征「{feature}」"),
        Evidence::Escalator {
            word,
            cue,
            from,
            to,
        } => {
            format!("升级线索「{word}」({}) {from}→{to}", cue.code())
        }
    }
}

/// The whole intake path, shared by the API, the demo simulator and the bench.
pub async fn intake(s: &AppState, actor: &str, r: CallRequest) -> ApiResult<CallResult> {
    let channel = Channel::from_code(&r.channel).ok_or_else(|| {
        ApiError::invalid(
            "channel",
            format!(
                "{:?} is not one of 110, 12345, 119, 120, app, sms, partner",
                r.channel
            ),
        )
    })?;
    let phone = Phone::parse(&r.caller_phone)
        .map_err(|e| ApiError::invalid("caller_phone", e.to_string()))?;
    let description = r.description.trim().to_string();
    if description.is_empty() {
        return Err(ApiError::invalid("description", "description is empty"));
    }
    if description.chars().count() > 4000 {
        return Err(ApiError::invalid(
            "description",
            "description is longer than 4000 characters",
        ));
    }
    let name = r
        .caller_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string);
    let received = match r.time.as_deref() {
        Some(t) => {
            super::parse_time("time", t).map_err(|e| ApiError::invalid("time", e.message))?
        }
        None => s.now_ms(),
    };
    let (point, address) = place(s, &r)?;
    let loc = s.jurisdiction().locate(point);
    let near_road = s
        .city()
        .is_some_and(|c| c.router.snap_within(point, MAX_OFF_ROAD_M).is_some());
    let org_id = match (loc.resolution, loc.responsible()) {
        (pingan_jurisdiction::Resolution::City, _) if !near_road => None,
        (_, Some(o)) => Some(o),
        _ => None,
    }
    .ok_or_else(|| ApiError::invalid("location", "the point is outside the city's jurisdiction"))?;

    let cls: Classification = s.dispatch.classifier().classify(&description);
    let tax = s.dispatch.taxonomy();
    let type_name = tax
        .get(&cls.type_code)
        .map(|t| t.name_zh().to_string())
        .unwrap_or_default();

    // Duplicates among open incidents near the call in the last window: a
    // bounding box of the matching radius around the call, read through the
    // index of open incidents by position.
    let cfg = pingan_dispatch::DuplicateConfig::default();
    // 5% margin over the radius: the box must contain the matching circle
    // whatever the approximation of degrees to metres.
    let per_deg = pingan_core::geo::EARTH_RADIUS_M.to_radians();
    let dlat = cfg.radius_m * 1.05 / per_deg;
    let dlng = cfg.radius_m * 1.05 / (per_deg * point.lat().to_radians().cos().max(0.01));
    let open_rows = s
        .store
        .open_incidents_near(
            (point.lat() - dlat, point.lat() + dlat),
            (point.lng() - dlng, point.lng() + dlng),
            received - cfg.window_s * 1000,
            500,
        )
        .await?;
    let open: Vec<pingan_dispatch::OpenIncident> = open_rows
        .iter()
        .filter_map(|o| {
            Some(pingan_dispatch::OpenIncident {
                incident_id: o.id.to_string(),
                at: Timestamp(o.created_at),
                point: LatLng::new(o.lat, o.lng).ok()?,
                type_code: o.type_code.clone(),
            })
        })
        .collect();
    let merges = pingan_dispatch::suggest_merges(
        &pingan_dispatch::CallSighting {
            at: Timestamp(received),
            point,
            type_code: Some(cls.type_code.clone()),
        },
        &open,
        &tax,
        &cfg,
    );

    // The incident is created with its suggested classification applied, in
    // one transaction: the domain incident produces both timeline lines (so a
    // replay reaches the same state), and the store records the creation and
    // the classification as two steps. The call taker confirms or overrides
    // the suggestion with /classify.
    let at = Timestamp(received);
    let number_day = IncidentNumber::for_time(at, crate::dispatch::UTC_OFFSET_MIN, 1)
        .map_err(|e| ApiError::invalid("time", e.to_string()))?;
    let (y, m, d) = number_day.date();
    let summary = format!(
        "{} {}",
        channel.code(),
        description.chars().take(60).collect::<String>()
    );
    let org = org_id.to_string();
    let mut inc = Incident::create(number_day, &org, at, actor, &summary)
        .map_err(crate::dispatch::incident_error)?;
    let created_line = crate::dispatch::to_row(&inc.timeline()[0], &json!({ "org": org }));
    // As a later /classify would: never earlier than the call itself.
    let classified_at = Timestamp(s.now_ms().max(received));
    let classified = inc
        .classify(&cls.type_code, cls.priority, classified_at, "classifier")
        .map_err(crate::dispatch::incident_error)?;
    let classified_line = crate::dispatch::to_row(
        &classified,
        &json!({"type": cls.type_code, "priority": cls.priority.to_string()}),
    );
    let call = pingan_store::NewCall {
        channel: channel.code().into(),
        caller_phone: phone.as_str().to_string(),
        caller_name: name,
        description: description.clone(),
        lat: point.lat(),
        lng: point.lng(),
        address,
        received_at: received,
    };
    let row = s
        .store
        .create_incident_changed(
            &pingan_store::NewIncident {
                day: format!("{y:04}{m:02}{d:02}"),
                status: "created".into(),
                type_code: None,
                priority: None,
                org_id,
                call,
                timeline: vec![created_line.clone(), classified_line.clone()],
            },
            &pingan_store::IncidentPatch {
                org_id: None,
                ..crate::dispatch::patch_of(&inc)
            },
            classified_at.millis(),
        )
        .await?;
    // Issuing the receipt code must never fail the call itself.
    let receipt_code = match s.citizen.open_case(&row).await {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::error!(incident = row.id, error = %e, "receipt code not issued");
            None
        }
    };
    // Both steps reach the state-change hook, in order, as separate changes.
    let as_created = pingan_store::IncidentRow {
        status: "created".into(),
        type_code: None,
        priority: None,
        ..row.clone()
    };
    crate::dispatch::case_state_changed(s, &as_created, &[created_line]).await;
    crate::dispatch::case_state_changed(s, &row, &[classified_line]).await;
    let mut duplicates = Vec::new();
    for mg in merges {
        if let Some(o) = open_rows
            .iter()
            .find(|o| o.id.to_string() == mg.incident_id)
        {
            duplicates.push(DuplicateDto {
                incident_id: o.id,
                number: o.number.clone(),
                distance_m: (mg.distance_m * 10.0).round() / 10.0,
                minutes_ago: (mg.dt_s as f64 / 6.0).round() / 10.0,
            });
        }
    }
    Ok(CallResult {
        incident: incident_dto(s, &row, false).await?,
        receipt_code,
        suggestion: SuggestionDto {
            type_code: cls.type_code.clone(),
            type_name,
            priority: cls.priority.to_string(),
            confidence: (cls.confidence * 1000.0).round() / 1000.0,
            evidence: cls.evidence.iter().map(evidence_text).collect(),
        },
        duplicates,
    })
}

/// Takes a call: creates the incident, suggests its type and duplicates.
#[utoipa::path(post, path = "/api/v1/calls", extensions(("x-personal-data" = json!("write"))), tag = "incidents", request_body = CallRequest, security(("bearer" = ["incidents:write"])),
    responses((status = 201, body = CallResult), (status = 422, body = crate::error::ErrorBody)))]
async fn post_call(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<CallRequest>,
) -> ApiResult<(StatusCode, axum::Json<CallResult>)> {
    let out = intake(&s, &p.name, r).await?;
    s.audit(
        &p,
        crate::audit::Audit {
            action: "call.create",
            object_type: "incident",
            object_ids: vec![out.incident.id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(out)))
}
