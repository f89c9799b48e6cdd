//! Console side-panel statistics over the caller's jurisdiction: today's
//! counts and medians, daily trend against the same days last year, and an
//! H3 heatmap of incidents with cell boundaries.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::auth::Principal;
use crate::dispatch::UTC_OFFSET_MIN;
use crate::error::{ApiError, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(today))
        .routes(routes!(trend))
        .routes(routes!(heatmap))
}

const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = UTC_OFFSET_MIN as i64 * 60_000;

/// Start of the local (China) day containing `ms`.
fn local_midnight(ms: i64) -> i64 {
    (ms + OFFSET_MS).div_euclid(DAY_MS) * DAY_MS - OFFSET_MS
}

async fn rows_between(
    s: &AppState,
    path: &str,
    from: i64,
    to: i64,
    type_code: Option<String>,
) -> ApiResult<Vec<pingan_store::IncidentRow>> {
    Ok(s.store
        .list_incidents(
            &pingan_store::IncidentFilter {
                path_prefix: path.to_string(),
                since: Some(from),
                until: Some(to),
                type_code,
                ..Default::default()
            },
            pingan_store::Page {
                limit: 1_000_000,
                offset: 0,
            },
        )
        .await?
        .0)
}

fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    pingan_dispatch::kpi::percentile_nearest_rank(&v, 50.0)
}

#[derive(Serialize, ToSchema)]
pub struct TodayCounts {
    pub calls: usize,
    pub incidents: usize,
    pub open: usize,
    pub dispatched: usize,
    pub arrived: usize,
    pub closed: usize,
    pub diverted: usize,
    pub median_dispatch_s: Option<i64>,
    pub median_arrival_s: Option<i64>,
    pub by_priority: BTreeMap<String, usize>,
    pub by_type: BTreeMap<String, usize>,
}

#[derive(Serialize, ToSchema)]
pub struct Today {
    pub today: TodayCounts,
}

