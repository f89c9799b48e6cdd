//! One-key diversion (一键分流): which partner agencies get an incident, the
//! EIDO-inspired JSON hand-off payload (a wire format, hence serde), its
//! HMAC-SHA256 signature, the retry schedule, and the hand-off lifecycle
//! (queued → sent → accepted/rejected → resolved; failed after retries run out;
//! returned to 110 when 12345 finds a case urgent).
//!
//! Delivery itself (HTTP, durable queue) belongs to the server; this module
//! decides what to send, when to retry and what each partner answer means.

use hmac::{Hmac, KeyInit, Mac};
use pingan_core::{LatLng, Timestamp};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::taxonomy::{IncidentType, Partner, Priority};

/// Facts about the incident that add partners beyond the type's defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiversionFlags {
    /// Someone is hurt: 120.
    pub injuries: bool,
    /// Fire or smoke: 119.
    pub fire: bool,
    /// People trapped (vehicle, building, lift): 119 rescue.
    pub trapped: bool,
}

impl DiversionFlags {
    /// Cue words in a caller's description; negated mentions ("没人受伤") are
    /// ignored.
    pub fn from_text(text: &str) -> DiversionFlags {
        let has = |words: &[&str]| {
            words.iter().any(|w| {
                text.match_indices(w).any(|(i, _)| {
                    let before = &text[..i];
                    !["没有", "没人", "没", "未", "无", "不"]
                        .iter()
                        .any(|n| before.ends_with(n))
                })
            })
        };
        DiversionFlags {
            injuries: has(&["受伤", "流血", "出血", "骨折", "昏迷", "晕", "伤者", "摔倒"]),
            fire: has(&["着火", "起火", "冒烟", "火灾", "浓烟"]),
            trapped: has(&["被困", "困住", "卡在车里", "出不来"]),
        }
    }
}

/// Who gets the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiversionPlan {
    /// Partners to hand off to, without duplicates, in a stable order.
    pub partners: Vec<Partner>,
    /// Whether police also respond (a joint incident) or the incident is
    /// diverted entirely.
    pub police_response: bool,
}

impl DiversionPlan {
    /// Several agencies involved (联动).
    pub fn is_joint(&self) -> bool {
        self.partners.len() + usize::from(self.police_response) > 1
    }

    /// Nothing for partners: a police-only incident.
    pub fn is_police_only(&self) -> bool {
        self.partners.is_empty()
    }
}

/// Partners for an incident type plus the facts of this incident.
pub fn decide_partners(ty: &IncidentType, flags: &DiversionFlags) -> DiversionPlan {
    let mut partners: Vec<Partner> = ty.partners().to_vec();
    if flags.injuries {
        partners.push(Partner::Ems120);
    }
    if flags.fire || flags.trapped {
        partners.push(Partner::Fire119);
    }
    partners.sort();
    partners.dedup();
    DiversionPlan {
        partners,
        police_response: ty.police_response(),
    }
}

/// Whether a case that reached 12345 (as a call or a hand-off) must come back
/// to 110: police attend this type and it is urgent (P1/P2).
pub fn urgent_for_110(ty: &IncidentType, priority: Priority) -> bool {
    ty.police_response() && priority <= Priority::P2
}

/// Version string carried in every payload.
pub const PAYLOAD_VERSION: &str = "pingan-eido/0.1";

/// An agency in a hand-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyRef {
    pub id: String,
    pub name: String,
}

/// Incident component (after NENA EIDO's incident component).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentComponent {
    /// Incident number, e.g. `JQ20261124000123`.
    pub id: String,
    pub type_code: String,
    pub type_name_zh: String,
    pub type_name_en: String,
    /// `P1`…`P4`.
    pub priority: String,
    pub created_at: String,
    pub summary: String,
}

/// Location component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationComponent {
    pub lat: f64,
    pub lng: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    /// Responsible police org node.
    pub org_id: String,
}

/// Caller component: the partner needs a callback number; the name is masked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallerComponent {
    pub callback_phone: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub name_masked: Option<String>,
}

/// A timestamped note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteComponent {
    pub at: String,
    pub author: String,
    pub text: String,
}

