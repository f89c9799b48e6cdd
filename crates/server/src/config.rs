//! The one typed configuration: defaults, then a TOML file, then `PINGAN_*`
//! environment variables, validated once at start with messages that name the
//! setting at fault. Secrets (the database URL's password) are never printed.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// Directory for the SQLite database, indexes and caches.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL; unset means SQLite in `data_dir`.
    pub database: Option<String>,
    /// Lifetime of a login token.
    pub token_ttl_minutes: u64,
    /// Largest accepted request body.
    pub body_limit_bytes: usize,
    /// `text` or `json` logs.
    pub log_format: String,
    /// A unit position older than this is flagged stale.
    pub position_stale_secs: u64,
    /// Directory of the built web console (defaults to `web/dist` if it exists).
    pub web_dir: Option<PathBuf>,
    /// Early warning: ingest queues, raw-event retention, the demo event feed (`[alerts]` table).
    pub alerts: AlertSettings,
    /// The demo's simulated city life (`[demo]` table).
    pub demo: DemoSettings,
    /// Citizen portal rate limits and notification delivery (`[citizen]` table).
    pub citizen: CitizenSettings,
}

/// Settings of the citizen portal and notifier (`crate::citizen`, `crate::notify`).
#[derive(Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct CitizenSettings {
    /// Webhook that delivers citizen notifications (SMS gateway bridge).
    /// Unset: messages are kept in the outbox as `no_channel`, never dropped.
    pub notify_webhook_url: Option<String>,
    /// Timeout of one delivery attempt.
    pub notify_timeout_ms: u64,
    /// Attempts before a message is given up (`failed`).
    pub notify_max_attempts: u32,
    /// First retry delay; doubles per attempt …
    pub notify_backoff_ms: u64,
    /// … up to this.
    pub notify_backoff_max_ms: u64,
    /// Portal address named in messages.
    pub portal_url: String,
    /// Portal lookups per minute per client IP (token bucket refill) …
    pub portal_ip_per_minute: u32,
    /// … with this burst.
    pub portal_ip_burst: u32,
    /// Portal lookups per minute per receipt code …
    pub portal_code_per_minute: u32,
    /// … with this burst.
    pub portal_code_burst: u32,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

impl Default for CitizenSettings {
    fn default() -> Self {
        CitizenSettings {
            notify_webhook_url: None,
            notify_timeout_ms: 5_000,
            notify_max_attempts: 10,
            notify_backoff_ms: 2_000,
            notify_backoff_max_ms: 600_000,
            portal_url: "https://pingan.local/portal".into(),
            portal_ip_per_minute: 30,
            portal_ip_burst: 10,
            portal_code_per_minute: 6,
            portal_code_burst: 5,
            trust_forwarded_for: false,
        }
    }
}

impl std::fmt::Debug for CitizenSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CitizenSettings")
            // Webhook URLs often carry a token in the query: show the origin only.
            .field(
                "notify_webhook_url",
                &self
                    .notify_webhook_url
                    .as_deref()
                    .map(|u| u.split(['?', '#']).next().unwrap_or_default().to_string()),
            )
            .field("notify_timeout_ms", &self.notify_timeout_ms)
            .field("notify_max_attempts", &self.notify_max_attempts)
            .field("notify_backoff_ms", &self.notify_backoff_ms)
            .field("notify_backoff_max_ms", &self.notify_backoff_max_ms)
            .field("portal_url", &self.portal_url)
            .field("portal_ip_per_minute", &self.portal_ip_per_minute)
            .field("portal_ip_burst", &self.portal_ip_burst)
            .field("portal_code_per_minute", &self.portal_code_per_minute)
            .field("portal_code_burst", &self.portal_code_burst)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .finish()
    }
}

