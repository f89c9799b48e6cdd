//! Citizen notifications: the pluggable [`Notifier`] (a real HTTP webhook
//! adapter; an SMS gateway implements the same trait), the Chinese message
//! templates per case state, and the worker that drains the durable outbox
//! (`notifications` table) with a per-attempt timeout, exponential backoff and
//! a delivery log of every attempt.
//!
//! Messages are written to the outbox first and delivered afterwards, so a
//! crash or an unreachable gateway delays a message but never loses it. With
//! no channel configured each message is parked as `no_channel` (and logged as
//! such) and re-queued when the server next starts with a channel (if younger
//! than a day; older ones stay held, visible in the delivery log).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use pingan_store::{NewNotification, NotificationAttemptRow, NotificationOutcome, Store};
use serde::Serialize;

use crate::config::CitizenSettings;

/// One message to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    /// Outbox id; receivers use it to drop repeats (`Idempotency-Key`).
    pub id: i64,
    /// Recipient phone number.
    pub to: String,
    /// Template code (`accepted`, `dispatched`, …).
    pub template: String,
    /// Rendered Chinese text.
    pub text: String,
}

/// What one delivery attempt returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// HTTP (or gateway) status, when the peer answered.
    pub status_code: Option<u16>,
    /// Why it failed; `None` means delivered.
    pub error: Option<String>,
}

impl Delivery {
    pub fn delivered(&self) -> bool {
        self.error.is_none()
    }
}

/// A delivery channel. Implementations must not retry themselves: the outbox
/// worker owns retries, so that every attempt is logged.
pub trait Notifier: Send + Sync {
    /// Channel name written to the delivery log (`webhook`, `sms`, …).
    fn channel(&self) -> &'static str;
    /// Attempts to deliver `m` once.
    fn deliver<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Delivery>;
}

/// Posts each message as JSON to a URL:
/// `{"id","to","template","text"}` with header `Idempotency-Key:
/// pingan-notification-<id>`; any 2xx status counts as delivered.
pub struct WebhookNotifier {
    url: String,
    client: reqwest::Client,
}

impl WebhookNotifier {
    /// A webhook adapter with a per-request timeout.
    pub fn new(url: &str, timeout: Duration) -> Result<WebhookNotifier, reqwest::Error> {
        Ok(WebhookNotifier {
            url: url.to_string(),
            client: reqwest::Client::builder().timeout(timeout).build()?,
        })
    }
}

impl Notifier for WebhookNotifier {
    fn channel(&self) -> &'static str {
        "webhook"
    }

    fn deliver<'a>(&'a self, m: &'a Message) -> BoxFuture<'a, Delivery> {
        Box::pin(async move {
            let sent = self
                .client
                .post(&self.url)
                .header("idempotency-key", format!("pingan-notification-{}", m.id))
                .json(m)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => Delivery {
                    status_code: Some(r.status().as_u16()),
                    error: None,
                },
                Ok(r) => Delivery {
                    status_code: Some(r.status().as_u16()),
                    error: Some(format!("HTTP {}", r.status().as_u16())),
                },
                Err(e) => Delivery {
                    status_code: None,
                    error: Some(if e.is_timeout() {
                        "timed out".to_string()
                    } else {
                        format!("request failed: {e}")
                    }),
                },
            }
        })
    }
}

/// Message templates. `accepted` carries the receipt code (the only message
/// that can: the server keeps nothing but the code's hash); the others name
/// the case number and point to the portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// 受理 — with the receipt code.
    Accepted,
    /// 已派警
    Dispatched,
    /// 已到场
    OnScene,
    /// 已办结 — with the invitation to evaluate.
    Closed,
    /// 已转交 other agencies (12345, 120, …).
    Diverted,
    /// 已移交 another station.
    Transferred,
}

impl Template {
    pub fn code(self) -> &'static str {
        match self {
            Template::Accepted => "accepted",
            Template::Dispatched => "dispatched",
            Template::OnScene => "on_scene",
            Template::Closed => "closed",
            Template::Diverted => "diverted",
            Template::Transferred => "transferred",
        }
    }

    /// The template announcing an incident status, if that status is announced.
    pub fn for_status(status: &str) -> Option<Template> {
        Some(match status {
            "dispatched" => Template::Dispatched,
            "on_scene" => Template::OnScene,
            "closed" => Template::Closed,
            "diverted" => Template::Diverted,
            _ => return None,
        })
    }

    /// Renders the message. `code` is used by `accepted` only, `station` by
    /// `transferred` only.
    pub fn render(self, number: &str, code: &str, station: &str, portal: &str) -> String {
        match self {
            Template::Accepted => format!(
                "【平安】您的报警已受理，警情编号{number}，回执码{code}。凭回执码和报警手机号后4位可在{portal}查询办理进度。"
            ),
            Template::Dispatched => format!(
                "【平安】您报警的警情{number}已派警，民警正在赶往现场。进度查询：{portal}（需受理短信中的回执码）。"
            ),
            Template::OnScene => {
                format!("【平安】民警已到达警情{number}现场处置。进度查询：{portal}。")
            }
            Template::Closed => format!(
                "【平安】您报警的警情{number}已办结。欢迎在{portal}凭回执码对本次处警作出评价。"
            ),
            Template::Diverted => format!(
                "【平安】您反映的事项（警情{number}）已转交相关职能部门办理。进度查询：{portal}。"
            ),
            Template::Transferred => {
                format!("【平安】您报警的警情{number}已移交{station}办理。进度查询：{portal}。")
            }
        }
    }
}

