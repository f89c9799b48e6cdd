//! Entities (一人一档): the profile of one resolved entity with its linked
//! records, per-field provenance, link explanations, relations and timeline;
//! analyst merge / split and undo of either, each with a reason, audited and
//! journaled so they survive restarts. A profile shows only the records located
//! in the caller's jurisdiction (city-wide for analysts); an entity with none
//! there is answered 404.

use axum::extract::State;
use pingan_core::normalize::mask::{mask_id_number, mask_name, mask_phone, mask_plate};
use pingan_fusion::model::Target;
use pingan_fusion::resolve::{EntityId, OperationId, RecordId};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::rfc3339;
use crate::AppState;
use crate::audit::{Audit, Purpose};
use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiJson, ApiPath, ApiResult};
use crate::fusion::Visibility;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_entity))
        .routes(routes!(merge_entity))
        .routes(routes!(split_entity))
        .routes(routes!(undo_operation))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EntityPath {
    pub id: u32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProvenanceDto {
    pub record: u32,
    pub source: String,
    pub file: String,
    pub line: u64,
    pub observed_at: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldValueDto {
    pub value: String,
    pub provenance: Vec<ProvenanceDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FieldDto {
    /// `kind.field`, e.g. `person.name`.
    pub field: String,
    pub values: Vec<FieldValueDto>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LinkedRecordDto {
    pub record: u32,
    pub source: String,
    pub category: String,
    pub file: String,
    pub line: u64,
    pub observed_at: String,
    /// Why the record is linked here (method, score, agreeing fields).
    pub explanation: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelationDto {
    /// `same_house`, `same_vehicle`, `same_phone`, `seen_together`.
    pub kind: String,
    pub other: u32,
    pub via: String,
    pub records: Vec<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TimelineDto {
    pub at: String,
    pub kind: String,
    pub summary: String,
    pub record: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProfileDto {
    pub id: u32,
    pub kind: String,
    pub masked: bool,
    pub sources: Vec<String>,
    pub records: Vec<LinkedRecordDto>,
    pub fields: Vec<FieldDto>,
    pub relations: Vec<RelationDto>,
    pub timeline: Vec<TimelineDto>,
}

fn mask_value(t: Target, v: &str) -> String {
    match format!("{}.{}", t.kind().as_str(), t.field()).as_str() {
        "person.name" => mask_name(v),
        "person.id_number" => mask_id_number(v),
        "person.phone" | "phone.number" => mask_phone(v),
        "vehicle.plate" => mask_plate(v),
        _ => v.to_owned(),
    }
}

/// An entity's profile. Analysts, commanders and admins see identifiers in clear
/// (with the stated purpose); other roles see them masked.
#[utoipa::path(get, path = "/api/v1/entities/{id}", extensions(("x-personal-data" = json!("read"))), tag = "entities", params(("id" = u32, Path), ("X-Purpose" = String, Header, description = "why this personal data is needed (percent-encode non-ASCII)")),
    security(("bearer" = ["entities:read"])),
    responses((status = 200, body = ProfileDto), (status = 400, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
async fn get_entity(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiPath(EntityPath { id }): ApiPath<EntityPath>,
) -> ApiResult<axum::Json<ProfileDto>> {
    let found = s
        .fusion
        .profile(EntityId(id), Visibility::of(&p, &s.jurisdiction()))
        .await?
        .ok_or_else(|| ApiError::not_found("entity", id))?;
    let (profile, expl, linked) = (found.profile, found.explanations, found.records);
    let masked = !pingan_fusion::mask::may_unmask(
        matches!(p.role, Role::Analyst | Role::Commander | Role::Admin),
        Some(&purpose.0),
    );
    let records = profile
        .records
        .iter()
        .filter_map(|r| {
            let rec = linked.get(r)?;
            Some(LinkedRecordDto {
                record: r.0,
                source: rec.source.to_string(),
                category: rec.category.to_string(),
                file: rec.file.to_string(),
                line: rec.line,
                observed_at: rfc3339(rec.observed_at.millis()),
                explanation: expl.iter().find(|(x, _)| x == r).map(|(_, e)| e.clone()),
            })
        })
        .collect();
    let fields = profile
        .fields
        .iter()
        .map(|f| FieldDto {
            field: format!("{}.{}", f.target.kind().as_str(), f.target.field()),
            values: f
                .values
                .iter()
                .map(|v| FieldValueDto {
                    value: if masked {
                        mask_value(f.target, &v.value)
                    } else {
                        v.value.clone()
                    },
                    provenance: v
                        .provenance
                        .iter()
                        .map(|pv| ProvenanceDto {
                            record: pv.record.0,
                            source: pv.source.clone(),
                            file: pv.file.clone(),
                            line: pv.line,
                            observed_at: rfc3339(pv.observed_at.millis()),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let dto = ProfileDto {
        id: profile.entity.0,
        kind: profile.kind.as_str().to_owned(),
        masked,
        sources: profile.sources.clone(),
        records,
        fields,
        relations: profile
            .relations
            .iter()
            .map(|r| RelationDto {
                kind: r.kind.as_str().to_owned(),
                other: r.other.0,
                via: if masked {
                    "***".to_owned()
                } else {
                    r.via.clone()
                },
                records: r.records.iter().map(|x| x.0).collect(),
            })
            .collect(),
        timeline: profile
            .timeline
            .iter()
            .map(|t| TimelineDto {
                at: rfc3339(t.at.millis()),
                kind: t.kind.clone(),
                summary: if masked {
                    String::new()
                } else {
                    t.summary.clone()
                },
                record: t.record.map(|r| r.0),
            })
            .collect(),
    };
    s.audit(
        &p,
        Audit {
            action: "entity.read",
            object_type: "entity",
            object_ids: vec![format!("E{}", profile.entity.0)],
            purpose: Some(&purpose.0),
            outcome: "ok",
            detail: Some(if masked { "masked" } else { "unmasked" }.to_owned()),
        },
    )
    .await?;
    Ok(axum::Json(dto))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MergeDto {
    /// The entity merged into the path's entity.
    pub from: u32,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OperationDto {
    /// Pass to `POST /api/v1/resolution/operations/{id}/undo`.
    pub operation: u32,
    /// The entity the records now live in (for a split: the new entity).
    pub entity: u32,
}

fn check_reason(reason: &str) -> ApiResult<()> {
    let n = reason.trim().chars().count();
    if n == 0 || n > 500 {
        return Err(ApiError::invalid("reason", "1..=500 characters"));
    }
    Ok(())
}

#[utoipa::path(post, path = "/api/v1/entities/{id}/merge", extensions(("x-personal-data" = json!("write"))), tag = "entities", params(("id" = u32, Path)),
    request_body = MergeDto, security(("bearer" = ["entities:write"])),
    responses((status = 200, body = OperationDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn merge_entity(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(EntityPath { id }): ApiPath<EntityPath>,
    ApiJson(body): ApiJson<MergeDto>,
) -> ApiResult<axum::Json<OperationDto>> {
    check_reason(&body.reason)?;
    let op = s
        .fusion
        .merge(EntityId(id), EntityId(body.from), &p.name, &body.reason)
        .await?;
    s.audit(
        &p,
        Audit {
            action: "entity.merge",
            object_type: "entity",
            object_ids: vec![format!("E{id}"), format!("E{}", body.from)],
            purpose: None,
            outcome: "ok",
            detail: Some(format!("operation {}: {}", op.0, body.reason)),
        },
    )
    .await?;
    Ok(axum::Json(OperationDto {
        operation: op.0,
        entity: id,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SplitDto {
    /// Record ids to move into a new entity.
    pub records: Vec<u32>,
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/entities/{id}/split", extensions(("x-personal-data" = json!("write"))), tag = "entities", params(("id" = u32, Path)),
    request_body = SplitDto, security(("bearer" = ["entities:write"])),
    responses((status = 200, body = OperationDto), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn split_entity(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(EntityPath { id }): ApiPath<EntityPath>,
    ApiJson(body): ApiJson<SplitDto>,
) -> ApiResult<axum::Json<OperationDto>> {
    check_reason(&body.reason)?;
    if body.records.is_empty() || body.records.len() > 10_000 {
        return Err(ApiError::invalid("records", "1..=10000 record ids"));
    }
    let records: Vec<RecordId> = body.records.iter().map(|r| RecordId(*r)).collect();
    let (op, new) = s
        .fusion
        .split(EntityId(id), &records, &p.name, &body.reason)
        .await?;
    s.audit(
        &p,
        Audit {
            action: "entity.split",
            object_type: "entity",
            object_ids: vec![format!("E{id}"), format!("E{}", new.0)],
            purpose: None,
            outcome: "ok",
            detail: Some(format!("operation {}: {}", op.0, body.reason)),
        },
    )
    .await?;
    Ok(axum::Json(OperationDto {
        operation: op.0,
        entity: new.0,
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UndoDto {
    pub reason: String,
}

#[utoipa::path(post, path = "/api/v1/resolution/operations/{id}/undo", extensions(("x-personal-data" = json!("write"))), tag = "entities",
    params(("id" = u32, Path)), request_body = UndoDto, security(("bearer" = ["entities:write"])),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn undo_operation(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(EntityPath { id }): ApiPath<EntityPath>,
    ApiJson(body): ApiJson<UndoDto>,
) -> ApiResult<axum::http::StatusCode> {
    check_reason(&body.reason)?;
    s.fusion
        .undo(OperationId(id), &p.name, &body.reason)
        .await?;
    s.audit(
        &p,
        Audit {
            action: "resolution.undo",
            object_type: "resolution_operation",
            object_ids: vec![id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: Some(body.reason),
        },
    )
    .await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}
