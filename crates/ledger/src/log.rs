//! Appending to the log: the right-edge state of the tree ([`Frontier`]) and the
//! integrator that turns a batch of new entries into a new frontier, a new root
//! and the tile writes to persist.
//!
//! The frontier is exactly the partial (rightmost, not yet full) tile at every
//! tile level, so it can be reloaded from storage with one query for
//! [`Frontier::tiles_needed`] and never needs a separate table.

use crate::hash::{Hash, empty_root, leaf_hash, node_hash, root_of};
use crate::tile::{TILE_HEIGHT, TILE_WIDTH, TileId, TileReader};

/// Right edge of the tree: the hashes of the partial tile of each tile level.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    /// `rows[L]` holds the `(size >> 8L) % 256` hashes of the partial tile at
    /// level `L`; there is one row per level with any hash at all.
    rows: Vec<Vec<Hash>>,
}

/// Why a frontier cannot be rebuilt from stored tiles.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    #[error("right-edge tile level {level} index {index} is missing")]
    MissingTile { level: u8, index: u64 },
    #[error("right-edge tile level {level} index {index} has {width} hashes, needs {needed}")]
    ShortTile {
        level: u8,
        index: u64,
        width: usize,
        needed: usize,
    },
}

/// One tile to upsert, keyed by `(tile.level, tile.index)`: `hashes` is its
/// whole content at the new width and `hashes[first_new..]` are the hashes this
/// batch added (a store that keeps one row per hash inserts only those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileWrite {
    pub tile: TileId,
    pub first_new: u16,
    pub hashes: Vec<Hash>,
}

/// Result of integrating one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integration {
    /// Tree size before the batch; the batch's entries got indices `old_size..new_size`.
    pub old_size: u64,
    pub new_size: u64,
    /// Root hash at `new_size`.
    pub root: Hash,
    /// Leaf hash of every new entry, in order.
    pub leaf_hashes: Vec<Hash>,
    /// Tiles to persist, lower levels first; full tiles before the partial one of a level.
    pub tile_writes: Vec<TileWrite>,
    /// State to integrate the next batch from.
    pub frontier: Frontier,
}

fn row_len(size: u64, level: usize) -> u64 {
    size >> (level as u32 * u32::from(TILE_HEIGHT))
}

impl Frontier {
    /// The empty log.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Number of entries in the log.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The partial tiles whose hashes make up the frontier of a log of `size`
    /// entries (what to load at start-up).
    pub fn tiles_needed(size: u64) -> Vec<TileId> {
        let mut out = Vec::new();
        let mut level = 0usize;
        while row_len(size, level) > 0 {
            let len = row_len(size, level);
            let partial = (len % u64::from(TILE_WIDTH)) as u16;
            if partial > 0 {
                out.push(TileId {
                    level: level as u8,
                    index: len / u64::from(TILE_WIDTH),
                    width: partial,
                });
            }
            level += 1;
        }
        out
    }

    /// Rebuilds the frontier of a log of `size` entries from stored tiles.
    pub fn from_tiles(size: u64, reader: &impl TileReader) -> Result<Self, FrontierError> {
        let mut rows = Vec::new();
        let mut level = 0usize;
        while row_len(size, level) > 0 {
            rows.push(Vec::new());
            level += 1;
        }
        for t in Self::tiles_needed(size) {
            let needed = usize::from(t.width);
            let hashes = reader
                .read_tile(t.level, t.index)
                .ok_or(FrontierError::MissingTile {
                    level: t.level,
                    index: t.index,
                })?;
            if hashes.len() < needed {
                return Err(FrontierError::ShortTile {
                    level: t.level,
                    index: t.index,
                    width: hashes.len(),
                    needed,
                });
            }
            rows[usize::from(t.level)] = hashes[..needed].to_vec();
        }
        Ok(Frontier { size, rows })
    }

    /// Root hash of the log.
    pub fn root(&self) -> Hash {
        // Perfect subtrees along the right edge, largest (leftmost) first: the
        // top row's chunks come first, and inside a row the chunk sizes follow
        // the binary digits of the row length.
        let mut parts: Vec<Hash> = Vec::new();
        for row in self.rows.iter().rev() {
            let mut offset = 0usize;
            for bit in (0..TILE_HEIGHT).rev() {
                let chunk = 1usize << bit;
                if row.len() & chunk != 0 {
                    parts.push(root_of(&row[offset..offset + chunk]));
                    offset += chunk;
                }
            }
        }
        match parts.split_last() {
            None => empty_root(),
            Some((last, rest)) => rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)),
        }
    }
}

