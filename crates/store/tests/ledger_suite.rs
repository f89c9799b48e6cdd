//! The ledger tables' test suite, run unchanged on SQLite and on a real
//! PostgreSQL: atomic batch appends, stale/gapped batches refused without a
//! trace, tile upserts and lookups, entry ranges, checkpoints and salts, the
//! durable feed (trigger rows for incident, watch and alert changes, consumed
//! exactly once by the batch that records them), and one caller commitment
//! per case.

mod pg;

use pingan_store::*;

fn hash_of(i: u64) -> [u8; 32] {
    let mut h = [0u8; 32];
    h[..8].copy_from_slice(&i.to_be_bytes());
    h[31] = 0xa5;
    h
}

fn entries(from: u64, n: u64) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| format!("{{\"entry\":{i}}}").into_bytes())
        .collect()
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
    append_fed(s, first, n, tiles, cp, &[]).await
}

async fn append_fed(
    s: &Store,
    first: u64,
    n: u64,
    tiles: &[LedgerTileRow],
    cp: &LedgerCheckpointRow,
    feed: &[LedgerFeedAck],
) -> Result<()> {
    s.ledger_append(LedgerBatch {
        first_index: first,
        entries: &entries(first, n),
        tiles,
        checkpoint: cp,
        feed,
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
    let data = entries(0, 2500);
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
        assert_eq!((r.index, &r.data), (i as u64, &data[i]));
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

/// `(kind, ref_id, status)` of the pending feed rows, oldest first.
async fn pending(s: &Store) -> Vec<(String, i64, String)> {
    s.ledger_feed_pending(100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.ref_id, r.status))
        .collect()
}

fn row(kind: &str, id: i64, status: &str) -> (String, i64, String) {
    (kind.to_string(), id, status.to_string())
}

async fn case_durable_feed(s: &Store) {
    let (city, st) = pg::city_and_station(s, "东门派出所").await;
    let new = pg::noise_incident(st.id);
    let inc = s.create_incident(&new, 20).await.unwrap();
    let patch = |status: Option<&str>, org_id: Option<i64>, priority: Option<&str>| IncidentPatch {
        status: status.map(Into::into),
        org_id,
        priority: priority.map(Into::into),
        ..IncidentPatch::default()
    };
    // A state change, a change that is no state change, a transfer.
    s.update_incident(inc.id, &patch(Some("dispatched"), None, None), &[], 30)
        .await
        .unwrap();
    s.update_incident(
        inc.id,
        &patch(Some("dispatched"), None, Some("P1")),
        &[],
        31,
    )
    .await
    .unwrap();
    s.update_incident(inc.id, &patch(None, Some(city.id), None), &[], 40)
        .await
        .unwrap();
    // A watch created, edited without change, extended, expired; an alert
    // acknowledged, its hit count bumped, closed.
    let path = &st.path;
    s.execute_raw(&format!(
        "INSERT INTO alert_watches (id, label, spec, legal_basis, case_ref, owner, org_path, expires_at, created_by, status, created_at, updated_at) \
         VALUES (7, 'w', '{{\"target\":1}}', 'b', 'c', 'o', '{path}', 100, 'u', 'active', 50, 50)"
    ))
    .await
    .unwrap();
    s.execute_raw("UPDATE alert_watches SET updated_at = 51 WHERE id = 7")
        .await
        .unwrap();
    s.execute_raw("UPDATE alert_watches SET expires_at = 200, updated_at = 52 WHERE id = 7")
        .await
        .unwrap();
    s.execute_raw(
        "UPDATE alert_watches SET status = 'expired', ended_at = 60, updated_at = 60 WHERE id = 7",
    )
    .await
    .unwrap();
    s.execute_raw(&format!(
        "INSERT INTO alerts (id, rule, watch_id, org_path, priority, status, alert_time, draft, history, hits, created_at, updated_at) \
         VALUES (9, 'r', 7, '{path}', 'high', 'new', 55, '{{}}', '[]', 1, 55, 55)"
    ))
    .await
    .unwrap();
    s.execute_raw("UPDATE alerts SET status = 'acknowledged', updated_at = 56 WHERE id = 9")
        .await
        .unwrap();
    s.execute_raw("UPDATE alerts SET hits = hits + 1, updated_at = 57 WHERE id = 9")
        .await
        .unwrap();
    s.execute_raw("UPDATE alerts SET status = 'closed', outcome = 'true_positive', updated_at = 58 WHERE id = 9").await.unwrap();
    assert_eq!(
        pending(s).await,
        vec![
            row("case", inc.id, "created"),
            row("case", inc.id, "dispatched"),
            row("case", inc.id, "dispatched"),
            row("watch.created", 7, "active"),
            row("watch.changed", 7, "active"),
            row("watch.expired", 7, "expired"),
            row("alert", 9, "acknowledged"),
            row("alert", 9, "closed:true_positive"),
        ]
    );
    let all = s.ledger_feed_pending(100).await.unwrap();
    assert_eq!(
        (all[0].org_id, all[0].org_path.as_str(), all[0].at),
        (Some(st.id), st.path.as_str(), 10),
        "a new incident's state is timed by its call"
    );
    assert_eq!((all[2].org_id, all[2].at), (Some(city.id), 40));
    assert_eq!(
        (all[4].spec.as_deref(), all[4].expires_at, all[4].at),
        (Some("{\"target\":1}"), Some(200), 52)
    );
    assert_eq!((all[5].at, all[7].at), (60, 58));
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

    // The first three rows become entries 0..3: deleted with the batch, the
    // case leaves stored with it.
    let leaf = |i: i64, status: &str, at: i64| CaseLeafRow {
        leaf_index: i,
        incident_id: inc.id,
        status: status.into(),
        org_code: "S1".into(),
        at,
    };
    let acks: Vec<LedgerFeedAck> = vec![
        LedgerFeedAck {
            seq: all[0].seq,
            case_leaf: Some(leaf(0, "created", 10)),
        },
        LedgerFeedAck {
            seq: all[1].seq,
            case_leaf: Some(leaf(1, "dispatched", 30)),
        },
        LedgerFeedAck {
            seq: all[3].seq,
            case_leaf: None,
        },
    ];
    append_fed(s, 0, 3, &[tile(0, 0, 3, 1)], &checkpoint(3), &acks)
        .await
        .unwrap();
    assert_eq!(pending(s).await.len(), 5);
    assert_eq!(pending(s).await[0], row("case", inc.id, "dispatched"));
    assert_eq!(
        s.case_leaves(inc.id).await.unwrap(),
        vec![leaf(0, "created", 10), leaf(1, "dispatched", 30)]
    );
    // Recording a row that is no longer pending writes nothing at all.
    let again = [
        acks[2].clone(),
        LedgerFeedAck {
            seq: all[4].seq,
            case_leaf: None,
        },
    ];
    let e = append_fed(s, 3, 2, &[tile(0, 0, 5, 1)], &checkpoint(5), &again)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Conflict {
                entity: "ledger feed",
                field: "seq",
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(s.ledger_entries(0, 100).await.unwrap().len(), 3);
    assert_eq!(s.ledger_checkpoint(5).await.unwrap(), None);
    assert_eq!(pending(s).await.len(), 5);
    // A case leaf outside the batch is refused up front.
    let stray = [LedgerFeedAck {
        seq: all[4].seq,
        case_leaf: Some(leaf(9, "x", 1)),
    }];
    let e = append_fed(s, 3, 1, &[], &checkpoint(4), &stray)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Corrupt {
                field: "feed.case_leaf.leaf_index",
                ..
            }
        ),
        "{e:?}"
    );
    // Rows that need no leaf are discarded; a second discard finds none.
    assert_eq!(
        s.ledger_feed_discard(&[all[2].seq, all[5].seq])
            .await
            .unwrap(),
        2
    );
    assert_eq!(s.ledger_feed_discard(&[all[2].seq]).await.unwrap(), 0);
    assert_eq!(s.ledger_feed_discard(&[]).await.unwrap(), 0);
    assert_eq!(
        pending(s).await,
        vec![
            row("watch.changed", 7, "active"),
            row("alert", 9, "acknowledged"),
            row("alert", 9, "closed:true_positive"),
        ]
    );

    // One caller commitment per case: the first one kept stands.
    assert_eq!(s.case_subject(inc.id).await.unwrap(), None);
    assert_eq!(
        s.put_case_subject(inc.id, &[1; 32]).await.unwrap(),
        vec![1; 32]
    );
    assert_eq!(
        s.put_case_subject(inc.id, &[2; 32]).await.unwrap(),
        vec![1; 32]
    );
    assert_eq!(s.case_subject(inc.id).await.unwrap(), Some(vec![1; 32]));
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_durable_feed(&$dbs.open("feed").await).await;
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
