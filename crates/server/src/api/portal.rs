//! The public citizen portal (no login: these routes declare no `security`,
//! which [`crate::auth::enforce`] treats as public). With the receipt code
//! from intake and the last four digits of their phone a caller sees their
//! case's progress — status, times, timeline kinds, responsible station, never
//! officer or caller personal data — with the ledger receipt (leaf index,
//! inclusion proof, signed checkpoint) that proves the recorded state, and
//! after closure leaves one evaluation.
//!
//! A wrong code and wrong digits get the same 404 body. Every request is rate
//! limited per client IP and per code (429 with `Retry-After`) and audited
//! with actor `citizen`.

use std::net::SocketAddr;

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use pingan_store::IncidentRow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rfc3339;
use crate::AppState;
use crate::citizen::{code_hash, normalize_code, phone_matches};
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_case))
        .routes(routes!(post_evaluation))
}

/// Longest evaluation comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 500;

/// The caller's address for rate limiting: the peer address, or the first
/// `X-Forwarded-For` hop when `citizen.trust_forwarded_for` is set.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Self::Rejection> {
        if s.citizen.settings().trust_forwarded_for
            && let Some(first) = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        {
            return Ok(ClientIp(first.to_string()));
        }
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "unknown".into()),
        ))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalQuery {
    /// Last four digits of the phone the call came from.
    pub phone4: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicTimelineDto {
    pub at: String,
    /// `created`, `classified`, `dispatched`, `arrived`, `closed`, …
    pub kind: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicEvaluationDto {
    /// The case is closed and not yet evaluated.
    pub can_evaluate: bool,
    pub stars: Option<i64>,
    pub submitted_at: Option<String>,
}

/// The proof that the case's latest recorded state is in the public log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicLedgerDto {
    /// Leaf indexes of every recorded state of the case, in log order.
    pub leaf_indexes: Vec<u64>,
    /// The latest one, which `receipt` proves.
    pub leaf_index: u64,
    /// Leaf hash, hex.
    pub leaf_hash: String,
    /// Signed checkpoint note (C2SP format) the proof is against.
    pub checkpoint: String,
    /// Inclusion proof, hex hashes.
    pub inclusion_proof: Vec<String>,
    /// The leaf's canonical record (personal data only as a salted commitment).
    pub entry: Option<String>,
    /// The same as one offline-verifiable receipt (`pingan ledger verify`).
    #[schema(value_type = Object)]
    pub receipt: serde_json::Value,
    /// Log origin (its verifier key is at `/api/v1/ledger/verifier-key`).
    pub origin: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PublicCaseDto {
    pub number: String,
    pub status: String,
    /// The status in Chinese (已受理, 已派警, 已到场, 已办结, …).
    pub status_name: String,
    pub type_name: Option<String>,
    /// Name of the responsible station.
    pub station: Option<String>,
    pub created_at: String,
    pub dispatched_at: Option<String>,
    pub arrived_at: Option<String>,
    pub closed_at: Option<String>,
    pub timeline: Vec<PublicTimelineDto>,
    pub evaluation: PublicEvaluationDto,
    /// `null` until the first state is recorded in the log.
    pub ledger: Option<PublicLedgerDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EvaluationRequest {
    /// Last four digits of the phone the call came from.
    pub phone4: String,
    /// 1..=5
    pub stars: i64,
    /// Up to 500 characters.
    #[serde(default)]
    pub comment: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvaluationReceiptDto {
    pub number: String,
    pub stars: i64,
    pub submitted_at: String,
}

fn status_name(status: &str) -> &'static str {
    match status {
        "created" | "classified" => "已受理",
        "diverted" => "已转交相关部门",
        "dispatched" | "acknowledged" => "已派警",
        "en_route" => "民警正赶往现场",
        "on_scene" => "已到场",
        "cleared" => "现场处置完毕",
        "closed" => "已办结",
        _ => "处理中",
    }
}

/// The one answer for any code/digits pair that does not match.
fn no_match() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no case matches this receipt code and phone number",
    )
}

fn too_many(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::too_many_requests(format!("too many lookups; try again in {secs} s"), secs)
        .into_response()
}

fn check_phone4(v: Option<&str>) -> ApiResult<String> {
    match v {
        Some(d) if d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit()) => Ok(d.to_string()),
        _ => Err(ApiError::invalid(
            "phone4",
            "give the last 4 digits of the phone number you called from",
        )),
    }
}

