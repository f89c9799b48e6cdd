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
//! - [`mod@audit`]: recompute everything and report each discrepancy.
//!
//! Nothing here does I/O: the server persists tile writes and feeds fetched
//! tiles back in. The whole flow, with the in-memory store standing in for SQL:
//!
//! ```
//! use pingan_ledger::*;
//!
//! let signer = NoteSigner::from_seed("ledger.example", [7; 32]).unwrap();
//! let mut store = MemoryTileStore::new();
//!
//! // Append a batch: persist the tile writes, then sign a checkpoint.
//! let entries = vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()];
//! let batch = integrate(&Frontier::empty(), &entries);
//! store.apply(&batch);
//! let note = Checkpoint::new("ledger.example", batch.new_size, batch.root).sign(&signer).unwrap();
//!
//! // Prove entry 1: ask the plan which tiles to fetch, fetch them, build.
//! let plan = ProofPlan::inclusion(1, batch.new_size).unwrap();
//! let mut fetched = TileSet::new();
//! for t in plan.tiles() {
//!     let hashes = store.read_tile(t.level, t.index).unwrap();
//!     fetched.insert(t.level, t.index, hashes[..usize::from(t.width)].to_vec());
//! }
//! let proof = plan.build(&fetched).unwrap();
//!
//! // The receipt verifies offline with the published verifier key alone.
//! let receipt = Receipt::new(1, batch.leaf_hashes[1], note, proof);
//! let vkey = signer.verifier().vkey();
//! let verified = verify_receipt(&receipt.to_json(), &NoteVerifier::parse(&vkey).unwrap()).unwrap();
//! assert_eq!(verified.checkpoint.size, 3);
//!
//! // After a restart, the frontier comes back from the right-edge tiles.
//! let mut edge = TileSet::new();
//! for t in Frontier::tiles_needed(3) {
//!     edge.insert(t.level, t.index, store.read_tile(t.level, t.index).unwrap().to_vec());
//! }
//! assert_eq!(Frontier::from_tiles(3, &edge).unwrap(), batch.frontier);
//! ```

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
