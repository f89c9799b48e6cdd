//! `GET /api/v1/search`: Chinese full-text and identifier search over every
//! ingested record, with structured filters. Requires `X-Purpose`; lists are
//! always masked (unmasking is for single profiles); every search is audited
//! with its query. Callers below the city level (station officers, district
//! staff) only find records located in their jurisdiction.

use axum::extract::State;
use pingan_fusion::mask::mask_hit;
use pingan_fusion::search::{QueryKind, SearchQuery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{parse_time, rfc3339};
use crate::AppState;
use crate::audit::{Audit, Purpose};
use crate::auth::Principal;
use crate::error::{ApiError, ApiQuery, ApiResult};
use crate::fusion::Visibility;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// Free text (names, addresses), or an ID number / phone / plate for exact lookup.
    pub q: String,
    pub category: Option<String>,
    pub source: Option<String>,
    /// District name as parsed from addresses.
    pub district: Option<String>,
    /// RFC 3339 lower bound on the observation time.
    pub from: Option<String>,
    pub to: Option<String>,
    /// 1..=200, default 20.
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HitDto {
    pub record: u32,
    /// The entity the record belongs to now (person first).
    pub entity: Option<u32>,
    pub score: f32,
    pub source: String,
    pub category: String,
    pub district: Option<String>,
    pub observed_at: String,
    pub name: Option<String>,
    pub address: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub plate: Option<String>,
    pub masked: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// `text`, `id_number`, `phone` or `plate`.
    pub kind: String,
    pub total: usize,
    pub items: Vec<HitDto>,
}

#[utoipa::path(get, path = "/api/v1/search", extensions(("x-personal-data" = json!("read"))), tag = "search", params(SearchParams, ("X-Purpose" = String, Header, description = "why this personal data is needed (percent-encode non-ASCII)")),
    security(("bearer" = ["search"])),
    responses((status = 200, body = SearchResponse), (status = 400, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
async fn search(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiQuery(q): ApiQuery<SearchParams>,
) -> ApiResult<axum::Json<SearchResponse>> {
    let text = q.q.trim().to_owned();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(ApiError::invalid("q", "1..=200 characters"));
    }
    let limit = q.limit.unwrap_or(20);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::invalid("limit", "1..=200"));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > 10_000 {
        return Err(ApiError::invalid("offset", "0..=10000"));
    }
    let from = q
        .from
        .as_deref()
        .map(|v| parse_time("from", v))
        .transpose()?;
    let to = q.to.as_deref().map(|v| parse_time("to", v)).transpose()?;
    let query = SearchQuery {
        text: text.clone(),
        category: q.category.clone(),
        source: q.source.clone(),
        district: q.district.clone(),
        from: from.map(pingan_core::Timestamp::from_millis),
        to: to.map(pingan_core::Timestamp::from_millis),
        org: Visibility::of(&p, &s.jurisdiction()).org(),
        limit,
        offset,
    };
    let res = s.fusion.search(query).await?;
    let kind = match res.kind {
        QueryKind::FullText(_) => "text",
        QueryKind::IdNumber(_) => "id_number",
        QueryKind::Phone(_) => "phone",
        QueryKind::Plate(_) => "plate",
    };
    let items: Vec<HitDto> = res
        .hits
        .iter()
        .map(|h| {
            // Lists stay masked for every role: unmasking is per profile.
            let d = mask_hit(h, false, Some(&purpose.0)).hit;
            HitDto {
                record: d.record.0,
                entity: s.fusion.entity_of(d.record).map(|e| e.0),
                score: d.score,
                source: d.source,
                category: d.category,
                district: d.district,
                observed_at: rfc3339(d.observed_at.millis()),
                name: d.name,
                address: d.address,
                id_number: d.id_number,
                phone: d.phone,
                plate: d.plate,
                masked: true,
            }
        })
        .collect();
    s.audit(
        &p,
        Audit {
            action: "search",
            object_type: "record",
            object_ids: items.iter().map(|h| format!("R{}", h.record)).collect(),
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: Some(format!("q={text} total={}", res.total)),
        },
    )
    .await?;
    Ok(axum::Json(SearchResponse {
        kind: kind.to_owned(),
        total: res.total,
        items,
    }))
}