/// Today's counts (local day) for side panels.
#[utoipa::path(get, path = "/api/v1/stats/today", tag = "kpis", security(("bearer" = ["kpis:read"])), responses((status = 200, body = Today)))]
async fn today(State(s): State<AppState>, p: Principal) -> ApiResult<axum::Json<Today>> {
    let now = s.now_ms();
    let rows = rows_between(&s, &p.org_path, local_midnight(now), now + 1, None).await?;
    let mut t = TodayCounts {
        calls: 0,
        incidents: rows.len(),
        open: 0,
        dispatched: 0,
        arrived: 0,
        closed: 0,
        diverted: 0,
        median_dispatch_s: None,
        median_arrival_s: None,
        by_priority: BTreeMap::new(),
        by_type: BTreeMap::new(),
    };
    let (mut cd, mut da) = (Vec::new(), Vec::new());
    for r in &rows {
        t.calls += s.store.incident_calls(r.id).await?.len();
        t.open += usize::from(r.closed_at.is_none());
        t.closed += usize::from(r.closed_at.is_some());
        t.diverted += usize::from(r.status == "diverted");
        if let Some(d) = r.dispatched_at {
            t.dispatched += 1;
            cd.push((d - r.created_at) / 1000);
            if let Some(a) = r.arrived_at {
                da.push((a - d) / 1000);
            }
        }
        t.arrived += usize::from(r.arrived_at.is_some());
        if let Some(pr) = &r.priority {
            *t.by_priority.entry(pr.clone()).or_default() += 1;
        }
        if let Some(ty) = &r.type_code {
            *t.by_type.entry(ty.clone()).or_default() += 1;
        }
    }
    t.median_dispatch_s = median(cd);
    t.median_arrival_s = median(da);
    Ok(axum::Json(Today { today: t }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct TrendQuery {
    /// 1..=366, default 30.
    pub days: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct TrendDay {
    /// Local date `yyyy-mm-dd`.
    pub date: String,
    pub count: usize,
    pub last_year: usize,
}

#[derive(Serialize, ToSchema)]
pub struct Trend {
    pub days: Vec<TrendDay>,
}

/// Daily incident counts this year and on the same days last year.
#[utoipa::path(get, path = "/api/v1/stats/trend", tag = "kpis", params(TrendQuery), security(("bearer" = ["kpis:read"])), responses((status = 200, body = Trend), (status = 400, body = crate::error::ErrorBody)))]
async fn trend(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<TrendQuery>,
) -> ApiResult<axum::Json<Trend>> {
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return Err(
            ApiError::bad_request("invalid_query", "days must be 1..=366").with_field("days"),
        );
    }
    let end = local_midnight(s.now_ms()) + DAY_MS;
    let start = end - days * DAY_MS;
    let year = 365 * DAY_MS;
    let cur = rows_between(&s, &p.org_path, start, end, None).await?;
    let prev = rows_between(&s, &p.org_path, start - year, end - year, None).await?;
    let mut out: Vec<TrendDay> = (0..days)
        .map(|i| {
            let (y, m, d, ..) =
                pingan_core::Timestamp(start + i * DAY_MS + OFFSET_MS).to_civil_utc();
            TrendDay {
                date: format!("{y:04}-{m:02}-{d:02}"),
                count: 0,
                last_year: 0,
            }
        })
        .collect();
    for r in cur {
        out[((r.created_at - start) / DAY_MS) as usize].count += 1;
    }
    for r in prev {
        out[((r.created_at - (start - year)) / DAY_MS) as usize].last_year += 1;
    }
    Ok(axum::Json(Trend { days: out }))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct HeatmapQuery {
    /// `incidents` (default).
    pub layer: Option<String>,
    /// H3 resolution 5..=10, default 8.
    pub res: Option<u8>,
    pub r#type: Option<String>,
    /// 1..=720, default 24.
    pub hours: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Cell {
    pub h3: String,
    pub count: usize,
    /// `[lng, lat]` ring.
    pub boundary: Vec<[f64; 2]>,
}

#[derive(Serialize, ToSchema)]
pub struct Heatmap {
    pub cells: Vec<Cell>,
}

/// Incidents per H3 cell over the last hours.
#[utoipa::path(get, path = "/api/v1/stats/heatmap", tag = "kpis", params(HeatmapQuery), security(("bearer" = ["kpis:read"])), responses((status = 200, body = Heatmap), (status = 400, body = crate::error::ErrorBody)))]
async fn heatmap(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<HeatmapQuery>,
) -> ApiResult<axum::Json<Heatmap>> {
    match q.layer.as_deref() {
        None | Some("incidents") => {}
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("layer {other:?} is not available here; use incidents"),
            )
            .with_field("layer"));
        }
    }
    let res = h3o::Resolution::try_from(q.res.unwrap_or(8))
        .ok()
        .filter(|r| (5..=10).contains(&u8::from(*r)))
        .ok_or_else(|| {
            ApiError::bad_request("invalid_query", "res must be 5..=10").with_field("res")
        })?;
    let hours = q.hours.unwrap_or(24);
    if !(1..=720).contains(&hours) {
        return Err(
            ApiError::bad_request("invalid_query", "hours must be 1..=720").with_field("hours"),
        );
    }
    let now = s.now_ms();
    let rows = rows_between(&s, &p.org_path, now - hours * 3_600_000, now + 1, q.r#type).await?;
    let mut counts: BTreeMap<h3o::CellIndex, usize> = BTreeMap::new();
    for r in rows {
        if let Ok(ll) = h3o::LatLng::new(r.lat, r.lng) {
            *counts.entry(ll.to_cell(res)).or_default() += 1;
        }
    }
    let cells = counts
        .into_iter()
        .map(|(c, count)| Cell {
            h3: c.to_string(),
            count,
            boundary: c.boundary().iter().map(|v| [v.lng(), v.lat()]).collect(),
        })
        .collect();
    Ok(axum::Json(Heatmap { cells }))
}