/// The hand-off document POSTed to a partner's webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HandoffPayload {
    pub version: String,
    /// Unique per hand-off; partners use it to de-duplicate retries.
    pub message_id: String,
    pub sent_at: String,
    pub sender: AgencyRef,
    pub recipient: AgencyRef,
    pub incident: IncidentComponent,
    pub location: LocationComponent,
    pub caller: Option<CallerComponent>,
    pub notes: Vec<NoteComponent>,
    /// Police also attend (joint incident) or not.
    pub police_responding: bool,
    /// Other partners receiving the same incident.
    pub also_sent_to: Vec<String>,
    /// What the partner is asked to do, in Chinese.
    pub requested_action: String,
}

/// Everything needed to build a payload.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffInput<'a> {
    pub message_id: &'a str,
    pub now: Timestamp,
    pub sender: AgencyRef,
    pub partner: Partner,
    pub plan: &'a DiversionPlan,
    pub incident_number: &'a str,
    pub incident_type: &'a IncidentType,
    pub priority: Priority,
    pub created_at: Timestamp,
    pub summary: &'a str,
    pub point: LatLng,
    pub address: Option<&'a str>,
    pub org_id: &'a str,
    pub caller_phone: Option<&'a str>,
    pub caller_name: Option<&'a str>,
    pub notes: &'a [(Timestamp, &'a str, &'a str)],
}

fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count();
            format!("{first}{}", "*".repeat(rest.max(1)))
        }
        None => String::new(),
    }
}

/// Builds the hand-off document for one partner.
pub fn build_payload(input: &HandoffInput<'_>) -> HandoffPayload {
    let requested_action = match input.partner {
        Partner::Hotline12345 => "请按职责受理并反馈办理结果",
        Partner::Ems120 => "请派救护车到场救治",
        Partner::Fire119 => "请派消防救援力量到场",
        Partner::TrafficPolice => "请交警到场处置",
    };
    HandoffPayload {
        version: PAYLOAD_VERSION.to_string(),
        message_id: input.message_id.to_string(),
        sent_at: input.now.to_rfc3339(),
        sender: input.sender.clone(),
        recipient: AgencyRef {
            id: input.partner.code().to_string(),
            name: input.partner.name_zh().to_string(),
        },
        incident: IncidentComponent {
            id: input.incident_number.to_string(),
            type_code: input.incident_type.code().to_string(),
            type_name_zh: input.incident_type.name_zh().to_string(),
            type_name_en: input.incident_type.name_en().to_string(),
            priority: input.priority.to_string(),
            created_at: input.created_at.to_rfc3339(),
            summary: input.summary.to_string(),
        },
        location: LocationComponent {
            lat: input.point.lat(),
            lng: input.point.lng(),
            address: input.address.map(str::to_string),
            org_id: input.org_id.to_string(),
        },
        caller: input.caller_phone.map(|p| CallerComponent {
            callback_phone: p.to_string(),
            name_masked: input.caller_name.map(mask_name),
        }),
        notes: input
            .notes
            .iter()
            .map(|(at, author, text)| NoteComponent {
                at: at.to_rfc3339(),
                author: author.to_string(),
                text: text.to_string(),
            })
            .collect(),
        police_responding: input.plan.police_response,
        also_sent_to: input
            .plan
            .partners
            .iter()
            .filter(|p| **p != input.partner)
            .map(|p| p.code().to_string())
            .collect(),
        requested_action: requested_action.to_string(),
    }
}

/// Serialises a payload to the exact bytes that are signed and sent.
pub fn payload_body(payload: &HandoffPayload) -> Vec<u8> {
    serde_json::to_vec(payload).expect("payload types always serialise")
}

/// Name of the HTTP header carrying [`sign`]'s value.
pub const SIGNATURE_HEADER: &str = "X-Pingan-Signature";

/// Errors verifying a signature header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("signature header is not of the form t=<unix seconds>,v1=<hex>")]
    Malformed,
    #[error("signature timestamp {t} is more than {tolerance_s} s from now")]
    Expired { t: i64, tolerance_s: i64 },
    #[error("signature does not match the body")]
    Mismatch,
}

fn mac(secret: &[u8], t: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// Header value `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`.
/// Binding the timestamp into the MAC lets receivers reject replays.
pub fn sign(secret: &[u8], now: Timestamp, body: &[u8]) -> String {
    let t = now.secs();
    let tag = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(tag))
}

