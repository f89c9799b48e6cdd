//! The ledger feed is durable: incident state changes and watch events made
//! while the ledger cannot append (its table refuses inserts, like a full
//! disk) stay pending in the store across a crash of the process, and the
//! next process over the same data dir records each of them exactly once —
//! in order, with one caller commitment per case and the portal's case leaves
//! — and a further restart records nothing twice.

mod common;

use std::time::Duration;

use pingan_ledger::{CaseStateChange, LeafRecord, WatchAction, WatchEvent};
use pingan_server::AppState;

/// A trigger standing in for a full disk: every ledger entry insert fails.
const LEDGER_FULL: &str = "CREATE TRIGGER test_ledger_full BEFORE INSERT ON ledger_entries \
     BEGIN SELECT RAISE(ABORT, 'simulated full disk'); END";

/// Polls `f` every 100 ms until it yields a value (at most 30 s).
async fn eventually<T, F, Fut>(what: &str, f: F) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..300 {
        if let Some(v) = f().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// `(kind, ref_id, status)` of the pending feed rows.
async fn pending(s: &AppState) -> Vec<(String, i64, String)> {
    s.store
        .ledger_feed_pending(1000)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.ref_id, r.status))
        .collect()
}

/// The log's case-state leaves of incident `number` and the events of watch
/// `watch`, with their indexes, read straight from the store.
async fn recorded(
    s: &AppState,
    number: &str,
    watch: &str,
) -> (Vec<(u64, CaseStateChange)>, Vec<WatchEvent>) {
    let (mut cases, mut watches) = (Vec::new(), Vec::new());
    for e in s.store.ledger_entries(0, 100_000).await.unwrap() {
        match LeafRecord::from_canonical_json(&e.data).unwrap() {
            LeafRecord::CaseState(c) if c.number == number => cases.push((e.index, c)),
            LeafRecord::Watch(w) if w.watch == watch => watches.push(w),
            _ => {}
        }
    }
    (cases, watches)
}

fn new_watch(org_path: &str, expires_at: i64) -> pingan_store::NewWatch {
    pingan_store::NewWatch {
        label: "盗抢车辆".into(),
        spec: r#"{"target":{"type":"identifiers","identifiers":[{"kind":"plate","value":"川A12345"}]}}"#
            .into(),
        legal_basis: "公安机关办理刑事案件程序规定 第二百六十四条".into(),
        case_ref: "CASE-2026-011".into(),
        owner: "analyst".into(),
        org_path: org_path.into(),
        expires_at,
        created_by: "analyst".into(),
    }
}

