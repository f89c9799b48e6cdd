//! Concurrent audit appends never fork the hash chain, on SQLite and on a real
//! PostgreSQL. The appenders are spread over two `Store` handles (two pools, as
//! two pingan processes sharing one database would have), so the in-process
//! mutex cannot be what keeps the chain linear: the database transaction
//! (`BEGIN IMMEDIATE` on SQLite, an advisory lock on PostgreSQL) has to.

mod pg;

use pingan_store::*;

const TASKS: usize = 8;
const PER_TASK: usize = 200;

fn entry(task: usize, i: usize) -> AuditEntry {
    AuditEntry {
        at: 1_700_000_000_000 + i as i64,
        user_id: Some(task as i64 + 1),
        username: format!("appender{task}"),
        role: "dispatcher".into(),
        action: "incident.read".into(),
        object_type: "incident".into(),
        object_ids: vec![format!("{task}-{i}")],
        purpose: Some("concurrency test".into()),
        outcome: "ok".into(),
        detail: None,
    }
}

/// 8 tasks × 200 single-record appends over the given handles, then checks
/// every seq is distinct, the chain verifies, and each task's records kept
/// their order.
async fn concurrent_appends_keep_one_chain(stores: [Store; 2]) {
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = stores[task % 2].clone();
        handles.push(tokio::spawn(async move {
            let mut seqs = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let s = store.audit_append(&[entry(task, i)]).await.unwrap();
                assert_eq!(s.len(), 1);
                seqs.push(s[0]);
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        let seqs = h.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "one task's appends are in order"
        );
        all.extend(seqs);
    }
    all.sort_unstable();
    let n = (TASKS * PER_TASK) as i64;
    assert_eq!(
        all,
        (1..=n).collect::<Vec<_>>(),
        "seqs 1..={n}, no gaps or repeats"
    );
    let v = stores[0].audit_verify().await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_seq), (n as u64, n));
    assert_eq!(stores[1].audit_head().await.unwrap(), (n, v.head_hash));
    // A batch append in the middle of the chain is contiguous too.
    let seqs = stores[1]
        .audit_append(&[entry(99, 0), entry(99, 1), entry(99, 2)])
        .await
        .unwrap();
    assert_eq!(seqs, vec![n + 1, n + 2, n + 3]);
    assert!(stores[0].audit_verify().await.unwrap().ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_append_is_linear_under_concurrency_sqlite() {
    let dir = std::env::temp_dir().join(format!(
        "pingan-audit-suite-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("pingan.db");
    let a = Store::open(path.to_str().unwrap()).await.unwrap();
    let b = Store::open(path.to_str().unwrap()).await.unwrap();
    concurrent_appends_keep_one_chain([a.clone(), b.clone()]).await;
    a.close().await;
    b.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_append_is_linear_under_concurrency_postgres() {
    let pg = pg::TempPostgres::start();
    let admin = Store::open(&pg.url("postgres")).await.unwrap();
    admin
        .execute_raw("CREATE DATABASE t_audit_concurrency")
        .await
        .unwrap();
    let a = Store::open(&pg.url("t_audit_concurrency")).await.unwrap();
    let b = Store::open(&pg.url("t_audit_concurrency")).await.unwrap();
    concurrent_appends_keep_one_chain([a.clone(), b.clone()]).await;
    a.close().await;
    b.close().await;
    admin.close().await;
    drop(pg);
}