impl CitizenSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(u) = &self.notify_webhook_url
            && !u.is_empty()
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                field: "citizen.notify_webhook_url",
                reason: "must be an http:// or https:// URL".into(),
            });
        }
        let positive = [
            ("citizen.notify_timeout_ms", self.notify_timeout_ms),
            (
                "citizen.notify_max_attempts",
                u64::from(self.notify_max_attempts),
            ),
            ("citizen.notify_backoff_ms", self.notify_backoff_ms),
            (
                "citizen.portal_ip_per_minute",
                u64::from(self.portal_ip_per_minute),
            ),
            ("citizen.portal_ip_burst", u64::from(self.portal_ip_burst)),
            (
                "citizen.portal_code_per_minute",
                u64::from(self.portal_code_per_minute),
            ),
            (
                "citizen.portal_code_burst",
                u64::from(self.portal_code_burst),
            ),
        ];
        if let Some((field, _)) = positive.into_iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid {
                field,
                reason: "must be positive".into(),
            });
        }
        if self.notify_backoff_max_ms < self.notify_backoff_ms {
            return Err(ConfigError::Invalid {
                field: "citizen.notify_backoff_max_ms",
                reason: "must be at least notify_backoff_ms".into(),
            });
        }
        Ok(())
    }
}

/// Settings of the demo simulator (`crate::sim`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DemoSettings {
    /// Run the simulator (calls, dispatch, movement); on for `pingan demo`.
    pub simulate: bool,
    /// Mean simulated calls per day over the whole city.
    pub calls_per_day: f64,
    /// Seed of the simulated calls and decisions.
    pub seed: u64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings {
            simulate: false,
            calls_per_day: 1_500.0,
            seed: 2026,
        }
    }
}

/// Settings of the early-warning service (`crate::alerts`) and its demo feed
/// (`crate::alert_feed`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AlertSettings {
    /// Event batches queued for the engine; beyond it ingestion answers 503.
    pub queue_batches: usize,
    /// Accepted events not yet written as raw events; beyond it ingestion answers 429.
    pub queue_events: usize,
    /// Raw events are written behind alerts in batches of up to this many …
    pub raw_flush_events: usize,
    /// … or after this many milliseconds, whichever comes first.
    pub raw_flush_ms: u64,
    /// Raw events that hit no rule are purged after this many hours.
    pub event_retention_hours: u64,
    /// How often the retention purge runs.
    pub purge_every_secs: u64,
    /// A sensor that sends nothing for this long is flagged silent.
    pub sensor_silent_after_secs: u64,
    /// Feed synthetic sensor events into a demo city (only where `pingan demo`
    /// seeded the demo sensors and watches).
    pub demo_feed: bool,
    /// Synthetic events per second of the demo feed.
    pub demo_feed_rate: f64,
    /// Share of demo events that carry a watched identifier.
    pub demo_feed_hit_share: f64,
}