/// Checks a header produced by [`sign`] (constant-time comparison) and that its
/// timestamp is within `tolerance_s` of `now`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: Timestamp,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => v1 = hex::decode(v).ok(),
            _ => return Err(SignatureError::Malformed),
        }
    }
    let (Some(t), Some(tag)) = (t, v1) else {
        return Err(SignatureError::Malformed);
    };
    if (now.secs() - t).abs() > tolerance_s {
        return Err(SignatureError::Expired { t, tolerance_s });
    }
    mac(secret, t, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

/// Delivery retry configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before the first retry.
    pub base_delay_ms: u64,
    /// Cap on any single delay.
    pub max_delay_ms: u64,
    /// Attempts in total, the first one included.
    pub max_attempts: u32,
    /// Give up once this long has passed since the hand-off was queued.
    pub total_timeout_ms: u64,
    /// Per-request timeout the HTTP client should use.
    pub request_timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay_ms: 1_000,
            max_delay_ms: 5 * 60_000,
            max_attempts: 10,
            total_timeout_ms: 60 * 60_000,
            request_timeout_ms: 5_000,
        }
    }
}

/// SplitMix64 step: a tiny, well-mixed deterministic generator for jitter.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Delay after failed attempt number `failed_attempt` (1-based): exponential
/// backoff `base · 2^(n-1)` capped at `max_delay_ms`, with "equal jitter" (half
/// fixed, half uniform from `seed`) so retries from many hand-offs spread out
/// while each still waits at least half the backoff.
pub fn retry_delay_ms(policy: &RetryPolicy, failed_attempt: u32, seed: u64) -> u64 {
    let exp = policy
        .base_delay_ms
        .saturating_mul(1u64 << failed_attempt.saturating_sub(1).min(40))
        .min(policy.max_delay_ms);
    let half = exp / 2;
    let r = splitmix64(seed ^ u64::from(failed_attempt).wrapping_mul(0x9E37_79B9));
    half + r % (exp - half + 1)
}

/// All delays between attempts, as long as attempts and the total timeout allow.
pub fn retry_schedule(policy: &RetryPolicy, seed: u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut elapsed = 0u64;
    for n in 1..policy.max_attempts {
        let d = retry_delay_ms(policy, n, seed);
        if elapsed + d > policy.total_timeout_ms {
            break;
        }
        elapsed += d;
        out.push(d);
    }
    out
}

/// Hand-off lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandoffState {
    /// Waiting for (re)delivery.
    Queued,
    /// Delivered (partner answered 2xx), awaiting its decision.
    Sent,
    Accepted,
    Rejected,
    /// Partner reports the matter handled.
    Resolved,
    /// Retries exhausted or timed out.
    Failed,
    /// Sent back to 110 as urgent / police matter (回流).
    ReturnedTo110,
}

impl HandoffState {
    pub fn code(self) -> &'static str {
        match self {
            HandoffState::Queued => "queued",
            HandoffState::Sent => "sent",
            HandoffState::Accepted => "accepted",
            HandoffState::Rejected => "rejected",
            HandoffState::Resolved => "resolved",
            HandoffState::Failed => "failed",
            HandoffState::ReturnedTo110 => "returned_to_110",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            HandoffState::Rejected
                | HandoffState::Resolved
                | HandoffState::Failed
                | HandoffState::ReturnedTo110
        )
    }
}

impl std::fmt::Display for HandoffState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Result of one delivery attempt, as seen by the HTTP adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// 2xx.
    Delivered,
    /// Timeout, connection error, 5xx, 429 …: retry.
    Failed { error: String },
}

/// What a partner reports back (webhook callback or polling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerUpdate {
    Accepted {
        note: String,
    },
    Rejected {
        reason: String,
    },
    Resolved {
        feedback: String,
    },
    /// Urgent or police matter: give it back to 110. Only 12345 may do this.
    ReturnTo110 {
        reason: String,
    },
}

/// Errors from hand-off transitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandoffError {
    #[error("hand-off in state {from} cannot take {event}")]
    IllegalTransition {
        from: HandoffState,
        event: &'static str,
    },
    #[error("only the 12345 hotline can return cases to 110, not {partner}")]
    ReturnNotAllowed { partner: &'static str },
    #[error("time {at} is earlier than the last event {last}")]
    TimeWentBackwards { at: i64, last: i64 },
    #[error("stored hand-off {id:?} is inconsistent")]
    InconsistentSnapshot { id: String },
}

