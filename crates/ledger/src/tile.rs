//! The C2SP tlog-tiles storage layout: tile coordinates and paths
//! (`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`), tile and entry-bundle
//! encodings, and node lookup from stored tiles.
//!
//! A hash tile at level `L` holds up to 256 consecutive node hashes of tree level
//! `8·L`; the seven levels in between are recomputed from the tile on demand.
//! Storing only these rows costs 32·(1 + 1/256 + …) ≈ 32.13 bytes per entry.

use std::collections::HashMap;

use crate::hash::{Hash, root_of};
use crate::proof::{NodeId, NodeLookup};

/// Tree levels covered by one tile.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const TILE_WIDTH: u16 = 256;

/// A hash tile as published at some tree size: `width` is 256 for a full tile,
/// less for the partial tile on the right edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
    pub width: u16,
}

/// An entry bundle (data tile) at `tile/entries/<index>[.p/<width>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryBundleId {
    pub index: u64,
    pub width: u16,
}

/// Either kind of path under `tile/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TilePath {
    Hashes(TileId),
    Entries(EntryBundleId),
}

/// Why a tile path or tile body is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    #[error("tile path {path:?} is malformed: {reason}")]
    Path { path: String, reason: &'static str },
    #[error("tile body has {len} bytes, expected {expected} for width {width}")]
    BodyLength {
        len: usize,
        expected: usize,
        width: u16,
    },
    #[error("entry {index} of the bundle is {len} bytes, over the 65535-byte limit")]
    EntryTooLong { index: usize, len: usize },
    #[error("entry bundle is truncated at byte {offset}")]
    BundleTruncated { offset: usize },
    #[error("entry bundle holds {count} entries, more than 256")]
    BundleTooLarge { count: usize },
}

/// Width of tile `index` of a row holding `row_len` hashes (0 past the row's end).
fn width_in_row(row_len: u64, index: u64) -> u16 {
    row_len
        .saturating_sub(index.saturating_mul(u64::from(TILE_WIDTH)))
        .min(u64::from(TILE_WIDTH)) as u16
}

impl TileId {
    /// The tile holding the row hashes that `node` is computed from, with its
    /// width in the tree of `tree_size` leaves.
    ///
    /// `node` should lie inside that tree (every node of a proof plan does);
    /// for a node outside it the width is 0.
    pub fn for_node(node: NodeId, tree_size: u64) -> TileId {
        let level = node.level / TILE_HEIGHT;
        let rel = node.level % TILE_HEIGHT;
        let row_start = node.index << rel;
        let index = row_start >> TILE_HEIGHT;
        let row_len = tree_size >> (u32::from(level) * u32::from(TILE_HEIGHT));
        TileId {
            level,
            index,
            width: width_in_row(row_len, index),
        }
    }

    /// Every hash tile of the tree of `tree_size` leaves, level by level.
    pub fn all(tree_size: u64) -> Vec<TileId> {
        let mut out = Vec::new();
        let mut level = 0u8;
        loop {
            let row_len = tree_size >> (u32::from(level) * u32::from(TILE_HEIGHT));
            if row_len == 0 {
                break;
            }
            let count = row_len.div_ceil(u64::from(TILE_WIDTH));
            out.extend((0..count).map(|index| TileId {
                level,
                index,
                width: width_in_row(row_len, index),
            }));
            level += 1;
        }
        out
    }

    /// Path of the tile, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        format!(
            "tile/{}/{}{}",
            self.level,
            encode_index(self.index),
            width_suffix(self.width)
        )
    }
}

impl EntryBundleId {
    /// The bundle holding entry `entry_index` in the log of `tree_size`
    /// entries, or `None` when the entry is not in that log.
    pub fn for_entry(entry_index: u64, tree_size: u64) -> Option<EntryBundleId> {
        if entry_index >= tree_size {
            return None;
        }
        let index = entry_index >> TILE_HEIGHT;
        Some(EntryBundleId {
            index,
            width: width_in_row(tree_size, index),
        })
    }

    /// Path of the bundle, e.g. `tile/entries/x001/234.p/3`.
    pub fn path(&self) -> String {
        format!(
            "tile/entries/{}{}",
            encode_index(self.index),
            width_suffix(self.width)
        )
    }

    /// First entry index in the bundle.
    pub fn first_entry(&self) -> u64 {
        self.index << TILE_HEIGHT
    }
}

fn width_suffix(width: u16) -> String {
    if width == TILE_WIDTH {
        String::new()
    } else {
        format!(".p/{width}")
    }
}

/// `1234067` → `x001/x234/067`: groups of three digits, all but the last prefixed by `x`.
fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

