//! Property tests of the tile layer: path encoding round-trips, and integrating
//! in arbitrary batches yields the same tiles, root and frontier as one batch.

use pingan_ledger::hash::root_of;
use pingan_ledger::{
    EntryBundleId, Frontier, Hash, MemoryTileStore, TileId, TilePath, TileReader, TileSet,
    integrate, leaf_hash,
};
use proptest::prelude::*;

proptest! {
    #[test]
    fn hash_tile_paths_round_trip(level in 0u8..64, index in any::<u64>(), width in 1u16..=256) {
        let t = TileId { level, index, width };
        prop_assert_eq!(TilePath::parse(&t.path()), Ok(TilePath::Hashes(t)));
    }

    #[test]
    fn entry_paths_round_trip(index in any::<u64>(), width in 1u16..=256) {
        let e = EntryBundleId { index, width };
        prop_assert_eq!(TilePath::parse(&e.path()), Ok(TilePath::Entries(e)));
    }

    #[test]
    fn garbage_paths_never_panic(s in "tile/[0-9x./pentris]{0,30}") {
        let _ = TilePath::parse(&s);
    }

    #[test]
    fn batching_does_not_change_the_result(cuts in proptest::collection::vec(1usize..700, 1..12)) {
        let total: usize = cuts.iter().sum();
        let data: Vec<Vec<u8>> = (0..total).map(|i| i.to_le_bytes().to_vec()).collect();
        let mut f = Frontier::empty();
        let mut store = MemoryTileStore::new();
        let mut done = 0;
        for c in &cuts {
            let i = integrate(&f, &data[done..done + c]);
            prop_assert_eq!(i.leaf_hashes.len(), *c);
            for w in &i.tile_writes {
                // Only the hashes after `first_new` are new; the prefix matches what was stored.
                if let Some(old) = store.read_tile(w.tile.level, w.tile.index) {
                    prop_assert_eq!(&w.hashes[..usize::from(w.first_new)], old);
                }
                prop_assert_eq!(w.hashes.len(), usize::from(w.tile.width));
            }
            store.apply(&i);
            f = i.frontier;
            done += c;
        }
        let one = integrate(&Frontier::empty(), &data);
        let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        prop_assert_eq!(f.root(), root_of(&hashes));
        prop_assert_eq!(&f, &one.frontier);
        let mut single = MemoryTileStore::new();
        single.apply(&one);
        for t in TileId::all(total as u64) {
            prop_assert_eq!(store.read_tile(t.level, t.index), single.read_tile(t.level, t.index));
        }
        // The frontier reloads from the right-edge tiles alone.
        let mut edge = TileSet::new();
        for t in Frontier::tiles_needed(total as u64) {
            edge.insert(t.level, t.index, store.read_tile(t.level, t.index).unwrap().to_vec());
        }
        prop_assert_eq!(Frontier::from_tiles(total as u64, &edge), Ok(f));
    }
}
