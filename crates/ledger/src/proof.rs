//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4): which stored
//! node hashes a proof needs, how to assemble the proof from them, and how to
//! verify a proof.
//!
//! Generation is split in two so that an async store can fetch everything in one
//! query: a [`ProofPlan`] names the perfect-subtree nodes (and, via
//! [`ProofPlan::tiles`], the C2SP tiles) a proof needs, then
//! [`ProofPlan::build`] assembles the proof from whatever looked them up.

use std::collections::{BTreeSet, HashMap};

use crate::hash::{Hash, largest_power_of_two_below, node_hash};
use crate::tile::TileId;

/// A perfect (complete) subtree: the node at height `level` whose leaves are
/// `index << level .. (index + 1) << level`. Level 0 nodes are leaf hashes.
///
/// Only such nodes are ever stored; every other tree hash is derived from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

impl NodeId {
    pub const fn new(level: u8, index: u64) -> Self {
        NodeId { level, index }
    }

    /// First leaf covered by this node.
    pub const fn first_leaf(self) -> u64 {
        self.index << self.level
    }

    /// One past the last leaf covered by this node.
    pub const fn end_leaf(self) -> u64 {
        (self.index + 1) << self.level
    }
}

/// Anything that can return the hash of a stored perfect-subtree node.
pub trait NodeLookup {
    fn node(&self, id: NodeId) -> Option<Hash>;
}

impl NodeLookup for HashMap<NodeId, Hash> {
    fn node(&self, id: NodeId) -> Option<Hash> {
        self.get(&id).copied()
    }
}

/// Why a proof cannot be planned or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("stored node level {level} index {index} is missing")]
    MissingNode { level: u8, index: u64 },
}

/// Why a proof does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("old tree size {old} is larger than new tree size {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("proof has {got} hashes but this (index, size) needs {expected}")]
    WrongProofLength { got: usize, expected: usize },
    #[error("proof does not lead to the expected {which} root")]
    RootMismatch { which: &'static str },
}

/// The perfect-subtree nodes a proof (or a root) is made of.
///
/// Each proof element is the Merkle tree hash of an RFC 6962 subtree, which is the
/// right fold of a run of perfect nodes of decreasing size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProofPlan {
    tree_size: u64,
    elements: Vec<Vec<NodeId>>,
}

/// Splits the leaf range `start..end` of an RFC 6962 subtree into perfect
/// nodes, largest first. Subtree ranges produced by the RFC recursion are
/// always aligned so that this greedy split yields stored nodes.
fn perfect_nodes(start: u64, end: u64) -> Vec<NodeId> {
    let mut out = Vec::new();
    let mut s = start;
    while s < end {
        let n = end - s;
        let k = if n.is_power_of_two() {
            n
        } else {
            largest_power_of_two_below(n)
        };
        let level = k.trailing_zeros() as u8;
        debug_assert_eq!(s % k, 0, "unaligned subtree range {start}..{end}");
        out.push(NodeId::new(level, s >> level));
        s += k;
    }
    out
}

/// Leaf ranges of the inclusion proof `PATH(index, D[lo..hi])`, leaf-side first.
fn inclusion_ranges(mut index: u64, mut lo: u64, hi: u64) -> Vec<(u64, u64)> {
    // Walk from the root down and emit siblings; the RFC lists them bottom-up.
    let mut out = Vec::new();
    let mut hi = hi;
    while hi - lo > 1 {
        let k = largest_power_of_two_below(hi - lo);
        if index < k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            index -= k;
        }
    }
    out.reverse();
    out
}

/// Leaf ranges of the consistency proof `SUBPROOF(m, D[0..n], true)`.
fn consistency_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, n, m, true);
    loop {
        let size = hi - lo;
        if m == size {
            if !whole {
                out.push((lo, hi));
            }
            break;
        }
        let k = largest_power_of_two_below(size);
        if m <= k {
            out.push((lo + k, hi));
            hi = lo + k;
        } else {
            out.push((lo, lo + k));
            lo += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    out
}

impl ProofPlan {
    fn from_ranges(tree_size: u64, ranges: Vec<(u64, u64)>) -> Self {
        ProofPlan {
            tree_size,
            elements: ranges
                .into_iter()
                .map(|(a, b)| perfect_nodes(a, b))
                .collect(),
        }
    }

    /// Plan of the inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion(index: u64, size: u64) -> Result<Self, ProofError> {
        if index >= size {
            return Err(ProofError::IndexOutOfRange { index, size });
        }
        Ok(Self::from_ranges(size, inclusion_ranges(index, 0, size)))
    }

    /// Plan of the consistency proof from tree size `old` to tree size `new`.
    /// Empty when `old` is 0 or equal to `new` (nothing to prove).
    pub fn consistency(old: u64, new: u64) -> Result<Self, ProofError> {
        if old > new {
            return Err(ProofError::SizesOutOfOrder { old, new });
        }
        if old == 0 || old == new {
            return Ok(ProofPlan {
                tree_size: new,
                elements: Vec::new(),
            });
        }
        Ok(Self::from_ranges(new, consistency_ranges(old, new)))
    }

    /// Plan of the root hash of the tree of `size` leaves: one element (none for
    /// the empty tree, whose root is [`crate::hash::empty_root`]).
    pub fn root(size: u64) -> Self {
        let elements = if size == 0 {
            Vec::new()
        } else {
            vec![perfect_nodes(0, size)]
        };
        ProofPlan {
            tree_size: size,
            elements,
        }
    }

    /// Tree size the plan was made for.
    pub fn tree_size(&self) -> u64 {
        self.tree_size
    }

    /// Number of hashes in the finished proof.
    pub fn proof_len(&self) -> usize {
        self.elements.len()
    }

    /// Every stored node the plan needs, sorted and without duplicates.
    pub fn nodes(&self) -> Vec<NodeId> {
        let set: BTreeSet<NodeId> = self.elements.iter().flatten().copied().collect();
        set.into_iter().collect()
    }

    /// Every C2SP hash tile (with its width at this tree size) the plan needs,
    /// sorted and without duplicates.
    pub fn tiles(&self) -> Vec<TileId> {
        let set: BTreeSet<TileId> = self
            .elements
            .iter()
            .flatten()
            .map(|n| TileId::for_node(*n, self.tree_size))
            .collect();
        set.into_iter().collect()
    }

    /// Assembles the proof (or root) from looked-up node hashes.
    pub fn build(&self, lookup: &impl NodeLookup) -> Result<Vec<Hash>, ProofError> {
        self.elements
            .iter()
            .map(|run| {
                let mut acc: Option<Hash> = None;
                for id in run.iter().rev() {
                    let h = lookup.node(*id).ok_or(ProofError::MissingNode {
                        level: id.level,
                        index: id.index,
                    })?;
                    acc = Some(match acc {
                        None => h,
                        Some(right) => node_hash(&h, &right),
                    });
                }
                // Runs are never empty: every range in the RFC recursion is non-empty.
                Ok(acc.expect("non-empty subtree range"))
            })
            .collect()
    }
}

