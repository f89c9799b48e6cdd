//! The demo city's partner agencies (12345 city hotline, 120, 119 and the
//! traffic police — every [`Partner`] the diversion module knows) played as
//! real webhook receivers on 127.0.0.1, so one-key diversion in `pingan demo`
//! travels the same road as in a deployment.
//!
//! [`PartnerSim::start`] binds an ephemeral loopback port, registers each
//! partner in the store with a freshly generated webhook secret, and issues
//! each one a `partner` API key (earlier runs' keys are revoked). The receiver
//! checks every delivery the way a partner must: the `X-Pingan-Signature`
//! HMAC over the exact body with that partner's secret and a bounded clock
//! skew (401 otherwise), a well-formed payload addressed to this partner
//! (400/422 otherwise), and de-duplication by `message_id` (a retried
//! delivery is acknowledged again, not worked twice). Now and then an
//! endpoint is down and answers 503, so the platform's durable retry shows.
//!
//! What a partner then does is decided per hand-off from its payload and a
//! seeded generator, and reported back after realistic delays through the
//! platform's real feedback API (`POST /api/v1/handoffs/{id}/status` with the
//! partner's API key): accepted → resolved, sometimes rejected with a reason
//! (12345, traffic), and 12345 sends urgent cases back to 110. All delays run
//! on the server clock, so a test with a manual clock drives them with
//! [`PartnerSim::run_due`]; `pingan demo` calls [`PartnerSim::spawn_driver`].
//! After a restart the partners take up the unfinished hand-offs of open
//! incidents again from the platform's record.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use pingan_core::{Clock, Timestamp};
use pingan_dispatch::diversion::{self, HandoffPayload};
use pingan_dispatch::{Partner, Priority, Taxonomy};
use pingan_store::{IncidentFilter, NewApiKey, Page, PartnerRow, Store};
use serde_json::json;

use crate::AppState;
use crate::auth;
use crate::demo::DemoRng;

/// Name prefix of the API keys the partner simulator issues itself.
pub const KEY_NAME_PREFIX: &str = "demo-partner-";

/// Header carrying the platform's hand-off id on each delivery.
const HANDOFF_HEADER: &str = "x-pingan-handoff";

/// Partner behaviour knobs.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerSimSettings {
    pub seed: u64,
    /// Percent of hand-offs 12345 and the traffic police turn down as outside
    /// their remit (120 and 119 always attend).
    pub reject_pct: u64,
    /// Percent of 12345 hand-offs without urgent cues that 12345 still sends
    /// back to 110 (its callback turned up a police matter).
    pub return_pct: u64,
    /// Expected endpoint outages per partner per hour of server time.
    pub outages_per_hour: f64,
    /// Length of an outage in seconds (min, max).
    pub outage_s: (u32, u32),
    /// Clock skew tolerated on signature timestamps, in seconds.
    pub signature_tolerance_s: i64,
}

impl Default for PartnerSimSettings {
    fn default() -> Self {
        PartnerSimSettings {
            seed: 2026,
            reject_pct: 6,
            return_pct: 3,
            outages_per_hour: 0.5,
            outage_s: (20, 90),
            signature_tolerance_s: 300,
        }
    }
}

/// One delivery the receiver accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    pub partner: Partner,
    pub handoff_id: i64,
    pub message_id: String,
    pub incident_number: String,
    pub received_at: Timestamp,
    /// The signature header and body exactly as received.
    pub signature: String,
    pub body: Bytes,
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartnerStats {
    /// New hand-offs accepted by a receiver (answered 200).
    pub delivered: usize,
    /// Repeated deliveries of a hand-off already received (answered 200 again).
    pub duplicates: usize,
    /// Deliveries refused for a missing or invalid signature (401).
    pub bad_signature: usize,
    /// Deliveries refused as malformed or misaddressed (400/422).
    pub malformed: usize,
    /// Deliveries answered 503 during an outage.
    pub unavailable: usize,
    /// Outages started.
    pub outages: usize,
    /// Feedback calls the platform took (accepted, rejected, resolved, returned).
    pub feedback_sent: usize,
    /// Feedback given up on after the platform kept refusing it.
    pub feedback_dropped: usize,
}

/// A partner's answer on a hand-off, as the feedback API spells it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Accept(String),
    Resolve(String),
    Reject(String),
    ReturnTo110(String),
}