impl Default for AlertSettings {
    fn default() -> Self {
        AlertSettings {
            queue_batches: 256,
            queue_events: 500_000,
            raw_flush_events: 20_000,
            raw_flush_ms: 500,
            event_retention_hours: 7 * 24,
            purge_every_secs: 60,
            sensor_silent_after_secs: 3_600,
            demo_feed: true,
            demo_feed_rate: 20.0,
            demo_feed_hit_share: 0.004,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("pingan-data"),
            database: None,
            token_ttl_minutes: 12 * 60,
            body_limit_bytes: 16 * 1024 * 1024,
            log_format: "text".into(),
            position_stale_secs: 300,
            web_dir: None,
            alerts: AlertSettings::default(),
            demo: DemoSettings::default(),
            citizen: CitizenSettings::default(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database.as_deref().map(redact_url))
            .field("token_ttl_minutes", &self.token_ttl_minutes)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("log_format", &self.log_format)
            .field("position_stale_secs", &self.position_stale_secs)
            .field("web_dir", &self.web_dir)
            .field("alerts", &self.alerts)
            .field("demo", &self.demo)
            .field("citizen", &self.citizen)
            .finish()
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://")
        && let Some((creds, host)) = rest.split_once('@')
        && let Some((user, _)) = creds.split_once(':')
    {
        return format!("{scheme}://{user}:***@{host}");
    }
    url.to_string()
}

#[derive(Debug, Error, PartialEq)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("config file {path}: {reason}")]
    Parse { path: String, reason: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
    #[error("setting `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// Every `PINGAN_*` variable [`Config::load`] reads, with the setting it sets
/// (dotted, as in the TOML file).
pub const CONFIG_ENV_VARS: &[(&str, &str)] = &[
    ("PINGAN_LISTEN", "listen"),
    ("PINGAN_DATA_DIR", "data_dir"),
    ("PINGAN_DATABASE", "database"),
    ("PINGAN_DATABASE_URL", "database"),
    ("PINGAN_TOKEN_TTL_MINUTES", "token_ttl_minutes"),
    ("PINGAN_BODY_LIMIT_BYTES", "body_limit_bytes"),
    ("PINGAN_LOG_FORMAT", "log_format"),
    ("PINGAN_POSITION_STALE_SECS", "position_stale_secs"),
    ("PINGAN_WEB_DIR", "web_dir"),
    (
        "PINGAN_ALERTS_EVENT_RETENTION_HOURS",
        "alerts.event_retention_hours",
    ),
    ("PINGAN_ALERTS_QUEUE_EVENTS", "alerts.queue_events"),
    ("PINGAN_ALERTS_DEMO_FEED", "alerts.demo_feed"),
    ("PINGAN_ALERTS_DEMO_FEED_RATE", "alerts.demo_feed_rate"),
    ("PINGAN_DEMO_SIMULATE", "demo.simulate"),
    ("PINGAN_DEMO_CALLS_PER_DAY", "demo.calls_per_day"),
    ("PINGAN_NOTIFY_WEBHOOK_URL", "citizen.notify_webhook_url"),
];

/// `PINGAN_*` variables that are not settings but are read elsewhere: the
/// CLI's own (`--config`, log filter, passwords), the ledger key, and the test
/// and benchmark harnesses that start `pingan` with their own variables set.
pub const OTHER_ENV_VARS: &[&str] = &[
    "PINGAN_CONFIG",
    "PINGAN_LOG",
    "PINGAN_NEW_PASSWORD",
    "PINGAN_DEMO_PASSWORD",
    crate::ledger::KEY_ENV,
    crate::ledger::ORIGIN_ENV,
    // crates/store/tests: the PostgreSQL server binaries.
    "PINGAN_PG_BIN",
    // web/e2e and the web dev server.
    "PINGAN_BIN",
    "PINGAN_URL",
    "PINGAN_ADMIN",
    "PINGAN_DISPATCHER",
    "PINGAN_START_TIMEOUT_MS",
];

/// Every `PINGAN_*` variable something in pingan reads.
pub fn known_env_vars() -> impl Iterator<Item = &'static str> {
    CONFIG_ENV_VARS
        .iter()
        .map(|(v, _)| *v)
        .chain(OTHER_ENV_VARS.iter().copied())
}

/// A `PINGAN_*` variable nothing reads, most likely a typo (`PINGAN_LISTENN`):
/// worth a warning, since the setting it meant silently keeps its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEnvVar {
    pub name: String,
    /// The known variable it is closest to (at most two edits away), if any.
    pub closest: Option<&'static str>,
}

impl std::fmt::Display for UnknownEnvVar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown environment variable {} ignored", self.name)?;
        if let Some(c) = self.closest {
            write!(f, " (did you mean {c}?)")?;
        }
        let known: Vec<&str> = known_env_vars().collect();
        write!(f, "; known: {}", known.join(", "))
    }
}

/// The `PINGAN_*` variables in `env` that nothing reads, in the order given.
pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<UnknownEnvVar> {
    env.into_iter()
        .map(|(k, _)| k)
        .filter(|k| k.starts_with("PINGAN_") && !known_env_vars().any(|v| v == k))
        .map(|name| {
            let closest = known_env_vars()
                .map(|v| (edit_distance(&name, v), v))
                .filter(|(d, _)| *d <= 2)
                .min_by_key(|(d, _)| *d)
                .map(|(_, v)| v);
            UnknownEnvVar { name, closest }
        })
        .collect()
}

/// Levenshtein distance over chars (names are short, so the O(n·m) table is fine).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The settings a configuration file or the environment gave explicitly, by
/// dotted name (`listen`, `demo.simulate`). An entry point whose defaults
/// differ from [`Config::default`] (`pingan demo` simulates city life) applies
/// its own default only where nothing was said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplicitSettings(BTreeSet<String>);

impl ExplicitSettings {
    pub fn contains(&self, setting: &str) -> bool {
        self.0.contains(setting)
    }
}

