//! Leaf records: the canonical, versioned JSON that goes into the log, and the
//! salted commitments that stand in for personal data.
//!
//! A record is serialised with a fixed key order (`v`, `kind`, then the kind's
//! fields in declaration order) and no whitespace; parsing re-serialises and
//! rejects any other spelling, so one event has exactly one leaf.
//! Personal data never enters a leaf: callers put `commit(salt, value)` there and
//! keep the salt privately, revealing it only to whoever may check the value.

use pingan_core::Timestamp;
use serde::{Deserialize, Serialize};

use crate::hash::{Hash, sha256};

/// Current record format version.
pub const RECORD_VERSION: u32 = 1;
/// Minimum salt length: 128 bits keeps a commitment to a phone number or an ID
/// number from being brute-forced.
pub const MIN_SALT_LEN: usize = 16;
/// Maximum salt length accepted.
pub const MAX_SALT_LEN: usize = 64;
/// Maximum length of any text field of a record.
pub const MAX_FIELD_LEN: usize = 128;

/// Why a salt, commitment or record is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("salt is {len} bytes, must be {MIN_SALT_LEN}..={MAX_SALT_LEN}")]
    SaltLength { len: usize },
    #[error("record field {field} is empty, too long or has control characters")]
    Field { field: &'static str },
    #[error("record version {version} is not supported")]
    Version { version: u32 },
    #[error("record JSON is invalid: {reason}")]
    Json { reason: String },
    #[error("record JSON is not in canonical form")]
    NotCanonical,
}

/// A secret random salt (16..=64 bytes), drawn by the caller from a CSPRNG and
/// stored privately next to the value it hides.
#[derive(Clone, PartialEq, Eq)]
pub struct Salt(Vec<u8>);

impl std::fmt::Debug for Salt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Salt({} bytes)", self.0.len())
    }
}

impl Salt {
    pub fn new(bytes: &[u8]) -> Result<Self, RecordError> {
        if !(MIN_SALT_LEN..=MAX_SALT_LEN).contains(&bytes.len()) {
            return Err(RecordError::SaltLength { len: bytes.len() });
        }
        Ok(Salt(bytes.to_vec()))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// `SHA-256(salt || value)`, written as hex in records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Commitment(#[serde(with = "crate::hash::serde_hex")] pub Hash);

/// Commits to `value` (e.g. a normalised phone number) under `salt`.
pub fn commit(salt: &Salt, value: &[u8]) -> Commitment {
    let mut buf = Vec::with_capacity(salt.0.len() + value.len());
    buf.extend_from_slice(&salt.0);
    buf.extend_from_slice(value);
    Commitment(sha256(&buf))
}

/// Whether `commitment` opens to `value` with `salt` (constant-time compare).
pub fn check_commitment(commitment: &Commitment, salt: &Salt, value: &[u8]) -> bool {
    let c = commit(salt, value);
    c.0.iter()
        .zip(commitment.0.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Milliseconds since the epoch on the wire.
mod ts_ms {
    use pingan_core::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.millis())
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        Ok(Timestamp::from_millis(i64::deserialize(d)?))
    }
}

/// What kind of case-like thing changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseEntity {
    Incident,
    Case,
}

/// What happened to a watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WatchAction {
    Created,
    Changed,
    Expired,
}

/// State change of an incident or case (creation has `from: None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseStateChange {
    pub entity: CaseEntity,
    /// Incident or case number, e.g. `J5101042026112400017`.
    pub number: String,
    pub from: Option<String>,
    pub to: String,
    #[serde(with = "ts_ms")]
    pub at: Timestamp,
    /// Code of the responsible organisation (station).
    pub org: String,
    /// Commitment to the caller's/subject's personal data, if any.
    pub subject: Option<Commitment>,
}

/// A watch (surveillance/alert subscription) was created, changed or expired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchEvent {
    pub watch: String,
    pub action: WatchAction,
    #[serde(with = "ts_ms")]
    pub at: Timestamp,
    pub org: String,
    /// Commitment to the watched identity.
    pub subject: Option<Commitment>,
    /// Digest of the watch's rule/definition, so changes are evident.
    pub rule_digest: Option<Commitment>,
}