async fn audit_citizen(
    s: &AppState,
    action: &str,
    incident: Option<i64>,
    outcome: &str,
    ip: &str,
) -> ApiResult<()> {
    let entry = crate::audit::Audit {
        action,
        object_type: "incident",
        object_ids: incident.map(|i| i.to_string()).into_iter().collect(),
        purpose: Some("citizen portal"),
        outcome,
        detail: Some(format!("ip {ip}")),
    }
    .by(s.now_ms(), None, "citizen", "citizen");
    s.append_audit(vec![entry]).await
}

/// Rate-limits, then resolves code + digits to the case. A miss is audited
/// under `action` and answered with the one 404 body.
async fn resolve(
    s: &AppState,
    ip: &str,
    code: &str,
    phone4: &str,
    action: &str,
) -> Result<IncidentRow, Response> {
    let normalized = normalize_code(code);
    // All malformed input shares one per-code bucket, so garbage cannot be
    // used to obtain fresh buckets.
    let key = match &normalized {
        Some(n) => hex::encode(code_hash(n)),
        None => "malformed".to_string(),
    };
    s.citizen.check_rate(ip, &key).map_err(too_many)?;
    let found: ApiResult<Option<IncidentRow>> = async {
        let Some(n) = normalized else {
            return Ok(None);
        };
        let Some(case) = s.store.citizen_case_by_code(&code_hash(&n)).await? else {
            return Ok(None);
        };
        let row = s.store.get_incident(case.incident_id).await?;
        Ok(phone_matches(&row.caller_phone, phone4).then_some(row))
    }
    .await;
    match found {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(
            match audit_citizen(s, action, None, "not_found", ip).await {
                Ok(()) => no_match().into_response(),
                Err(e) => e.into_response(),
            },
        ),
        Err(e) => Err(e.into_response()),
    }
}

async fn ledger_proof(s: &AppState, incident_id: i64) -> ApiResult<Option<PublicLedgerDto>> {
    let leaves = s.store.case_leaves(incident_id).await?;
    let Some(last) = leaves.last() else {
        return Ok(None);
    };
    let index = last.leaf_index as u64;
    let receipt = match s.ledger.receipt(index).await {
        Ok(r) => r,
        Err(e) => {
            // The case is still shown; the proof is missing, and says so in the log.
            tracing::warn!(error = %e, incident = incident_id, leaf = index, "portal receipt unavailable");
            return Ok(None);
        }
    };
    Ok(Some(PublicLedgerDto {
        leaf_indexes: leaves.iter().map(|l| l.leaf_index as u64).collect(),
        leaf_index: index,
        leaf_hash: hex::encode(receipt.leaf_hash),
        checkpoint: receipt.checkpoint.clone(),
        inclusion_proof: receipt.inclusion_proof.iter().map(hex::encode).collect(),
        entry: receipt.entry.clone(),
        receipt: serde_json::from_str(&receipt.to_json())
            .map_err(|e| ApiError::internal(format!("receipt encoding: {e}")))?,
        origin: s.ledger.origin().to_string(),
    }))
}

async fn case_dto(s: &AppState, row: &IncidentRow) -> ApiResult<PublicCaseDto> {
    let timeline = s
        .store
        .incident_timeline(row.id)
        .await?
        .into_iter()
        // Hand-off lines are partner plumbing, not progress.
        .filter(|t| t.entry.kind != "handoff")
        .map(|t| PublicTimelineDto {
            at: rfc3339(t.entry.at),
            kind: t.entry.kind,
        })
        .collect();
    let evaluation = s.store.evaluation_for_incident(row.id).await?;
    let type_name = row.type_code.as_deref().and_then(|c| {
        s.dispatch
            .taxonomy()
            .get(c)
            .map(|t| t.name_zh().to_string())
    });
    Ok(PublicCaseDto {
        number: row.number.clone(),
        status: row.status.clone(),
        status_name: status_name(&row.status).into(),
        type_name,
        station: s.jurisdiction().node(row.org_id).map(|n| n.name.clone()),
        created_at: rfc3339(row.created_at),
        dispatched_at: row.dispatched_at.map(rfc3339),
        arrived_at: row.arrived_at.map(rfc3339),
        closed_at: row.closed_at.map(rfc3339),
        timeline,
        evaluation: PublicEvaluationDto {
            can_evaluate: row.status == "closed" && evaluation.is_none(),
            stars: evaluation.as_ref().map(|e| e.stars),
            submitted_at: evaluation.as_ref().map(|e| rfc3339(e.created_at)),
        },
        ledger: ledger_proof(s, row.id).await?,
    })
}

