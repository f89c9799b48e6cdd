//! Citizen transparency as a running service: the worker that records case
//! states, watch events and alert dispositions in the verifiable ledger,
//! receipt codes for callers, the portal's rate limits, and the hand-off of
//! state changes to the notification outbox ([`crate::notify`]).
//!
//! The feed is durable: the store's triggers write a `ledger_feed` row in the
//! transaction of every incident state change, watch change and alert
//! disposition, so a crash cannot lose one. Request handlers never wait for
//! the ledger; they only wake the worker ([`LedgerFeed`]), which also polls.
//! One worker owns everything after that — salted commitments, appends in
//! feed order, and notifications — and each batch of leaves is stored in the
//! transaction that deletes its feed rows and records the per-incident leaves
//! the portal shows, so every change becomes exactly one leaf. Failures are
//! logged, counted (`pingan_citizen_ledger_feed_failures`) and retried with
//! backoff, never turned into a failed request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pingan_core::{Clock, Timestamp};
use pingan_jurisdiction::Jurisdiction;
use pingan_ledger::{
    AlertDisposition, CaseEntity, CaseStateChange, Commitment, LeafRecord, WatchAction, WatchEvent,
};
use pingan_store::{
    IncidentRow, LedgerFeedRow, NewCitizenCase, NewNotification, Store, StoreError,
};
use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};
use tokio::sync::Notify;

use crate::config::CitizenSettings;
use crate::ledger::{CaseState, FeedOrigin, LedgerService};
use crate::notify::{Outbox, Template};

/// Receipt code alphabet: digits and capitals without 0/O/1/I, so a code read
/// out over the phone cannot be misheard as another. 32 symbols = 5 bits each.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Symbols per code: 12 × 5 = 60 random bits.
pub const CODE_LEN: usize = 12;
/// Feed rows the worker turns into leaves per transaction.
const FEED_BATCH: i64 = 512;
/// Incidents whose last recorded state is cached before the cache is reset.
const LAST_STATE_CACHE: usize = 100_000;
/// How often the worker looks for feed rows nobody woke it for (changes made
/// by the alert engine, another process, or before a restart).
const FEED_POLL: Duration = Duration::from_secs(1);
/// How long the worker lets changes gather after a wake-up before recording
/// them: each round costs a signed checkpoint and its tiles whatever its
/// size, so at a steady trickle of calls one round per change would cost
/// several times the changes themselves. Leaves appear this much later.
const FEED_LINGER: Duration = Duration::from_millis(200);
/// First and largest wait after a failed round of the feed worker.
const FEED_BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(30));

/// Why a citizen operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CitizenError {
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("ledger: {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
}

/// A fresh receipt code, `XXXX-XXXX-XXXX`, from the thread CSPRNG.
pub fn new_receipt_code() -> String {
    let bytes: [u8; CODE_LEN] = rand::random();
    let mut out = String::with_capacity(CODE_LEN + 2);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        // 32 divides 256: masking keeps every symbol equally likely.
        out.push(CODE_ALPHABET[usize::from(b & 31)] as char);
    }
    out
}

/// The canonical form of a code as typed (case, spaces and dashes ignored);
/// `None` if it cannot be a code.
pub fn normalize_code(input: &str) -> Option<String> {
    let s: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == CODE_LEN && s.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(s)
}

/// What the store keeps of a code: SHA-256 over a domain tag and the
/// normalised code. 60 random bits make the hash impractical to invert, and a
/// lookup by hash cannot list codes.
pub fn code_hash(normalized: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"pingan-receipt-code-v1\0");
    h.update(normalized.as_bytes());
    h.finalize().into()
}

