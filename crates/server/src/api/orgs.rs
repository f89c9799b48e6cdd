//! Org nodes (city bureau, district bureaus, stations) and their areas.

use axum::extract::State;
use axum::http::StatusCode;
use pingan_jurisdiction::{OrgKind, Tolerance, area_to_geojson, parse_area, read_area};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_orgs, create_org))
        .routes(routes!(get_org, update_org, delete_org))
        .routes(routes!(get_area, put_area))
        .routes(routes!(import_orgs))
}

#[derive(Serialize, ToSchema)]
pub struct OrgDto {
    pub id: i64,
    pub parent_id: Option<i64>,
    /// `city`, `district` or `station`.
    pub kind: String,
    pub code: String,
    pub name: String,
    pub has_area: bool,
    pub updated_at: String,
}

impl From<pingan_store::OrgRow> for OrgDto {
    fn from(o: pingan_store::OrgRow) -> Self {
        OrgDto {
            id: o.id,
            parent_id: o.parent_id,
            kind: o.kind,
            code: o.code,
            name: o.name,
            has_area: o.area.is_some(),
            updated_at: rfc3339(o.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrgRequest {
    /// Required except for the city bureau.
    pub parent_id: Option<i64>,
    pub kind: String,
    pub code: String,
    pub name: String,
    /// GeoJSON Polygon or MultiPolygon.
    #[schema(value_type = Option<Object>)]
    pub area: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgUpdate {
    pub name: Option<String>,
    pub code: Option<String>,
    /// Moves the node, with its whole subtree, under this parent.
    pub parent_id: Option<i64>,
}

pub(crate) async fn visible_org(
    s: &AppState,
    p: &Principal,
    id: i64,
) -> ApiResult<pingan_store::OrgRow> {
    let o = s.store.get_org(id).await?;
    p.require_found("org", id, &o.path)?;
    Ok(o)
}

/// Validates an area for node `id` (None when not yet created) of `kind` under
/// `parent_id`: a valid polygon that neither overlaps a sibling nor hangs out
/// of its parent (checked against the running jurisdiction index). Returns the
/// GeoJSON text to store.
fn checked_area(
    s: &AppState,
    v: &serde_json::Value,
    id: Option<i64>,
    kind: OrgKind,
    parent_id: Option<i64>,
) -> ApiResult<String> {
    let mp = parse_area(&v.to_string()).map_err(|e| ApiError::invalid("area", e.to_string()))?;
    s.jurisdiction()
        .check_placement(id, kind, parent_id, &mp, Tolerance::default())
        .map_err(|e| ApiError::invalid("area", e.to_string()))?;
    Ok(area_to_geojson(&mp))
}

/// Org nodes in the caller's subtree, ordered by hierarchy.
#[utoipa::path(get, path = "/api/v1/orgs", tag = "orgs", params(PageQuery), security(("bearer" = ["orgs:read"])), responses((status = 200, body = Paged<OrgDto>)))]
async fn list_orgs(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<Paged<OrgDto>>> {
    let page = q.page()?;
    let (rows, total) = s.store.list_orgs(&p.org_path, page).await?;
    Ok(axum::Json(Paged::new(
        rows.into_iter().map(OrgDto::from).collect(),
        total,
        page,
    )))
}

/// Creates an org node under a parent in the caller's subtree.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrgRequest, security(("bearer" = ["orgs:write"])),
    responses((status = 201, body = OrgDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_org(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewOrgRequest>,
) -> ApiResult<(StatusCode, axum::Json<OrgDto>)> {
    let kind = OrgKind::parse(&r.kind)
        .ok_or_else(|| ApiError::invalid("kind", "must be city, district or station"))?;
    if r.code.trim().is_empty() {
        return Err(ApiError::invalid("code", "code is empty"));
    }
    if r.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "name is empty"));
    }
    match (r.parent_id, kind) {
        (None, OrgKind::City) => {
            if p.org_path != "/"
                && !p.org_path.is_empty()
                && s.store
                    .list_orgs("/", pingan_store::Page::default())
                    .await?
                    .1
                    > 0
            {
                return Err(ApiError::forbidden(
                    "only the root may create another city bureau",
                ));
            }
        }
        (None, _) => {
            return Err(ApiError::invalid(
                "parent_id",
                "districts and stations need a parent",
            ));
        }
        (Some(pid), _) => {
            let parent = s.store.find_org(pid).await?.ok_or_else(|| {
                ApiError::invalid("parent_id", format!("org {pid} does not exist"))
            })?;
            p.require_visible("the parent org", &parent.path)?;
            if OrgKind::parse(&parent.kind).and_then(OrgKind::child) != Some(kind) {
                return Err(ApiError::invalid(
                    "kind",
                    format!("a {} cannot be under a {}", kind.as_str(), parent.kind),
                ));
            }
        }
    }
    let area = r
        .area
        .as_ref()
        .map(|a| checked_area(&s, a, None, kind, r.parent_id))
        .transpose()?;
    let o = s
        .store
        .create_org(
            &pingan_store::NewOrg {
                parent_id: r.parent_id,
                kind: kind.as_str().into(),
                code: r.code,
                name: r.name,
                area,
            },
            s.now_ms(),
        )
        .await?;
    s.reload_jurisdiction().await?;
    s.audit(&p, Audit::ok("org.create", "org", vec![o.id.to_string()]))
        .await?;
    Ok((StatusCode::CREATED, axum::Json(o.into())))
}

/// One org node.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), security(("bearer" = ["orgs:read"])),
    responses((status = 200, body = OrgDto), (status = 404, body = crate::error::ErrorBody)))]
async fn get_org(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<OrgDto>> {
    Ok(axum::Json(visible_org(&s, &p, id).await?.into()))
}

/// Renames, recodes or moves an org node. A move (`parent_id`) takes the whole
/// subtree along (paths of descendants, units, incidents, alerts, … rewritten in
/// one transaction) and needs a caller who can see both the current and the new
/// parent; the new parent must be of the kind above the node's (a station goes
/// under a district), must not lie in the node's own subtree (409), and the
/// node's area must fit under it (422, as for `PUT /orgs/{id}/area`).
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), request_body = OrgUpdate, security(("bearer" = ["orgs:write"])),
    responses((status = 200, body = OrgDto), (status = 403, body = crate::error::ErrorBody), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_org(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(r): ApiJson<OrgUpdate>,
) -> ApiResult<axum::Json<OrgDto>> {
    let o = visible_org(&s, &p, id).await?;
    if r.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid("name", "name is empty"));
    }
    if r.code.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return Err(ApiError::invalid("code", "code is empty"));
    }
    if let Some(to) = r.parent_id.filter(|&to| Some(to) != o.parent_id) {
        move_org(&s, &p, &o, to).await?;
    }
    let o = if r.name.is_some() || r.code.is_some() {
        let o = s
            .store
            .update_org(
                id,
                &pingan_store::OrgPatch {
                    name: r.name,
                    code: r.code,
                    area: None,
                },
                s.now_ms(),
            )
            .await?;
        s.audit(&p, Audit::ok("org.update", "org", vec![id.to_string()]))
            .await?;
        o
    } else {
        s.store.get_org(id).await?
    };
    Ok(axum::Json(o.into()))
}

/// Checks and performs moving `o` under `to`, audits it as `org.move` and
/// rebuilds the jurisdiction index (lookups walk parents for the district).
async fn move_org(s: &AppState, p: &Principal, o: &pingan_store::OrgRow, to: i64) -> ApiResult<()> {
    let parent = s
        .store
        .find_org(to)
        .await?
        .ok_or_else(|| ApiError::invalid("parent_id", format!("org {to} does not exist")))?;
    p.require_visible("the new parent org", &parent.path)?;
    match o.parent_id {
        Some(from) => {
            p.require_visible("the current parent org", &s.store.get_org(from).await?.path)?
        }
        None => {
            return Err(ApiError::invalid(
                "parent_id",
                format!("org {} is a city bureau at the root; it cannot move", o.id),
            ));
        }
    }
    if parent.path.starts_with(&o.path) {
        return Err(ApiError::conflict(format!(
            "org {} cannot move under org {to} ({} {}), which is in its own subtree",
            o.id, parent.code, parent.name
        ))
        .with_field("parent_id"));
    }
    let kind = OrgKind::parse(&o.kind).unwrap_or(OrgKind::Station);
    if OrgKind::parse(&parent.kind).and_then(OrgKind::child) != Some(kind) {
        return Err(ApiError::invalid(
            "parent_id",
            format!(
                "a {} cannot be under a {} ({} {})",
                o.kind, parent.kind, parent.code, parent.name
            ),
        ));
    }
    if let Some(area) = o.area.as_deref().and_then(|a| read_area(a).ok()) {
        s.jurisdiction()
            .check_placement(Some(o.id), kind, Some(to), &area, Tolerance::default())
            .map_err(|e| ApiError::invalid("parent_id", e.to_string()))?;
    }
    s.store.move_org(o.id, to, s.now_ms()).await?;
    s.reload_jurisdiction().await?;
    s.audit(
        p,
        Audit::ok("org.move", "org", vec![o.id.to_string()]).detail(format!(
            "parent {} -> {to}",
            o.parent_id.unwrap_or_default()
        )),
    )
    .await?;
    Ok(())
}

/// Deletes an org node with no children, units or users.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), security(("bearer" = ["orgs:write"])),
    responses((status = 204, description = "deleted"), (status = 409, body = crate::error::ErrorBody)))]