/// Backoff before attempt `attempts + 1`: `base · 2^(attempts−1)`, capped.
pub fn backoff(settings: &CitizenSettings, attempts: u32) -> Duration {
    let exp = attempts.saturating_sub(1).min(30);
    let ms = settings
        .notify_backoff_ms
        .saturating_mul(1u64 << exp)
        .min(settings.notify_backoff_max_ms);
    Duration::from_millis(ms)
}

/// The outbox: enqueueing and the delivery worker.
pub struct Outbox {
    store: Store,
    clock: Arc<dyn pingan_core::Clock>,
    notifier: Option<Arc<dyn Notifier>>,
    settings: CitizenSettings,
    wake: tokio::sync::Notify,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("channel", &self.notifier.as_ref().map(|n| n.channel()))
            .finish_non_exhaustive()
    }
}

/// Most messages one worker pass takes from the outbox.
const BATCH: i64 = 64;
/// Messages held for lack of a channel are sent once a channel is configured
/// only if they are younger than this: a day-old "units dispatched" helps nobody.
const REQUEUE_MAX_AGE: Duration = Duration::from_secs(24 * 3600);
/// How much longer than one attempt's timeout a claim is held.
const LEASE_MARGIN_MS: i64 = 5_000;
/// Longest the worker sleeps without checking the outbox (other processes
/// may have enqueued messages).
const IDLE_POLL: Duration = Duration::from_secs(5);

impl Outbox {
    /// An outbox delivering through `notifier` (`None`: no channel configured).
    pub fn new(
        store: Store,
        clock: Arc<dyn pingan_core::Clock>,
        notifier: Option<Arc<dyn Notifier>>,
        settings: CitizenSettings,
    ) -> Arc<Outbox> {
        Arc::new(Outbox {
            store,
            clock,
            notifier,
            settings,
            wake: tokio::sync::Notify::new(),
        })
    }

    /// The configured channel from settings: the webhook if a URL is set.
    pub fn notifier_from(
        settings: &CitizenSettings,
    ) -> Result<Option<Arc<dyn Notifier>>, reqwest::Error> {
        Ok(match settings.notify_webhook_url.as_deref() {
            Some(url) if !url.trim().is_empty() => Some(Arc::new(WebhookNotifier::new(
                url.trim(),
                Duration::from_millis(settings.notify_timeout_ms),
            )?)),
            _ => None,
        })
    }

    /// Enqueues a message (idempotent per `dedupe_key`) and wakes the worker.
    /// Returns the outbox id, or `None` if it was already queued.
    pub async fn enqueue(
        &self,
        n: &NewNotification,
    ) -> Result<Option<i64>, pingan_store::StoreError> {
        let id = self
            .store
            .enqueue_notification(n, self.clock.now().millis())
            .await?;
        if id.is_some() {
            self.wake.notify_one();
        }
        Ok(id)
    }

