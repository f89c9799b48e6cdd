//! End-to-end: records go into the log, checkpoints are signed, receipts verify
//! offline, consistency between checkpoints holds, and the audit pinpoints
//! every kind of tampering with the stored entries and hashes.

use pingan_core::Timestamp;
use pingan_ledger::{
    CaseEntity, CaseStateChange, Checkpoint, Finding, Frontier, Hash, LeafRecord, MemoryTileStore,
    NoteSigner, Receipt, ReceiptError, Salt, TileId, TileReader, VerifyError, audit, commit,
    integrate, leaf_hash, prove_consistency, prove_inclusion, verify_checkpoint_consistency,
    verify_receipt,
};

const ORIGIN: &str = "ledger.pingan.example/chengdu";

fn signer() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, [42; 32]).unwrap()
}

fn record(i: u64) -> String {
    let salt = Salt::new(&i.to_be_bytes().repeat(2)).unwrap();
    LeafRecord::CaseState(CaseStateChange {
        entity: CaseEntity::Incident,
        number: format!("J5101042026{i:08}"),
        from: if i.is_multiple_of(3) {
            None
        } else {
            Some("received".into())
        },
        to: "dispatched".into(),
        at: Timestamp::from_millis(1_764_000_000_000 + i as i64 * 1000),
        org: "510104".into(),
        subject: Some(commit(
            &salt,
            format!("1380013{:04}", i % 10_000).as_bytes(),
        )),
    })
    .to_canonical_json()
    .unwrap()
}

/// A stored log: entries, tiles and the signed checkpoint of every batch.
struct Log {
    entries: Vec<(u64, String)>,
    store: MemoryTileStore,
    checkpoints: Vec<String>,
}

fn build(n: u64, batch: u64) -> Log {
    let mut log = Log {
        entries: Vec::new(),
        store: MemoryTileStore::new(),
        checkpoints: Vec::new(),
    };
    let mut f = Frontier::empty();
    let mut i = 0;
    while i < n {
        let end = (i + batch).min(n);
        let data: Vec<String> = (i..end).map(record).collect();
        let integ = integrate(&f, &data);
        log.store.apply(&integ);
        log.entries.extend((i..end).zip(data));
        log.checkpoints.push(
            Checkpoint::new(ORIGIN, integ.new_size, integ.root)
                .sign(&signer())
                .unwrap(),
        );
        f = integ.frontier;
        i = end;
    }
    log
}

fn run_audit(log: &Log) -> pingan_ledger::AuditReport {
    let notes: Vec<&str> = log.checkpoints.iter().map(String::as_str).collect();
    audit(
        log.entries.iter().map(|(i, d)| (*i, d.as_bytes())),
        &log.store,
        &notes,
        &signer().verifier(),
    )
}

fn receipt_for(log: &Log, index: u64) -> Receipt {
    let note = log.checkpoints.last().unwrap();
    let cp = Checkpoint::open(note, &signer().verifier()).unwrap();
    let proof = prove_inclusion(&log.store, index, cp.size).unwrap();
    let entry = log.entries[index as usize].1.clone();
    Receipt::new(index, leaf_hash(entry.as_bytes()), note.clone(), proof).with_entry(entry)
}

#[test]
fn receipts_verify_offline_from_json_and_the_verifier_key_alone() {
    let log = build(700, 100);
    let vkey = signer().verifier().vkey();
    for index in [0u64, 1, 255, 256, 511, 699] {
        let json = receipt_for(&log, index).to_json();
        // Only the JSON text and the published verifier key string are needed.
        let verifier = pingan_ledger::NoteVerifier::parse(&vkey).unwrap();
        let v = verify_receipt(&json, &verifier).unwrap();
        assert_eq!(v.leaf_index, index);
        assert_eq!(v.checkpoint.size, 700);
        let Some(LeafRecord::CaseState(c)) = v.record else {
            panic!("case record expected")
        };
        assert_eq!(c.number, format!("J5101042026{index:08}"));
    }
    // Without the entry a receipt still proves the leaf hash.
    let mut bare = receipt_for(&log, 3);
    bare.entry = None;
    assert!(verify_receipt(&bare.to_json(), &signer().verifier()).is_ok());
}

