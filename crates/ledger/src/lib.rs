//! pingan's verifiable case log: the sans-IO core of a Merkle transparency log.
//!
//! - [`hash`]: RFC 6962 / RFC 9162 leaf and node hashing.
//! - [`proof`]: inclusion and consistency proofs: plan, build, verify.
//! - [`tile`]: the C2SP tlog-tiles layout (paths, tile and entry-bundle bodies).
//! - [`log`]: the integrator: frontier + batch → new root and tile writes.
//! - [`memory`]: an in-memory tile store.
//! - [`note`], [`checkpoint`]: C2SP signed notes and checkpoints (Ed25519).
//! - [`record`]: canonical leaf records and salted commitments.
//! - [`receipt`]: offline-verifiable receipts and checkpoint consistency.
//! - [`audit`]: recompute everything and report each discrepancy.
//!
//! Nothing here does I/O: the server persists tile writes and feeds fetched
//! tiles back in.

pub mod audit;
pub mod checkpoint;
pub mod hash;
pub mod log;
pub mod memory;
pub mod note;
pub mod proof;
pub mod receipt;
pub mod record;
pub mod tile;

pub use audit::{AuditReport, Finding, audit};
pub use checkpoint::{Checkpoint, CheckpointError};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use log::{Frontier, FrontierError, Integration, TileWrite, integrate, integrate_leaf_hashes};
pub use memory::MemoryTileStore;
pub use note::{NoteError, NoteSigner, NoteVerifier, open_note};
pub use proof::{
    NodeId, NodeLookup, ProofError, ProofPlan, VerifyError, prove_consistency, prove_inclusion,
    root_from_inclusion_proof, tree_root, verify_consistency, verify_inclusion,
};
pub use receipt::{
    Receipt, ReceiptError, VerifiedReceipt, verify_checkpoint_consistency, verify_receipt,
};
pub use record::{
    AlertDisposition, AuditCheckpoint, CaseEntity, CaseStateChange, Commitment, LeafRecord,
    RecordError, Salt, WatchAction, WatchEvent, check_commitment, commit,
};
pub use tile::{EntryBundleId, TileError, TileId, TilePath, TileReader, TileSet};