/// Whether the last four digits of `phone` are `phone4`, in constant time.
pub fn phone_matches(phone: &str, phone4: &str) -> bool {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if digits.len() < 4 || phone4.len() != 4 {
        return false;
    }
    digits[digits.len() - 4..]
        .iter()
        .zip(phone4.as_bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// In-memory token buckets keyed by a string (client IP, code hash).
#[derive(Debug)]
pub struct Buckets {
    per_minute: f64,
    burst: f64,
    map: Mutex<HashMap<String, (f64, Instant)>>,
}

/// Keys kept before idle (full) buckets are pruned.
const BUCKET_KEYS: usize = 50_000;

impl Buckets {
    pub fn new(per_minute: u32, burst: u32) -> Buckets {
        Buckets {
            per_minute: f64::from(per_minute),
            burst: f64::from(burst),
            map: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `key` has a token now, without taking it; if not, how long
    /// until it will.
    pub fn check(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(key) {
            Some(&(tokens, at)) => self.ready(self.refilled(tokens, at, now)),
            None => Ok(()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= BUCKET_KEYS && !map.contains_key(key) {
            map.retain(|_, (tokens, at)| self.refilled(*tokens, *at, now) < self.burst);
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = self.refilled(*tokens, *at, now);
        *at = now;
        self.ready(*tokens)?;
        *tokens -= 1.0;
        Ok(())
    }

    /// A bucket's tokens at `now`, refilled since `at` and capped at the burst.
    fn refilled(&self, tokens: f64, at: Instant, now: Instant) -> f64 {
        let rate = self.per_minute / 60.0;
        (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(self.burst)
    }

    /// `Ok` with a whole token, else how long until there is one.
    fn ready(&self, tokens: f64) -> Result<(), Duration> {
        if tokens >= 1.0 {
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - tokens) / (self.per_minute / 60.0),
            ))
        }
    }
}

/// Wakes the feed worker after a change. Cheap to clone. The change itself is
/// already durable (the store wrote its `ledger_feed` row in the change's
/// transaction); waking only saves the worker's poll delay.
#[derive(Clone)]
pub struct LedgerFeed {
    wake: Arc<Notify>,
}

impl std::fmt::Debug for LedgerFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerFeed").finish_non_exhaustive()
    }
}

impl LedgerFeed {
    /// Wakes the worker to record pending changes now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// Counters of the feed, registered with the server's metrics.
#[derive(Clone, Default)]
struct FeedMetrics {
    failures: Counter,
    leaves: Counter,
}

/// The service held in [`crate::AppState::citizen`].
pub struct CitizenService {
    pub feed: LedgerFeed,
    pub outbox: Arc<Outbox>,
    settings: CitizenSettings,
    ip_limits: Buckets,
    code_limits: Buckets,
    store: Store,
    ledger: Arc<LedgerService>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for CitizenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenService")
            .field("feed", &self.feed)
            .field("outbox", &self.outbox)
            .finish_non_exhaustive()
    }
}

/// Org code of the node a materialised path (`/1/3/7/`) ends in.
fn code_of_path(j: &Jurisdiction, path: &str) -> String {
    path.trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|id| id.parse::<i64>().ok())
        .map(|id| code_of(j, id))
        .unwrap_or_else(|| "unknown".to_string())
}

fn code_of(j: &Jurisdiction, id: i64) -> String {
    j.node(id)
        .map(|n| n.code.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| id.to_string())
}

/// The salted commitment to an incident's caller that all its leaves and its
/// citizen case carry: made on first use, and the same one however intake and
/// the feed worker race to it.
async fn case_subject(
    store: &Store,
    ledger: &LedgerService,
    incident_id: i64,
    phone: &str,
) -> Result<Commitment, CitizenError> {
    let stored = match store.case_subject(incident_id).await? {
        Some(s) => s,
        None => {
            let fresh = ledger.commit_personal(phone.as_bytes()).await?;
            store.put_case_subject(incident_id, &fresh.0).await?
        }
    };
    let len = stored.len();
    let hash = <[u8; 32]>::try_from(stored).map_err(|_| StoreError::Corrupt {
        field: "case_subjects.subject",
        reason: format!("{len} bytes, expected 32"),
    })?;
    Ok(Commitment(hash))
}

impl CitizenService {
    /// Starts the feed worker and the outbox worker.
    pub fn start(
        store: Store,
        ledger: Arc<LedgerService>,
        clock: Arc<dyn Clock>,
        jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
        settings: CitizenSettings,
        metrics: &crate::metrics::Metrics,
    ) -> anyhow::Result<Arc<CitizenService>> {
        let counters = FeedMetrics::default();
        metrics.register(
            "citizen_ledger_feed_failures",
            "Rounds of the ledger feed worker that failed (retried with backoff)",
            counters.failures.clone(),
        );
        metrics.register(
            "citizen_ledger_leaves",
            "Case/watch/alert events recorded in the ledger",
            counters.leaves.clone(),
        );
        let notifier = Outbox::notifier_from(&settings)?;
        let outbox = Outbox::new(store.clone(), clock.clone(), notifier, settings.clone());
        outbox.spawn();
        let feed = LedgerFeed {
            wake: Arc::new(Notify::new()),
        };
        let worker = FeedWorker {
            store: store.clone(),
            ledger: ledger.clone(),
            jurisdiction,
            outbox: outbox.clone(),
            portal_url: settings.portal_url.clone(),
            last: HashMap::new(),
            metrics: counters,
        };
        tokio::spawn(worker.run(feed.wake.clone()));
        Ok(Arc::new(CitizenService {
            feed,
            outbox,
            ip_limits: Buckets::new(settings.portal_ip_per_minute, settings.portal_ip_burst),
            code_limits: Buckets::new(settings.portal_code_per_minute, settings.portal_code_burst),
            settings,
            store,
            ledger,
            clock,
        }))
    }

    pub fn settings(&self) -> &CitizenSettings {
        &self.settings
    }

    pub fn ledger(&self) -> &Arc<LedgerService> {
        &self.ledger
    }

    /// Issues the receipt code of a new incident: stores its hash with the
    /// salted commitment to the caller (which the incident's ledger leaves
    /// carry) and queues the 受理 message with the code to the caller.
    /// Returns the code, to be read out by the call taker.
    pub async fn open_case(&self, row: &IncidentRow) -> Result<String, CitizenError> {
        let now = self.clock.now().millis();
        // The caller commitment (unless the ledger feed made one first), the
        // receipt code and its SMS are one transaction.
        let (subject, salt) = crate::ledger::fresh_commitment(row.caller_phone.as_bytes())?;
        // A collision of 60-bit codes is practically impossible; retry anyway
        // rather than fail an emergency call on it.
        let mut tries = 0;
        loop {
            let code = new_receipt_code();
            let hash = code_hash(&normalize_code(&code).unwrap_or_default());
            let sms = NewNotification {
                incident_id: Some(row.id),
                org_path: row.org_path.clone(),
                dedupe_key: format!("incident:{}:{}", row.id, Template::Accepted.code()),
                template: Template::Accepted.code().into(),
                recipient: row.caller_phone.clone(),
                body: Template::Accepted.render(&row.number, &code, "", &self.settings.portal_url),
            };
            let opened = self
                .store
                .open_citizen_case(
                    &NewCitizenCase {
                        incident_id: row.id,
                        code_hash: &hash,
                        subject: &subject.0,
                        salt: salt.as_bytes(),
                        notification: &sms,
                    },
                    now,
                )
                .await;
            match opened {
                Ok((_, queued)) => {
                    if queued.is_some() {
                        self.outbox.wake();
                    }
                    return Ok(code);
                }
                Err(StoreError::Conflict { .. }) if tries < 3 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Rate limits one portal request: per client IP, then per code (so one
    /// code cannot be attacked from many addresses). `Err` is the wait.
    pub fn check_rate(&self, ip: &str, code_key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        self.ip_limits.take(ip, now)?;
        self.code_limits.take(code_key, now)
    }
}

/// The single owner of ledger appends for the feed.
struct FeedWorker {
    store: Store,
    ledger: Arc<LedgerService>,
    jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
    outbox: Arc<Outbox>,
    portal_url: String,
    /// Last recorded `(status, org code)` per incident (mirrors `case_leaves`;
    /// cleared whenever a round fails, since it may then be ahead of the store).
    last: HashMap<i64, (String, String)>,
    metrics: FeedMetrics,
}

/// What one feed round read about an incident, for its further rows.
struct RoundCase {
    incident: IncidentRow,
    has_receipt: bool,
    subject: Option<Commitment>,
}

impl FeedWorker {
    fn jurisdiction(&self) -> Arc<Jurisdiction> {
        self.jurisdiction
            .read()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Drains the feed [`FEED_LINGER`] after a wake-up, or every
    /// [`FEED_POLL`]; a failed round leaves its rows pending and is retried
    /// after a doubling backoff.
    async fn run(mut self, wake: Arc<Notify>) {
        let mut backoff = FEED_BACKOFF.0;
        loop {
            match self.drain().await {
                Ok(()) => {
                    backoff = FEED_BACKOFF.0;
                    if tokio::time::timeout(FEED_POLL, wake.notified())
                        .await
                        .is_ok()
                    {
                        tokio::time::sleep(FEED_LINGER).await;
                    }
                }
                Err(e) => {
                    self.metrics.failures.inc();
                    self.last.clear();
                    tracing::error!(error = %e, retry_in_ms = backoff.as_millis() as u64, "ledger feed round failed; its changes stay pending");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(FEED_BACKOFF.1);
                }
            }
        }
    }

    /// Records pending feed rows until none are left.
    async fn drain(&mut self) -> Result<(), CitizenError> {
        loop {
            let rows = self.store.ledger_feed_pending(FEED_BATCH).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let mut leaves = Vec::with_capacity(rows.len());
            let mut skipped = Vec::new();
            // An incident's changes arrive together (created and classified
            // in one call, say): its row, receipt and subject are read once
            // per round.
            let mut cases = HashMap::new();
            for row in rows {
                let seq = row.seq;
                match self.prepare(row, &mut cases).await? {
                    Some(leaf) => leaves.push(leaf),
                    None => skipped.push(seq),
                }
            }
            self.store.ledger_feed_discard(&skipped).await?;
            // One job: the batch's leaves enter the log together and in feed
            // order, or not at all.
            let appended = self.ledger.append_feed(&leaves).await?;
            self.metrics.leaves.inc_by(appended.len() as u64);
        }
    }

    /// The leaf a pending feed row becomes, or `None` when it needs none (a
    /// repeat of the state already recorded, an incident that no longer exists).
    async fn prepare(
        &mut self,
        row: LedgerFeedRow,
        cases: &mut HashMap<i64, Option<RoundCase>>,
    ) -> Result<Option<(LeafRecord, FeedOrigin)>, CitizenError> {
        let j = self.jurisdiction();
        let origin = |case| FeedOrigin { seq: row.seq, case };
        let kind = row.kind.as_str();
        match kind {
            "case" => {
                if let std::collections::hash_map::Entry::Vacant(slot) = cases.entry(row.ref_id) {
                    let found = match self.store.find_incident(row.ref_id).await? {
                        Some(incident) => Some(RoundCase {
                            has_receipt: self
                                .store
                                .citizen_case_by_incident(incident.id)
                                .await?
                                .is_some(),
                            subject: None,
                            incident,
                        }),
                        None => None,
                    };
                    slot.insert(found);
                }
                let Some(case) = cases.get_mut(&row.ref_id).and_then(Option::as_mut) else {
                    tracing::warn!(
                        incident = row.ref_id,
                        seq = row.seq,
                        "feed row of a missing incident discarded"
                    );
                    return Ok(None);
                };
                let incident = &case.incident;
                let org_id = row.org_id.unwrap_or(incident.org_id);
                let org_code = code_of(&j, org_id);
                let status = row.status.clone();
                let prev = match self.last.get(&incident.id) {
                    Some(p) => Some(p.clone()),
                    None => self
                        .store
                        .last_case_leaf(incident.id)
                        .await?
                        .map(|l| (l.status, l.org_code)),
                };
                if prev.as_ref() == Some(&(status.clone(), org_code.clone())) {
                    return Ok(None);
                }
                if self.last.len() >= LAST_STATE_CACHE {
                    self.last.clear();
                }
                self.last
                    .insert(incident.id, (status.clone(), org_code.clone()));
                if case.has_receipt {
                    self.announce(incident, &row, org_id, &org_code, prev.as_ref(), &j)
                        .await?;
                }
                let subject = match case.subject {
                    Some(c) => c,
                    None => {
                        let c = case_subject(
                            &self.store,
                            &self.ledger,
                            incident.id,
                            &incident.caller_phone,
                        )
                        .await?;
                        case.subject = Some(c);
                        c
                    }
                };
                let record = LeafRecord::CaseState(CaseStateChange {
                    entity: CaseEntity::Incident,
                    number: incident.number.clone(),
                    from: prev.map(|p| p.0),
                    to: status.clone(),
                    at: Timestamp(row.at),
                    org: org_code.clone(),
                    subject: Some(subject),
                });
                Ok(Some((
                    record,
                    origin(Some(CaseState {
                        incident_id: incident.id,
                        status,
                        org_code,
                        at: row.at,
                    })),
                )))
            }
            "watch.created" | "watch.changed" | "watch.expired" => {
                let action = match kind {
                    "watch.created" => WatchAction::Created,
                    "watch.expired" => WatchAction::Expired,
                    _ => WatchAction::Changed,
                };
                let spec = row.spec.clone().unwrap_or_default();
                let targets = serde_json::from_str::<serde_json::Value>(&spec)
                    .ok()
                    .and_then(|v| {
                        v.get("target")
                            .or_else(|| v.get("targets"))
                            .map(|t| t.to_string())
                    })
                    .unwrap_or_default();
                let subject = if targets.is_empty() {
                    None
                } else {
                    Some(self.ledger.commit_personal(targets.as_bytes()).await?)
                };
                let definition = format!(
                    "{}\n{}\n{}",
                    row.status,
                    row.expires_at.unwrap_or_default(),
                    spec
                );
                let rule = self.ledger.commit_personal(definition.as_bytes()).await?;
                Ok(Some((
                    LeafRecord::Watch(WatchEvent {
                        watch: format!("watch-{}", row.ref_id),
                        action,
                        at: Timestamp(row.at),
                        org: code_of_path(&j, &row.org_path),
                        subject,
                        rule_digest: Some(rule),
                    }),
                    origin(None),
                )))
            }
            "alert" => Ok(Some((
                LeafRecord::AlertDisposition(AlertDisposition {
                    alert: format!("alert-{}", row.ref_id),
                    disposition: row.status.clone(),
                    at: Timestamp(row.at),
                    org: code_of_path(&j, &row.org_path),
                    subject: None,
                }),
                origin(None),
            ))),
            other => {
                // Written by a newer schema than this binary knows: leave it
                // for a binary that does rather than lose it.
                Err(StoreError::Corrupt {
                    field: "ledger_feed.kind",
                    reason: format!("unknown kind {other:?} (seq {})", row.seq),
                }
                .into())
            }
        }
    }

    /// Queues the citizen's message for a state change, if it is one that is
    /// announced. Each state (or each station of a transfer) is announced once
    /// (the outbox dedupes on the key, so a retried round repeats nothing).
    async fn announce(
        &self,
        incident: &IncidentRow,
        row: &LedgerFeedRow,
        org_id: i64,
        org_code: &str,
        prev: Option<&(String, String)>,
        j: &Jurisdiction,
    ) -> Result<(), CitizenError> {
        let id = incident.id;
        let status = row.status.as_str();
        let (template, key) = match (Template::for_status(status), prev) {
            (Some(t), Some(p)) if p.0 != status => (t, format!("incident:{id}:{}", t.code())),
            (_, Some(p)) if p.1 != org_code => (
                Template::Transferred,
                format!("incident:{id}:transferred:{org_code}"),
            ),
            _ => return Ok(()),
        };
        let station = j.node(org_id).map(|n| n.name.clone()).unwrap_or_default();
        let n = NewNotification {
            incident_id: Some(id),
            org_path: row.org_path.clone(),
            dedupe_key: key,
            template: template.code().into(),
            recipient: incident.caller_phone.clone(),
            body: template.render(&incident.number, "", &station, &self.portal_url),
        };
        self.outbox.enqueue(&n).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_well_formed_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2_000 {
            let c = new_receipt_code();
            assert_eq!(c.len(), CODE_LEN + 2);
            assert_eq!(c.matches('-').count(), 2);
            let n = normalize_code(&c).unwrap();
            assert!(n.bytes().all(|b| CODE_ALPHABET.contains(&b)));
            assert!(seen.insert(n));
        }
    }

    #[test]
    fn codes_normalise_and_reject_ambiguous_symbols() {
        assert_eq!(
            normalize_code(" abcd-efgh jkmn ").as_deref(),
            Some("ABCDEFGHJKMN")
        );
        assert_eq!(normalize_code("ABCD-EFGH-JKM"), None);
        assert_eq!(normalize_code("ABCD-EFGH-JKM0"), None);
        assert_eq!(normalize_code("ABCD-EFGH-JKMI"), None);
        assert_ne!(code_hash("ABCDEFGHJKMN"), code_hash("ABCDEFGHJKMP"));
    }

    #[test]
    fn phone_digits_compare() {
        assert!(phone_matches("13812345678", "5678"));
        assert!(phone_matches("+86 138-1234-5678", "5678"));
        assert!(!phone_matches("13812345678", "5679"));
        assert!(!phone_matches("13812345678", "678"));
        assert!(!phone_matches("123", "0123"));
    }

    #[test]
    fn buckets_allow_a_burst_then_refill() {
        let b = Buckets::new(60, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.take("ip", t0), Ok(()));
        }
        let wait = b.take("ip", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert_eq!(b.take("other", t0), Ok(()));
        assert_eq!(b.take("ip", t0 + Duration::from_millis(1_001)), Ok(()));
        assert!(b.take("ip", t0 + Duration::from_millis(1_002)).is_err());
    }
}