/// A case's progress by receipt code and the caller's last four phone digits.
#[utoipa::path(get, path = "/api/v1/public/cases/{code}", extensions(("x-personal-data" = json!("read"))), tag = "portal",
    params(("code" = String, Path, description = "receipt code, e.g. ABCD-EFGH-JKMN"), PortalQuery),
    responses((status = 200, body = PublicCaseDto), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
async fn get_case(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(code): ApiPath<String>,
    ApiQuery(q): ApiQuery<PortalQuery>,
) -> Response {
    let phone4 = match check_phone4(q.phone4.as_deref()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let row = match resolve(&s, &ip, &code, &phone4, "portal.lookup").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let result: ApiResult<Response> = async {
        let dto = case_dto(&s, &row).await?;
        audit_citizen(&s, "portal.lookup", Some(row.id), "ok", &ip).await?;
        Ok(axum::Json(dto).into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The citizen's one evaluation of a closed case (1–5 stars, comment ≤ 500
/// characters). 409 before closure and for a second evaluation.
#[utoipa::path(post, path = "/api/v1/public/cases/{code}/evaluation", extensions(("x-personal-data" = json!("write"))), tag = "portal",
    params(("code" = String, Path, description = "receipt code")), request_body = EvaluationRequest,
    responses((status = 201, body = EvaluationReceiptDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody),
        (status = 429, body = crate::error::ErrorBody)))]
async fn post_evaluation(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiPath(code): ApiPath<String>,
    ApiJson(req): ApiJson<EvaluationRequest>,
) -> Response {
    let checked = check_phone4(Some(&req.phone4)).and_then(|p| {
        if !(1..=5).contains(&req.stars) {
            return Err(ApiError::invalid("stars", "stars must be 1 to 5"));
        }
        if req.comment.chars().count() > MAX_COMMENT_CHARS {
            return Err(ApiError::invalid(
                "comment",
                format!("comment is longer than {MAX_COMMENT_CHARS} characters"),
            ));
        }
        if req.comment.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ApiError::invalid(
                "comment",
                "comment has control characters",
            ));
        }
        Ok(p)
    });
    let phone4 = match checked {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let row = match resolve(&s, &ip, &code, &phone4, "portal.evaluate").await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let result: ApiResult<Response> = async {
        if row.status != "closed" {
            audit_citizen(&s, "portal.evaluate", Some(row.id), "conflict", &ip).await?;
            return Err(
                ApiError::conflict("the case can be evaluated once it is closed")
                    .with_field("status"),
            );
        }
        let created = s
            .store
            .create_evaluation(
                &pingan_store::NewEvaluation {
                    incident_id: row.id,
                    org_id: row.org_id,
                    org_path: row.org_path.clone(),
                    stars: req.stars,
                    comment: req.comment.trim().to_string(),
                },
                s.now_ms(),
            )
            .await;
        let e = match created {
            Ok(e) => e,
            Err(pingan_store::StoreError::Conflict { .. }) => {
                audit_citizen(&s, "portal.evaluate", Some(row.id), "conflict", &ip).await?;
                return Err(
                    ApiError::conflict("this case has already been evaluated").with_field("stars")
                );
            }
            Err(e) => return Err(e.into()),
        };
        audit_citizen(&s, "portal.evaluate", Some(row.id), "ok", &ip).await?;
        Ok((
            StatusCode::CREATED,
            axum::Json(EvaluationReceiptDto {
                number: row.number.clone(),
                stars: e.stars,
                submitted_at: rfc3339(e.created_at),
            }),
        )
            .into_response())
    }
    .await;
    result.unwrap_or_else(IntoResponse::into_response)
}