/// An alert was disposed of (confirmed, dismissed, escalated, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertDisposition {
    pub alert: String,
    pub disposition: String,
    #[serde(with = "ts_ms")]
    pub at: Timestamp,
    pub org: String,
    pub subject: Option<Commitment>,
}

/// Periodic anchor of the personal-data audit log's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditCheckpoint {
    pub audit_seq: u64,
    #[serde(with = "crate::hash::serde_hex")]
    pub chain_head: Hash,
    #[serde(with = "ts_ms")]
    pub at: Timestamp,
}

/// The body of a leaf record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LeafRecord {
    CaseState(CaseStateChange),
    Watch(WatchEvent),
    AlertDisposition(AlertDisposition),
    AuditCheckpoint(AuditCheckpoint),
}

/// The versioned envelope: `{"v":1,"kind":...,...}`.
#[derive(Serialize, Deserialize)]
struct Envelope {
    v: u32,
    #[serde(flatten)]
    record: LeafRecord,
}

fn check_text(field: &'static str, s: &str) -> Result<(), RecordError> {
    if s.is_empty() || s.len() > MAX_FIELD_LEN || s.chars().any(char::is_control) {
        return Err(RecordError::Field { field });
    }
    Ok(())
}

impl LeafRecord {
    /// Checks the text fields (non-empty, at most 128 bytes, no control characters).
    pub fn validate(&self) -> Result<(), RecordError> {
        match self {
            LeafRecord::CaseState(c) => {
                check_text("number", &c.number)?;
                if let Some(f) = &c.from {
                    check_text("from", f)?;
                }
                check_text("to", &c.to)?;
                check_text("org", &c.org)
            }
            LeafRecord::Watch(w) => {
                check_text("watch", &w.watch)?;
                check_text("org", &w.org)
            }
            LeafRecord::AlertDisposition(a) => {
                check_text("alert", &a.alert)?;
                check_text("disposition", &a.disposition)?;
                check_text("org", &a.org)
            }
            LeafRecord::AuditCheckpoint(_) => Ok(()),
        }
    }

    /// Canonical leaf bytes (what is hashed into the log).
    pub fn to_canonical_json(&self) -> Result<String, RecordError> {
        self.validate()?;
        serde_json::to_string(&Envelope {
            v: RECORD_VERSION,
            record: self.clone(),
        })
        .map_err(|e| RecordError::Json {
            reason: e.to_string(),
        })
    }

    /// Parses leaf bytes, accepting only the canonical spelling of a supported version.
    pub fn from_canonical_json(data: &[u8]) -> Result<Self, RecordError> {
        let value: serde_json::Value =
            serde_json::from_slice(data).map_err(|e| RecordError::Json {
                reason: e.to_string(),
            })?;
        let version = value
            .get("v")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if version != u64::from(RECORD_VERSION) {
            return Err(RecordError::Version {
                version: version.min(u64::from(u32::MAX)) as u32,
            });
        }
        let env: Envelope = serde_json::from_value(value).map_err(|e| RecordError::Json {
            reason: e.to_string(),
        })?;
        let again = env.record.to_canonical_json()?;
        if again.as_bytes() != data {
            return Err(RecordError::NotCanonical);
        }
        Ok(env.record)
    }

