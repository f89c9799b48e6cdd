//! The audit log for auditors, and the live stream.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, parse_time, rfc3339};
use crate::AppState;
use crate::audit::Audit;
use crate::auth::Principal;
use crate::error::{ApiError, ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(query_audit))
        .routes(routes!(verify_audit))
        .routes(routes!(stream))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Username.
    pub user: Option<String>,
    /// An object id the record touched.
    pub object: Option<String>,
    pub object_type: Option<String>,
    pub action: Option<String>,
    /// RFC 3339 or epoch ms, inclusive.
    pub from: Option<String>,
    /// RFC 3339 or epoch ms, exclusive.
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditDto {
    pub seq: i64,
    pub at: String,
    pub user: String,
    pub role: String,
    pub action: String,
    pub object_type: String,
    pub object_ids: Vec<String>,
    pub purpose: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub hash: String,
}

/// Audit records by user, object and time, newest first. Reading the log is itself audited.
#[utoipa::path(get, path = "/api/v1/audit", extensions(("x-personal-data" = json!("read"))), tag = "audit", params(AuditQuery), security(("bearer" = ["audit:read"])), responses((status = 200, body = Paged<AuditDto>)))]
async fn query_audit(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<axum::Json<Paged<AuditDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    // An auditor below the city bureau audits the people of its own subtree.
    let at_root = s.store.get_org(p.org_id).await?.parent_id.is_none();
    let f = pingan_store::AuditFilter {
        username: q.user.clone(),
        object_id: q.object.clone(),
        object_type: q.object_type.clone(),
        action: q.action.clone(),
        from: q
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to: q.to.as_deref().map(|t| parse_time("to", t)).transpose()?,
        within_org_path: (!at_root).then(|| p.org_path.clone()),
    };
    let (rows, total) = s.store.audit_query(&f, page).await?;
    // The query as the auditor wrote it, for the auditors of auditors.
    let detail = [
        ("user", &q.user),
        ("object", &q.object),
        ("object_type", &q.object_type),
        ("action", &q.action),
        ("from", &q.from),
        ("to", &q.to),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect::<Vec<_>>()
    .join(" ");
    let detail = if detail.is_empty() {
        "all records".to_string()
    } else {
        detail
    };
    s.audit(&p, Audit::ok("audit.read", "audit", vec![]).detail(detail))
        .await?;
    let items = rows
        .into_iter()
        .map(|r| AuditDto {
            seq: r.seq,
            at: rfc3339(r.entry.at),
            user: r.entry.username,
            role: r.entry.role,
            action: r.entry.action,
            object_type: r.entry.object_type,
            object_ids: r.entry.object_ids,
            purpose: r.entry.purpose,
            outcome: r.entry.outcome,
            detail: r.entry.detail,
            hash: r.hash,
        })
        .collect();
    Ok(axum::Json(Paged::new(items, total, page)))
}

#[derive(Serialize, ToSchema)]
pub struct AuditVerifyDto {
    pub ok: bool,
    pub checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
    /// The newest record whose chain head the ledger anchors (the log must
    /// still hold it, with that hash), and the ledger entry that anchors it.
    pub anchored_seq: Option<u64>,
    pub anchor_ledger_index: Option<u64>,
}

/// Re-walks the audit hash chain and reports the first broken record; then
/// checks the log against the newest anchor of its head in the ledger, which
/// catches records cut off the end (a chain that is merely shorter still
/// verifies on its own).
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", security(("bearer" = ["audit:read"])), responses((status = 200, body = AuditVerifyDto)))]
async fn verify_audit(State(s): State<AppState>) -> ApiResult<axum::Json<AuditVerifyDto>> {
    let v = s.store.audit_verify().await?;
    let anchor = crate::ledger::check_audit_anchor(&s.store)
        .await
        .map_err(|e| ApiError::internal(format!("reading the ledger's audit anchors: {e}")))?;
    let mut dto = AuditVerifyDto {
        ok: v.ok(),
        checked: v.checked,
        head_seq: v.head_seq,
        head_hash: v.head_hash,
        first_bad_seq: v.first_bad.as_ref().map(|b| b.0),
        reason: v.first_bad.map(|b| b.1),
        anchored_seq: anchor.as_ref().map(|a| a.audit_seq),
        anchor_ledger_index: anchor.as_ref().map(|a| a.ledger_index),
    };
    if dto.ok
        && let Some(a) = anchor
        && let Some(problem) = a.problem
    {
        dto.ok = false;
        dto.first_bad_seq = Some((dto.head_seq + 1).min(a.audit_seq as i64));
        dto.reason = Some(problem);
    }
    Ok(axum::Json(dto))
}

/// Live updates for the console (SSE): unit positions and status, incidents,
/// alerts, KPI ticks — only those in the caller's jurisdiction. EventSource may
/// pass the token as `?access_token=`.
#[utoipa::path(get, path = "/api/v1/stream", tag = "live", security(("bearer" = ["units:read"])), responses((status = 200, description = "text/event-stream")))]
async fn stream(State(s): State<AppState>, p: Principal) -> impl axum::response::IntoResponse {
    crate::live::sse(
        p,
        s.live.subscribe(),
        &["unit.", "incident.", "alert.", "kpi.", "handoff."],
    )
}