#[test]
fn tampered_receipts_are_rejected() {
    let log = build(300, 300);
    let v = signer().verifier();
    let good = receipt_for(&log, 17);

    let mut wrong_index = good.clone();
    wrong_index.leaf_index = 18;
    assert!(matches!(
        verify_receipt(&wrong_index.to_json(), &v),
        Err(ReceiptError::Inclusion(VerifyError::RootMismatch { .. }))
    ));

    let mut wrong_entry = good.clone();
    wrong_entry.entry = Some(record(18));
    assert_eq!(
        verify_receipt(&wrong_entry.to_json(), &v),
        Err(ReceiptError::EntryHash)
    );

    let mut wrong_proof = good.clone();
    wrong_proof.inclusion_proof[2][0] ^= 1;
    assert!(matches!(
        verify_receipt(&wrong_proof.to_json(), &v),
        Err(ReceiptError::Inclusion(_))
    ));

    let mut forged_cp = good.clone();
    forged_cp.checkpoint = forged_cp.checkpoint.replacen("\n300\n", "\n301\n", 1);
    assert!(matches!(
        verify_receipt(&forged_cp.to_json(), &v),
        Err(ReceiptError::Checkpoint(_))
    ));

    let other_key = NoteSigner::from_seed(ORIGIN, [43; 32]).unwrap().verifier();
    assert!(matches!(
        verify_receipt(&good.to_json(), &other_key),
        Err(ReceiptError::Checkpoint(_))
    ));

    assert!(matches!(
        verify_receipt("{\"v\":1}", &v),
        Err(ReceiptError::Json { .. })
    ));
    let v2 = good.to_json().replacen("\"v\":1", "\"v\":2", 1);
    assert_eq!(
        verify_receipt(&v2, &v),
        Err(ReceiptError::Version { version: 2 })
    );
}

#[test]
fn receipt_json_shape() {
    let log = build(3, 3);
    let json = receipt_for(&log, 1).to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6);
    for k in [
        "v",
        "leaf_index",
        "leaf_hash",
        "checkpoint",
        "inclusion_proof",
        "entry",
    ] {
        assert!(keys.contains(&k), "{k} in {json}");
    }
    assert_eq!(value["inclusion_proof"].as_array().unwrap().len(), 2);
    assert_eq!(value["leaf_hash"].as_str().unwrap().len(), 64);
}

#[test]
fn consistency_between_signed_checkpoints() {
    let log = build(1000, 130);
    let v = signer().verifier();
    let sizes: Vec<u64> = log
        .checkpoints
        .iter()
        .map(|n| Checkpoint::open(n, &v).unwrap().size)
        .collect();
    for (i, old) in log.checkpoints.iter().enumerate() {
        for (j, new) in log.checkpoints.iter().enumerate().skip(i) {
            let proof = prove_consistency(&log.store, sizes[i], sizes[j]).unwrap();
            let (a, b) = verify_checkpoint_consistency(old, new, &proof, &v).unwrap();
            assert_eq!((a.size, b.size), (sizes[i], sizes[j]));
        }
    }
    // A checkpoint of a rewritten history cannot be proved consistent.
    let mut forked = build(1000, 130);
    forked.entries[5].1 = record(100_005);
    let mut f = Frontier::empty();
    let data: Vec<&String> = forked.entries.iter().map(|(_, d)| d).collect();
    let integ = integrate(&f, &data);
    f = integ.frontier;
    let forked_note = Checkpoint::new(ORIGIN, f.size(), f.root())
        .sign(&signer())
        .unwrap();
    let proof = prove_consistency(&log.store, sizes[0], 1000).unwrap();
    assert!(matches!(
        verify_checkpoint_consistency(&log.checkpoints[0], &forked_note, &proof, &v),
        Err(ReceiptError::Consistency(VerifyError::RootMismatch { .. }))
    ));
}

#[test]
fn clean_log_audits_clean() {
    let log = build(1500, 200);
    let report = run_audit(&log);
    assert_eq!(report.findings, vec![]);
    assert_eq!(report.entries_read, 1500);
    assert_eq!(report.tree_size, 1500);
    assert_eq!(report.checkpoints_checked, 8);
    let last = Checkpoint::open(log.checkpoints.last().unwrap(), &signer().verifier()).unwrap();
    assert_eq!(report.recomputed_root, Some(last.root));
}

#[test]
fn audit_reports_an_altered_entry() {
    let mut log = build(1500, 200);
    let stored = leaf_hash(log.entries[700].1.as_bytes());
    log.entries[700].1 = log.entries[700].1.replace("dispatched", "closed");
    let data = leaf_hash(log.entries[700].1.as_bytes());
    let report = run_audit(&log);
    assert_eq!(
        report.findings[0],
        Finding::AlteredEntry {
            index: 700,
            stored_leaf_hash: stored,
            data_leaf_hash: data
        }
    );
    // Only the checkpoints covering entry 700 (sizes 800..1500) disagree.
    let root_mismatch: Vec<u64> = report
        .findings
        .iter()
        .filter_map(|f| match f {
            Finding::CheckpointRootMismatch { size, .. } => Some(*size),
            _ => None,
        })
        .collect();
    assert_eq!(root_mismatch, vec![800, 1000, 1200, 1400, 1500]);
    assert_eq!(report.findings.len(), 6, "{:#?}", report.findings);
}

