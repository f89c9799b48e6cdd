//! Data sources (数据源) and record upload: register a source from its mapping
//! TOML, list and show sources with their import counts and rejection report,
//! and upload CSV (UTF-8/GBK), NDJSON, JSON arrays or xlsx bodies into the
//! ingest pipeline (per-row rejections with line, field and reason).

use axum::extract::{RawQuery, Request, State};
use axum::http::header;
use pingan_fusion::read::{FileFormat, TextEncoding};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::fusion::ImportRequest;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sources, create_source))
        .routes(routes!(get_source))
        .routes(routes!(upload_records))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceDto {
    pub id: i64,
    pub name: String,
    pub department: String,
    pub category: String,
    pub legal_basis: String,
    /// `full_snapshot` or `incremental`.
    pub update_mode: String,
    pub mapping_toml: String,
    pub records: i64,
    pub created_at: String,
}

async fn dto(s: &AppState, r: pingan_store::FusionSourceRow) -> ApiResult<SourceDto> {
    let records = s.store.count_fusion_records(Some(&r.name)).await?;
    Ok(SourceDto {
        id: r.id,
        records,
        name: r.name,
        department: r.department,
        category: r.category,
        legal_basis: r.legal_basis,
        update_mode: r.update_mode,
        mapping_toml: r.mapping_toml,
        created_at: rfc3339(r.created_at),
    })
}