impl Step {
    fn wire(&self) -> (&'static str, &str) {
        match self {
            Step::Accept(t) => ("accepted", t),
            Step::Resolve(t) => ("resolved", t),
            Step::Reject(t) => ("rejected", t),
            Step::ReturnTo110(t) => ("return_to_110", t),
        }
    }
}

/// A hand-off the partner is working: its remaining steps, each with the
/// delay after the previous one, the first due at the agenda key.
#[derive(Debug, Clone)]
struct Work {
    partner: Partner,
    handoff_id: i64,
    steps: VecDeque<(i64, Step)>,
    /// Refused attempts at the current step.
    tries: u32,
}

/// Give up on a feedback step after this many refusals (the hand-off was
/// closed by someone else, or the platform is gone).
const MAX_FEEDBACK_TRIES: u32 = 10;
/// Wait before re-sending refused feedback.
const FEEDBACK_RETRY_MS: i64 = 30_000;
/// Receipts kept for inspection (and message ids for de-duplication).
const RECEIPTS_KEPT: usize = 2_000;

struct Endpoint {
    secret: String,
    api_key: String,
    down_until: Option<Timestamp>,
}

struct Inner {
    rng: DemoRng,
    endpoints: HashMap<Partner, Endpoint>,
    receipts: VecDeque<Receipt>,
    agenda: BTreeMap<(i64, u64), Work>,
    seq: u64,
    last_tick: Option<Timestamp>,
    stats: PartnerStats,
}

impl Inner {
    fn schedule(&mut self, at: i64, work: Work) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), work);
    }

    fn between(&mut self, (lo, hi): (u32, u32)) -> i64 {
        let span = (hi.saturating_sub(lo) + 1) as usize;
        (i64::from(lo) + self.rng.below(span) as i64) * 1000
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.rng.below(from.len())]
    }

    fn chance(&mut self, pct: u64) -> bool {
        (self.rng.below(100) as u64) < pct
    }
}

/// How one agency answers: delays in seconds and the words it uses.
struct Profile {
    accept_s: (u32, u32),
    resolve_s: (u32, u32),
    accepted: &'static [&'static str],
    resolved: &'static [&'static str],
    /// Empty: this agency never turns a hand-off down.
    rejected: &'static [&'static str],
}

fn profile(p: Partner) -> Profile {
    match p {
        Partner::Hotline12345 => Profile {
            accept_s: (60, 300),
            resolve_s: (20 * 60, 90 * 60),
            accepted: &["已受理，已派单至属地街道办", "已受理，转相关职能部门办理"],
            resolved: &[
                "已办结：职能部门现场处置完毕，来电人表示满意",
                "已办结：已协调物业/供应单位修复",
                "已办结：已向来电人解释政策并提供办理渠道",
            ],
            rejected: &[
                "不属于12345受理范围，建议来电人通过法律途径解决",
                "信息不全，多次回拨来电人无人接听，无法派单",
            ],
        },
        Partner::Ems120 => Profile {
            accept_s: (20, 90),
            resolve_s: (25 * 60, 60 * 60),
            accepted: &["已派车，救护车预计10分钟到达", "已派出就近急救站车组"],
            resolved: &[
                "患者已送至市第一人民医院急诊",
                "现场处置完毕，伤者经包扎后自行离开",
                "患者已送至市中医院，生命体征平稳",
            ],
            rejected: &[],
        },
        Partner::Fire119 => Profile {
            accept_s: (15, 60),
            resolve_s: (30 * 60, 90 * 60),
            accepted: &["已出动特勤中队两车", "已调派辖区消防救援站出动"],
            resolved: &[
                "火已扑灭，现场无复燃，移交属地",
                "被困人员已全部救出，现场处置完毕",
                "险情已排除，消防救援力量已归队",
            ],
            rejected: &[],
        },
        Partner::TrafficPolice => Profile {
            accept_s: (30, 180),
            resolve_s: (20 * 60, 60 * 60),
            accepted: &["已通知辖区交警中队出警"],
            resolved: &[
                "事故已处理完毕，道路恢复通行",
                "已现场认定责任，当事车辆已撤离",
            ],
            rejected: &["事发地点不在道路上，不属道路交通事故，请辖区派出所处理"],
        },
    }
}

/// Words that make 12345 hand a case straight back to 110 (回流).
const URGENT_CUES: [&str; 10] = [
    "跳楼",
    "轻生",
    "自杀",
    "持刀",
    "砍人",
    "打人",
    "威胁",
    "燃气泄漏",
    "煤气",
    "起火",
];

