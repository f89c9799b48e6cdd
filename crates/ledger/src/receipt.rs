//! Receipts: the self-contained JSON a citizen or auditor keeps for one entry
//! (leaf index, leaf hash, signed checkpoint, inclusion proof), verified fully
//! offline with only the log's verifier key; and consistency checks between two
//! signed checkpoints.

use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::hash::{Hash, leaf_hash};
use crate::note::NoteVerifier;
use crate::proof::{VerifyError, verify_consistency, verify_inclusion};
use crate::record::{LeafRecord, RecordError};

/// Receipt wire format version.
pub const RECEIPT_VERSION: u32 = 1;

/// A receipt as it travels (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receipt {
    pub v: u32,
    pub leaf_index: u64,
    #[serde(with = "crate::hash::serde_hex")]
    pub leaf_hash: Hash,
    /// The signed checkpoint note, verbatim.
    pub checkpoint: String,
    #[serde(with = "crate::hash::serde_hex_vec")]
    pub inclusion_proof: Vec<Hash>,
    /// The leaf's canonical record JSON, when the holder may see it; if present
    /// it must hash to `leaf_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// Why a receipt or a consistency claim fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("receipt JSON is invalid: {reason}")]
    Json { reason: String },
    #[error("receipt version {version} is not supported")]
    Version { version: u32 },
    #[error("receipt checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("receipt entry does not hash to the receipt's leaf_hash")]
    EntryHash,
    #[error("receipt entry is not a valid record: {0}")]
    Entry(#[from] RecordError),
    #[error("inclusion proof: {0}")]
    Inclusion(VerifyError),
    #[error("consistency proof: {0}")]
    Consistency(VerifyError),
}

/// A receipt that verified: the checkpoint it is anchored in and what it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedReceipt {
    pub checkpoint: Checkpoint,
    pub leaf_index: u64,
    pub leaf_hash: Hash,
    /// The parsed record when the receipt carried the entry.
    pub record: Option<LeafRecord>,
}

impl Receipt {
    pub fn new(
        leaf_index: u64,
        leaf_hash: Hash,
        checkpoint_note: String,
        inclusion_proof: Vec<Hash>,
    ) -> Self {
        Receipt {
            v: RECEIPT_VERSION,
            leaf_index,
            leaf_hash,
            checkpoint: checkpoint_note,
            inclusion_proof,
            entry: None,
        }
    }

    /// Attaches the entry itself (its canonical record JSON).
    pub fn with_entry(mut self, entry: String) -> Self {
        self.entry = Some(entry);
        self
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("receipt always serialises")
    }

    pub fn from_json(json: &str) -> Result<Self, ReceiptError> {
        let r: Receipt = serde_json::from_str(json).map_err(|e| ReceiptError::Json {
            reason: e.to_string(),
        })?;
        if r.v != RECEIPT_VERSION {
            return Err(ReceiptError::Version { version: r.v });
        }
        Ok(r)
    }

    /// Checks the checkpoint signature, the entry (if any) and the inclusion proof.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<VerifiedReceipt, ReceiptError> {
        let checkpoint = Checkpoint::open(&self.checkpoint, verifier)?;
        let record = match &self.entry {
            None => None,
            Some(e) => {
                if leaf_hash(e.as_bytes()) != self.leaf_hash {
                    return Err(ReceiptError::EntryHash);
                }
                Some(LeafRecord::from_canonical_json(e.as_bytes())?)
            }
        };
        verify_inclusion(
            &self.leaf_hash,
            self.leaf_index,
            checkpoint.size,
            &self.inclusion_proof,
            &checkpoint.root,
        )
        .map_err(ReceiptError::Inclusion)?;
        Ok(VerifiedReceipt {
            checkpoint,
            leaf_index: self.leaf_index,
            leaf_hash: self.leaf_hash,
            record,
        })
    }
}

/// Parses and verifies a receipt offline against the log's verifier key.
pub fn verify_receipt(
    receipt_json: &str,
    verifier: &NoteVerifier,
) -> Result<VerifiedReceipt, ReceiptError> {
    Receipt::from_json(receipt_json)?.verify(verifier)
}

/// Verifies two signed checkpoints of the same log and the consistency proof
/// between them: the older tree is a prefix of the newer one, so nothing was
/// rewritten. Returns both checkpoints (older first).
pub fn verify_checkpoint_consistency(
    old_note: &str,
    new_note: &str,
    proof: &[Hash],
    verifier: &NoteVerifier,
) -> Result<(Checkpoint, Checkpoint), ReceiptError> {
    // `Checkpoint::open` pins both origins to the verifier's name: same log.
    let old = Checkpoint::open(old_note, verifier)?;
    let new = Checkpoint::open(new_note, verifier)?;
    verify_consistency(old.size, new.size, proof, &old.root, &new.root)
        .map_err(ReceiptError::Consistency)?;
    Ok((old, new))
}