    /// When the recorded event happened.
    pub fn at(&self) -> Timestamp {
        match self {
            LeafRecord::CaseState(c) => c.at,
            LeafRecord::Watch(w) => w.at,
            LeafRecord::AlertDisposition(a) => a.at,
            LeafRecord::AuditCheckpoint(a) => a.at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt() -> Salt {
        Salt::new(&[0x5a; 16]).unwrap()
    }

    #[test]
    fn commitments_open_only_with_the_right_salt_and_value() {
        let c = commit(&salt(), b"13800138000");
        assert!(check_commitment(&c, &salt(), b"13800138000"));
        assert!(!check_commitment(&c, &salt(), b"13800138001"));
        assert!(!check_commitment(
            &c,
            &Salt::new(&[0x5b; 16]).unwrap(),
            b"13800138000"
        ));
        assert_eq!(
            Salt::new(&[0; 15]),
            Err(RecordError::SaltLength { len: 15 })
        );
        assert_eq!(format!("{:?}", salt()), "Salt(16 bytes)");
    }

    #[test]
    fn case_state_has_fixed_canonical_form() {
        let r = LeafRecord::CaseState(CaseStateChange {
            entity: CaseEntity::Incident,
            number: "J510104202611240017".into(),
            from: Some("dispatched".into()),
            to: "on_scene".into(),
            at: Timestamp::from_millis(1_764_000_000_000),
            org: "510104".into(),
            subject: Some(Commitment([0xab; 32])),
        });
        let json = r.to_canonical_json().unwrap();
        assert_eq!(
            json,
            format!(
                "{{\"v\":1,\"kind\":\"case_state\",\"entity\":\"incident\",\"number\":\"J510104202611240017\",\"from\":\"dispatched\",\"to\":\"on_scene\",\"at\":1764000000000,\"org\":\"510104\",\"subject\":\"{}\"}}",
                "ab".repeat(32)
            )
        );
        assert_eq!(LeafRecord::from_canonical_json(json.as_bytes()), Ok(r));
    }

    #[test]
    fn every_kind_round_trips() {
        let records = [
            LeafRecord::Watch(WatchEvent {
                watch: "w-17".into(),
                action: WatchAction::Expired,
                at: Timestamp::from_millis(5),
                org: "510100".into(),
                subject: None,
                rule_digest: Some(Commitment([1; 32])),
            }),
            LeafRecord::AlertDisposition(AlertDisposition {
                alert: "a-9".into(),
                disposition: "dismissed".into(),
                at: Timestamp::from_millis(6),
                org: "510100".into(),
                subject: None,
            }),
            LeafRecord::AuditCheckpoint(AuditCheckpoint {
                audit_seq: 991,
                chain_head: [3; 32],
                at: Timestamp::from_millis(7),
            }),
        ];
        for r in records {
            let json = r.to_canonical_json().unwrap();
            assert!(json.starts_with("{\"v\":1,\"kind\":"), "{json}");
            assert_eq!(LeafRecord::from_canonical_json(json.as_bytes()), Ok(r));
        }
    }

    #[test]
    fn non_canonical_or_unknown_input_is_rejected() {
        let ok = "{\"v\":1,\"kind\":\"audit_checkpoint\",\"audit_seq\":1,\"chain_head\":\""
            .to_owned()
            + &"00".repeat(32)
            + "\",\"at\":1}";
        assert!(LeafRecord::from_canonical_json(ok.as_bytes()).is_ok());
        let spaced = ok.replace(",", ", ");
        assert_eq!(
            LeafRecord::from_canonical_json(spaced.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let reordered = ok.replace(
            "{\"v\":1,\"kind\":\"audit_checkpoint\",",
            "{\"kind\":\"audit_checkpoint\",\"v\":1,",
        );
        assert_eq!(
            LeafRecord::from_canonical_json(reordered.as_bytes()),
            Err(RecordError::NotCanonical)
        );
        let v2 = ok.replace("\"v\":1", "\"v\":2");
        assert_eq!(
            LeafRecord::from_canonical_json(v2.as_bytes()),
            Err(RecordError::Version { version: 2 })
        );
        let extra = ok.replace("\"at\":1}", "\"at\":1,\"phone\":\"13800138000\"}");
        assert!(matches!(
            LeafRecord::from_canonical_json(extra.as_bytes()),
            Err(RecordError::Json { .. })
        ));
    }

    #[test]
    fn text_fields_are_validated() {
        let r = LeafRecord::AlertDisposition(AlertDisposition {
            alert: "".into(),
            disposition: "x".into(),
            at: Timestamp::from_millis(0),
            org: "o".into(),
            subject: None,
        });
        assert_eq!(
            r.to_canonical_json(),
            Err(RecordError::Field { field: "alert" })
        );
    }
}
