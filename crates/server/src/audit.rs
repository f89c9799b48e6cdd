//! Writing audit records from handlers, and the `X-Purpose` extractor that
//! sensitive reads require.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use pingan_store::AuditEntry;

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

/// The reason the caller gave for a sensitive read (`X-Purpose` header).
#[derive(Debug, Clone)]
pub struct Purpose(pub String);

pub const PURPOSE_HEADER: &str = "x-purpose";

impl<S: Send + Sync> FromRequestParts<S> for Purpose {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let raw = header_purpose(&parts.headers).unwrap_or_default();
        if raw.is_empty() {
            return Err(ApiError::bad_request(
                "purpose_required",
                "this read touches personal data: state the reason in the X-Purpose header",
            )
            .with_field("X-Purpose"));
        }
        if raw.chars().count() > 500 {
            return Err(ApiError::invalid(
                "X-Purpose",
                "purpose is longer than 500 characters",
            ));
        }
        Ok(Purpose(raw))
    }
}

/// The `X-Purpose` header's reason, percent-decoded and trimmed; `None` when
/// absent or blank.
pub fn header_purpose(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get(PURPOSE_HEADER)
        .map(|v| decode_purpose(v.as_bytes()))
        .filter(|p| !p.is_empty())
}

/// Header values cannot carry raw non-ASCII text portably, so browsers send the
/// reason percent-encoded (UTF-8); plain text is taken as is.
pub fn decode_purpose(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = text.as_bytes().iter().copied();
    while let Some(b) = it.next() {
        if b == b'%' {
            let hi = it.next();
            let lo = it.next();
            match (hi.and_then(hex_val), lo.and_then(hex_val)) {
                (Some(h), Some(l)) => bytes.push(h << 4 | l),
                _ => return text.trim().to_string(),
            }
        } else {
            bytes.push(b);
        }
    }
    String::from_utf8(bytes)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| text.trim().to_string())
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// One audit record to write.
pub struct Audit<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_ids: Vec<String>,
    pub purpose: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: Option<String>,
}

impl<'a> Audit<'a> {
    /// A successful `action` on `object_type` objects, with no purpose or detail;
    /// add those with [`Audit::purpose`] and [`Audit::detail`].
    pub fn ok(action: &'a str, object_type: &'a str, object_ids: Vec<String>) -> Self {
        Audit {
            action,
            object_type,
            object_ids,
            purpose: None,
            outcome: "ok",
            detail: None,
        }
    }

    /// The `X-Purpose` reason the caller gave.
    pub fn purpose(mut self, purpose: &'a str) -> Self {
        self.purpose = Some(purpose);
        self
    }

    /// Free-text detail (e.g. the query an auditor ran).
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The record of this action by `username` acting in `role` at `at`;
    /// `user_id` for a person's account (none for citizens, the CLI and the
    /// demo's own actors).
    pub fn by(self, at: i64, user_id: Option<i64>, username: &str, role: &str) -> AuditEntry {
        AuditEntry {
            at,
            user_id,
            username: username.to_string(),
            role: role.to_string(),
            action: self.action.to_string(),
            object_type: self.object_type.to_string(),
            object_ids: self.object_ids,
            purpose: self.purpose.map(str::to_string),
            outcome: self.outcome.to_string(),
            detail: self.detail,
        }
    }
}

/// What the request being served contributes to its audit records.
struct RequestAudit {
    /// How many records it has appended.
    count: AtomicU32,
    /// The `X-Purpose` it stated, given to records whose handler named none.
    purpose: Option<String>,
}

tokio::task_local! {
    /// Set by [`crate::auth::enforce`] around a personal-data route's handler.
    static REQUEST: Arc<RequestAudit>;
}

/// Runs `fut` (a personal-data route's handler) counting the audit records it
/// appends, and returns its output with that count. Records it appends
/// without a purpose get `purpose`, the one the request stated.
pub async fn tallied<F: std::future::Future>(purpose: Option<String>, fut: F) -> (F::Output, u32) {
    let req = Arc::new(RequestAudit {
        count: AtomicU32::new(0),
        purpose,
    });
    let out = REQUEST.scope(req.clone(), fut).await;
    (out, req.count.load(Ordering::Relaxed))
}

impl AppState {
    /// Every audit record the server writes goes through here: appended to
    /// the chain, counted in the metrics and in the current request's tally.
    pub async fn append_audit(&self, mut entries: Vec<AuditEntry>) -> ApiResult<()> {
        // Records are group-committed with other requests' records: one that
        // PostgreSQL cannot store (a NUL in a name tried at login) must not
        // fail the whole batch.
        for e in &mut entries {
            for text in [&mut e.username, &mut e.action, &mut e.object_type]
                .into_iter()
                .chain(e.purpose.as_mut())
                .chain(e.detail.as_mut())
                .chain(e.object_ids.iter_mut())
            {
                if text.contains('\0') {
                    *text = text.replace('\0', "\u{FFFD}");
                }
            }
        }
        let n = entries.len() as u32;
        let _ = REQUEST.try_with(|r| {
            if let Some(p) = &r.purpose {
                for e in entries.iter_mut().filter(|e| e.purpose.is_none()) {
                    e.purpose = Some(p.clone());
                }
            }
        });
        self.store.audit_append(&entries).await?;
        self.metrics.audit_records.inc_by(u64::from(n));
        let _ = REQUEST.try_with(|r| r.count.fetch_add(n, Ordering::Relaxed));
        Ok(())
    }

    /// Appends an audit record for `who`. Fails the request if it cannot be
    /// written: personal data is never served unaudited.
    pub async fn audit(&self, who: &Principal, a: Audit<'_>) -> ApiResult<()> {
        let entry = a.by(self.now_ms(), who.user_id, &who.name, who.role.as_str());
        self.append_audit(vec![entry]).await
    }

    /// Audits an action by an unauthenticated caller (e.g. a failed login).
    pub async fn audit_anonymous(
        &self,
        username: &str,
        action: &str,
        outcome: &str,
        detail: Option<String>,
    ) -> ApiResult<()> {
        let entry = Audit {
            action,
            object_type: "session",
            object_ids: vec![],
            purpose: None,
            outcome,
            detail,
        }
        .by(self.now_ms(), None, username, "anonymous");
        self.append_audit(vec![entry]).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn purpose_is_percent_decoded() {
        assert_eq!(
            super::decode_purpose("%E6%A1%88%E4%BB%B6 17".as_bytes()),
            "案件 17"
        );
        assert_eq!(super::decode_purpose(b" case 17 "), "case 17");
        assert_eq!(super::decode_purpose(b"100%"), "100%");
    }
}