async fn delete_org(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<StatusCode> {
    let o = visible_org(&s, &p, id).await?;
    if o.path == p.org_path {
        return Err(ApiError::forbidden("you cannot delete your own org node"));
    }
    s.store.delete_org(id).await?;
    s.reload_jurisdiction().await?;
    s.audit(&p, Audit::ok("org.delete", "org", vec![id.to_string()]))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The node's jurisdiction area as a GeoJSON Feature.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/area", tag = "orgs", params(("id" = i64, Path)), security(("bearer" = ["orgs:read"])),
    responses((status = 200, description = "GeoJSON Feature"), (status = 404, body = crate::error::ErrorBody)))]
async fn get_area(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<axum::Json<serde_json::Value>> {
    let o = visible_org(&s, &p, id).await?;
    if o.area.is_none() {
        return Err(ApiError::not_found("area of org", id));
    }
    // The parent's code makes the feature importable as it is.
    let parent = match o.parent_id {
        Some(pid) => Some(s.store.get_org(pid).await?.code),
        None => None,
    };
    Ok(axum::Json(crate::orgs::org_feature(&o, parent.as_deref())))
}

/// Replaces the node's area (GeoJSON Polygon, MultiPolygon or a Feature of one).
/// The area must be valid, must not overlap a sibling's (beyond 1,000 m² or 1% of
/// the smaller) and must lie within the parent's area (all but 1%).
#[utoipa::path(put, path = "/api/v1/orgs/{id}/area", tag = "orgs", params(("id" = i64, Path)), request_body(content = Object, description = "GeoJSON"),
    security(("bearer" = ["orgs:write"])), responses((status = 200, body = OrgDto), (status = 422, body = crate::error::ErrorBody)))]