#[test]
fn audit_reports_missing_entries() {
    let mut log = build(1000, 250);
    log.entries.remove(300);
    log.entries.truncate(997); // drop the last two as well (indices 998, 999)
    let report = run_audit(&log);
    assert_eq!(
        report.findings,
        vec![
            Finding::MissingEntries { from: 300, to: 301 },
            Finding::MissingEntries {
                from: 998,
                to: 1000
            }
        ]
    );
    assert_eq!(report.recomputed_root, None);
}

#[test]
fn audit_reports_swapped_and_renumbered_entries() {
    let mut log = build(600, 600);
    let (a, b) = (log.entries[10].1.clone(), log.entries[20].1.clone());
    log.entries[10].1 = b;
    log.entries[20].1 = a;
    let report = run_audit(&log);
    assert_eq!(
        report.findings[..2],
        [
            Finding::ReorderedEntry {
                index: 10,
                data_belongs_at: 20
            },
            Finding::ReorderedEntry {
                index: 20,
                data_belongs_at: 10
            },
        ]
    );
    assert!(matches!(
        report.findings[2],
        Finding::CheckpointRootMismatch { size: 600, .. }
    ));
    assert_eq!(report.findings.len(), 3);

    // Delete row 595 and renumber the rest down, as a careless cover-up would.
    let mut log = build(600, 600);
    log.entries.remove(595);
    for (i, e) in log.entries.iter_mut().enumerate().skip(595) {
        e.0 = i as u64;
    }
    let report = run_audit(&log);
    let mut want: Vec<Finding> = (595..599)
        .map(|i| Finding::ReorderedEntry {
            index: i,
            data_belongs_at: i + 1,
        })
        .collect();
    want.insert(0, Finding::MissingEntries { from: 599, to: 600 });
    assert_eq!(report.findings, want);
}

#[test]
fn audit_reports_out_of_order_and_duplicate_rows() {
    let mut log = build(50, 50);
    log.entries.swap(5, 6);
    log.entries.insert(9, log.entries[8].clone());
    let report = run_audit(&log);
    assert_eq!(
        report.findings,
        vec![
            Finding::OutOfOrderEntry { index: 5, after: 6 },
            Finding::DuplicateEntry { index: 8 }
        ]
    );
}

#[test]
fn audit_reports_tampered_stored_hashes() {
    // A changed level-0 hash: the entry no longer matches and level 1 disagrees.
    let mut log = build(1000, 1000);
    let mut tile = log.store.read_tile(0, 1).unwrap().to_vec();
    let original = tile[4];
    tile[4] = [0xee; 32];
    log.store.put_tile(0, 1, tile);
    let report = run_audit(&log);
    assert_eq!(
        report.findings[0],
        Finding::AlteredEntry {
            index: 260,
            stored_leaf_hash: [0xee; 32],
            data_leaf_hash: original
        }
    );
    assert!(matches!(
        report.findings[1],
        Finding::StoredHashMismatch {
            level: 8,
            index: 1,
            ..
        }
    ));
    // The level-1 hashes above are intact, so the stored root still matches
    // the checkpoint: the damage is confined to that one level-0 tile.
    assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);

    // A missing tile.
    let mut log = build(1000, 1000);
    log.store.remove_tile(0, 2);
    let report = run_audit(&log);
    assert_eq!(
        report.findings,
        vec![Finding::MissingTile {
            tile: TileId {
                level: 0,
                index: 2,
                width: 256
            }
        }]
    );
}

#[test]
fn audit_catches_a_consistent_rewrite_through_the_signed_checkpoint() {
    // The attacker changes an entry and recomputes every stored hash, but cannot
    // re-sign the checkpoint.
    let log = build(900, 900);
    let mut data: Vec<String> = log.entries.iter().map(|(_, d)| d.clone()).collect();
    data[123] = record(999_999);
    let integ = integrate(&Frontier::empty(), &data);
    let mut store = MemoryTileStore::new();
    store.apply(&integ);
    let rewritten = Log {
        entries: (0..900u64).zip(data).collect(),
        store,
        checkpoints: log.checkpoints.clone(),
    };
    let report = run_audit(&rewritten);
    let root: Hash = integ.root;
    assert_eq!(report.findings.len(), 2, "{:#?}", report.findings);
    assert!(matches!(
        report.findings[0],
        Finding::CheckpointRootMismatch { size: 900, recomputed_root, .. } if recomputed_root == root
    ));
    assert!(
        matches!(report.findings[1], Finding::StoredRootMismatch { size: 900, stored_root, .. } if stored_root == root)
    );
    assert!(
        report.findings[0]
            .to_string()
            .starts_with("checkpoint at size 900 signs root")
    );
}

#[test]
fn audit_reports_an_invalid_checkpoint() {
    let mut log = build(10, 5);
    log.checkpoints[0] = log.checkpoints[0].replacen("\n5\n", "\n6\n", 1);
    let report = run_audit(&log);
    assert!(matches!(
        &report.findings[..],
        [Finding::CheckpointInvalid { position: 0, .. }]
    ));
}
