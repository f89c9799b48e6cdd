//! The citizen notification delivery log for admins and auditors: every
//! outbox message with its status and each attempt (time, channel, status
//! code, error, duration). Recipients are masked; message bodies are not
//! shown (the first one carries the receipt code).

use axum::extract::State;
use pingan_core::normalize::mask::mask_phone;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{PageQuery, Paged, rfc3339};
use crate::AppState;
use crate::audit::{Audit, Purpose};
use crate::auth::Principal;
use crate::error::{ApiQuery, ApiResult};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notifications))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// 1..=1000, default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
    pub incident_id: Option<i64>,
    /// `pending`, `delivered`, `failed`, `no_channel`
    pub status: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptDto {
    pub attempt: i64,
    pub at: String,
    pub channel: String,
    pub status_code: Option<i64>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationDto {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub template: String,
    pub recipient_masked: String,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub log: Vec<AttemptDto>,
}

const STATUSES: [&str; 4] = ["pending", "delivered", "failed", "no_channel"];

/// The delivery log (`X-Purpose` required; audited).
#[utoipa::path(get, path = "/api/v1/notifications", extensions(("x-personal-data" = json!("read"))), tag = "notifications",
    params(NotificationQuery, ("X-Purpose" = String, Header)),
    security(("bearer" = ["notifications:read"])),
    responses((status = 200, body = Paged<NotificationDto>), (status = 400, body = crate::error::ErrorBody)))]
async fn list_notifications(
    State(s): State<AppState>,
    p: Principal,
    purpose: Purpose,
    ApiQuery(q): ApiQuery<NotificationQuery>,
) -> ApiResult<axum::Json<Paged<NotificationDto>>> {
    let page = PageQuery {
        limit: q.limit,
        offset: q.offset,
    }
    .page()?;
    super::check_status_filter(q.status.as_deref(), &STATUSES)?;
    let (rows, total) = s
        .store
        .list_notifications(
            &pingan_store::NotificationFilter {
                path_prefix: p.org_path.clone(),
                incident_id: q.incident_id,
                status: q.status.clone(),
            },
            page,
        )
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for n in rows {
        let log = s
            .store
            .notification_attempts(n.id)
            .await?
            .into_iter()
            .map(|a| AttemptDto {
                attempt: a.attempt,
                at: rfc3339(a.at),
                channel: a.channel,
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect();
        items.push(NotificationDto {
            id: n.id,
            incident_id: n.incident_id,
            template: n.template,
            recipient_masked: mask_phone(&n.recipient),
            status: n.status,
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at.map(rfc3339),
            last_error: n.last_error,
            created_at: rfc3339(n.created_at),
            delivered_at: n.delivered_at.map(rfc3339),
            log,
        });
    }
    let mut audit = Audit::ok(
        "notification.read",
        "notification",
        items.iter().map(|n| n.id.to_string()).collect(),
    )
    .purpose(&purpose.0);
    if let Some(i) = q.incident_id {
        audit = audit.detail(format!("incident {i}"));
    }
    s.audit(&p, audit).await?;
    Ok(axum::Json(Paged::new(items, total, page)))
}
