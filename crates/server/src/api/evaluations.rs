//! Supervisors' view of citizen evaluations: the list (jurisdiction scoped,
//! filter by station and by stars), follow-up of low ones, and per-station
//! statistics (count, mean, distribution, follow-up rate). Comments are a
//! citizen's own words (personal data): listing them needs `X-Purpose` and is
//! audited; the statistics are aggregates and are not.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::{Audit, Purpose};
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_evaluations))
        .routes(routes!(evaluation_stats))
        .routes(routes!(follow_up))
}

/// Evaluations of this many stars or fewer are "low" and may be followed up.
pub const LOW_STARS: i64 = 3;
/// Longest follow-up note, in characters.
const MAX_NOTE_CHARS: usize = 1_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EvaluationQuery {
    /// 1..=1000, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    /// Only this station (or subtree root) — must be in your jurisdiction.
    pub org_id: Option<i64>,
    /// Only evaluations with at most this many stars.
    pub max_stars: Option<i64>,
    /// `true`: only followed-up ones; `false`: only open ones.
    pub followed_up: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowUpDto {
    pub note: String,
    pub by: String,
    pub at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvaluationDto {
    pub id: i64,
    pub incident_id: i64,
    pub incident_number: String,
    pub org_id: i64,
    pub org_name: Option<String>,
    pub stars: i64,
    pub comment: String,
    pub created_at: String,
    pub follow_up: Option<FollowUpDto>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUpRequest {
    /// What was done (call-back, apology, corrective action …).
    pub note: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Restrict to this org's subtree (in your jurisdiction); default: all you see.
    pub org_id: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StationStatsDto {
    pub org_id: i64,
    pub org_name: Option<String>,
    pub count: i64,
    /// Mean stars, two decimals.
    pub mean: f64,
    /// Counts of 1, 2, 3, 4 and 5 stars.
    pub distribution: [i64; 5],
    /// Evaluations of ≤ 3 stars.
    pub low: i64,
    pub followed_up: i64,
    /// `followed_up / low`; `null` without low evaluations.
    pub follow_up_rate: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EvaluationStatsDto {
    pub items: Vec<StationStatsDto>,
}

/// The subtree path to scope to: the principal's, or a visible org's.
async fn scope_path(s: &AppState, p: &Principal, org_id: Option<i64>) -> ApiResult<String> {
    match org_id {
        None => Ok(p.org_path.clone()),
        Some(id) => {
            let org = s
                .store
                .get_org(id)
                .await
                .map_err(|_| ApiError::invalid("org_id", format!("org {id} does not exist")))?;
            if !p.can_see(&org.path) {
                return Err(ApiError::forbidden(format!(
                    "org {id} is outside your jurisdiction"
                )));
            }
            Ok(org.path)
        }
    }
}

async fn dto(s: &AppState, e: pingan_store::EvaluationRow) -> ApiResult<EvaluationDto> {
    let number = s.store.get_incident(e.incident_id).await?.number;
    Ok(EvaluationDto {
        id: e.id,
        incident_id: e.incident_id,
        incident_number: number,
        org_id: e.org_id,
        org_name: s.jurisdiction().node(e.org_id).map(|n| n.name.clone()),
        stars: e.stars,
        comment: e.comment,
        created_at: rfc3339(e.created_at),
        follow_up: match (e.follow_up_note, e.follow_up_by, e.follow_up_at) {
            (Some(note), Some(by), Some(at)) => Some(FollowUpDto {
                note,
                by,
                at: rfc3339(at),
            }),
            _ => None,
        },
    })
}

/// Citizens' evaluations in your jurisdiction, newest first (`X-Purpose`
/// required; audited as `evaluation.read`).
#[utoipa::path(get, path = "/api/v1/evaluations", extensions(("x-personal-data" = json!("read"))), tag = "evaluations", params(EvaluationQuery, ("X-Purpose" = String, Header)),
    security(("bearer" = ["evaluations:read"])),
    responses((status = 200, body = Paged<EvaluationDto>), (status = 400, body = crate::error::ErrorBody), (status = 403, body = crate::error::ErrorBody)))]
async fn list_evaluations(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiQuery(q): ApiQuery<EvaluationQuery>,
) -> ApiResult<axum::Json<Paged<EvaluationDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    if let Some(m) = q.max_stars
        && !(1..=5).contains(&m)
    {
        return Err(
            ApiError::bad_request("invalid_query", "max_stars must be 1 to 5")
                .with_field("max_stars"),
        );
    }
    let path_prefix = scope_path(&s, &p, q.org_id).await?;
    let (rows, total) = s
        .store
        .list_evaluations(
            &pingan_store::EvaluationFilter {
                path_prefix,
                org_id: None,
                max_stars: q.max_stars,
                followed_up: q.followed_up,
            },
            page,
        )
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(dto(&s, r).await?);
    }
    let mut audit = Audit::ok(
        "evaluation.read",
        "evaluation",
        items.iter().map(|e| e.id.to_string()).collect(),
    )
    .purpose(&purpose.0);
    if let Some(o) = q.org_id {
        audit = audit.detail(format!("org {o}"));
    }
    s.audit(&p, audit).await?;
    Ok(axum::Json(Paged::new(items, total, page)))
}

/// Records the follow-up of a low (≤ 3 stars) evaluation; 409 for higher ones.
#[utoipa::path(post, path = "/api/v1/evaluations/{id}/follow-up", extensions(("x-personal-data" = json!("write"))), tag = "evaluations",
    params(("id" = i64, Path)), request_body = FollowUpRequest,
    security(("bearer" = ["evaluations:write"])),
    responses((status = 200, body = EvaluationDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn follow_up(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<FollowUpRequest>,
) -> ApiResult<axum::Json<EvaluationDto>> {
    let note = req.note.trim();
    if note.is_empty() {
        return Err(ApiError::invalid("note", "note is empty"));
    }
    if note.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::invalid(
            "note",
            format!("note is longer than {MAX_NOTE_CHARS} characters"),
        ));
    }
    let e = s.store.get_evaluation(id).await?;
    p.require_found("evaluation", id, &e.org_path)?;
    if e.stars > LOW_STARS {
        return Err(ApiError::conflict(format!(
            "only evaluations of {LOW_STARS} stars or fewer are followed up"
        ))
        .with_field("stars"));
    }
    let updated = s
        .store
        .follow_up_evaluation(id, note, &p.name, s.now_ms())
        .await?;
    s.audit(
        &p,
        Audit::ok("evaluation.follow_up", "evaluation", vec![id.to_string()]),
    )
    .await?;
    Ok(axum::Json(dto(&s, updated).await?))
}

/// Per-station statistics of the evaluations you can see.
#[utoipa::path(get, path = "/api/v1/evaluations/stats", tag = "evaluations", params(StatsQuery),
    security(("bearer" = ["evaluations:read"])),
    responses((status = 200, body = EvaluationStatsDto), (status = 403, body = crate::error::ErrorBody)))]
async fn evaluation_stats(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<axum::Json<EvaluationStatsDto>> {
    let path = scope_path(&s, &p, q.org_id).await?;
    let j = s.jurisdiction();
    let items = s
        .store
        .evaluation_stats(&path)
        .await?
        .into_iter()
        .map(|r| {
            let sum: i64 = r
                .distribution
                .iter()
                .zip(1i64..)
                .map(|(n, stars)| n * stars)
                .sum();
            let low: i64 = r.distribution[..LOW_STARS as usize].iter().sum();
            StationStatsDto {
                org_id: r.org_id,
                org_name: j.node(r.org_id).map(|n| n.name.clone()),
                count: r.count,
                mean: if r.count > 0 {
                    (sum as f64 / r.count as f64 * 100.0).round() / 100.0
                } else {
                    0.0
                },
                distribution: r.distribution,
                low,
                followed_up: r.followed_up,
                follow_up_rate: (low > 0)
                    .then(|| (r.followed_up as f64 / low as f64 * 1000.0).round() / 1000.0),
            }
        })
        .collect();
    Ok(axum::Json(EvaluationStatsDto { items }))
}
