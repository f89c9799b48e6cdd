//! The ledger tables' test suite, run unchanged on SQLite and on a real
//! PostgreSQL: atomic batch appends, stale/gapped batches refused without a
//! trace, tile upserts and lookups, entry ranges, checkpoints and salts.

mod pg;

use pingan_store::*;

fn hash_of(i: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&i.to_be_bytes());
    h[31] = 0xa5;
    h
}

fn entries(from: u64, n: u64) -> (Vec<Vec<u8>>, Vec<[u8; 32]>) {
    let data = (from..from + n)
        .map(|i| format!("{{\"entry\":{i}}}").into_bytes())
        .collect();
    let hashes = (from..from + n).map(hash_of).collect();
    (data, hashes)
}

fn tile(level: u8, index: u64, width: u16, seed: u8) -> LedgerTileRow {
    LedgerTileRow {
        level,
        index,
        width,
        hashes: (0..usize::from(width) * 32)
            .map(|i| (i as u8).wrapping_add(seed))
            .collect(),
    }
}

fn checkpoint(size: u64) -> LedgerCheckpointRow {
    LedgerCheckpointRow {
        size,
        root: hash_of(1_000_000 + size),
        note: format!(
            "pingan.test/ledger\n{size}\nroot\n\n\u{2014} pingan.test/ledger sig{size}\n"
        ),
        at: 1_764_000_000_000 + size as i64,
    }
}

async fn append(
    s: &Store,
    first: u64,
    n: u64,
    tiles: &[LedgerTileRow],
    cp: &LedgerCheckpointRow,
) -> Result<()> {
    let (data, hashes) = entries(first, n);
    s.ledger_append(LedgerBatch {
        first_index: first,
        entries: &data,
        leaf_hashes: &hashes,
        tiles,
        checkpoint: cp,
    })
    .await
}

async fn case_append_and_read(s: &Store) {
    assert_eq!(s.ledger_latest_checkpoint().await.unwrap(), None);
    assert!(s.ledger_entries(0, 10).await.unwrap().is_empty());
    assert!(s.ledger_tiles(&[]).await.unwrap().is_empty());
    assert_eq!(s.ledger_entry(0).await.unwrap(), None);

    append(s, 0, 3, &[tile(0, 0, 3, 1)], &checkpoint(3))
        .await
        .unwrap();
    let got = s.ledger_entries(0, 10).await.unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(
        got[1],
        LedgerEntryRow {
            index: 1,
            data: b"{\"entry\":1}".to_vec(),
            leaf_hash: hash_of(1)
        }
    );
    assert_eq!(s.ledger_entry(2).await.unwrap(), Some(got[2].clone()));
    assert_eq!(
        s.ledger_latest_checkpoint().await.unwrap(),
        Some(checkpoint(3))
    );

    // The partial tile grows in place; a new level appears.
    append(
        s,
        3,
        2,
        &[tile(0, 0, 5, 1), tile(1, 0, 1, 9)],
        &checkpoint(5),
    )
    .await
    .unwrap();
    let tiles = s.ledger_tiles(&[(1, 0), (0, 0), (0, 7)]).await.unwrap();
    assert_eq!(tiles, vec![tile(0, 0, 5, 1), tile(1, 0, 1, 9)]);
    assert_eq!(
        s.ledger_latest_checkpoint().await.unwrap(),
        Some(checkpoint(5))
    );
    assert_eq!(s.ledger_checkpoint(3).await.unwrap(), Some(checkpoint(3)));
    assert_eq!(s.ledger_checkpoint(4).await.unwrap(), None);

    // A stale batch (starts at an index already taken) writes nothing at all.
    let e = append(s, 3, 4, &[tile(0, 0, 7, 2)], &checkpoint(7))
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Conflict { field: "index", ref value, .. } if value == "3"),
        "{e:?}"
    );
    // So does a batch leaving a gap.
    let e = append(s, 9, 1, &[tile(0, 0, 10, 2)], &checkpoint(10))
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
    assert_eq!(s.ledger_entries(0, 100).await.unwrap().len(), 5);
    assert_eq!(
        s.ledger_tiles(&[(0, 0)]).await.unwrap(),
        vec![tile(0, 0, 5, 1)]
    );
    assert_eq!(s.ledger_checkpoint(7).await.unwrap(), None);

    // A checkpoint that does not sign the batch's end is refused up front.
    let e = append(s, 5, 2, &[], &checkpoint(8)).await.unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Corrupt {
                field: "checkpoint.size",
                ..
            }
        ),
        "{e:?}"
    );
}

async fn case_large_batches_and_paging(s: &Store) {
    // Larger than one multi-row INSERT chunk, with many tile writes.
    let tiles: Vec<LedgerTileRow> = (0..9).map(|i| tile(0, i, 256, i as u8)).collect();
    let mut all_tiles = tiles.clone();
    all_tiles.push(tile(0, 9, 196, 3));
    all_tiles.push(tile(1, 0, 10, 4));
    append(s, 0, 2500, &all_tiles, &checkpoint(2500))
        .await
        .unwrap();
    let (data, hashes) = entries(0, 2500);
    let mut read = Vec::new();
    let mut from = 0;
    loop {
        let page = s.ledger_entries(from, 700).await.unwrap();
        if page.is_empty() {
            break;
        }
        from = page.last().unwrap().index + 1;
        read.extend(page);
    }
    assert_eq!(read.len(), 2500);
    for (i, r) in read.iter().enumerate() {
        assert_eq!(
            (r.index, &r.data, r.leaf_hash),
            (i as u64, &data[i], hashes[i])
        );
    }
    let page = s.ledger_entries(2498, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.index).collect::<Vec<_>>(),
        vec![2498, 2499]
    );

    let first = s.ledger_tiles_from(0, 0, 4).await.unwrap();
    assert_eq!(first, all_tiles[..4].to_vec());
    let rest = s.ledger_tiles_from(0, 4, 100).await.unwrap();
    assert_eq!(rest, all_tiles[4..].to_vec());
    let top = s.ledger_tiles_from(1, 0, 100).await.unwrap();
    assert_eq!(top, vec![tile(1, 0, 10, 4)]);

    append(s, 2500, 1, &[tile(0, 9, 197, 3)], &checkpoint(2501))
        .await
        .unwrap();
    let cps = s.ledger_checkpoints(0, 10).await.unwrap();
    assert_eq!(cps, vec![checkpoint(2500), checkpoint(2501)]);
    assert_eq!(
        s.ledger_checkpoints(2501, 10).await.unwrap(),
        vec![checkpoint(2501)]
    );
}

async fn case_salts(s: &Store) {
    let c = hash_of(77);
    assert_eq!(s.ledger_salt(&c).await.unwrap(), None);
    s.ledger_put_salt(&c, &[1; 16], 5).await.unwrap();
    // The first salt stays: a commitment has exactly one opening.
    s.ledger_put_salt(&c, &[2; 16], 6).await.unwrap();
    assert_eq!(s.ledger_salt(&c).await.unwrap(), Some(vec![1; 16]));
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_append_and_read(&$dbs.open("append").await).await;
        case_large_batches_and_paging(&$dbs.open("large").await).await;
        case_salts(&$dbs.open("salts").await).await;
    }};
}

#[tokio::test]
async fn ledger_suite_sqlite() {
    let dbs = pg::Databases::sqlite("ledger");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn ledger_suite_postgres() {
    let dbs = pg::Databases::postgres("l").await;
    suite!(dbs);
    dbs.finish().await;
}
