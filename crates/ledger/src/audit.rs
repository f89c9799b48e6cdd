//! Full audit of a stored log: recompute the tree from the stored entries and
//! compare it with the stored tiles and the signed checkpoints, reporting every
//! discrepancy precisely (which index, which tile, which checkpoint).
//!
//! What each finding means for a database edited behind the log's back:
//! - data of an entry changed → [`Finding::AlteredEntry`] at that index, and the
//!   checkpoints covering it report [`Finding::CheckpointRootMismatch`];
//! - two entries swapped or an entry moved → [`Finding::ReorderedEntry`] naming
//!   where its data really belongs;
//! - a row deleted → [`Finding::MissingEntries`] (or reordered entries if the
//!   rows after it were renumbered);
//! - a stored hash changed → [`Finding::AlteredEntry`] at level 0 together with a
//!   [`Finding::StoredHashMismatch`] one tile level up, or a mismatch alone for
//!   higher levels; if the attacker rewrote all stored hashes consistently, the
//!   signed checkpoints still expose it via [`Finding::StoredRootMismatch`].

use std::collections::HashMap;
use std::fmt;

use crate::checkpoint::Checkpoint;
use crate::hash::{Hash, leaf_hash, root_of, to_hex};
use crate::log::{Frontier, integrate_leaf_hashes};
use crate::note::NoteVerifier;
use crate::proof::tree_root;
use crate::tile::{TILE_HEIGHT, TILE_WIDTH, TileId, TileReader};

/// One discrepancy found by [`audit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The checkpoint at this position of the input did not verify.
    CheckpointInvalid { position: usize, reason: String },
    /// The same index appears twice in stored order.
    DuplicateEntry { index: u64 },
    /// Stored order goes backwards: `index` comes after `after`.
    OutOfOrderEntry { index: u64, after: u64 },
    /// Indices `from..to` are absent.
    MissingEntries { from: u64, to: u64 },
    /// The entry's data does not hash to the stored leaf hash.
    AlteredEntry {
        index: u64,
        stored_leaf_hash: Hash,
        data_leaf_hash: Hash,
    },
    /// The entry stored at `index` is the one whose leaf hash is stored at `data_belongs_at`.
    ReorderedEntry { index: u64, data_belongs_at: u64 },
    /// A tile the tree needs is not stored.
    MissingTile { tile: TileId },
    /// A stored tile is narrower than the tree needs.
    ShortTile { tile: TileId, stored_width: usize },
    /// A stored node hash (tree `level`, `index`) disagrees with the hash of the
    /// stored tile below it.
    StoredHashMismatch {
        level: u8,
        index: u64,
        stored: Hash,
        recomputed: Hash,
    },
    /// The root recomputed from the entries differs from a signed checkpoint.
    CheckpointRootMismatch {
        size: u64,
        checkpoint_root: Hash,
        recomputed_root: Hash,
    },
    /// The root computed from the stored tiles differs from a signed checkpoint.
    StoredRootMismatch {
        size: u64,
        checkpoint_root: Hash,
        stored_root: Hash,
    },
    /// The personal-data audit log disagrees with the chain head anchored in
    /// the ledger entry at `index` (records cut off the end, or rewritten).
    AuditLogAnchor {
        index: u64,
        audit_seq: u64,
        reason: String,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::CheckpointInvalid { position, reason } => {
                write!(f, "checkpoint #{position} does not verify: {reason}")
            }
            Finding::DuplicateEntry { index } => write!(f, "entry {index} is stored twice"),
            Finding::OutOfOrderEntry { index, after } => {
                write!(f, "entry {index} is stored after entry {after}")
            }
            Finding::MissingEntries { from, to } => write!(f, "entries {from}..{to} are missing"),
            Finding::AlteredEntry {
                index,
                stored_leaf_hash,
                data_leaf_hash,
            } => write!(
                f,
                "entry {index} was altered: data hashes to {} but the log has {}",
                to_hex(data_leaf_hash),
                to_hex(stored_leaf_hash)
            ),
            Finding::ReorderedEntry {
                index,
                data_belongs_at,
            } => {
                write!(
                    f,
                    "entry stored at {index} belongs at index {data_belongs_at}"
                )
            }
            Finding::MissingTile { tile } => write!(f, "tile {} is missing", tile.path()),
            Finding::ShortTile { tile, stored_width } => {
                write!(f, "tile {} holds only {stored_width} hashes", tile.path())
            }
            Finding::StoredHashMismatch {
                level,
                index,
                stored,
                recomputed,
            } => write!(
                f,
                "stored hash at level {level} index {index} is {} but its subtree hashes to {}",
                to_hex(stored),
                to_hex(recomputed)
            ),
            Finding::CheckpointRootMismatch {
                size,
                checkpoint_root,
                recomputed_root,
            } => write!(
                f,
                "checkpoint at size {size} signs root {} but the entries give {}",
                to_hex(checkpoint_root),
                to_hex(recomputed_root)
            ),
            Finding::StoredRootMismatch {
                size,
                checkpoint_root,
                stored_root,
            } => write!(
                f,
                "checkpoint at size {size} signs root {} but the stored hashes give {}",
                to_hex(checkpoint_root),
                to_hex(stored_root)
            ),
            Finding::AuditLogAnchor {
                index,
                audit_seq,
                reason,
            } => write!(
                f,
                "the audit log disagrees with entry {index}, which anchors its record #{audit_seq}: {reason}"
            ),
        }
    }
}