impl HandoffError {
    pub fn field(&self) -> &'static str {
        match self {
            HandoffError::IllegalTransition { .. } => "state",
            HandoffError::ReturnNotAllowed { .. } => "partner",
            HandoffError::TimeWentBackwards { .. } => "at",
            HandoffError::InconsistentSnapshot { .. } => "snapshot",
        }
    }
}

/// One recorded hand-off event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffEvent {
    pub at: Timestamp,
    pub state: HandoffState,
    pub detail: String,
}

/// Effect the server must apply to the incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoffEffect {
    /// Nothing beyond persisting the hand-off.
    None,
    /// Schedule the next delivery attempt.
    RetryAt(Timestamp),
    /// Alert the call taker: the partner could not be reached.
    DeliveryFailed,
    /// Reopen the incident for police dispatch (`Incident::reopen`).
    ReturnTo110 { reason: String },
    /// All partners done: the incident may be closed as handled by partner.
    PartnerResolved,
}

/// Every field of a hand-off, for the durable queue; restore with
/// [`Handoff::from_snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffSnapshot {
    pub id: String,
    pub incident_id: String,
    pub partner: Partner,
    pub state: HandoffState,
    pub attempts: u32,
    pub queued_at: Timestamp,
    pub next_attempt_at: Option<Timestamp>,
    pub seed: u64,
    pub history: Vec<HandoffEvent>,
}

/// A hand-off of one incident to one partner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    id: String,
    incident_id: String,
    partner: Partner,
    state: HandoffState,
    attempts: u32,
    queued_at: Timestamp,
    next_attempt_at: Option<Timestamp>,
    /// Seed for retry jitter (e.g. a hash of the id), so schedules are
    /// reproducible.
    seed: u64,
    history: Vec<HandoffEvent>,
}

impl Handoff {
    /// A new hand-off, queued for immediate delivery.
    pub fn new(
        id: &str,
        incident_id: &str,
        partner: Partner,
        now: Timestamp,
        seed: u64,
    ) -> Handoff {
        Handoff {
            id: id.to_string(),
            incident_id: incident_id.to_string(),
            partner,
            state: HandoffState::Queued,
            attempts: 0,
            queued_at: now,
            next_attempt_at: Some(now),
            seed,
            history: vec![HandoffEvent {
                at: now,
                state: HandoffState::Queued,
                detail: format!("queued for {}", partner.code()),
            }],
        }
    }

    /// All fields, for persistence.
    pub fn snapshot(&self) -> HandoffSnapshot {
        HandoffSnapshot {
            id: self.id.clone(),
            incident_id: self.incident_id.clone(),
            partner: self.partner,
            state: self.state,
            attempts: self.attempts,
            queued_at: self.queued_at,
            next_attempt_at: self.next_attempt_at,
            seed: self.seed,
            history: self.history.clone(),
        }
    }

