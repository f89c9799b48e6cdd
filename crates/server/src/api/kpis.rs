//! Response-time KPIs per org subtree and incident type: call-to-dispatch,
//! dispatch-to-arrival, first response (median, 90th percentile), compliance
//! against targets (NFPA 1225-style: dispatched within 60 s for 90 %) and the
//! year-over-year change against the same window a year earlier.

use axum::extract::State;
use pingan_core::Timestamp;
use pingan_dispatch::{GroupBy, GroupKpi, IncidentTimes, KpiTargets, compute_kpis, year_over_year};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(kpis))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct KpiQuery {
    pub org_id: Option<i64>,
    pub r#type: Option<String>,
    /// RFC 3339 or epoch ms; default 30 days ago.
    pub from: Option<String>,
    /// RFC 3339 or epoch ms; default now.
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Stats {
    pub n: usize,
    pub median_s: Option<i64>,
    pub p90_s: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ComplianceDto {
    pub target_s: i64,
    pub target_fraction: f64,
    pub fraction: Option<f64>,
    pub met: bool,
    pub within: usize,
    pub total: usize,
}

#[derive(Serialize, ToSchema)]
pub struct YoyDto {
    pub count_previous: usize,
    pub count_change: Option<f64>,
    pub median_first_response_previous_s: Option<i64>,
    pub median_first_response_change: Option<f64>,
    pub dispatch_compliance_change_pp: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct KpiGroup {
    pub org_id: i64,
    /// `null` for all types together.
    pub type_code: Option<String>,
    pub count: usize,
    pub call_to_dispatch: Stats,
    pub dispatch_to_arrival: Stats,
    pub first_response: Stats,
    pub compliance: ComplianceDto,
    pub first_response_compliance: ComplianceDto,
    pub yoy: Option<YoyDto>,
}

#[derive(Serialize, ToSchema)]
pub struct KpiResult {
    pub from: String,
    pub to: String,
    pub groups: Vec<KpiGroup>,
}

const DAY_MS: i64 = 86_400_000;

/// Response times of police-attended incidents of an org subtree in a window.
pub(crate) async fn times(
    s: &AppState,
    path: &str,
    type_code: Option<&str>,
    from: i64,
    to: i64,
) -> ApiResult<Vec<IncidentTimes>> {
    let (rows, _) = s
        .store
        .list_incidents(
            &pingan_store::IncidentFilter {
                path_prefix: path.to_string(),
                type_code: type_code.map(str::to_string),
                since: Some(from),
                until: Some(to),
                ..Default::default()
            },
            pingan_store::Page {
                limit: 1_000_000,
                offset: 0,
            },
        )
        .await?;
    Ok(rows
        .into_iter()
        // Diverted incidents are the partners' response, not police KPIs.
        .filter(|r| {
            r.status != "diverted" && r.disposition.as_deref() != Some("handled_by_partner")
        })
        .filter_map(|r| {
            Some(IncidentTimes {
                org_id: String::new(),
                type_code: r.type_code?,
                call_at: Timestamp(r.created_at),
                first_dispatch_at: r.dispatched_at.map(Timestamp),
                first_arrival_at: r.arrived_at.map(Timestamp),
            })
        })
        .collect())
}

fn stats(d: &pingan_dispatch::kpi::DurationStats) -> Stats {
    Stats {
        n: d.n,
        median_s: d.median_s,
        p90_s: d.p90_s,
    }
}

fn compliance(c: &pingan_dispatch::kpi::Compliance) -> ComplianceDto {
    ComplianceDto {
        target_s: c.target_s,
        target_fraction: c.target_fraction,
        fraction: c.fraction,
        met: c.met,
        within: c.within,
        total: c.total,
    }
}

/// KPI groups (all types, then per type) for an org subtree and window.
#[utoipa::path(get, path = "/api/v1/kpis", tag = "kpis", params(KpiQuery), security(("bearer" = ["kpis:read"])),
    responses((status = 200, body = KpiResult), (status = 400, body = crate::error::ErrorBody)))]
async fn kpis(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<KpiQuery>,
) -> ApiResult<axum::Json<KpiResult>> {
    let now = s.now_ms();
    let to =
        q.to.as_deref()
            .map(|t| super::parse_time("to", t))
            .transpose()?
            .unwrap_or(now);
    let from = q
        .from
        .as_deref()
        .map(|t| super::parse_time("from", t))
        .transpose()?
        .unwrap_or(to - 30 * DAY_MS);
    if from >= to {
        return Err(
            ApiError::bad_request("invalid_query", "from must be before to").with_field("from"),
        );
    }
    let (org_id, path) = match q.org_id {
        Some(o) => {
            let org = s.store.find_org(o).await?.ok_or_else(|| {
                ApiError::bad_request("invalid_query", format!("org {o} does not exist"))
                    .with_field("org_id")
            })?;
            p.require_visible("that org", &org.path)?;
            (org.id, org.path)
        }
        None => (p.org_id, p.org_path.clone()),
    };
    let targets = KpiTargets::default();
    let cur_rows = times(&s, &path, q.r#type.as_deref(), from, to).await?;
    let prev_rows = times(
        &s,
        &path,
        q.r#type.as_deref(),
        from - 365 * DAY_MS,
        to - 365 * DAY_MS,
    )
    .await?;
    let mut cur: Vec<GroupKpi> = compute_kpis(&cur_rows, GroupBy::All, &targets);
    cur.extend(compute_kpis(&cur_rows, GroupBy::Type, &targets));
    let mut prev: Vec<GroupKpi> = compute_kpis(&prev_rows, GroupBy::All, &targets);
    prev.extend(compute_kpis(&prev_rows, GroupBy::Type, &targets));
    let yoy = year_over_year(&cur, &prev);
    let groups = cur
        .iter()
        .map(|g| {
            let y = yoy
                .iter()
                .find(|y| y.type_code == g.type_code && y.org_id == g.org_id)
                .map(|y| YoyDto {
                    count_previous: y.count_previous,
                    count_change: y.count_change,
                    median_first_response_previous_s: y.median_first_response_previous_s,
                    median_first_response_change: y.median_first_response_change,
                    dispatch_compliance_change_pp: y.dispatch_compliance_change_pp,
                });
            KpiGroup {
                org_id,
                type_code: g.type_code.clone(),
                count: g.count,
                call_to_dispatch: stats(&g.call_to_dispatch),
                dispatch_to_arrival: stats(&g.dispatch_to_arrival),
                first_response: stats(&g.first_response),
                compliance: compliance(&g.dispatch_compliance),
                first_response_compliance: compliance(&g.first_response_compliance),
                yoy: y,
            }
        })
        .collect();
    Ok(axum::Json(KpiResult {
        from: super::rfc3339(from),
        to: super::rfc3339(to),
        groups,
    }))
}
