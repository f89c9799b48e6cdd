//! Proof generation and verification against the RFC 6962 test vectors and a
//! straightforward recursive reference implementation written from the RFC text.

use std::sync::OnceLock;

use pingan_ledger::hash::{from_hex, to_hex};
use pingan_ledger::{
    Frontier, Hash, MemoryTileStore, ProofPlan, TileSet, VerifyError, empty_root, integrate,
    leaf_hash, node_hash, prove_consistency, prove_inclusion, tree_root, verify_consistency,
    verify_inclusion,
};
use proptest::prelude::*;

// ---- reference implementation: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1, literally ----

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => empty_root(),
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = path(m, &d[..k]);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = path(m - k, &d[k..]);
        p.push(mth(&d[..k]));
        p
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = subproof(m, &d[..k], b);
        p.push(mth(&d[k..]));
        p
    } else {
        let mut p = subproof(m - k, &d[k..], false);
        p.push(mth(&d[..k]));
        p
    }
}

fn reference_consistency(m: usize, d: &[Hash]) -> Vec<Hash> {
    if m == 0 || m == d.len() {
        vec![]
    } else {
        subproof(m, d, true)
    }
}

// ---- helpers ----

fn entries(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("pingan entry {i}").into_bytes())
        .collect()
}

/// Builds a store by integrating `data` in uneven batches.
fn build_store(data: &[Vec<u8>]) -> MemoryTileStore {
    let mut store = MemoryTileStore::new();
    let mut f = Frontier::empty();
    let mut done = 0;
    let mut batch = 1;
    while done < data.len() {
        let end = (done + batch).min(data.len());
        let i = integrate(&f, &data[done..end]);
        store.apply(&i);
        f = i.frontier;
        done = end;
        batch = batch * 3 % 1013 + 1;
    }
    store
}

fn h(s: &str) -> Hash {
    from_hex(s).unwrap()
}

// ---- RFC 6962 / Certificate Transparency test vectors ----