impl TilePath {
    /// Parses a path relative to the log prefix (`tile/...`), strictly as the
    /// C2SP spec writes it (no leading zeros, widths 1..=255 for partial tiles).
    pub fn parse(path: &str) -> Result<TilePath, TileError> {
        let bad = |reason| TileError::Path {
            path: path.to_owned(),
            reason,
        };
        let rest = path
            .strip_prefix("tile/")
            .ok_or_else(|| bad("does not start with tile/"))?;
        let (kind, rest) = rest.split_once('/').ok_or_else(|| bad("has no index"))?;
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => (
                i,
                parse_width(w).ok_or_else(|| bad("partial width is not 1..=255"))?,
            ),
            None => (rest, TILE_WIDTH),
        };
        let index =
            parse_index(index_part).ok_or_else(|| bad("index is not x###/.../### groups"))?;
        if kind == "entries" {
            return Ok(TilePath::Entries(EntryBundleId { index, width }));
        }
        let level = parse_decimal(kind)
            .filter(|l| *l < 64)
            .ok_or_else(|| bad("level is not 0..=63"))? as u8;
        Ok(TilePath::Hashes(TileId {
            level,
            index,
            width,
        }))
    }
}

/// Decimal without leading zeros (a lone `0` is fine).
fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok()
}

fn parse_width(s: &str) -> Option<u16> {
    parse_decimal(s)
        .filter(|w| (1..u64::from(TILE_WIDTH)).contains(w))
        .map(|w| w as u16)
}