/// Root of the tree of `size` leaves from stored nodes.
pub fn tree_root(lookup: &impl NodeLookup, size: u64) -> Result<Hash, ProofError> {
    if size == 0 {
        return Ok(crate::hash::empty_root());
    }
    Ok(ProofPlan::root(size).build(lookup)?[0])
}

/// Inclusion proof of leaf `index` in the tree of `size` leaves from stored nodes.
pub fn prove_inclusion(
    lookup: &impl NodeLookup,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError> {
    ProofPlan::inclusion(index, size)?.build(lookup)
}

/// Consistency proof between tree sizes `old` and `new` from stored nodes.
pub fn prove_consistency(
    lookup: &impl NodeLookup,
    old: u64,
    new: u64,
) -> Result<Vec<Hash>, ProofError> {
    ProofPlan::consistency(old, new)?.build(lookup)
}

/// Right-shifts both values until the lowest bit of `a` is set or `a` is zero.
fn shift_while_even(a: &mut u64, b: &mut u64) {
    while *a != 0 && *a & 1 == 0 {
        *a >>= 1;
        *b >>= 1;
    }
}

/// Root implied by an inclusion proof (RFC 9162 §2.1.3.2).
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_ranges(index, 0, size).len();
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        // The length check above guarantees sn > 0 here.
        debug_assert!(sn > 0);
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                shift_while_even(&mut fn_, &mut sn);
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    debug_assert_eq!(sn, 0);
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    if root_from_inclusion_proof(leaf_hash, index, size, proof)? == *root {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch { which: "tree" })
    }
}

/// Verifies that the tree of `old` leaves with root `old_root` is a prefix of the
/// tree of `new` leaves with root `new_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    old: u64,
    new: u64,
    proof: &[Hash],
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), VerifyError> {
    if old > new {
        return Err(VerifyError::SizesOutOfOrder { old, new });
    }
    if old == new || old == 0 {
        if !proof.is_empty() {
            return Err(VerifyError::WrongProofLength {
                got: proof.len(),
                expected: 0,
            });
        }
        // Every tree extends the empty tree; equal sizes need equal roots.
        if old == new && old_root != new_root {
            return Err(VerifyError::RootMismatch { which: "new" });
        }
        return Ok(());
    }
    let expected = consistency_ranges(old, new).len();
    if proof.len() != expected {
        return Err(VerifyError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    // When `old` is a power of two its root is the first node of the path.
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    if fn_ & 1 == 1 {
        while fn_ & 1 == 1 {
            fn_ >>= 1;
            sn >>= 1;
        }
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(VerifyError::WrongProofLength {
                got: proof.len(),
                expected,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                shift_while_even(&mut fn_, &mut sn);
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(VerifyError::WrongProofLength {
            got: proof.len(),
            expected,
        });
    }
    if fr != *old_root {
        return Err(VerifyError::RootMismatch { which: "old" });
    }
    if sr != *new_root {
        return Err(VerifyError::RootMismatch { which: "new" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_node_split_of_subtree_ranges() {
        assert_eq!(perfect_nodes(0, 8), vec![NodeId::new(3, 0)]);
        assert_eq!(
            perfect_nodes(4, 7),
            vec![NodeId::new(1, 2), NodeId::new(0, 6)]
        );
        assert_eq!(
            perfect_nodes(0, 13),
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
    }

    #[test]
    fn plan_lengths_match_rfc_examples() {
        // RFC 9162 §2.1.5: the inclusion proof for d0 in a 7-leaf tree has 3
        // hashes, the consistency proof 3 -> 7 has 4 and 4 -> 7 has 1.
        assert_eq!(ProofPlan::inclusion(0, 7).unwrap().proof_len(), 3);
        assert_eq!(ProofPlan::consistency(3, 7).unwrap().proof_len(), 4);
        assert_eq!(ProofPlan::consistency(4, 7).unwrap().proof_len(), 1);
        assert_eq!(ProofPlan::consistency(6, 7).unwrap().proof_len(), 3);
        assert_eq!(ProofPlan::inclusion(0, 1).unwrap().proof_len(), 0);
    }

    #[test]
    fn plan_rejects_bad_arguments() {
        assert_eq!(
            ProofPlan::inclusion(5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            ProofPlan::consistency(6, 5),
            Err(ProofError::SizesOutOfOrder { old: 6, new: 5 })
        );
    }
}
