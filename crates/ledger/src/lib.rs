//! pingan's verifiable case log: the sans-IO core of a Merkle transparency log.
//!
//! - [`hash`]: RFC 6962 / RFC 9162 leaf and node hashing.
//! - [`proof`]: inclusion and consistency proofs: plan, build, verify.
//! - [`tile`]: the C2SP tlog-tiles layout (paths, tile and entry-bundle bodies).
//! - [`log`]: the integrator: frontier + batch → new root and tile writes.
//! - [`memory`]: an in-memory tile store.
//!
//! Nothing here does I/O: the server persists tile writes and feeds fetched
//! tiles back in.

pub mod hash;
pub mod log;
pub mod memory;
pub mod proof;
pub mod tile;

pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use log::{Frontier, FrontierError, Integration, TileWrite, integrate, integrate_leaf_hashes};
pub use memory::MemoryTileStore;
pub use proof::{
    NodeId, NodeLookup, ProofError, ProofPlan, VerifyError, prove_consistency, prove_inclusion,
    root_from_inclusion_proof, tree_root, verify_consistency, verify_inclusion,
};
pub use tile::{EntryBundleId, TileError, TileId, TilePath, TileReader, TileSet};