/// Outcome of an audit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries read from storage.
    pub entries_read: u64,
    /// Size the audit checked the tiles up to (largest of the entries and checkpoints).
    pub tree_size: u64,
    /// Root recomputed from the entries when they were complete and in order.
    pub recomputed_root: Option<Hash>,
    /// Signed checkpoints that verified and were compared.
    pub checkpoints_checked: usize,
    pub findings: Vec<Finding>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Stored leaf hash at `index`, if its tile is there.
fn stored_leaf(tiles: &impl TileReader, index: u64) -> Option<Hash> {
    let t = tiles.read_tile(0, index >> TILE_HEIGHT)?;
    t.get((index & u64::from(TILE_WIDTH - 1)) as usize).copied()
}

/// Recomputes the log from `entries` (index, data) in stored order and checks it
/// against the stored `tiles` and the signed `checkpoint_notes` (any order).
pub fn audit<I, D>(
    entries: I,
    tiles: &impl TileReader,
    checkpoint_notes: &[&str],
    verifier: &NoteVerifier,
) -> AuditReport
where
    I: IntoIterator<Item = (u64, D)>,
    D: AsRef<[u8]>,
{
    let mut findings = Vec::new();
    let mut checkpoints: Vec<Checkpoint> = Vec::new();
    for (position, note) in checkpoint_notes.iter().enumerate() {
        match Checkpoint::open(note, verifier) {
            Ok(cp) => checkpoints.push(cp),
            Err(e) => findings.push(Finding::CheckpointInvalid {
                position,
                reason: e.to_string(),
            }),
        }
    }
    checkpoints.sort_by_key(|c| c.size);
    let latest = checkpoints.last().map_or(0, |c| c.size);

    // Pass over the entries: order, gaps, leaf hashes, roots at checkpoint sizes.
    let mut frontier = Frontier::empty();
    let mut pending: Vec<Hash> = Vec::new();
    let mut roots_at: HashMap<u64, Hash> = HashMap::new();
    let mut wanted_sizes = checkpoints.iter().map(|c| c.size).peekable();
    while wanted_sizes.peek() == Some(&0) {
        roots_at.insert(0, frontier.root());
        wanted_sizes.next();
    }
    let mut in_order = true;
    let mut next: u64 = 0;
    let mut prev: Option<u64> = None;
    let mut entries_read = 0u64;
    let mut mismatches: Vec<(u64, Hash, Hash)> = Vec::new();
    let mut seen = Bitset::default();
    for (index, data) in entries {
        entries_read += 1;
        let h = leaf_hash(data.as_ref());
        match prev {
            Some(p) if index == p => {
                findings.push(Finding::DuplicateEntry { index });
                in_order = false;
            }
            Some(p) if index < p => {
                findings.push(Finding::OutOfOrderEntry { index, after: p });
                in_order = false;
            }
            _ => {
                if index > next {
                    in_order = false;
                }
            }
        }
        seen.insert(index);
        if let Some(stored) = stored_leaf(tiles, index)
            && stored != h
        {
            mismatches.push((index, stored, h));
        }
        if in_order && index == next {
            pending.push(h);
            let size = frontier.size() + pending.len() as u64;
            if wanted_sizes.peek() == Some(&size) || pending.len() >= 1 << 16 {
                frontier = integrate_leaf_hashes(&frontier, std::mem::take(&mut pending)).frontier;
                while wanted_sizes.peek() == Some(&size) {
                    roots_at.insert(size, frontier.root());
                    wanted_sizes.next();
                }
            }
        }
        next = next.max(index + 1);
        prev = Some(prev.map_or(index, |p| p.max(index)));
    }
    if !pending.is_empty() {
        frontier = integrate_leaf_hashes(&frontier, pending).frontier;
    }
    // Gaps: indices below the log size that no stored row claims.
    let mut missing: Vec<(u64, u64)> = Vec::new();
    for i in 0..latest.max(next) {
        if !seen.contains(i) {
            match missing.last_mut() {
                Some((_, to)) if *to == i => *to = i + 1,
                _ => missing.push((i, i + 1)),
            }
        }
    }
    findings.extend(
        missing
            .iter()
            .map(|&(from, to)| Finding::MissingEntries { from, to }),
    );

    // Tell reordered entries from altered ones: does the data match the stored
    // leaf hash of another mismatched or missing index?
    let mut stored_at: HashMap<Hash, u64> = mismatches
        .iter()
        .map(|(i, stored, _)| (*stored, *i))
        .collect();
    if !mismatches.is_empty() {
        let missing_indices = missing
            .iter()
            .flat_map(|&(a, b)| a..b)
            .take(MAX_MISSING_LOOKUPS);
        for i in missing_indices {
            if let Some(h) = stored_leaf(tiles, i) {
                stored_at.entry(h).or_insert(i);
            }
        }
    }
    for (index, stored, data) in mismatches {
        match stored_at.get(&data) {
            Some(&other) if other != index => findings.push(Finding::ReorderedEntry {
                index,
                data_belongs_at: other,
            }),
            _ => findings.push(Finding::AlteredEntry {
                index,
                stored_leaf_hash: stored,
                data_leaf_hash: data,
            }),
        }
    }

    // Stored tiles: present, wide enough, and each level consistent with the one below.
    let tree_size = latest.max(next);
    for tile in TileId::all(tree_size) {
        match tiles.read_tile(tile.level, tile.index) {
            None => findings.push(Finding::MissingTile { tile }),
            Some(h) if h.len() < usize::from(tile.width) => findings.push(Finding::ShortTile {
                tile,
                stored_width: h.len(),
            }),
            Some(h) if tile.level > 0 => {
                for (offset, stored) in h[..usize::from(tile.width)].iter().enumerate() {
                    let child = tile.index * u64::from(TILE_WIDTH) + offset as u64;
                    if let Some(below) = tiles.read_tile(tile.level - 1, child)
                        && below.len() == usize::from(TILE_WIDTH)
                    {
                        let recomputed = root_of(below);
                        if recomputed != *stored {
                            findings.push(Finding::StoredHashMismatch {
                                level: tile.level * TILE_HEIGHT,
                                index: child,
                                stored: *stored,
                                recomputed,
                            });
                        }
                    }
                }
            }
            Some(_) => {}
        }
    }

    // Signed checkpoints against both recomputations.
    for cp in &checkpoints {
        if let Some(r) = roots_at.get(&cp.size)
            && *r != cp.root
        {
            findings.push(Finding::CheckpointRootMismatch {
                size: cp.size,
                checkpoint_root: cp.root,
                recomputed_root: *r,
            });
        }
        if let Ok(stored) = tree_root(&TileNodes(tiles), cp.size)
            && stored != cp.root
        {
            findings.push(Finding::StoredRootMismatch {
                size: cp.size,
                checkpoint_root: cp.root,
                stored_root: stored,
            });
        }
    }
    let complete = in_order && frontier.size() == next;
    AuditReport {
        entries_read,
        tree_size,
        recomputed_root: complete.then(|| frontier.root()),
        checkpoints_checked: checkpoints.len(),
        findings,
    }
}

/// Cap on missing indices whose stored hashes are consulted to explain moved
/// entries, so a log with a huge hole cannot blow up the audit's memory.
const MAX_MISSING_LOOKUPS: usize = 1 << 20;

/// Growable bitset of seen entry indices (1 bit per entry).
#[derive(Default)]
struct Bitset(Vec<u64>);

impl Bitset {
    fn insert(&mut self, i: u64) {
        let word = (i / 64) as usize;
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << (i % 64);
    }

    fn contains(&self, i: u64) -> bool {
        self.0
            .get((i / 64) as usize)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
}

/// Node lookup over any tile reader.
struct TileNodes<'a, T>(&'a T);

impl<T: TileReader> crate::proof::NodeLookup for TileNodes<'_, T> {
    fn node(&self, id: crate::proof::NodeId) -> Option<Hash> {
        crate::tile::node_from_tiles(self.0, id)
    }
}