    /// Wakes the delivery worker after a notification was queued elsewhere
    /// (in another record's transaction).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Starts the single delivery worker.
    pub fn spawn(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move { me.run().await });
    }

    async fn run(self: Arc<Self>) {
        if self.notifier.is_some() {
            match self
                .store
                .requeue_unchannelled_notifications(
                    self.clock.now().millis(),
                    self.clock.now().millis() - REQUEUE_MAX_AGE.as_millis() as i64,
                )
                .await
            {
                Ok(n) if n > 0 => {
                    tracing::info!(
                        requeued = n,
                        "notifications held without a channel re-queued"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not re-queue held notifications"),
            }
        }
        let mut failures = 0u32;
        loop {
            let sleep = match self.pass().await {
                Ok(()) => {
                    failures = 0;
                    match self.store.next_notification_due().await {
                        Ok(Some(t)) => Duration::from_millis(
                            (t - self.clock.now().millis()).clamp(0, IDLE_POLL.as_millis() as i64)
                                as u64,
                        ),
                        Ok(None) => IDLE_POLL,
                        Err(e) => {
                            tracing::warn!(error = %e, "notification outbox not readable");
                            IDLE_POLL
                        }
                    }
                }
                Err(e) => {
                    // The store is failing: back off, doubling up to a minute.
                    failures = failures.saturating_add(1);
                    let d = Duration::from_millis(500u64 << failures.min(7));
                    tracing::warn!(error = %e, retry_in_ms = d.as_millis() as u64, "notification pass failed");
                    d
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(sleep) => {},
                _ = self.wake.notified() => {},
            }
        }
    }

    /// Attempts every due message once, in order.
    async fn pass(&self) -> Result<(), pingan_store::StoreError> {
        loop {
            let due = self
                .store
                .due_notifications(self.clock.now().millis(), BATCH)
                .await?;
            if due.is_empty() {
                return Ok(());
            }
            for n in due {
                // The lease outlasts one attempt; another process sharing
                // the database skips the message meanwhile.
                let now = self.clock.now().millis();
                let lease = now + self.settings.notify_timeout_ms as i64 + LEASE_MARGIN_MS;
                if self.store.claim_notification(n.id, now, lease).await? {
                    self.attempt(n).await?;
                }
            }
        }
    }

    async fn attempt(
        &self,
        n: pingan_store::NotificationRow,
    ) -> Result<(), pingan_store::StoreError> {
        let attempt_no = n.attempts + 1;
        let started = Instant::now();
        let (channel, delivery) = match &self.notifier {
            None => (
                "none",
                Delivery {
                    status_code: None,
                    error: Some("no channel configured".into()),
                },
            ),
            Some(notifier) => {
                let m = Message {
                    id: n.id,
                    to: n.recipient.clone(),
                    template: n.template.clone(),
                    text: n.body.clone(),
                };
                // The adapter has its own timeout; this bounds adapters that do not.
                let limit = Duration::from_millis(self.settings.notify_timeout_ms + 1_000);
                let d = match tokio::time::timeout(limit, notifier.deliver(&m)).await {
                    Ok(d) => d,
                    Err(_) => Delivery {
                        status_code: None,
                        error: Some("timed out".into()),
                    },
                };
                (notifier.channel(), d)
            }
        };
        let now = self.clock.now().millis();
        let outcome = if self.notifier.is_none() {
            NotificationOutcome::NoChannel
        } else if delivery.delivered() {
            NotificationOutcome::Delivered
        } else if attempt_no >= i64::from(self.settings.notify_max_attempts) {
            NotificationOutcome::Failed
        } else {
            let wait = backoff(&self.settings, attempt_no as u32);
            NotificationOutcome::RetryAt(now + wait.as_millis() as i64)
        };
        let row = NotificationAttemptRow {
            notification_id: n.id,
            attempt: attempt_no,
            at: now,
            channel: channel.to_string(),
            status_code: delivery.status_code.map(i64::from),
            error: delivery.error.clone(),
            duration_ms: started.elapsed().as_millis() as i64,
        };
        self.store
            .record_notification_attempt(&row, outcome)
            .await?;
        match outcome {
            NotificationOutcome::Failed => tracing::warn!(
                notification = n.id,
                attempts = attempt_no,
                error = delivery.error.as_deref().unwrap_or(""),
                "notification given up"
            ),
            NotificationOutcome::NoChannel => tracing::warn!(
                notification = n.id,
                "notification held: no delivery channel configured"
            ),
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let s = CitizenSettings {
            notify_backoff_ms: 1_000,
            notify_backoff_max_ms: 10_000,
            ..CitizenSettings::default()
        };
        let got: Vec<u64> = (1..=6).map(|a| backoff(&s, a).as_millis() as u64).collect();
        assert_eq!(got, [1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
    }

    #[test]
    fn templates_name_the_case_and_only_accepted_has_the_code() {
        let t =
            Template::Accepted.render("JQ20261124000001", "ABCD-EFGH-JKLM", "", "https://x/portal");
        assert_eq!(
            t,
            "【平安】您的报警已受理，警情编号JQ20261124000001，回执码ABCD-EFGH-JKLM。凭回执码和报警手机号后4位可在https://x/portal查询办理进度。"
        );
        for s in ["dispatched", "on_scene", "closed", "diverted"] {
            let tpl = Template::for_status(s).unwrap();
            assert_eq!(tpl.code(), s);
            let text = tpl.render("JQ1", "SECRET", "", "P");
            assert!(text.contains("JQ1") && !text.contains("SECRET"), "{text}");
        }
        assert_eq!(Template::for_status("en_route"), None);
        assert!(
            Template::Transferred
                .render("JQ1", "", "西门派出所", "P")
                .contains("已移交西门派出所办理")
        );
    }
}
