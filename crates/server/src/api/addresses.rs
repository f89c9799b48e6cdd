//! Standard addresses (标准地址): free-text geocoding to the best standard
//! address with a score, and one address with its houses and residents
//! (residents are personal data: `X-Purpose` and audit; an address outside the
//! caller's jurisdiction is answered 404).

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::LatLngDto;
use crate::AppState;
use crate::audit::{Audit, Purpose};
use crate::auth::Principal;
use crate::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::fusion::Visibility;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(geocode))
        .routes(routes!(get_address))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GeocodeParams {
    /// Free-text Chinese address.
    pub q: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct GeocodeDto {
    /// Standard address id; null when only a street name matched.
    pub address_id: Option<i64>,
    pub text: String,
    pub location: LatLngDto,
    /// 0..1.
    pub score: f64,
    pub matched: Vec<String>,
}

#[utoipa::path(get, path = "/api/v1/addresses/geocode", tag = "addresses", params(GeocodeParams),
    security(("bearer" = ["entities:read"])),
    responses((status = 200, body = GeocodeDto), (status = 404, body = crate::error::ErrorBody),
        (status = 422, body = crate::error::ErrorBody)))]
async fn geocode(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<GeocodeParams>,
) -> ApiResult<axum::Json<GeocodeDto>> {
    let text = q.q.trim();
    if text.is_empty() || text.chars().count() > 200 {
        return Err(ApiError::invalid("q", "1..=200 characters"));
    }
    let m = s
        .fusion
        .geocode(text)
        .ok_or_else(|| ApiError::not_found("address matching", text))?;
    Ok(axum::Json(GeocodeDto {
        address_id: m.address_id,
        text: m.text,
        location: LatLngDto {
            lat: m.point.lat(),
            lng: m.point.lng(),
        },
        score: m.score,
        matched: m.matched.iter().map(|x| (*x).to_owned()).collect(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResidentDto {
    pub id_number: String,
    pub name: String,
    /// `owner`, `resident` or `tenant`.
    pub relation: String,
    pub since: Option<String>,
    pub until: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HouseDto {
    pub id: i64,
    pub code: String,
    pub kind: String,
    pub area_m2: Option<f64>,
    pub residents: Vec<ResidentDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AddressDto {
    pub id: i64,
    pub code: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub street: String,
    pub community: String,
    pub road: String,
    pub number: String,
    pub building: Option<String>,
    pub unit: Option<String>,
    pub room: Option<String>,
    pub text: String,
    pub location: LatLngDto,
    pub houses: Vec<HouseDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AddressPath {
    pub id: i64,
}

#[utoipa::path(get, path = "/api/v1/addresses/{id}", extensions(("x-personal-data" = json!("read"))), tag = "addresses", params(("id" = i64, Path), ("X-Purpose" = String, Header, description = "why this personal data is needed (percent-encode non-ASCII)")),
    security(("bearer" = ["entities:read"])),
    responses((status = 200, body = AddressDto), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
async fn get_address(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(AddressPath { id }): ApiPath<AddressPath>,
) -> ApiResult<axum::Json<AddressDto>> {
    let a = s.store.get_std_address(id).await?;
    if let Visibility::Org(org) = Visibility::of(&p, &s.jurisdiction()) {
        let located = pingan_core::LatLng::new(a.lat, a.lng)
            .map(|pt| s.jurisdiction().locate(pt))
            .ok();
        let inside = located.is_some_and(|l| [l.station, l.district, l.city].contains(&Some(org)));
        if !inside {
            return Err(ApiError::not_found("address", id));
        }
    }
    let mut houses = Vec::new();
    for h in s.store.houses_at(a.id).await? {
        let residents = s
            .store
            .residents_of(h.id)
            .await?
            .into_iter()
            .map(|r| ResidentDto {
                id_number: r.id_number,
                name: r.name,
                relation: r.relation,
                since: r.since,
                until: r.until,
            })
            .collect();
        houses.push(HouseDto {
            id: h.id,
            code: h.code,
            kind: h.kind,
            area_m2: h.area_m2,
            residents,
        });
    }
    s.audit(
        &p,
        Audit {
            action: "address.read",
            object_type: "address",
            object_ids: vec![a.id.to_string()],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: Some(format!("{} houses", houses.len())),
        },
    )
    .await?;
    Ok(axum::Json(AddressDto {
        id: a.id,
        code: a.code,
        province: a.province,
        city: a.city,
        district: a.district,
        street: a.street,
        community: a.community,
        road: a.road,
        number: a.number,
        building: a.building,
        unit: a.unit,
        room: a.room,
        text: a.full_text,
        location: LatLngDto {
            lat: a.lat,
            lng: a.lng,
        },
        houses,
    }))
}