/// Integrates a batch of entries (in order) into the log whose right edge is
/// `frontier`.
pub fn integrate<E: AsRef<[u8]>>(frontier: &Frontier, entries: &[E]) -> Integration {
    let leaf_hashes: Vec<Hash> = entries.iter().map(|e| leaf_hash(e.as_ref())).collect();
    integrate_leaf_hashes(frontier, leaf_hashes)
}

/// Same as [`integrate`] for entries already hashed with [`leaf_hash`].
pub fn integrate_leaf_hashes(frontier: &Frontier, leaf_hashes: Vec<Hash>) -> Integration {
    let old_size = frontier.size;
    let mut rows = frontier.rows.clone();
    // Per level: offset in the current partial tile where this batch's hashes begin.
    let mut first_new: Vec<Option<usize>> = vec![None; rows.len()];
    let mut writes: Vec<TileWrite> = Vec::new();
    let mut size = old_size;
    for h in &leaf_hashes {
        size += 1;
        let mut level = 0usize;
        let mut hash = *h;
        loop {
            if rows.len() <= level {
                rows.push(Vec::new());
                first_new.push(None);
            }
            first_new[level].get_or_insert(rows[level].len());
            rows[level].push(hash);
            if rows[level].len() < usize::from(TILE_WIDTH) {
                break;
            }
            let full = std::mem::take(&mut rows[level]);
            hash = root_of(&full);
            writes.push(TileWrite {
                tile: TileId {
                    level: level as u8,
                    index: row_len(size, level) / u64::from(TILE_WIDTH) - 1,
                    width: TILE_WIDTH,
                },
                first_new: first_new[level].take().unwrap_or(0) as u16,
                hashes: full,
            });
            level += 1;
        }
    }
    for (level, row) in rows.iter().enumerate() {
        if let Some(start) = first_new[level]
            && !row.is_empty()
        {
            writes.push(TileWrite {
                tile: TileId {
                    level: level as u8,
                    index: row_len(size, level) / u64::from(TILE_WIDTH),
                    width: row.len() as u16,
                },
                first_new: start as u16,
                hashes: row.clone(),
            });
        }
    }
    // Lower levels first so a reader never sees a parent before its children.
    writes.sort_by_key(|w| (w.tile.level, w.tile.index));
    let frontier = Frontier { size, rows };
    Integration {
        old_size,
        new_size: size,
        root: frontier.root(),
        leaf_hashes,
        tile_writes: writes,
        frontier,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: usize) -> Vec<Vec<u8>> {
        (0..n).map(|i| format!("entry {i}").into_bytes()).collect()
    }

    #[test]
    fn root_matches_direct_computation_across_batches() {
        let all = entries(1100);
        let mut f = Frontier::empty();
        assert_eq!(f.root(), empty_root());
        let mut done = 0;
        for batch in [1usize, 254, 1, 1, 300, 512, 31] {
            let i = integrate(&f, &all[done..done + batch]);
            assert_eq!(i.old_size, done as u64);
            done += batch;
            assert_eq!(i.new_size, done as u64);
            let hashes: Vec<Hash> = all[..done].iter().map(|e| leaf_hash(e)).collect();
            assert_eq!(i.root, root_of(&hashes), "size {done}");
            f = i.frontier;
        }
    }

    #[test]
    fn tile_writes_of_a_batch_crossing_a_tile_boundary() {
        let all = entries(300);
        let first = integrate(&Frontier::empty(), &all[..250]);
        assert_eq!(first.tile_writes.len(), 1);
        assert_eq!(
            first.tile_writes[0].tile,
            TileId {
                level: 0,
                index: 0,
                width: 250
            }
        );
        let second = integrate(&first.frontier, &all[250..]);
        let ids: Vec<(TileId, u16)> = second
            .tile_writes
            .iter()
            .map(|w| (w.tile, w.first_new))
            .collect();
        assert_eq!(
            ids,
            vec![
                (
                    TileId {
                        level: 0,
                        index: 0,
                        width: 256
                    },
                    250
                ),
                (
                    TileId {
                        level: 0,
                        index: 1,
                        width: 44
                    },
                    0
                ),
                (
                    TileId {
                        level: 1,
                        index: 0,
                        width: 1
                    },
                    0
                ),
            ]
        );
        let hashes: Vec<Hash> = all[..256].iter().map(|e| leaf_hash(e)).collect();
        assert_eq!(second.tile_writes[2].hashes, vec![root_of(&hashes)]);
        assert_eq!(
            Frontier::tiles_needed(300),
            vec![
                TileId {
                    level: 0,
                    index: 1,
                    width: 44
                },
                TileId {
                    level: 1,
                    index: 0,
                    width: 1
                },
            ]
        );
    }
}
