//! Citizen transparency as a running service: the ordered feed that records
//! case states, watch events and alert dispositions in the verifiable ledger,
//! receipt codes for callers, the portal's rate limits, and the hand-off of
//! state changes to the notification outbox ([`crate::notify`]).
//!
//! Request handlers never wait for the ledger: they put an event on the feed
//! (a bounded queue, `try_send`) and one worker owns everything after that —
//! salted commitments, appends in the order events were queued, the
//! per-incident leaf index the portal shows, and notifications. A full queue or
//! a failed append is logged and counted (`pingan_citizen_ledger_feed_failures`),
//! never turned into a failed request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use pingan_core::{Clock, Timestamp};
use pingan_jurisdiction::Jurisdiction;
use pingan_ledger::{
    AlertDisposition, CaseEntity, CaseStateChange, Commitment, LeafRecord, WatchAction, WatchEvent,
};
use pingan_store::{CaseLeafRow, IncidentRow, NewNotification, Store, StoreError, WatchRow};
use prometheus_client::metrics::counter::Counter;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::config::CitizenSettings;
use crate::ledger::LedgerService;
use crate::notify::{Outbox, Template};

/// Receipt code alphabet: digits and capitals without 0/O/1/I, so a code read
/// out over the phone cannot be misheard as another. 32 symbols = 5 bits each.
pub const CODE_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Symbols per code: 12 × 5 = 60 random bits.
pub const CODE_LEN: usize = 12;
/// Events the feed queues before new ones are dropped (and counted).
const FEED_QUEUE: usize = 65_536;
/// Events the worker takes per batch of appends.
const FEED_BATCH: usize = 512;
/// Incidents whose last recorded state is cached before the cache is reset.
const LAST_STATE_CACHE: usize = 100_000;
/// How often ended watches are looked for (the alert engine ends them).
const WATCH_EXPIRY_POLL: Duration = Duration::from_secs(10);
/// `meta` key: `(ended_at, id)` of the last expired watch recorded.
const META_WATCH_CURSOR: &str = "citizen.watch_expiry_cursor";

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

    /// Takes one token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.per_minute / 60.0;
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= BUCKET_KEYS && !map.contains_key(key) {
            let burst = self.burst;
            map.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.saturating_duration_since(*at).as_secs_f64() * rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / rate))
        }
    }
}

/// One event for the ledger.
#[derive(Debug, Clone)]
enum FeedItem {
    Case {
        incident_id: i64,
        number: String,
        status: String,
        org_id: i64,
        org_path: String,
        at: i64,
        phone: String,
    },
    Watch {
        id: i64,
        action: WatchAction,
        at: i64,
        org_path: String,
        targets: String,
        definition: String,
    },
    Alert {
        id: i64,
        disposition: String,
        at: i64,
        org_path: String,
    },
}

/// The non-blocking entry point of the ledger feed. Cheap to clone.
#[derive(Clone)]
pub struct LedgerFeed {
    tx: mpsc::Sender<FeedItem>,
    failures: Counter,
}

impl std::fmt::Debug for LedgerFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerFeed")
            .field("failures", &self.failures.get())
            .finish()
    }
}

impl LedgerFeed {
    fn push(&self, item: FeedItem) {
        if let Err(e) = self.tx.try_send(item) {
            self.failures.inc();
            tracing::error!(error = %e, "ledger feed queue refused an event; it is not recorded");
        }
    }

    /// Records the incident's current state (called on every state change).
    pub fn case_changed(&self, row: &IncidentRow, at: i64) {
        self.push(FeedItem::Case {
            incident_id: row.id,
            number: row.number.clone(),
            status: row.status.clone(),
            org_id: row.org_id,
            org_path: row.org_path.clone(),
            at,
            phone: row.caller_phone.clone(),
        });
    }

    /// Records a watch created or changed (cancellation is a change of status).
    /// The watched identities and the definition enter the log only as
    /// salted commitments.
    pub fn watch_changed(&self, row: &WatchRow, action: WatchAction, at: i64) {
        let targets = serde_json::from_str::<serde_json::Value>(&row.spec)
            .ok()
            .and_then(|v| {
                v.get("target")
                    .or_else(|| v.get("targets"))
                    .map(|t| t.to_string())
            })
            .unwrap_or_default();
        self.push(FeedItem::Watch {
            id: row.id,
            action,
            at,
            org_path: row.org_path.clone(),
            targets,
            definition: format!("{}\n{}\n{}", row.status, row.expires_at, row.spec),
        });
    }