/// What this partner will do with a hand-off, decided once on receipt.
fn plan_for(
    inner: &mut Inner,
    settings: &PartnerSimSettings,
    taxonomy: &Taxonomy,
    partner: Partner,
    payload: &HandoffPayload,
) -> VecDeque<(i64, Step)> {
    let pr = profile(partner);
    let mut steps = VecDeque::new();
    let accept = Step::Accept(inner.pick(pr.accepted).to_string());
    let accept_in = inner.between(pr.accept_s);
    if partner == Partner::Hotline12345 {
        // The shared rule (police attend and it is P1/P2) or words in the
        // caller's account that no hotline operator would sit on.
        let urgent_type = payload
            .incident
            .priority
            .parse::<Priority>()
            .ok()
            .zip(taxonomy.get(&payload.incident.type_code))
            .is_some_and(|(prio, ty)| diversion::urgent_for_110(ty, prio));
        let cue = URGENT_CUES
            .iter()
            .find(|w| payload.incident.summary.contains(**w));
        if urgent_type || cue.is_some() {
            let why = match cue {
                Some(w) => format!("来电内容涉及“{w}”，属紧急警情，退回110处置"),
                None => "经评估属紧急警情，退回110处置".to_string(),
            };
            steps.push_back((accept_in / 2, Step::ReturnTo110(why)));
            return steps;
        }
        if inner.chance(settings.return_pct) {
            steps.push_back((accept_in, accept));
            let back = inner.between((5 * 60, 20 * 60));
            steps.push_back((
                back,
                Step::ReturnTo110("回访时来电人称对方情绪激动、扬言动手，需警方到场处置".into()),
            ));
            return steps;
        }
    }
    if !pr.rejected.is_empty() && inner.chance(settings.reject_pct) {
        let why = inner.pick(pr.rejected).to_string();
        steps.push_back((accept_in, Step::Reject(why)));
        return steps;
    }
    steps.push_back((accept_in, accept));
    let done = Step::Resolve(inner.pick(pr.resolved).to_string());
    steps.push_back((inner.between(pr.resolve_s), done));
    steps
}

