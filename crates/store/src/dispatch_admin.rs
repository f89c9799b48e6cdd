//! Dispatch administration state: pending escalations of unacknowledged
//! dispatches (so a restart re-arms their deadlines) and re-attaching the
//! calls of a merged duplicate incident. Taxonomy edits live in
//! `taxonomy_overrides` (see `dispatch.rs`).

use sqlx::Row;

use crate::{Result, Store, db};

/// One pending escalation: the server's serialised escalation state and its
/// next deadline (ms), `None` once nothing more is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationRow {
    pub incident_id: i64,
    /// JSON written and read by the server.
    pub state: String,
    pub deadline: Option<i64>,
    pub updated_at: i64,
}

impl Store {
    /// Creates or replaces the pending escalation of an incident.
    pub async fn put_escalation(&self, e: &EscalationRow) -> Result<()> {
        let _writer = self.main_writer().await;
        db!(self, p => sqlx::query(
            "INSERT INTO dispatch_escalations (incident_id, state, deadline, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (incident_id) DO UPDATE SET state = excluded.state, deadline = excluded.deadline, updated_at = excluded.updated_at",
        )
        .bind(e.incident_id)
        .bind(&e.state)
        .bind(e.deadline)
        .bind(e.updated_at)
        .execute(p)
        .await?
        .rows_affected());
        Ok(())
    }

    /// Forgets an incident's escalation (acknowledged, closed, or finished).
    /// Returns whether one was stored.
    pub async fn delete_escalation(&self, incident_id: i64) -> Result<bool> {
        let _writer = self.main_writer().await;
        let n = db!(self, p => sqlx::query("DELETE FROM dispatch_escalations WHERE incident_id = $1")
            .bind(incident_id)
            .execute(p)
            .await?
            .rows_affected());
        Ok(n > 0)
    }

    /// Every stored escalation, earliest deadline first (none last).
    pub async fn pending_escalations(&self) -> Result<Vec<EscalationRow>> {
        Ok(db!(self, p => {
            let rows = sqlx::query(
                "SELECT incident_id, state, deadline, updated_at FROM dispatch_escalations \
                 ORDER BY CASE WHEN deadline IS NULL THEN 1 ELSE 0 END, deadline, incident_id",
            )
            .fetch_all(p)
            .await?;
            let mut out = Vec::with_capacity(rows.len());
            for r in rows {
                out.push(EscalationRow {
                    incident_id: r.try_get("incident_id")?,
                    state: r.try_get("state")?,
                    deadline: r.try_get("deadline")?,
                    updated_at: r.try_get("updated_at")?,
                });
            }
            out
        }))
    }

    /// Moves every call of incident `from` to incident `into` (merging a
    /// duplicate); returns how many calls moved.
    pub async fn move_incident_calls(&self, from: i64, into: i64) -> Result<u64> {
        self.get_incident(into).await?;
        Ok(
            db!(self, p => sqlx::query("UPDATE incident_calls SET incident_id = $1 WHERE incident_id = $2")
            .bind(into)
            .bind(from)
            .execute(p)
            .await?
            .rows_affected()),
        )
    }
}