    /// Records an alert disposition (`acknowledged`, `verified`,
    /// `dispatched`, `closed:true_positive`, …).
    pub fn alert_disposed(&self, id: i64, disposition: &str, at: i64, org_path: &str) {
        self.push(FeedItem::Alert {
            id,
            disposition: disposition.to_string(),
            at,
            org_path: org_path.to_string(),
        });
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

impl CitizenService {
    /// Starts the feed worker, the watch-expiry poller and the outbox worker.
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
            "Case/watch/alert events that could not be recorded in the ledger",
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
        let (tx, rx) = mpsc::channel(FEED_QUEUE);
        let feed = LedgerFeed {
            tx,
            failures: counters.failures.clone(),
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
        tokio::spawn(worker.run(rx));
        tokio::spawn(poll_watch_expiry(store.clone(), feed.clone()));
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

    /// Issues the receipt code of a new incident: stores its hash with a
    /// salted commitment to the caller (which the incident's ledger leaves
    /// carry) and queues the 受理 message with the code to the caller.
    /// Returns the code, to be read out by the call taker.
    pub async fn open_case(&self, row: &IncidentRow) -> Result<String, CitizenError> {
        let now = self.clock.now().millis();
        let subject = self
            .ledger
            .commit_personal(row.caller_phone.as_bytes())
            .await?;
        // A collision of 60-bit codes is practically impossible; retry anyway
        // rather than fail an emergency call on it.
        let mut tries = 0;
        let code = loop {
            let code = new_receipt_code();
            let hash = code_hash(&normalize_code(&code).unwrap_or_default());
            match self
                .store
                .create_citizen_case(row.id, &hash, &subject.0, now)
                .await
            {
                Ok(_) => break code,
                Err(StoreError::Conflict { .. }) if tries < 3 => tries += 1,
                Err(e) => return Err(e.into()),
            }
        };
        self.outbox
            .enqueue(&NewNotification {
                incident_id: Some(row.id),
                org_path: row.org_path.clone(),
                dedupe_key: format!("incident:{}:{}", row.id, Template::Accepted.code()),
                template: Template::Accepted.code().into(),
                recipient: row.caller_phone.clone(),
                body: Template::Accepted.render(&row.number, &code, "", &self.settings.portal_url),
            })
            .await?;
        Ok(code)
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
    /// Last recorded `(status, org code)` per incident.
    last: HashMap<i64, (String, String)>,
    metrics: FeedMetrics,
}

/// What to remember once a record is appended.
enum After {
    Nothing,
    CaseLeaf {
        incident_id: i64,
        status: String,
        org_code: String,
        at: i64,
    },
}

impl FeedWorker {
    fn jurisdiction(&self) -> Arc<Jurisdiction> {
        self.jurisdiction
            .read()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    async fn run(mut self, mut rx: mpsc::Receiver<FeedItem>) {
        let mut batch = Vec::with_capacity(FEED_BATCH);
        while rx.recv_many(&mut batch, FEED_BATCH).await > 0 {
            let items = std::mem::take(&mut batch);
            let mut prepared: Vec<(LeafRecord, After)> = Vec::with_capacity(items.len());
            for item in items {
                match self.prepare(item).await {
                    Ok(Some(p)) => prepared.push(p),
                    Ok(None) => {}
                    Err(e) => {
                        self.metrics.failures.inc();
                        tracing::error!(error = %e, "ledger feed event not recorded");
                    }
                }
            }
            // `join_all` polls the appends in order, so they reach the
            // ledger's queue (and the log) in the order events were fed.
            let results =
                futures::future::join_all(prepared.iter().map(|(r, _)| self.ledger.append(r)))
                    .await;
            for ((_, after), res) in prepared.into_iter().zip(results) {
                match res {
                    Ok(a) => {
                        self.metrics.leaves.inc();
                        if let After::CaseLeaf {
                            incident_id,
                            status,
                            org_code,
                            at,
                        } = after
                        {
                            let leaf = CaseLeafRow {
                                leaf_index: a.index as i64,
                                incident_id,
                                status,
                                org_code,
                                at,
                            };
                            if let Err(e) = self.store.put_case_leaf(&leaf).await {
                                self.metrics.failures.inc();
                                tracing::error!(error = %e, incident = incident_id, leaf = a.index, "case leaf index not stored");
                            }
                        }
                    }
                    Err(e) => {
                        self.metrics.failures.inc();
                        tracing::error!(error = %e, "ledger append failed");
                    }
                }
            }
        }
    }

    async fn prepare(
        &mut self,
        item: FeedItem,
    ) -> Result<Option<(LeafRecord, After)>, CitizenError> {
        let j = self.jurisdiction();
        match item {
            FeedItem::Case {
                incident_id,
                number,
                status,
                org_id,
                org_path,
                at,
                phone,
            } => {
                let org_code = code_of(&j, org_id);
                let prev = match self.last.get(&incident_id) {
                    Some(p) => Some(p.clone()),
                    None => self
                        .store
                        .last_case_leaf(incident_id)
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
                    .insert(incident_id, (status.clone(), org_code.clone()));
                let case = self.store.citizen_case_by_incident(incident_id).await?;
                if case.is_some() {
                    self.announce(
                        incident_id,
                        &number,
                        &status,
                        org_id,
                        &org_code,
                        &org_path,
                        prev.as_ref(),
                        &phone,
                        &j,
                    )
                    .await;
                }
                let subject = match case.and_then(|c| <[u8; 32]>::try_from(c.subject).ok()) {
                    Some(h) => Commitment(h),
                    None => self.ledger.commit_personal(phone.as_bytes()).await?,
                };
                let record = LeafRecord::CaseState(CaseStateChange {
                    entity: CaseEntity::Incident,
                    number,
                    from: prev.map(|p| p.0),
                    to: status.clone(),
                    at: Timestamp(at),
                    org: org_code.clone(),
                    subject: Some(subject),
                });
                Ok(Some((
                    record,
                    After::CaseLeaf {
                        incident_id,
                        status,
                        org_code,
                        at,
                    },
                )))
            }
            FeedItem::Watch {
                id,
                action,
                at,
                org_path,
                targets,
                definition,
            } => {
                let subject = if targets.is_empty() {
                    None
                } else {
                    Some(self.ledger.commit_personal(targets.as_bytes()).await?)
                };
                let rule = self.ledger.commit_personal(definition.as_bytes()).await?;
                Ok(Some((
                    LeafRecord::Watch(WatchEvent {
                        watch: format!("watch-{id}"),
                        action,
                        at: Timestamp(at),
                        org: code_of_path(&j, &org_path),
                        subject,
                        rule_digest: Some(rule),
                    }),
                    After::Nothing,
                )))
            }
            FeedItem::Alert {
                id,
                disposition,
                at,
                org_path,
            } => Ok(Some((
                LeafRecord::AlertDisposition(AlertDisposition {
                    alert: format!("alert-{id}"),
                    disposition,
                    at: Timestamp(at),
                    org: code_of_path(&j, &org_path),
                    subject: None,
                }),
                After::Nothing,
            ))),
        }
    }

    /// Queues the citizen's message for a state change, if it is one that is
    /// announced. Each state (or each station of a transfer) is announced once.
    #[allow(clippy::too_many_arguments)]
    async fn announce(
        &self,
        incident_id: i64,
        number: &str,
        status: &str,
        org_id: i64,
        org_code: &str,
        org_path: &str,
        prev: Option<&(String, String)>,
        phone: &str,
        j: &Jurisdiction,
    ) {
        let (template, key) = match (Template::for_status(status), prev) {
            (Some(t), Some(p)) if p.0 != status => {
                (t, format!("incident:{incident_id}:{}", t.code()))
            }
            (_, Some(p)) if p.1 != org_code => (
                Template::Transferred,
                format!("incident:{incident_id}:transferred:{org_code}"),
            ),
            _ => return,
        };
        let station = j.node(org_id).map(|n| n.name.clone()).unwrap_or_default();
        let n = NewNotification {
            incident_id: Some(incident_id),
            org_path: org_path.to_string(),
            dedupe_key: key,
            template: template.code().into(),
            recipient: phone.to_string(),
            body: template.render(number, "", &station, &self.portal_url),
        };
        if let Err(e) = self.outbox.enqueue(&n).await {
            self.metrics.failures.inc();
            tracing::error!(error = %e, incident = incident_id, "citizen notification not queued");
        }
    }
}

/// Feeds watches the alert engine ended (expired) into the ledger, resuming
/// after the last one recorded (kept in `meta`, so restarts neither skip nor
/// repeat).
async fn poll_watch_expiry(store: Store, feed: LedgerFeed) {
    let mut tick = tokio::time::interval(WATCH_EXPIRY_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = record_expired_watches(&store, &feed).await {
            tracing::warn!(error = %e, "expired watches not fed to the ledger this round");
        }
    }
}

async fn record_expired_watches(store: &Store, feed: &LedgerFeed) -> Result<(), StoreError> {
    let cursor: (i64, i64) = store
        .get_meta(META_WATCH_CURSOR)
        .await?
        .and_then(|v| {
            let (a, b) = v.split_once(':')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((i64::MIN, i64::MIN));
    let (rows, _) = store
        .list_watches(
            &pingan_store::WatchFilter {
                path_prefix: "/".into(),
                status: Some("expired".into()),
            },
            pingan_store::Page {
                limit: 1000,
                offset: 0,
            },
        )
        .await?;
    let mut ended: Vec<(i64, i64, &WatchRow)> = rows
        .iter()
        .filter_map(|r| Some((r.ended_at?, r.id, r)))
        .filter(|(at, id, _)| (*at, *id) > cursor)
        .collect();
    ended.sort_by_key(|(at, id, _)| (*at, *id));
    let Some(&(last_at, last_id, _)) = ended.last() else {
        return Ok(());
    };
    for (at, _, row) in &ended {
        feed.watch_changed(row, WatchAction::Expired, *at);
    }
    store
        .set_meta(META_WATCH_CURSOR, &format!("{last_at}:{last_id}"))
        .await
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