#[test]
fn state_changes_made_while_the_ledger_is_down_survive_a_crash_exactly_once() {
    let dir = std::env::temp_dir().join(format!("pingan-test-ledger-feed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // First process: the ledger stops accepting entries, then a call comes
    // in, is classified and dispatched, a watch is created and expires; then the process dies.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (id, number, watch_id, size_before) = rt.block_on(async {
        let s = common::boot_over(&dir, true).await;
        // Let the start-up audit anchor land before the disk "fills".
        let size_before = eventually("the start-up audit anchor", || {
            let s = &s;
            async move { (s.ledger.head().size >= 1).then(|| s.ledger.head().size) }
        })
        .await;
        s.store.execute_raw(LEDGER_FULL).await.unwrap();
        let (call, police) = common::fight_call_beside_patrol_car(&s).await;
        assert!(
            call.receipt_code.is_some(),
            "intake does not wait for the ledger"
        );
        let id = call.incident.id;
        pingan_server::dispatch::dispatch_units(&s, id, &police[..1], "dispatcher", police.clone())
            .await
            .unwrap();
        let row = s.store.get_incident(id).await.unwrap();
        let w = s
            .store
            .create_watch(&new_watch(&row.org_path, s.now_ms() + 60_000), s.now_ms())
            .await
            .unwrap();
        assert!(
            s.store
                .end_watch(w.id, "expired", s.now_ms())
                .await
                .unwrap()
        );

        // The worker tries (and fails) for a while; nothing is lost meanwhile.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(s.ledger.head().size, size_before);
        assert_eq!(
            pending(&s).await,
            vec![
                ("case".to_string(), id, "created".to_string()),
                ("case".to_string(), id, "classified".to_string()),
                ("case".to_string(), id, "dispatched".to_string()),
                ("watch.created".to_string(), w.id, "active".to_string()),
                ("watch.expired".to_string(), w.id, "expired".to_string()),
            ]
        );
        (id, row.number, w.id, size_before)
    });
    // Dropping the runtime ends every task of that "process" mid-retry.
    drop(rt);

    // Second process: the disk has room again. Every pending change becomes
    // exactly one leaf, in order.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let watch = format!("watch-{watch_id}");
    let first_leaves = rt.block_on(async {
        let store = pingan_store::Store::open(dir.join("pingan.db").to_str().unwrap())
            .await
            .unwrap();
        store
            .execute_raw("DROP TRIGGER test_ledger_full")
            .await
            .unwrap();
        store.close().await;
        let s = common::boot_over(&dir, false).await;
        eventually("the feed drained", || {
            let s = &s;
            async move { pending(s).await.is_empty().then_some(()) }
        })
        .await;
        let (cases, watches) = recorded(&s, &number, &watch).await;
        let states: Vec<(Option<&str>, &str)> = cases
            .iter()
            .map(|(_, c)| (c.from.as_deref(), c.to.as_str()))
            .collect();
        assert_eq!(
            states,
            [
                (None, "created"),
                (Some("created"), "classified"),
                (Some("classified"), "dispatched")
            ]
        );
        assert!(cases.iter().all(|(i, _)| *i >= size_before));
        // One caller commitment per case, the one the receipt code holds.
        let case = s.store.citizen_case_by_incident(id).await.unwrap().unwrap();
        for (_, c) in &cases {
            assert_eq!(
                c.subject.as_ref().map(|h| h.0.to_vec()),
                Some(case.subject.clone())
            );
        }
        // The portal's per-incident leaves were stored with the entries.
        let leaves = s.store.case_leaves(id).await.unwrap();
        assert_eq!(
            leaves
                .iter()
                .map(|l| (l.leaf_index as u64, l.status.as_str()))
                .collect::<Vec<_>>(),
            cases
                .iter()
                .map(|(i, c)| (*i, c.to.as_str()))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            watches.iter().map(|w| w.action).collect::<Vec<_>>(),
            [WatchAction::Created, WatchAction::Expired]
        );
        // Each leaf verifies against the signed log.
        for (i, _) in &cases {
            s.ledger
                .receipt(*i)
                .await
                .unwrap()
                .verify(s.ledger.verifier())
                .unwrap();
        }
        // A change made now, while the ledger works, is recorded once too.
        s.store
            .update_incident(
                id,
                &pingan_store::IncidentPatch {
                    status: Some("closed".into()),
                    closed_at: Some(s.now_ms()),
                    disposition: Some("resolved".into()),
                    ..Default::default()
                },
                &[],
                s.now_ms(),
            )
            .await
            .unwrap();
        s.citizen.feed.wake();
        eventually("the closure in the ledger", || {
            let (s, number, watch) = (&s, &number, &watch);
            async move {
                let (cases, _) = recorded(s, number, watch).await;
                (cases.len() == 4 && pending(s).await.is_empty()).then_some(cases)
            }
        })
        .await
    });
    drop(rt);
    assert_eq!(first_leaves[3].1.to, "closed");
    assert_eq!(first_leaves[3].1.from.as_deref(), Some("dispatched"));

    // Third process: nothing is pending, so nothing is recorded again.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = common::boot_over(&dir, false).await;
        // Longer than the worker's poll: it has looked at the feed by now.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(pending(&s).await.is_empty());
        let (cases, watches) = recorded(&s, &number, &watch).await;
        assert_eq!(
            cases
                .iter()
                .map(|(i, c)| (*i, c.to.clone()))
                .collect::<Vec<_>>(),
            first_leaves
                .iter()
                .map(|(i, c)| (*i, c.to.clone()))
                .collect::<Vec<_>>()
        );
        assert_eq!(watches.len(), 2);
        assert_eq!(s.store.case_leaves(id).await.unwrap().len(), 4);
        // The whole log still audits clean.
        let report = pingan_server::ledger::audit_store(&s.store, s.ledger.verifier())
            .await
            .unwrap();
        assert!(report.is_clean(), "{report:?}");
        s.store.close().await;
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