/// The running partner agencies: receiver, registrations, feedback agenda.
pub struct PartnerSim {
    inner: Mutex<Inner>,
    settings: PartnerSimSettings,
    clock: Arc<dyn Clock>,
    taxonomy: Taxonomy,
    addr: SocketAddr,
    platform: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for PartnerSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartnerSim")
            .field("addr", &self.addr)
            .field("platform", &self.platform)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Errors starting the partner simulator.
#[derive(Debug, thiserror::Error)]
pub enum PartnerSimError {
    #[error("cannot bind the partner receiver on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    #[error("the store holds no city org to own the partners' API keys")]
    NoCityOrg,
    #[error("registering partners in the store: {0}")]
    Store(#[from] pingan_store::StoreError),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

impl PartnerSim {
    /// Binds the receiver on 127.0.0.1 (ephemeral port), registers every
    /// partner with a new secret and API key, and serves deliveries.
    /// `platform` is the base URL of this server's API (e.g.
    /// `http://127.0.0.1:8080`), where the partners post their feedback.
    pub async fn start(
        s: &AppState,
        platform: &str,
        settings: PartnerSimSettings,
    ) -> Result<Arc<PartnerSim>, PartnerSimError> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(PartnerSimError::Bind)?;
        let addr = listener.local_addr().map_err(PartnerSimError::Bind)?;
        let endpoints = register(&s.store, addr, s.now_ms()).await?;
        let sim = Arc::new(PartnerSim {
            inner: Mutex::new(Inner {
                rng: DemoRng::new(settings.seed ^ 0x5041_5254_4E45_5253),
                endpoints,
                receipts: VecDeque::new(),
                agenda: BTreeMap::new(),
                seq: 0,
                last_tick: None,
                stats: PartnerStats::default(),
            }),
            settings,
            clock: s.clock.clone(),
            taxonomy: Taxonomy::builtin(),
            addr,
            platform: platform.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
        });
        let router = axum::Router::new()
            .route(
                "/partners/{code}/handoffs",
                axum::routing::post(receive_handler),
            )
            .with_state(sim.clone());
        let resumed = sim.resume(&s.store).await?;
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                tracing::warn!(error = %e, "partner receiver stopped");
            }
        });
        tracing::info!(%addr, resumed, "demo partner agencies listening");
        Ok(sim)
    }

    /// Takes up again the hand-offs of open incidents that a partner had
    /// received but not finished before a restart (a real agency keeps its
    /// own case list; this one rebuilds it from the platform's record):
    /// `sent` ones get a fresh plan, `accepted` ones only their result.
    /// Hand-offs of incidents already closed are left as they are.
    async fn resume(&self, store: &Store) -> Result<usize, PartnerSimError> {
        let now = self.clock.now().millis();
        let filter = IncidentFilter {
            open: true,
            ..IncidentFilter::default()
        };
        let mut resumed = 0;
        let mut offset = 0;
        loop {
            let page = Page { limit: 500, offset };
            let (rows, total) = store.list_incidents(&filter, page).await?;
            for r in &rows {
                for h in store.incident_handoffs(r.id).await? {
                    let (Some(partner), Ok(payload)) = (
                        Partner::from_code(&h.partner),
                        serde_json::from_str::<HandoffPayload>(&h.payload),
                    ) else {
                        continue;
                    };
                    let mut g = self.lock();
                    let steps = match h.status.as_str() {
                        "sent" => {
                            plan_for(&mut g, &self.settings, &self.taxonomy, partner, &payload)
                        }
                        "accepted" => {
                            let pr = profile(partner);
                            let done = Step::Resolve(g.pick(pr.resolved).to_string());
                            VecDeque::from([(g.between(pr.resolve_s), done)])
                        }
                        _ => continue,
                    };
                    if let Some(&(delay, _)) = steps.front() {
                        g.schedule(
                            now + delay,
                            Work {
                                partner,
                                handoff_id: h.id,
                                steps,
                                tries: 0,
                            },
                        );
                        resumed += 1;
                    }
                }
            }
            offset += rows.len() as i64;
            if rows.is_empty() || offset >= total {
                return Ok(resumed);
            }
        }
    }

    /// The receiver's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The webhook URL registered for `p`.
    pub fn webhook_url(&self, p: Partner) -> String {
        webhook_url(self.addr, p)
    }

    /// Takes `p`'s endpoint down (503) until `until` on the server clock.
    pub fn outage(&self, p: Partner, until: Timestamp) {
        let mut g = self.lock();
        if let Some(e) = g.endpoints.get_mut(&p) {
            e.down_until = Some(until);
            g.stats.outages += 1;
        }
    }

    pub fn stats(&self) -> PartnerStats {
        self.lock().stats
    }

    /// The most recent deliveries accepted, oldest first.
    pub fn receipts(&self) -> Vec<Receipt> {
        self.lock().receipts.iter().cloned().collect()
    }

    /// Feedback steps waiting for their time.
    pub fn pending(&self) -> usize {
        self.lock().agenda.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts and ends outages, then posts every feedback step due at the
    /// server clock's now; returns how many the platform took.
    pub async fn run_due(&self) -> usize {
        let now = self.clock.now();
        let due: Vec<(Work, String)> = {
            let mut g = self.lock();
            self.roll_outages(&mut g, now);
            let later = g.agenda.split_off(&(now.millis() + 1, 0));
            let due = std::mem::replace(&mut g.agenda, later);
            due.into_values()
                .filter_map(|w| {
                    let key = g.endpoints.get(&w.partner)?.api_key.clone();
                    Some((w, key))
                })
                .collect()
        };
        let mut sent = 0;
        for (mut work, key) in due {
            let Some((_, step)) = work.steps.front().cloned() else {
                continue;
            };
            let outcome = self.post_feedback(work.handoff_id, &step, &key).await;
            let mut g = self.lock();
            match outcome {
                Feedback::Taken => {
                    sent += 1;
                    g.stats.feedback_sent += 1;
                    work.steps.pop_front();
                    work.tries = 0;
                    if let Some(&(delay, _)) = work.steps.front() {
                        g.schedule(now.millis() + delay, work);
                    }
                }
                Feedback::Retry(why) if work.tries + 1 < MAX_FEEDBACK_TRIES => {
                    tracing::debug!(handoff = work.handoff_id, %why, "partner feedback refused; retrying");
                    work.tries += 1;
                    g.schedule(now.millis() + FEEDBACK_RETRY_MS, work);
                }
                Feedback::Retry(why) | Feedback::Refused(why) => {
                    tracing::info!(handoff = work.handoff_id, partner = work.partner.code(), %why, "partner feedback dropped");
                    g.stats.feedback_dropped += 1;
                }
            }
        }
        sent
    }

    /// Random outages: each partner without one starts one with probability
    /// `outages_per_hour × elapsed hours`.
    fn roll_outages(&self, g: &mut Inner, now: Timestamp) {
        let last = g.last_tick.replace(now).unwrap_or(now);
        let hours = ((now.millis() - last.millis()).max(0) as f64 / 3_600_000.0).min(1.0);
        let p = self.settings.outages_per_hour * hours;
        if p <= 0.0 {
            return;
        }
        for partner in Partner::ALL {
            let up = g
                .endpoints
                .get(&partner)
                .is_some_and(|e| e.down_until.is_none_or(|t| t <= now));
            if up && g.rng.unit() < p {
                let len = g.between(self.settings.outage_s);
                if let Some(e) = g.endpoints.get_mut(&partner) {
                    e.down_until = Some(now.plus_millis(len));
                }
                g.stats.outages += 1;
                tracing::info!(
                    partner = partner.code(),
                    secs = len / 1000,
                    "demo partner endpoint down"
                );
            }
        }
    }

    async fn post_feedback(&self, handoff_id: i64, step: &Step, api_key: &str) -> Feedback {
        let (status, text) = step.wire();
        let r = self
            .http
            .post(format!(
                "{}/api/v1/handoffs/{handoff_id}/status",
                self.platform
            ))
            .header("x-api-key", api_key)
            .json(&json!({"status": status, "feedback": text}))
            .send()
            .await;
        match r {
            Ok(resp) if resp.status().is_success() => Feedback::Taken,
            // 409: the platform has not recorded the delivery yet, or another
            // writer got there first; 5xx and 429: try again later.
            Ok(resp)
                if resp.status() == StatusCode::CONFLICT
                    || resp.status() == StatusCode::TOO_MANY_REQUESTS
                    || resp.status().is_server_error() =>
            {
                Feedback::Retry(format!("platform answered {}", resp.status()))
            }
            Ok(resp) => Feedback::Refused(format!("platform answered {}", resp.status())),
            Err(e) => Feedback::Retry(format!("transport: {e}")),
        }
    }

    /// Drives [`PartnerSim::run_due`] once a second (for `pingan demo`).
    pub fn spawn_driver(self: &Arc<Self>) {
        let sim = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let n = sim.run_due().await;
                if n > 0 {
                    tracing::debug!(feedback = n, "demo partners reported back");
                }
            }
        });
    }

    /// One delivery: the checks a partner makes before it takes a hand-off.
    fn receive(&self, code: &str, headers: &HeaderMap, body: Bytes) -> Response {
        let Some(partner) = Partner::from_code(code) else {
            return refuse(StatusCode::NOT_FOUND, format!("no partner {code:?} here"));
        };
        let now = self.clock.now();
        let mut g = self.lock();
        let Some((down_until, secret)) = g
            .endpoints
            .get(&partner)
            .map(|e| (e.down_until, e.secret.clone()))
        else {
            return refuse(StatusCode::NOT_FOUND, format!("no partner {code:?} here"));
        };
        if down_until.is_some_and(|t| t > now) {
            g.stats.unavailable += 1;
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [("retry-after", "30")],
                axum::Json(json!({"error": "service temporarily unavailable"})),
            )
                .into_response();
        }
        let sig = headers
            .get(diversion::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        if let Err(e) = diversion::verify(
            secret.as_bytes(),
            &sig,
            &body,
            now,
            self.settings.signature_tolerance_s,
        ) {
            g.stats.bad_signature += 1;
            tracing::warn!(partner = code, error = %e, "demo partner refused a delivery");
            return refuse(StatusCode::UNAUTHORIZED, e.to_string());
        }
        let payload: HandoffPayload = match serde_json::from_slice(&body) {
            Ok(p) => p,
            Err(e) => {
                g.stats.malformed += 1;
                return refuse(StatusCode::BAD_REQUEST, format!("payload: {e}"));
            }
        };
        let handoff_id = headers
            .get(HANDOFF_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        let Some(handoff_id) = handoff_id else {
            g.stats.malformed += 1;
            return refuse(StatusCode::BAD_REQUEST, "missing X-Pingan-Handoff".into());
        };
        if payload.recipient.id != partner.code() {
            g.stats.malformed += 1;
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("addressed to {}, not {}", payload.recipient.id, code),
            );
        }
        if g.receipts
            .iter()
            .any(|r| r.message_id == payload.message_id)
        {
            g.stats.duplicates += 1;
            return (
                StatusCode::OK,
                axum::Json(json!({"received": payload.message_id, "duplicate": true})),
            )
                .into_response();
        }
        let steps = plan_for(&mut g, &self.settings, &self.taxonomy, partner, &payload);
        if let Some(&(delay, _)) = steps.front() {
            g.schedule(
                now.millis() + delay,
                Work {
                    partner,
                    handoff_id,
                    steps,
                    tries: 0,
                },
            );
        }
        g.stats.delivered += 1;
        if g.receipts.len() >= RECEIPTS_KEPT {
            g.receipts.pop_front();
        }
        g.receipts.push_back(Receipt {
            partner,
            handoff_id,
            message_id: payload.message_id.clone(),
            incident_number: payload.incident.id.clone(),
            received_at: now,
            signature: sig,
            body,
        });
        (
            StatusCode::OK,
            axum::Json(json!({"received": payload.message_id})),
        )
            .into_response()
    }
}

