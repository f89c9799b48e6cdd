//! In-memory tile store for tests, benches and offline audits: applies
//! [`Integration`]s exactly as a persistent store would.

use std::collections::HashMap;

use crate::hash::Hash;
use crate::log::Integration;
use crate::proof::{NodeId, NodeLookup};
use crate::tile::{TileReader, node_from_tiles};

/// Hash tiles keyed by (level, index); a partial tile is replaced by its wider
/// versions as the log grows, as a database upsert would do.
#[derive(Debug, Clone, Default)]
pub struct MemoryTileStore {
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl MemoryTileStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Persists the tile writes of an integration.
    pub fn apply(&mut self, integration: &Integration) {
        for w in &integration.tile_writes {
            self.tiles
                .insert((w.tile.level, w.tile.index), w.hashes.clone());
        }
    }

    /// Stores (or overwrites) one tile; tests use it to tamper with storage.
    pub fn put_tile(&mut self, level: u8, index: u64, hashes: Vec<Hash>) {
        self.tiles.insert((level, index), hashes);
    }

    /// Removes one tile; tests use it to simulate lost storage.
    pub fn remove_tile(&mut self, level: u8, index: u64) -> Option<Vec<Hash>> {
        self.tiles.remove(&(level, index))
    }

    /// Number of stored tiles.
    pub fn tile_count(&self) -> usize {
        self.tiles.len()
    }

    /// Bytes of stored hashes (32 per hash), the tile store's whole payload.
    pub fn hash_bytes(&self) -> usize {
        self.tiles.values().map(|t| t.len() * 32).sum()
    }
}

impl TileReader for MemoryTileStore {
    fn read_tile(&self, level: u8, index: u64) -> Option<&[Hash]> {
        self.tiles.get(&(level, index)).map(Vec::as_slice)
    }
}

impl NodeLookup for MemoryTileStore {
    fn node(&self, id: NodeId) -> Option<Hash> {
        node_from_tiles(self, id)
    }
}
