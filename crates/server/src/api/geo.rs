//! Map data for the console and point lookups: jurisdiction polygons, the road
//! network, the user's bounding box, and point → (station, district, city).

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::LatLngDto;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jurisdictions))
        .routes(routes!(roads))
        .routes(routes!(locate))
        .routes(routes!(bbox))
}

/// Jurisdiction areas in the caller's subtree as a GeoJSON FeatureCollection.
#[utoipa::path(get, path = "/api/v1/geo/jurisdictions", tag = "geo", security(("bearer" = ["orgs:read"])),
    responses((status = 200, description = "GeoJSON FeatureCollection; properties id, code, name, kind, parent_id, parent_code")))]
async fn jurisdictions(
    State(s): State<AppState>,
    p: Principal,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let all = s.store.all_orgs().await?;
    let mine: Vec<_> = all.into_iter().filter(|o| p.can_see(&o.path)).collect();
    Ok(axum::Json(crate::orgs::feature_collection(&mine)))
}

/// The city's road network as GeoJSON LineStrings (properties name, highway, oneway).
#[utoipa::path(get, path = "/api/v1/geo/roads", tag = "geo", security(("bearer" = ["orgs:read"])),
    responses((status = 200, description = "GeoJSON FeatureCollection"), (status = 404, body = crate::error::ErrorBody)))]
async fn roads(State(s): State<AppState>) -> ApiResult<axum::response::Response> {
    let city = s
        .city()
        .ok_or_else(|| ApiError::not_found("road network", "of this city"))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        city.roads_geojson.to_string(),
    )
        .into_response())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct LocateQuery {
    pub lat: f64,
    pub lng: f64,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct OrgRef {
    pub id: i64,
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct Located {
    pub station: Option<OrgRef>,
    pub district: Option<OrgRef>,
    pub city: Option<OrgRef>,
    /// `station`, `district`, `nearest_district` or `city`.
    pub resolution: String,
    /// For `nearest_district`: how far outside its area the point is.
    pub distance_m: Option<f64>,
    /// Whether the responsible org is in the caller's subtree. When false,
    /// nothing is named and `resolution` is `outside_jurisdiction`.
    pub within_jurisdiction: bool,
}

/// Resolves a point to its station, district and city, as far as the caller
/// may see them.
///
/// A dispatcher at a station asks "is this ours, and whose is it?": when the
/// responsible org (the station, else the district, else the city) is in the
/// caller's subtree the answer names it and whichever of its district and city
/// the caller may also see (a station's officer gets their own station, with
/// district and city null, as `/orgs/{id}` answers 404 for those). A point
/// outside the caller's subtree answers 200 with `within_jurisdiction: false`,
/// `resolution: "outside_jurisdiction"` and no org named at all, so that
/// neighbouring stations' names and ids stay as hidden as they are elsewhere.
#[utoipa::path(get, path = "/api/v1/geo/locate", tag = "geo", params(LocateQuery), security(("bearer" = ["orgs:read"])),
    responses((status = 200, body = Located), (status = 422, body = crate::error::ErrorBody)))]
async fn locate(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<LocateQuery>,
) -> ApiResult<axum::Json<Located>> {
    let pt = LatLngDto {
        lat: q.lat,
        lng: q.lng,
    }
    .parse("")?;
    let j = s.jurisdiction();
    let mut l = locate_point(&s, pt);
    let sees = |o: &Option<OrgRef>| {
        o.as_ref()
            .is_some_and(|o| j.ancestors(o.id).iter().any(|n| n.id == p.org_id))
    };
    let responsible = [&l.station, &l.district, &l.city]
        .into_iter()
        .find(|o| o.is_some())
        .cloned()
        .flatten();
    if !sees(&responsible) {
        return Ok(axum::Json(Located {
            station: None,
            district: None,
            city: None,
            resolution: "outside_jurisdiction".into(),
            distance_m: None,
            within_jurisdiction: false,
        }));
    }
    for o in [&mut l.station, &mut l.district, &mut l.city] {
        if !sees(o) {
            *o = None;
        }
    }
    Ok(axum::Json(l))
}

/// The full answer for a point, naming every tier (for callers that have
/// already established what the caller may see).
pub fn locate_point(s: &AppState, pt: pingan_core::LatLng) -> Located {
    use pingan_jurisdiction::Resolution;
    let j = s.jurisdiction();
    let l = j.locate(pt);
    let r = |id: Option<i64>| {
        id.and_then(|i| j.node(i)).map(|n| OrgRef {
            id: n.id,
            code: n.code.clone(),
            name: n.name.clone(),
        })
    };
    let (resolution, distance_m) = match l.resolution {
        Resolution::Station => ("station", None),
        Resolution::District => ("district", None),
        Resolution::NearestDistrict { distance_m } => ("nearest_district", Some(distance_m)),
        Resolution::City => ("city", None),
    };
    Located {
        station: r(l.station),
        district: r(l.district),
        city: r(l.city),
        resolution: resolution.into(),
        distance_m,
        within_jurisdiction: true,
    }
}

#[derive(Serialize, ToSchema)]
pub struct BBoxDto {
    pub min_lat: f64,
    pub min_lng: f64,
    pub max_lat: f64,
    pub max_lng: f64,
    pub center: LatLngDto,
}

/// Bounding box of the caller's jurisdiction (for fitting the map).
#[utoipa::path(get, path = "/api/v1/geo/bbox", tag = "geo", security(("bearer" = ["orgs:read"])),
    responses((status = 200, body = BBoxDto), (status = 404, body = crate::error::ErrorBody)))]
async fn bbox(State(s): State<AppState>, p: Principal) -> ApiResult<axum::Json<BBoxDto>> {
    use geo::BoundingRect;
    let j = s.jurisdiction();
    let mut acc: Option<geo::Rect<f64>> = None;
    let visible: std::collections::HashSet<i64> = s
        .store
        .all_orgs()
        .await?
        .into_iter()
        .filter(|o| p.can_see(&o.path))
        .map(|o| o.id)
        .collect();
    for n in j.nodes().iter().filter(|n| visible.contains(&n.id)) {
        if let Some(r) = n.area.as_ref().and_then(|a| a.bounding_rect()) {
            acc = Some(match acc {
                None => r,
                Some(a) => geo::Rect::new(
                    geo::coord! { x: a.min().x.min(r.min().x), y: a.min().y.min(r.min().y) },
                    geo::coord! { x: a.max().x.max(r.max().x), y: a.max().y.max(r.max().y) },
                ),
            });
        }
    }
    let r = acc.ok_or_else(|| ApiError::not_found("area", "of your jurisdiction"))?;
    Ok(axum::Json(BBoxDto {
        min_lat: r.min().y,
        min_lng: r.min().x,
        max_lat: r.max().y,
        max_lng: r.max().x,
        center: LatLngDto {
            lat: r.center().y,
            lng: r.center().x,
        },
    }))
}