enum Feedback {
    Taken,
    Retry(String),
    Refused(String),
}

fn refuse(status: StatusCode, why: String) -> Response {
    (status, axum::Json(json!({"error": why}))).into_response()
}

async fn receive_handler(
    State(sim): State<Arc<PartnerSim>>,
    Path(code): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    sim.receive(&code, &headers, body)
}

fn webhook_url(addr: SocketAddr, p: Partner) -> String {
    format!("http://{addr}/partners/{}/handoffs", p.code())
}

/// Registers every partner's endpoint with a new secret and issues it a new
/// `partner` API key owned by the city org, revoking keys of earlier runs.
async fn register(
    store: &Store,
    addr: SocketAddr,
    now: i64,
) -> Result<HashMap<Partner, Endpoint>, PartnerSimError> {
    let city = store
        .all_orgs()
        .await?
        .into_iter()
        .find(|o| o.parent_id.is_none())
        .ok_or(PartnerSimError::NoCityOrg)?;
    for k in store.list_api_keys(&city.path).await? {
        if k.name.starts_with(KEY_NAME_PREFIX) && k.revoked_at.is_none() {
            store.revoke_api_key(k.id, now).await?;
            store
                .audit_append(&[demo_key_record(
                    now,
                    "apikey.revoke",
                    k.id,
                    "replaced at start",
                )])
                .await?;
        }
    }
    let mut out = HashMap::new();
    for p in Partner::ALL {
        let secret = auth::new_secret("whsec_");
        store
            .upsert_partner(&PartnerRow {
                code: p.code().to_string(),
                name: p.name_zh().to_string(),
                webhook_url: webhook_url(addr, p),
                secret: secret.clone(),
                updated_at: now,
            })
            .await?;
        let api_key = auth::new_secret(auth::API_KEY_PREFIX);
        let key = store
            .create_api_key(
                &NewApiKey {
                    name: format!("{KEY_NAME_PREFIX}{}", p.code()),
                    key_hash: auth::secret_hash(&api_key),
                    role: auth::Role::Partner.as_str().to_string(),
                    org_id: city.id,
                    scopes: vec![auth::scope::HANDOFFS_WRITE.to_string()],
                    expires_at: None,
                    partner: Some(p.code().to_string()),
                },
                now,
            )
            .await?;
        // A credential that can answer hand-offs (and so read what they
        // carry) is created on the record, like any API key.
        store
            .audit_append(&[demo_key_record(
                now,
                "apikey.create",
                key.id,
                &format!("demo partner agency {} ({})", p.code(), p.name_zh()),
            )])
            .await?;
        out.insert(
            p,
            Endpoint {
                secret,
                api_key,
                down_until: None,
            },
        );
    }
    Ok(out)
}

/// An audit record of the demo's own partner-key bookkeeping.
fn demo_key_record(now: i64, action: &str, key: i64, detail: &str) -> pingan_store::AuditEntry {
    crate::audit::Audit::ok(action, "api_key", vec![key.to_string()])
        .detail(detail)
        .by(now, None, "demo", auth::Role::Admin.as_str())
}
