//! The incident taxonomy: everyone with incident access reads it; admins add
//! types and edit names, default priority, required capabilities and the
//! partners a type is diverted to by default. Edits are validated by the
//! domain crate (`Taxonomy::upsert`), persisted as overrides of the built-in
//! taxonomy (`taxonomy_overrides`, replayed in order at start by [`restore`]),
//! audited, and retrain the call classifier.

use axum::extract::State;
use axum::http::StatusCode;
use pingan_dispatch::{IncidentType, Taxonomy, TaxonomyError, TypeSpec};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(taxonomy, create_type))
        .routes(routes!(update_type))
}

#[derive(Serialize, ToSchema)]
pub struct TaxonomyTypeDto {
    pub code: String,
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    pub priority: String,
    pub required_capabilities: Vec<String>,
    pub first_responder_eligible: bool,
    /// Partners the type is diverted to by default (one-key diversion).
    pub partners: Vec<String>,
    pub police_response: bool,
}

#[derive(Serialize, ToSchema)]
pub struct TaxonomyDto {
    pub types: Vec<TaxonomyTypeDto>,
}

fn type_dto(t: &IncidentType) -> TaxonomyTypeDto {
    TaxonomyTypeDto {
        code: t.code().to_string(),
        parent: t.parent().map(str::to_string),
        name_zh: t.name_zh().to_string(),
        name_en: t.name_en().to_string(),
        priority: t.default_priority().to_string(),
        required_capabilities: t
            .required_capabilities()
            .iter()
            .map(|c| c.code().to_string())
            .collect(),
        first_responder_eligible: t.first_responder_eligible(),
        partners: t.partners().iter().map(|x| x.code().to_string()).collect(),
        police_response: t.police_response(),
    }
}

/// The incident taxonomy (types, default priorities, capabilities, partners).
#[utoipa::path(get, path = "/api/v1/taxonomy", tag = "incidents", security(("bearer" = ["incidents:read"])), responses((status = 200, body = TaxonomyDto)))]
async fn taxonomy(State(s): State<AppState>, _p: Principal) -> ApiResult<axum::Json<TaxonomyDto>> {
    let tax = s.dispatch.taxonomy();
    Ok(axum::Json(TaxonomyDto {
        types: tax.iter().map(type_dto).collect(),
    }))
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTypeRequest {
    /// 1–64 chars of a-z, 0-9, `_` and `.`, e.g. `public_order.drunk`.
    pub code: String,
    pub parent: Option<String>,
    pub name_zh: String,
    pub name_en: String,
    /// Default priority, P1..P4.
    pub priority: String,
    #[serde(default)]
    pub required_capabilities: Vec<String>,
    #[serde(default)]
    pub first_responder_eligible: bool,
    /// Partner codes a call of this type is diverted to by default: 12345, 120, 119, traffic.
    #[serde(default)]
    pub partners: Vec<String>,
    /// Whether police attend; `false` needs at least one partner.
    #[serde(default = "yes")]
    pub police_response: bool,
}

/// Changes to one type; absent fields keep their value. `parent: ""` makes the
/// type a root.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct TypeChange {
    pub parent: Option<String>,
    pub name_zh: Option<String>,
    pub name_en: Option<String>,
    /// Default priority, P1..P4.
    pub priority: Option<String>,
    pub required_capabilities: Option<Vec<String>>,
    pub first_responder_eligible: Option<bool>,
    pub partners: Option<Vec<String>>,
    pub police_response: Option<bool>,
}

/// One writer at a time: an edit reads the taxonomy, validates the change
/// against it and stores the result.
static EDIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The API's field name for a domain validation error.
fn taxonomy_error(e: TaxonomyError) -> ApiError {
    let field = match e.field() {
        "default_priority" => "priority",
        f => f,
    };
    ApiError::invalid(field, e.to_string())
}

fn spec_json(t: &TypeSpec) -> Value {
    json!({
        "code": t.code,
        "parent": t.parent,
        "name_zh": t.name_zh,
        "name_en": t.name_en,
        "default_priority": t.default_priority,
        "required_capabilities": t.required_capabilities,
        "first_responder_eligible": t.first_responder_eligible,
        "partners": t.partners,
        "police_response": t.police_response,
    })
}