const CT_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn ct_vectors_roots_for_sizes_0_to_8() {
    assert_eq!(
        to_hex(&Frontier::empty().root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let mut f = Frontier::empty();
    let mut store = MemoryTileStore::new();
    for (n, leaf) in CT_LEAVES.iter().enumerate() {
        let i = integrate(&f, &[leaf]);
        store.apply(&i);
        assert_eq!(to_hex(&i.root), CT_ROOTS[n], "root of size {}", n + 1);
        f = i.frontier;
    }
    for n in 0..=8u64 {
        let want = if n == 0 {
            empty_root()
        } else {
            h(CT_ROOTS[n as usize - 1])
        };
        assert_eq!(
            tree_root(&store, n).unwrap(),
            want,
            "stored root of size {n}"
        );
    }
}

#[test]
fn ct_vectors_inclusion_proofs() {
    let store = build_store(&CT_LEAVES.iter().map(|l| l.to_vec()).collect::<Vec<_>>());
    // (leaf index, tree size, proof) from certificate-transparency-go's log verifier tests.
    let cases: [(u64, u64, &[&str]); 4] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            3,
            &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
        ),
        (
            1,
            5,
            &[
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let proof = prove_inclusion(&store, index, size).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(proof, want, "inclusion ({index}, {size})");
        let root = h(CT_ROOTS[size as usize - 1]);
        let lh = leaf_hash(CT_LEAVES[index as usize]);
        assert_eq!(verify_inclusion(&lh, index, size, &proof, &root), Ok(()));
    }
}

#[test]
fn ct_vectors_consistency_proofs() {
    let store = build_store(&CT_LEAVES.iter().map(|l| l.to_vec()).collect::<Vec<_>>());
    let cases: [(u64, u64, &[&str]); 4] = [
        (1, 1, &[]),
        (
            1,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (m, n, want) in cases {
        let proof = prove_consistency(&store, m, n).unwrap();
        let want: Vec<Hash> = want.iter().map(|s| h(s)).collect();
        assert_eq!(proof, want, "consistency ({m}, {n})");
        let (r1, r2) = (h(CT_ROOTS[m as usize - 1]), h(CT_ROOTS[n as usize - 1]));
        assert_eq!(verify_consistency(m, n, &proof, &r1, &r2), Ok(()));
    }
}

#[test]
fn trivial_consistency_cases() {
    let e = empty_root();
    let r = h(CT_ROOTS[0]);
    assert_eq!(verify_consistency(0, 0, &[], &e, &e), Ok(()));
    assert_eq!(verify_consistency(0, 1, &[], &e, &r), Ok(()));
    assert_eq!(verify_consistency(1, 1, &[], &r, &r), Ok(()));
    assert_eq!(
        verify_consistency(1, 0, &[], &r, &e),
        Err(VerifyError::SizesOutOfOrder { old: 1, new: 0 })
    );
    assert_eq!(
        verify_consistency(1, 1, &[], &r, &e),
        Err(VerifyError::RootMismatch { which: "new" })
    );
    assert_eq!(
        verify_consistency(1, 1, &[e], &r, &r),
        Err(VerifyError::WrongProofLength {
            got: 1,
            expected: 0
        })
    );
    assert_eq!(
        verify_consistency(1, 2, &[], &r, &r),
        Err(VerifyError::WrongProofLength {
            got: 0,
            expected: 1
        })
    );
}

// ---- exhaustive small trees against the reference ----

/// Checks that a valid inclusion proof fails under every simple mutation.
fn assert_inclusion_mutations_fail(lh: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) {
    if index > 0 {
        assert!(verify_inclusion(lh, index - 1, size, proof, root).is_err());
    }
    if index + 1 < size {
        assert!(verify_inclusion(lh, index + 1, size, proof, root).is_err());
    }
    assert!(verify_inclusion(lh, index, size * 2, proof, root).is_err());
    assert!(verify_inclusion(&leaf_hash(b"wrong leaf"), index, size, proof, root).is_err());
    assert!(verify_inclusion(lh, index, size, proof, &empty_root()).is_err());
    for i in 0..proof.len() {
        let mut bad = proof.to_vec();
        bad[i] = empty_root();
        assert!(verify_inclusion(lh, index, size, &bad, root).is_err());
    }
    let mut longer = proof.to_vec();
    longer.push(*root);
    assert!(verify_inclusion(lh, index, size, &longer, root).is_err());
    if !proof.is_empty() {
        assert!(verify_inclusion(lh, index, size, &proof[..proof.len() - 1], root).is_err());
    }
}

#[test]
fn all_inclusion_and_consistency_proofs_up_to_64_leaves() {
    let data = entries(64);
    let store = build_store(&data);
    let hashes: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
    for n in 1..=64usize {
        let d = &hashes[..n];
        let root = mth(d);
        assert_eq!(tree_root(&store, n as u64).unwrap(), root, "root {n}");
        for m in 0..n {
            let proof = prove_inclusion(&store, m as u64, n as u64).unwrap();
            assert_eq!(proof, path(m, d), "inclusion ({m}, {n})");
            assert_eq!(
                verify_inclusion(&d[m], m as u64, n as u64, &proof, &root),
                Ok(())
            );
            assert_inclusion_mutations_fail(&d[m], m as u64, n as u64, &proof, &root);
        }
        for m in 0..=n {
            let proof = prove_consistency(&store, m as u64, n as u64).unwrap();
            assert_eq!(proof, reference_consistency(m, d), "consistency ({m}, {n})");
            let old_root = mth(&d[..m]);
            assert_eq!(
                verify_consistency(m as u64, n as u64, &proof, &old_root, &root),
                Ok(())
            );
            if 0 < m && m < n {
                assert!(verify_consistency(m as u64, n as u64, &proof, &root, &old_root).is_err());
                assert!(
                    verify_consistency(m as u64, n as u64, &proof, &old_root, &empty_root())
                        .is_err()
                );
                for i in 0..proof.len() {
                    let mut bad = proof.clone();
                    bad[i] = empty_root();
                    assert!(
                        verify_consistency(m as u64, n as u64, &bad, &old_root, &root).is_err()
                    );
                }
                assert!(
                    verify_consistency(m as u64, n as u64, &proof[1..], &old_root, &root).is_err()
                );
                if m > 1 {
                    assert!(
                        verify_consistency(
                            m as u64 - 1,
                            n as u64,
                            &proof,
                            &mth(&d[..m - 1]),
                            &root
                        )
                        .is_err()
                    );
                }
            }
        }
    }
}

// ---- larger trees: tile levels 0, 1 and 2 ----

const BIG: usize = 70_000;

fn big() -> &'static (Vec<Hash>, MemoryTileStore) {
    static BIG_TREE: OnceLock<(Vec<Hash>, MemoryTileStore)> = OnceLock::new();
    BIG_TREE.get_or_init(|| {
        let data = entries(BIG);
        let hashes = data.iter().map(|d| leaf_hash(d)).collect();
        (hashes, build_store(&data))
    })
}

#[test]
fn proofs_across_tile_levels_match_reference() {
    let (hashes, store) = big();
    // Sizes around tile boundaries of levels 0, 1 and 2 (65536 = 256²).
    let cases: [(usize, usize); 8] = [
        (0, BIG),
        (BIG - 1, BIG),
        (65_535, 65_537),
        (255, 257),
        (12_345, 65_536),
        (65_536, 69_999),
        (300, 513),
        (40_000, 66_000),
    ];
    for (m, n) in cases {
        let d = &hashes[..n];
        let root = mth(d);
        let proof = prove_inclusion(store, m as u64, n as u64).unwrap();
        assert_eq!(proof, path(m, d), "inclusion ({m}, {n})");
        assert_eq!(
            verify_inclusion(&d[m], m as u64, n as u64, &proof, &root),
            Ok(())
        );
        let old = m.max(1);
        let proof = prove_consistency(store, old as u64, n as u64).unwrap();
        assert_eq!(
            proof,
            reference_consistency(old, d),
            "consistency ({old}, {n})"
        );
        assert_eq!(
            verify_consistency(old as u64, n as u64, &proof, &mth(&d[..old]), &root),
            Ok(())
        );
    }
}

#[test]
fn plan_tiles_are_enough_to_build_the_proof() {
    let (hashes, store) = big();
    let (index, size) = (31_337u64, 69_421u64);
    let plan = ProofPlan::inclusion(index, size).unwrap();
    // Fetch exactly the planned tiles at their planned widths, as a server would.
    let mut fetched = TileSet::new();
    for t in plan.tiles() {
        let stored = pingan_ledger::TileReader::read_tile(store, t.level, t.index).unwrap();
        fetched.insert(t.level, t.index, stored[..usize::from(t.width)].to_vec());
    }
    assert!(plan.tiles().len() <= 6, "{:?}", plan.tiles());
    let proof = plan.build(&fetched).unwrap();
    assert_eq!(proof, path(index as usize, &hashes[..size as usize]));
    // A missing tile is reported, not papered over.
    let mut partial = TileSet::new();
    let first = plan.tiles()[0];
    let stored = pingan_ledger::TileReader::read_tile(store, first.level, first.index).unwrap();
    partial.insert(first.level, first.index, stored.to_vec());
    assert!(matches!(
        plan.build(&partial),
        Err(pingan_ledger::ProofError::MissingNode { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_proofs_match_reference(n in 1usize..3000, a in any::<u64>(), b in any::<u64>()) {
        let (hashes, store) = big();
        let d = &hashes[..n];
        let index = (a % n as u64) as usize;
        let old = (b % (n as u64 + 1)) as usize;
        let root = mth(d);
        let proof = prove_inclusion(store, index as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &path(index, d));
        prop_assert_eq!(verify_inclusion(&d[index], index as u64, n as u64, &proof, &root), Ok(()));
        let proof = prove_consistency(store, old as u64, n as u64).unwrap();
        prop_assert_eq!(&proof, &reference_consistency(old, d));
        prop_assert_eq!(verify_consistency(old as u64, n as u64, &proof, &mth(&d[..old]), &root), Ok(()));
    }
}