async fn put_area(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(id): ApiPath<i64>,
    ApiJson(v): ApiJson<serde_json::Value>,
) -> ApiResult<axum::Json<OrgDto>> {
    let o = visible_org(&s, &p, id).await?;
    let kind = OrgKind::parse(&o.kind).unwrap_or(OrgKind::Station);
    let area = checked_area(&s, &v, Some(id), kind, o.parent_id)?;
    let o = s
        .store
        .update_org(
            id,
            &pingan_store::OrgPatch {
                area: Some(Some(area)),
                ..Default::default()
            },
            s.now_ms(),
        )
        .await?;
    s.reload_jurisdiction().await?;
    s.audit(&p, Audit::ok("org.area", "org", vec![id.to_string()]))
        .await?;
    Ok(axum::Json(o.into()))
}

#[derive(Serialize, ToSchema)]
pub struct ImportResult {
    pub created: usize,
    pub updated: usize,
}

/// Imports org nodes from a GeoJSON FeatureCollection (properties code, name, kind, parent_code).
#[utoipa::path(post, path = "/api/v1/orgs/import", tag = "orgs", request_body(content = Object, description = "GeoJSON FeatureCollection"),
    security(("bearer" = ["orgs:write"])), responses((status = 200, body = ImportResult), (status = 422, body = crate::error::ErrorBody)))]
async fn import_orgs(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(v): ApiJson<serde_json::Value>,
) -> ApiResult<axum::Json<ImportResult>> {
    if p.org_path.matches('/').count() > 2 {
        return Err(ApiError::forbidden(
            "importing the org tree needs city-level jurisdiction",
        ));
    }
    let result = crate::orgs::import_collection_report(&s.store, &v.to_string(), s.now_ms()).await;
    // An import refused part-way may have written the features before the bad
    // one: the index must follow the store either way.
    s.reload_jurisdiction().await?;
    let report = result.map_err(|e| match &e {
        crate::orgs::ImportError::Feature { index, field, .. } => {
            ApiError::invalid(format!("features[{index}].{field}"), e.to_string())
        }
        crate::orgs::ImportError::NotCollection(_) => ApiError::invalid("type", e.to_string()),
        crate::orgs::ImportError::Store(m) => ApiError::internal(m.clone()),
    })?;
    for m in &report.moved {
        s.audit(
            &p,
            Audit::ok("org.move", "org", vec![m.id.to_string()]).detail(format!(
                "parent {} -> {} (import)",
                m.from_parent.unwrap_or_default(),
                m.to_parent
            )),
        )
        .await?;
    }
    let (created, updated) = (report.created, report.updated);
    s.audit(
        &p,
        Audit::ok("org.import", "org", vec![])
            .detail(format!("created {created}, updated {updated}")),
    )
    .await?;
    Ok(axum::Json(ImportResult { created, updated }))
}