fn parse_index(s: &str) -> Option<u64> {
    let groups: Vec<&str> = s.split('/').collect();
    let (last, init) = groups.split_last()?;
    let mut n: u64 = 0;
    for (i, g) in init.iter().enumerate() {
        let digits = g.strip_prefix('x')?;
        let v = three_digits(digits)?;
        // A leading group of zeros would be a second spelling of the same index.
        if i == 0 && v == 0 {
            return None;
        }
        n = n.checked_mul(1000)?.checked_add(v)?;
    }
    n.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Body of a hash tile: the hashes back to back.
pub fn encode_tile(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Parses a hash tile body of the given width.
pub fn decode_tile(bytes: &[u8], width: u16) -> Result<Vec<Hash>, TileError> {
    let expected = usize::from(width) * 32;
    if bytes.len() != expected {
        return Err(TileError::BodyLength {
            len: bytes.len(),
            expected,
            width,
        });
    }
    Ok(bytes
        .chunks_exact(32)
        .map(|c| c.try_into().expect("chunks of 32"))
        .collect())
}

/// Body of an entry bundle: each entry as a big-endian `u16` length then its bytes.
pub fn encode_entry_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, TileError> {
    if entries.len() > usize::from(TILE_WIDTH) {
        return Err(TileError::BundleTooLarge {
            count: entries.len(),
        });
    }
    let mut out = Vec::with_capacity(entries.iter().map(|e| e.as_ref().len() + 2).sum());
    for (index, e) in entries.iter().enumerate() {
        let e = e.as_ref();
        let len = u16::try_from(e.len()).map_err(|_| TileError::EntryTooLong {
            index,
            len: e.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Splits an entry bundle body into its entries.
pub fn decode_entry_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, TileError> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let len_bytes = bytes
            .get(offset..offset + 2)
            .ok_or(TileError::BundleTruncated { offset })?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        let entry = bytes
            .get(offset + 2..offset + 2 + len)
            .ok_or(TileError::BundleTruncated { offset })?;
        out.push(entry.to_vec());
        offset += 2 + len;
        if out.len() > usize::from(TILE_WIDTH) {
            return Err(TileError::BundleTooLarge { count: out.len() });
        }
    }
    Ok(out)
}

/// Read access to stored hash tiles, keyed by (level, index). A stored tile may
/// be partial; readers take the prefix they need.
pub trait TileReader {
    fn read_tile(&self, level: u8, index: u64) -> Option<&[Hash]>;
}

/// Hash of a perfect node from the tile row below it, if the tile holds it.
pub fn node_from_tiles(reader: &impl TileReader, node: NodeId) -> Option<Hash> {
    let level = node.level / TILE_HEIGHT;
    let rel = node.level % TILE_HEIGHT;
    let row_start = node.index << rel;
    let tile = reader.read_tile(level, row_start >> TILE_HEIGHT)?;
    let offset = (row_start & u64::from(TILE_WIDTH - 1)) as usize;
    let run = tile.get(offset..offset + (1usize << rel))?;
    Some(root_of(run))
}

/// Tiles fetched for one proof or one audit step.
#[derive(Debug, Clone, Default)]
pub struct TileSet {
    tiles: HashMap<(u8, u64), Vec<Hash>>,
}

impl TileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a tile's hashes.
    pub fn insert(&mut self, level: u8, index: u64, hashes: Vec<Hash>) {
        self.tiles.insert((level, index), hashes);
    }

    /// Adds a tile from its stored body bytes.
    pub fn insert_bytes(&mut self, tile: TileId, bytes: &[u8]) -> Result<(), TileError> {
        let hashes = decode_tile(bytes, tile.width)?;
        self.insert(tile.level, tile.index, hashes);
        Ok(())
    }
}

impl TileReader for TileSet {
    fn read_tile(&self, level: u8, index: u64) -> Option<&[Hash]> {
        self.tiles.get(&(level, index)).map(Vec::as_slice)
    }
}

impl NodeLookup for TileSet {
    fn node(&self, id: NodeId) -> Option<Hash> {
        node_from_tiles(self, id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_encoding_matches_spec_example() {
        assert_eq!(encode_index(1_234_067), "x001/x234/067");
        assert_eq!(encode_index(0), "000");
        assert_eq!(encode_index(999), "999");
        assert_eq!(encode_index(1000), "x001/000");
    }

    #[test]
    fn paths_round_trip() {
        let t = TileId {
            level: 0,
            index: 1_234_067,
            width: 8,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067.p/8");
        assert_eq!(TilePath::parse(&t.path()), Ok(TilePath::Hashes(t)));
        let full = TileId {
            level: 2,
            index: 5,
            width: 256,
        };
        assert_eq!(full.path(), "tile/2/005");
        assert_eq!(TilePath::parse("tile/2/005"), Ok(TilePath::Hashes(full)));
        let e = EntryBundleId {
            index: 1234,
            width: 3,
        };
        assert_eq!(e.path(), "tile/entries/x001/234.p/3");
        assert_eq!(TilePath::parse(&e.path()), Ok(TilePath::Entries(e)));
    }

    #[test]
    fn paths_rejected() {
        for p in [
            "tile/0/1",
            "tile/00/001",
            "tile/64/001",
            "tile/0/x000/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/08",
            "tile/0/001/002",
            "tiles/0/001",
            "tile/0/x01/001",
        ] {
            assert!(TilePath::parse(p).is_err(), "{p} should be rejected");
        }
    }

    #[test]
    fn tile_for_node_and_all_tiles() {
        // Node level 3 index 40 covers leaves 320..328 -> tile 0/1, offset 64.
        let t = TileId::for_node(NodeId::new(3, 40), 1000);
        assert_eq!(
            t,
            TileId {
                level: 0,
                index: 1,
                width: 256
            }
        );
        // Node level 9 index 1 covers level-8 row entries 2..4 -> tile 1/0.
        let t = TileId::for_node(NodeId::new(9, 1), 1100);
        assert_eq!(
            t,
            TileId {
                level: 1,
                index: 0,
                width: 4
            }
        );
        let all = TileId::all(600);
        assert_eq!(
            all,
            vec![
                TileId {
                    level: 0,
                    index: 0,
                    width: 256
                },
                TileId {
                    level: 0,
                    index: 1,
                    width: 256
                },
                TileId {
                    level: 0,
                    index: 2,
                    width: 88
                },
                TileId {
                    level: 1,
                    index: 0,
                    width: 2
                },
            ]
        );
        assert!(TileId::all(0).is_empty());
    }

    #[test]
    fn tile_body_round_trip() {
        let hashes: Vec<Hash> = (0..5u8).map(|i| [i; 32]).collect();
        let body = encode_tile(&hashes);
        assert_eq!(body.len(), 160);
        assert_eq!(decode_tile(&body, 5), Ok(hashes));
        assert_eq!(
            decode_tile(&body, 4),
            Err(TileError::BodyLength {
                len: 160,
                expected: 128,
                width: 4
            })
        );
    }

    #[test]
    fn entry_bundle_round_trip() {
        let entries = vec![b"".to_vec(), b"abc".to_vec(), vec![7u8; 300]];
        let body = encode_entry_bundle(&entries).unwrap();
        assert_eq!(&body[..5], &[0, 0, 0, 3, b'a']);
        assert_eq!(decode_entry_bundle(&body), Ok(entries));
        assert_eq!(
            decode_entry_bundle(&body[..body.len() - 1]),
            Err(TileError::BundleTruncated { offset: 7 })
        );
        assert_eq!(
            encode_entry_bundle(&[vec![0u8; 70_000]]),
            Err(TileError::EntryTooLong {
                index: 0,
                len: 70_000
            })
        );
    }
}