impl Config {
    /// Defaults, then `file` (if given), then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        Config::load_explicit(file, env).map(|(cfg, _)| cfg)
    }

    /// [`Config::load`], also telling which settings the file or the
    /// environment set.
    pub fn load_explicit(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, ExplicitSettings), ConfigError> {
        let mut explicit = BTreeSet::new();
        let mut cfg = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError::Read {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                })?;
                let parse_err = |e: toml::de::Error| ConfigError::Parse {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                };
                let cfg = toml::from_str::<Config>(&text).map_err(parse_err)?;
                // The typed parse accepted it, so the table parse does too; it
                // only names the keys present (tables are one level deep).
                let table = toml::from_str::<toml::Table>(&text).map_err(parse_err)?;
                for (key, value) in table {
                    match value {
                        toml::Value::Table(t) => {
                            explicit.extend(t.keys().map(|sub| format!("{key}.{sub}")))
                        }
                        _ => {
                            explicit.insert(key);
                        }
                    }
                }
                cfg
            }
            None => Config::default(),
        };
        for (k, v) in env {
            let Some(name) = k.strip_prefix("PINGAN_") else {
                continue;
            };
            if let Some((_, setting)) = CONFIG_ENV_VARS.iter().find(|(var, _)| *var == k) {
                explicit.insert((*setting).to_string());
            }
            let bad = |reason: String| ConfigError::Env {
                var: k.clone(),
                reason,
            };
            match name {
                "LISTEN" => cfg.listen = v,
                "DATA_DIR" => cfg.data_dir = PathBuf::from(v),
                "DATABASE" | "DATABASE_URL" => {
                    cfg.database = if v.is_empty() { None } else { Some(v) }
                }
                "TOKEN_TTL_MINUTES" => {
                    cfg.token_ttl_minutes = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "BODY_LIMIT_BYTES" => {
                    cfg.body_limit_bytes = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "LOG_FORMAT" => cfg.log_format = v,
                "POSITION_STALE_SECS" => {
                    cfg.position_stale_secs = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "WEB_DIR" => cfg.web_dir = Some(PathBuf::from(v)),
                "ALERTS_EVENT_RETENTION_HOURS" => {
                    cfg.alerts.event_retention_hours = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "ALERTS_QUEUE_EVENTS" => {
                    cfg.alerts.queue_events = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "ALERTS_DEMO_FEED" => {
                    cfg.alerts.demo_feed = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "ALERTS_DEMO_FEED_RATE" => {
                    cfg.alerts.demo_feed_rate = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "DEMO_SIMULATE" => {
                    cfg.demo.simulate = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                "NOTIFY_WEBHOOK_URL" => {
                    cfg.citizen.notify_webhook_url = if v.is_empty() { None } else { Some(v) }
                }
                "DEMO_CALLS_PER_DAY" => {
                    cfg.demo.calls_per_day = v.parse().map_err(|e| bad(format!("{e}")))?
                }
                // Variables read elsewhere (OTHER_ENV_VARS) or nowhere
                // (`unknown_env_vars`, which the CLI warns about) are not config.
                _ => {}
            }
        }
        cfg.validate()?;
        Ok((cfg, ExplicitSettings(explicit)))
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| ConfigError::Invalid {
                field: "listen",
                reason: format!("{:?} is not host:port ({e})", self.listen),
            })?;
        if self.token_ttl_minutes == 0 || self.token_ttl_minutes > 60 * 24 * 30 {
            return Err(ConfigError::Invalid {
                field: "token_ttl_minutes",
                reason: "must be between 1 and 43200".into(),
            });
        }
        if !(1024..=1 << 30).contains(&self.body_limit_bytes) {
            return Err(ConfigError::Invalid {
                field: "body_limit_bytes",
                reason: "must be between 1 KiB and 1 GiB".into(),
            });
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            return Err(ConfigError::Invalid {
                field: "log_format",
                reason: format!("{:?} is not `text` or `json`", self.log_format),
            });
        }
        if let Some(db) = &self.database
            && !(db.starts_with("postgres://")
                || db.starts_with("postgresql://")
                || db.starts_with("sqlite://"))
        {
            return Err(ConfigError::Invalid {
                field: "database",
                reason: format!("{} is not a postgres:// or sqlite:// URL", redact_url(db)),
            });
        }
        if !self.demo.calls_per_day.is_finite()
            || !(0.0..=1_000_000.0).contains(&self.demo.calls_per_day)
        {
            return Err(ConfigError::Invalid {
                field: "demo.calls_per_day",
                reason: "must be between 0 and 1000000".into(),
            });
        }
        self.alerts.validate()?;
        self.citizen.validate()?;
        if self.position_stale_secs == 0 {
            return Err(ConfigError::Invalid {
                field: "position_stale_secs",
                reason: "must be positive".into(),
            });
        }
        Ok(())
    }

    /// The database URL to open: the configured one or SQLite in the data dir.
    pub fn database_url(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| self.data_dir.join("pingan.db").display().to_string())
    }
}

impl AlertSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("alerts.queue_batches", self.queue_batches as u64),
            ("alerts.queue_events", self.queue_events as u64),
            ("alerts.raw_flush_events", self.raw_flush_events as u64),
            ("alerts.raw_flush_ms", self.raw_flush_ms),
            ("alerts.event_retention_hours", self.event_retention_hours),
            ("alerts.purge_every_secs", self.purge_every_secs),
            (
                "alerts.sensor_silent_after_secs",
                self.sensor_silent_after_secs,
            ),
        ];
        if let Some((field, _)) = positive.into_iter().find(|(_, v)| *v == 0) {
            return Err(ConfigError::Invalid {
                field,
                reason: "must be positive".into(),
            });
        }
        // Retention is an oversight promise: at most ten years, so the
        // millisecond arithmetic cannot overflow either.
        if self.event_retention_hours > 24 * 366 * 10 {
            return Err(ConfigError::Invalid {
                field: "alerts.event_retention_hours",
                reason: "must be at most 87840 (ten years)".into(),
            });
        }
        if !self.demo_feed_rate.is_finite() || !(0.01..=100_000.0).contains(&self.demo_feed_rate) {
            return Err(ConfigError::Invalid {
                field: "alerts.demo_feed_rate",
                reason: "must be between 0.01 and 100000 events per second".into(),
            });
        }
        if !(0.0..=1.0).contains(&self.demo_feed_hit_share) {
            return Err(ConfigError::Invalid {
                field: "alerts.demo_feed_hit_share",
                reason: "must be between 0 and 1".into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn file_then_env_overrides() {
        let dir = std::env::temp_dir().join(format!("pingan-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pingan.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9000\"\ntoken_ttl_minutes = 30\n").unwrap();
        let c = Config::load(
            Some(&f),
            env(&[("PINGAN_TOKEN_TTL_MINUTES", "45"), ("HOME", "/x")]),
        )
        .unwrap();
        assert_eq!(
            (c.listen.as_str(), c.token_ttl_minutes),
            ("127.0.0.1:9000", 45)
        );
        std::fs::write(&f, "listen = 5\n").unwrap();
        assert!(matches!(
            Config::load(Some(&f), env(&[])),
            Err(ConfigError::Parse { .. })
        ));
        std::fs::write(&f, "lisen = \"x\"\n").unwrap();
        let e = Config::load(Some(&f), env(&[])).unwrap_err().to_string();
        assert!(e.contains("lisen"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn invalid_values_name_the_setting() {
        assert_eq!(
            Config::load(None, env(&[("PINGAN_LISTEN", "nowhere")]))
                .unwrap_err()
                .to_string()
                .split(':')
                .next(),
            Some("setting `listen`")
        );
        assert!(matches!(
            Config::load(None, env(&[("PINGAN_TOKEN_TTL_MINUTES", "abc")])),
            Err(ConfigError::Env { .. })
        ));
        assert!(matches!(
            Config::load(None, env(&[("PINGAN_LOG_FORMAT", "xml")])),
            Err(ConfigError::Invalid {
                field: "log_format",
                ..
            })
        ));
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Config {
            database: Some("postgres://pingan:hunter2@db/p".into()),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && shown.contains("pingan:***@db"));
    }

    #[test]
    fn alert_settings_from_file_and_env() {
        let c: Config = toml::from_str("[alerts]\nevent_retention_hours = 48\n").unwrap();
        assert_eq!(c.alerts.event_retention_hours, 48);
        assert_eq!(c.alerts.queue_events, AlertSettings::default().queue_events);
        let c = Config::load(
            None,
            env(&[
                ("PINGAN_ALERTS_EVENT_RETENTION_HOURS", "24"),
                ("PINGAN_ALERTS_DEMO_FEED", "false"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.alerts.event_retention_hours, c.alerts.demo_feed),
            (24, false)
        );
        assert!(matches!(
            Config::load(None, env(&[("PINGAN_ALERTS_QUEUE_EVENTS", "0")])),
            Err(ConfigError::Invalid {
                field: "alerts.queue_events",
                ..
            })
        ));
        assert!(matches!(
            Config::load(None, env(&[("PINGAN_ALERTS_DEMO_FEED_RATE", "NaN")])),
            Err(ConfigError::Invalid {
                field: "alerts.demo_feed_rate",
                ..
            })
        ));
    }

    #[test]
    fn every_listed_env_var_is_read() {
        // A value no setting accepts as it is, or one that changes the setting:
        // either way `load` saw the variable, so the list and the match agree.
        for (var, setting) in CONFIG_ENV_VARS {
            let r = Config::load_explicit(None, env(&[(var, "\u{1}bad")]));
            match r {
                Err(e) => assert!(
                    e.to_string().contains(var) || e.to_string().contains(setting),
                    "{var}: {e}"
                ),
                Ok((c, explicit)) => {
                    assert!(c != Config::default(), "{var} changed nothing");
                    assert!(
                        explicit.contains(setting),
                        "{var} not recorded as {setting}"
                    );
                }
            }
        }
        let (c, explicit) = Config::load_explicit(None, env(&[("PINGAN_LISTENN", "x")])).unwrap();
        assert!(c == Config::default());
        assert_eq!(explicit, ExplicitSettings::default());
    }

    #[test]
    fn unknown_env_vars_are_named_with_the_closest_known_one() {
        let unknown = unknown_env_vars(env(&[
            ("PINGAN_LISTENN", "127.0.0.1:9000"),
            ("PINGAN_LISTEN", "127.0.0.1:9000"),
            ("PINGAN_LOG", "debug"),
            ("PINGAN_LEDGER_KEY", "k"),
            ("PINGAN_WEB_DIR", "/srv/web"),
            ("PINGAN_FROBNICATE", "1"),
            ("HOME", "/root"),
        ]));
        assert_eq!(
            unknown,
            vec![
                UnknownEnvVar {
                    name: "PINGAN_LISTENN".into(),
                    closest: Some("PINGAN_LISTEN"),
                },
                UnknownEnvVar {
                    name: "PINGAN_FROBNICATE".into(),
                    closest: None,
                },
            ]
        );
        let shown = unknown[0].to_string();
        assert!(
            shown.starts_with(
                "unknown environment variable PINGAN_LISTENN ignored (did you mean PINGAN_LISTEN?); known: PINGAN_LISTEN, PINGAN_DATA_DIR,"
            ),
            "{shown}"
        );
        assert!(shown.ends_with("PINGAN_DEMO_PASSWORD, PINGAN_LEDGER_KEY, PINGAN_LEDGER_ORIGIN, PINGAN_PG_BIN, PINGAN_BIN, PINGAN_URL, PINGAN_ADMIN, PINGAN_DISPATCHER, PINGAN_START_TIMEOUT_MS"), "{shown}");
        assert_eq!(edit_distance("PINGAN_LISTENN", "PINGAN_LISTEN"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn explicit_settings_from_file_and_env() {
        let dir = std::env::temp_dir().join(format!("pingan-cfg-explicit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("pingan.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\n[demo]\nsimulate = false\n",
        )
        .unwrap();
        let (c, explicit) = Config::load_explicit(
            Some(&f),
            env(&[
                ("PINGAN_DEMO_CALLS_PER_DAY", "300"),
                ("PINGAN_DATA_DIR", "/srv/city"),
            ]),
        )
        .unwrap();
        assert_eq!(
            (c.listen.as_str(), c.demo.simulate, c.demo.calls_per_day),
            ("127.0.0.1:9000", false, 300.0)
        );
        for s in ["listen", "demo.simulate", "demo.calls_per_day", "data_dir"] {
            assert!(explicit.contains(s), "{s}");
        }
        for s in ["demo.seed", "demo", "database", "token_ttl_minutes"] {
            assert!(!explicit.contains(s), "{s}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