    /// Restores a persisted hand-off after checking it is consistent.
    pub fn from_snapshot(s: HandoffSnapshot) -> Result<Handoff, HandoffError> {
        let ok = s.history.first().map(|e| e.state) == Some(HandoffState::Queued)
            && s.history.last().map(|e| e.state) == Some(s.state)
            && s.history.windows(2).all(|w| w[0].at <= w[1].at)
            && (s.state == HandoffState::Queued) == s.next_attempt_at.is_some();
        if !ok {
            return Err(HandoffError::InconsistentSnapshot { id: s.id });
        }
        Ok(Handoff {
            id: s.id,
            incident_id: s.incident_id,
            partner: s.partner,
            state: s.state,
            attempts: s.attempts,
            queued_at: s.queued_at,
            next_attempt_at: s.next_attempt_at,
            seed: s.seed,
            history: s.history,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn incident_id(&self) -> &str {
        &self.incident_id
    }
    pub fn partner(&self) -> Partner {
        self.partner
    }
    pub fn state(&self) -> HandoffState {
        self.state
    }
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    pub fn next_attempt_at(&self) -> Option<Timestamp> {
        self.next_attempt_at
    }
    pub fn history(&self) -> &[HandoffEvent] {
        &self.history
    }
    /// Latest partner feedback text (accept note, rejection reason, result).
    pub fn feedback(&self) -> Option<&str> {
        self.history
            .iter()
            .rev()
            .find(|e| {
                matches!(
                    e.state,
                    HandoffState::Accepted
                        | HandoffState::Rejected
                        | HandoffState::Resolved
                        | HandoffState::ReturnedTo110
                )
            })
            .map(|e| e.detail.as_str())
    }

    /// Whether a delivery attempt is due.
    pub fn is_due(&self, now: Timestamp) -> bool {
        self.state == HandoffState::Queued && self.next_attempt_at.is_some_and(|t| t <= now)
    }

    fn record(
        &mut self,
        at: Timestamp,
        state: HandoffState,
        detail: String,
    ) -> Result<(), HandoffError> {
        let last = self.history.last().expect("history starts with queued").at;
        if at < last {
            return Err(HandoffError::TimeWentBackwards {
                at: at.millis(),
                last: last.millis(),
            });
        }
        self.state = state;
        self.history.push(HandoffEvent { at, state, detail });
        Ok(())
    }

    /// Records a delivery attempt's outcome and decides what follows.
    pub fn record_attempt(
        &mut self,
        outcome: DeliveryOutcome,
        now: Timestamp,
        policy: &RetryPolicy,
    ) -> Result<HandoffEffect, HandoffError> {
        if self.state != HandoffState::Queued {
            return Err(HandoffError::IllegalTransition {
                from: self.state,
                event: "delivery_attempt",
            });
        }
        self.attempts += 1;
        match outcome {
            DeliveryOutcome::Delivered => {
                self.next_attempt_at = None;
                self.record(
                    now,
                    HandoffState::Sent,
                    format!("delivered on attempt {}", self.attempts),
                )?;
                Ok(HandoffEffect::None)
            }
            DeliveryOutcome::Failed { error } => {
                let delay = retry_delay_ms(policy, self.attempts, self.seed);
                let next = now.plus_millis(delay as i64);
                let deadline = self.queued_at.plus_millis(policy.total_timeout_ms as i64);
                if self.attempts >= policy.max_attempts || next > deadline {
                    self.next_attempt_at = None;
                    self.record(
                        now,
                        HandoffState::Failed,
                        format!("gave up after {} attempts: {error}", self.attempts),
                    )?;
                    Ok(HandoffEffect::DeliveryFailed)
                } else {
                    self.next_attempt_at = Some(next);
                    self.record(
                        now,
                        HandoffState::Queued,
                        format!(
                            "attempt {} failed: {error}; retry in {delay} ms",
                            self.attempts
                        ),
                    )?;
                    Ok(HandoffEffect::RetryAt(next))
                }
            }
        }
    }

    /// Applies a partner's answer.
    pub fn partner_update(
        &mut self,
        update: PartnerUpdate,
        now: Timestamp,
    ) -> Result<HandoffEffect, HandoffError> {
        let (event, allowed): (&'static str, &[HandoffState]) = match &update {
            PartnerUpdate::Accepted { .. } => ("accepted", &[HandoffState::Sent]),
            PartnerUpdate::Rejected { .. } => ("rejected", &[HandoffState::Sent]),
            // A partner may skip the explicit accept and report the result.
            PartnerUpdate::Resolved { .. } => {
                ("resolved", &[HandoffState::Sent, HandoffState::Accepted])
            }
            PartnerUpdate::ReturnTo110 { .. } => (
                "return_to_110",
                &[HandoffState::Sent, HandoffState::Accepted],
            ),
        };
        if !allowed.contains(&self.state) {
            return Err(HandoffError::IllegalTransition {
                from: self.state,
                event,
            });
        }
        match update {
            PartnerUpdate::Accepted { note } => {
                self.record(now, HandoffState::Accepted, note)?;
                Ok(HandoffEffect::None)
            }
            PartnerUpdate::Rejected { reason } => {
                self.record(now, HandoffState::Rejected, reason)?;
                Ok(HandoffEffect::None)
            }
            PartnerUpdate::Resolved { feedback } => {
                self.record(now, HandoffState::Resolved, feedback)?;
                Ok(HandoffEffect::PartnerResolved)
            }
            PartnerUpdate::ReturnTo110 { reason } => {
                if self.partner != Partner::Hotline12345 {
                    return Err(HandoffError::ReturnNotAllowed {
                        partner: self.partner.code(),
                    });
                }
                self.record(now, HandoffState::ReturnedTo110, reason.clone())?;
                Ok(HandoffEffect::ReturnTo110 { reason })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::taxonomy::Taxonomy;

    #[test]
    fn partners_for_joint_incidents() {
        let tax = Taxonomy::builtin();
        let fire = tax.get("fire").unwrap();
        let flags = DiversionFlags::from_text("三楼着火了，有人受伤，还有人被困");
        assert_eq!(
            flags,
            DiversionFlags {
                injuries: true,
                fire: true,
                trapped: true
            }
        );
        let plan = decide_partners(fire, &flags);
        assert_eq!(plan.partners, [Partner::Ems120, Partner::Fire119]);
        assert!(plan.police_response && plan.is_joint());
        let util = tax.get("non_police.utilities").unwrap();
        let plan = decide_partners(util, &DiversionFlags::from_text("小区停水了"));
        assert_eq!(plan.partners, [Partner::Hotline12345]);
        assert!(!plan.police_response && !plan.is_joint());
        let crash = tax.get("traffic.accident").unwrap();
        let plan = decide_partners(crash, &DiversionFlags::from_text("追尾了，没人受伤"));
        assert_eq!(plan.partners, [Partner::TrafficPolice]);
        let theft = tax.get("criminal.theft").unwrap();
        assert!(decide_partners(theft, &DiversionFlags::default()).is_police_only());
        assert!(urgent_for_110(theft, Priority::P2));
        assert!(!urgent_for_110(theft, Priority::P3));
        assert!(!urgent_for_110(util, Priority::P1));
    }

    fn sample_payload() -> HandoffPayload {
        let tax = Taxonomy::builtin();
        let ty = tax.get("non_police.utilities").unwrap();
        let plan = decide_partners(ty, &DiversionFlags::default());
        let t = Timestamp::from_civil_utc(2026, 11, 24, 2, 0, 0);
        let notes = [(t, "taker-7", "来电人称已停水一天")];
        build_payload(&HandoffInput {
            message_id: "h-1",
            now: t.plus_secs(30),
            sender: AgencyRef {
                id: "city-110".into(),
                name: "市公安局指挥中心".into(),
            },
            partner: Partner::Hotline12345,
            plan: &plan,
            incident_number: "JQ20261124000001",
            incident_type: ty,
            priority: Priority::P4,
            created_at: t,
            summary: "小区停水",
            point: LatLng::new(30.6, 104.06).unwrap(),
            address: Some("幸福小区"),
            org_id: "station-1",
            caller_phone: Some("13800138000"),
            caller_name: Some("张三丰"),
            notes: &notes,
        })
    }

    #[test]
    fn payload_shape_and_signature_round_trip() {
        let p = sample_payload();
        assert_eq!(
            p.caller.as_ref().unwrap().name_masked.as_deref(),
            Some("张**")
        );
        assert_eq!(p.recipient.id, "12345");
        assert!(!p.police_responding);
        let body = payload_body(&p);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["incident"]["id"], "JQ20261124000001");
        assert_eq!(v["version"], PAYLOAD_VERSION);
        assert_eq!(v["location"]["address"], "幸福小区");
        let back: HandoffPayload = serde_json::from_slice(&body).unwrap();
        assert_eq!(back, p);

        let now = Timestamp::from_secs(1_790_000_000);
        let header = sign(b"s3cret", now, &body);
        assert!(header.starts_with("t=1790000000,v1="));
        assert_eq!(header.len(), "t=1790000000,v1=".len() + 64);
        assert_eq!(
            verify(b"s3cret", &header, &body, now.plus_secs(10), 300),
            Ok(())
        );
        assert_eq!(
            verify(b"other", &header, &body, now, 300),
            Err(SignatureError::Mismatch)
        );
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        assert_eq!(
            verify(b"s3cret", &header, &tampered, now, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", &header, &body, now.plus_secs(301), 300),
            Err(SignatureError::Expired {
                t: 1_790_000_000,
                tolerance_s: 300
            })
        );
        assert_eq!(
            verify(b"s3cret", "v1=zz", &body, now, 300),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn known_hmac_vector() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn retry_schedule_is_deterministic_bounded_and_growing() {
        let policy = RetryPolicy::default();
        let a = retry_schedule(&policy, 42);
        assert_eq!(a, retry_schedule(&policy, 42));
        assert_ne!(a, retry_schedule(&policy, 43));
        assert_eq!(a.len(), 9);
        for (i, d) in a.iter().enumerate() {
            let exp = (1000u64 << i).min(300_000);
            assert!(*d >= exp / 2 && *d <= exp, "delay {i} = {d}");
        }
        let tight = RetryPolicy {
            total_timeout_ms: 10_000,
            ..policy
        };
        assert!(retry_schedule(&tight, 42).iter().sum::<u64>() <= 10_000);
    }

    #[test]
    fn lifecycle_with_failures_recovery_and_return() {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let policy = RetryPolicy::default();
        let mut h = Handoff::new("h-1", "JQ20261124000001", Partner::Hotline12345, t0, 7);
        assert!(h.is_due(t0));
        let e = h
            .record_attempt(
                DeliveryOutcome::Failed {
                    error: "connection refused".into(),
                },
                t0,
                &policy,
            )
            .unwrap();
        let HandoffEffect::RetryAt(next) = e else {
            panic!("expected a retry, got {e:?}")
        };
        assert!(!h.is_due(t0));
        assert!(h.is_due(next));
        assert_eq!(
            next.millis() - t0.millis(),
            retry_delay_ms(&policy, 1, 7) as i64
        );
        h.record_attempt(DeliveryOutcome::Delivered, next, &policy)
            .unwrap();
        assert_eq!(h.state(), HandoffState::Sent);
        assert_eq!(h.attempts(), 2);
        assert_eq!(
            h.record_attempt(DeliveryOutcome::Delivered, next, &policy),
            Err(HandoffError::IllegalTransition {
                from: HandoffState::Sent,
                event: "delivery_attempt"
            })
        );
        h.partner_update(
            PartnerUpdate::Accepted {
                note: "已受理".into(),
            },
            next.plus_secs(60),
        )
        .unwrap();
        let e = h
            .partner_update(
                PartnerUpdate::ReturnTo110 {
                    reason: "现场有燃气泄漏，需警方处置".into(),
                },
                next.plus_secs(600),
            )
            .unwrap();
        assert_eq!(
            e,
            HandoffEffect::ReturnTo110 {
                reason: "现场有燃气泄漏，需警方处置".into()
            }
        );
        assert_eq!(h.feedback(), Some("现场有燃气泄漏，需警方处置"));
        assert_eq!(Handoff::from_snapshot(h.snapshot()).unwrap(), h);
        let mut bad = h.snapshot();
        bad.state = HandoffState::Queued;
        assert_eq!(
            Handoff::from_snapshot(bad),
            Err(HandoffError::InconsistentSnapshot { id: "h-1".into() })
        );
        let states: Vec<&str> = h.history().iter().map(|e| e.state.code()).collect();
        assert_eq!(
            states,
            ["queued", "queued", "sent", "accepted", "returned_to_110"]
        );
    }

    #[test]
    fn gives_up_after_max_attempts_and_only_12345_returns() {
        let t0 = Timestamp::from_secs(1_790_000_000);
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut h = Handoff::new("h-2", "i", Partner::Ems120, t0, 1);
        let mut now = t0;
        let mut effects = Vec::new();
        for _ in 0..3 {
            let e = h
                .record_attempt(
                    DeliveryOutcome::Failed {
                        error: "503".into(),
                    },
                    now,
                    &policy,
                )
                .unwrap();
            if let HandoffEffect::RetryAt(n) = e {
                now = n;
            }
            effects.push(e);
        }
        assert_eq!(effects.last(), Some(&HandoffEffect::DeliveryFailed));
        assert_eq!(h.state(), HandoffState::Failed);
        assert!(h.state().is_terminal());

        let mut h = Handoff::new("h-3", "i", Partner::Ems120, t0, 1);
        h.record_attempt(DeliveryOutcome::Delivered, t0, &policy)
            .unwrap();
        assert_eq!(
            h.partner_update(PartnerUpdate::ReturnTo110 { reason: "x".into() }, t0),
            Err(HandoffError::ReturnNotAllowed { partner: "120" })
        );
        assert_eq!(
            h.partner_update(
                PartnerUpdate::Resolved {
                    feedback: "已送医".into()
                },
                t0
            ),
            Ok(HandoffEffect::PartnerResolved)
        );
    }
}