/// Registered sources, one page in id order (`GET /api/v1/sources`).
#[utoipa::path(get, path = "/api/v1/sources", tag = "sources", params(PageQuery),
    security(("bearer" = ["sources:read"])),
    responses((status = 200, body = Paged<SourceDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_sources(
    State(s): State<AppState>,
    RawQuery(raw): RawQuery,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<axum::Json<Paged<SourceDto>>> {
    super::reject_unknown_params(raw.as_deref(), &["limit", "offset"])?;
    let page = q.page()?;
    let (rows, total) = s.store.list_fusion_sources_page(page).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(dto(&s, r).await?);
    }
    Ok(axum::Json(Paged::new(items, total, page)))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewSourceDto {
    /// The mapping file (TOML): `[source]` metadata and `[[field]]` mappings.
    pub mapping_toml: String,
}

#[utoipa::path(post, path = "/api/v1/sources", tag = "sources", request_body = NewSourceDto,
    security(("bearer" = ["sources:write"])),
    responses((status = 201, body = SourceDto), (status = 422, body = crate::error::ErrorBody),
        (status = 409, body = crate::error::ErrorBody)))]
async fn create_source(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(body): ApiJson<NewSourceDto>,
) -> ApiResult<(axum::http::StatusCode, axum::Json<SourceDto>)> {
    let row = s.fusion.add_source(&body.mapping_toml).await?;
    s.audit(
        &p,
        Audit {
            action: "source.create",
            object_type: "source",
            object_ids: vec![row.id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: Some(row.name.clone()),
        },
    )
    .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(dto(&s, row).await?),
    ))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RejectionDto {
    pub file: String,
    pub line: i64,
    pub field: Option<String>,
    pub reason: String,
}

impl From<pingan_store::FusionRejectionRow> for RejectionDto {
    fn from(r: pingan_store::FusionRejectionRow) -> Self {
        RejectionDto {
            file: r.file,
            line: r.line,
            field: r.field,
            reason: r.reason,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceDetail {
    #[serde(flatten)]
    pub source: SourceDto,
    /// The first 1000 rejections of this source.
    pub rejections: Vec<RejectionDto>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IdPath {
    pub id: i64,
}

#[utoipa::path(get, path = "/api/v1/sources/{id}", tag = "sources", params(("id" = i64, Path)),
    security(("bearer" = ["sources:read"])),
    responses((status = 200, body = SourceDetail), (status = 404, body = crate::error::ErrorBody)))]
async fn get_source(
    State(s): State<AppState>,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
) -> ApiResult<axum::Json<SourceDetail>> {
    let row = s.store.get_fusion_source(id).await?;
    let rejections = s
        .store
        .fusion_rejections(&row.name, None, 1000)
        .await?
        .into_iter()
        .map(RejectionDto::from)
        .collect();
    Ok(axum::Json(SourceDetail {
        source: dto(&s, row).await?,
        rejections,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    /// File name recorded as provenance (default `upload`).
    pub file: Option<String>,
    /// `auto` (default), `utf-8` or `gbk`/`gb18030` for CSV.
    pub encoding: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportResult {
    pub source: String,
    pub file: String,
    pub file_hash: String,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub duplicates: u64,
    pub updated: u64,
    pub merged: u64,
    pub finished: bool,
    pub resumed_from_line: Option<u64>,
    pub rejections: Vec<RejectionDto>,
}

/// Uploads records: `text/csv`, `application/x-ndjson`, `application/json`
/// (array) or `application/vnd.openxmlformats-officedocument.spreadsheetml.sheet`.
#[utoipa::path(post, path = "/api/v1/sources/{id}/records", extensions(("x-personal-data" = json!("write"))), tag = "sources",
    params(("id" = i64, Path), UploadQuery),
    request_body(content = String, description = "CSV, NDJSON, JSON array or xlsx bytes"),
    security(("bearer" = ["sources:write"])),
    responses((status = 200, body = ImportResult), (status = 404, body = crate::error::ErrorBody),
        (status = 415, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)))]
async fn upload_records(
    State(s): State<AppState>,
    p: Principal,
    ApiPath(IdPath { id }): ApiPath<IdPath>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> ApiResult<axum::Json<ImportResult>> {
    let row = s.store.get_fusion_source(id).await?;
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let format = if ct.contains("spreadsheetml") || ct.contains("excel") {
        FileFormat::Xlsx
    } else if ct.contains("ndjson") || ct.contains("jsonlines") {
        FileFormat::Ndjson
    } else if ct.contains("json") {
        FileFormat::JsonArray
    } else if ct.contains("csv") || ct.starts_with("text/plain") {
        FileFormat::Csv
    } else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send text/csv, application/x-ndjson, application/json or an xlsx content type",
        )
        .with_field("Content-Type"));
    };
    let encoding = match q.encoding.as_deref() {
        None => TextEncoding::Auto,
        Some(e) => TextEncoding::parse(e)
            .ok_or_else(|| ApiError::invalid("encoding", "use auto, utf-8, gbk or gb18030"))?,
    };
    let file = q.file.unwrap_or_else(|| "upload".to_owned());
    if file.is_empty() || file.len() > 255 {
        return Err(ApiError::invalid("file", "1..=255 bytes"));
    }
    let body = crate::error::read_body(req, &s).await?;
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "no records in the body",
        ));
    }
    let mut ireq = ImportRequest::new(format);
    ireq.encoding = encoding;
    let rep = s
        .fusion
        .import_bytes(&row.name, &file, body.to_vec(), ireq)
        .await?;
    s.audit(
        &p,
        Audit {
            action: "source.import",
            object_type: "source",
            object_ids: vec![row.id.to_string()],
            purpose: None,
            outcome: "ok",
            detail: Some(format!(
                "{file}: accepted {}, rejected {}, merged {}",
                rep.counts.accepted, rep.counts.rejected, rep.counts.merged
            )),
        },
    )
    .await?;
    Ok(axum::Json(ImportResult {
        source: rep.source,
        file: rep.file,
        file_hash: rep.file_hash,
        read: rep.counts.read,
        accepted: rep.counts.accepted,
        rejected: rep.counts.rejected,
        duplicates: rep.counts.duplicates,
        updated: rep.counts.updated,
        merged: rep.counts.merged,
        finished: rep.finished,
        resumed_from_line: rep.resumed_from_line,
        rejections: rep.rejections.into_iter().map(RejectionDto::from).collect(),
    }))
}