fn spec_from_json(v: &Value) -> Option<TypeSpec> {
    let list = |k: &str| -> Option<Vec<String>> {
        v[k].as_array()?
            .iter()
            .map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    Some(TypeSpec {
        code: v["code"].as_str()?.to_string(),
        parent: v["parent"].as_str().map(str::to_string),
        name_zh: v["name_zh"].as_str()?.to_string(),
        name_en: v["name_en"].as_str()?.to_string(),
        default_priority: v["default_priority"].as_str()?.to_string(),
        required_capabilities: list("required_capabilities")?,
        first_responder_eligible: v["first_responder_eligible"].as_bool()?,
        partners: list("partners")?,
        police_response: v["police_response"].as_bool()?,
    })
}

/// Validates `spec` against the current taxonomy, stores it, swaps it in
/// and audits the edit.
async fn apply(
    s: &AppState,
    p: &Principal,
    spec: TypeSpec,
    action: &str,
) -> ApiResult<TaxonomyTypeDto> {
    let mut next: Taxonomy = (*s.dispatch.taxonomy()).clone();
    next.upsert(&spec).map_err(taxonomy_error)?;
    let stored = spec_json(&spec).to_string();
    s.store
        .put_taxonomy_override(&pingan_store::TaxonomyOverrideRow {
            code: spec.code.clone(),
            spec: Some(stored.clone()),
            updated_by: p.name.clone(),
            updated_at: s.now_ms(),
        })
        .await?;
    let dto = type_dto(next.require(&spec.code).map_err(taxonomy_error)?);
    s.dispatch.set_taxonomy(next);
    s.audit(
        p,
        Audit {
            action,
            object_type: "taxonomy",
            object_ids: vec![spec.code.clone()],
            purpose: None,
            outcome: "ok",
            detail: Some(stored),
        },
    )
    .await?;
    Ok(dto)
}

/// Adds an incident type (admin).
#[utoipa::path(post, path = "/api/v1/taxonomy", tag = "incidents", request_body = NewTypeRequest, security(("bearer" = ["taxonomy:write"])),
    responses((status = 201, body = TaxonomyTypeDto), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn create_type(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(r): ApiJson<NewTypeRequest>,
) -> ApiResult<(StatusCode, axum::Json<TaxonomyTypeDto>)> {
    let _g = EDIT.lock().await;
    if s.dispatch.taxonomy().get(&r.code).is_some() {
        return Err(
            ApiError::conflict(format!("type {:?} already exists; use PUT", r.code))
                .with_field("code"),
        );
    }
    let spec = TypeSpec {
        code: r.code,
        parent: r.parent.filter(|x| !x.is_empty()),
        name_zh: r.name_zh,
        name_en: r.name_en,
        default_priority: r.priority,
        required_capabilities: r.required_capabilities,
        first_responder_eligible: r.first_responder_eligible,
        partners: r.partners,
        police_response: r.police_response,
    };
    let dto = apply(&s, &p, spec, "taxonomy.create").await?;
    Ok((StatusCode::CREATED, axum::Json(dto)))
}

/// Edits an incident type (admin): names, default priority, required
/// capabilities, default diversion partners, police response, parent.
#[utoipa::path(put, path = "/api/v1/taxonomy/{code}", tag = "incidents", params(("code" = String, Path)), request_body = TypeChange,
    security(("bearer" = ["taxonomy:write"])),
    responses((status = 200, body = TaxonomyTypeDto), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn update_type(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(code): ApiPath<String>,
    ApiJson(r): ApiJson<TypeChange>,
) -> ApiResult<axum::Json<TaxonomyTypeDto>> {
    let _g = EDIT.lock().await;
    let current = s
        .dispatch
        .taxonomy()
        .get(&code)
        .map(IncidentType::to_spec)
        .ok_or_else(|| ApiError::not_found("incident type", &code))?;
    let spec = TypeSpec {
        parent: match r.parent {
            Some(x) if x.is_empty() => None,
            Some(x) => Some(x),
            None => current.parent,
        },
        name_zh: r.name_zh.unwrap_or(current.name_zh),
        name_en: r.name_en.unwrap_or(current.name_en),
        default_priority: r.priority.unwrap_or(current.default_priority),
        required_capabilities: r
            .required_capabilities
            .unwrap_or(current.required_capabilities),
        first_responder_eligible: r
            .first_responder_eligible
            .unwrap_or(current.first_responder_eligible),
        partners: r.partners.unwrap_or(current.partners),
        police_response: r.police_response.unwrap_or(current.police_response),
        code: current.code,
    };
    Ok(axum::Json(apply(&s, &p, spec, "taxonomy.update").await?))
}

/// Rebuilds the taxonomy from the built-in types and the stored admin edits,
/// in edit order, and installs it (classifier retrained). An edit that no
/// longer validates is skipped with a warning rather than blocking start.
pub async fn restore(s: &AppState) -> ApiResult<usize> {
    let rows = s.store.taxonomy_overrides().await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut tax = Taxonomy::builtin();
    let mut applied = 0;
    for row in &rows {
        let r = match &row.spec {
            Some(text) => serde_json::from_str::<Value>(text)
                .ok()
                .as_ref()
                .and_then(spec_from_json)
                .map(|spec| tax.upsert(&spec).map_err(|e| e.to_string()))
                .unwrap_or_else(|| Err("unreadable stored spec".into())),
            None => tax.remove(&row.code).map(drop).map_err(|e| e.to_string()),
        };
        match r {
            Ok(()) => applied += 1,
            Err(e) => tracing::warn!(code = %row.code, error = %e, "stored taxonomy edit skipped"),
        }
    }
    s.dispatch.set_taxonomy(tax);
    Ok(applied)
}
