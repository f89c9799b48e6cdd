//! `pingan audit verify` end to end: a fresh data dir with audited actions
//! verifies (exit 0); one row edited behind the application's back makes the
//! command fail and name that record.

use std::path::{Path, PathBuf};
use std::process::Command;

use pingan_store::{AuditEntry, Store};

fn data_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "pingan-audit-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `pingan audit verify --data-dir DIR`; returns (success, stdout, stderr).
fn verify(dir: &Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir)
        .env_remove("PINGAN_DATABASE")
        .env("PINGAN_LOG", "warn")
        .output()
        .expect("run pingan");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn action(i: i64, action: &str, ids: &[&str]) -> AuditEntry {
    AuditEntry {
        at: 1_767_225_600_000 + i * 1000,
        user_id: Some(7),
        username: "dispatcher".into(),
        role: "dispatcher".into(),
        action: action.into(),
        object_type: action.split('.').next().unwrap().into(),
        object_ids: ids.iter().map(|s| s.to_string()).collect(),
        purpose: Some("案件 2026-117".into()),
        outcome: "ok".into(),
        detail: None,
    }
}

#[tokio::test]
async fn audit_verify_passes_then_names_the_tampered_record() {
    let dir = data_dir();
    let db = dir.join("pingan.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let mut seqs = Vec::new();
    for (i, (act, ids)) in [
        ("incident.read", &["17"][..]),
        ("person.read", &["110101199003076517"]),
        ("alert.read", &["3", "4"]),
        ("incident.dispatch", &["17"]),
        ("plate.read", &["沪A12345"]),
    ]
    .into_iter()
    .enumerate()
    {
        seqs.extend(
            store
                .audit_append(&[action(i as i64, act, ids)])
                .await
                .unwrap(),
        );
    }
    assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    store.close().await;

    let (ok, stdout, stderr) = verify(&dir);
    assert!(ok, "verify failed on an intact chain: {stdout} {stderr}");
    assert!(
        stdout.contains("audit chain intact: 5 records, head #5"),
        "{stdout}"
    );

    // Someone with database access rewrites who read the person record.
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let changed = store
        .execute_raw("UPDATE audit_log SET username = 'nobody' WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(changed, 1);
    store.close().await;

    let (ok, stdout, stderr) = verify(&dir);
    assert!(!ok, "verify passed a tampered chain: {stdout}");
    assert!(
        stderr.contains("audit chain broken at record #2")
            && stderr.contains("edited")
            && stderr.contains("1 records before it verified"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn audit_verify_catches_records_cut_off_after_the_ledger_anchored_them() {
    let dir = data_dir();
    let db = dir.join("pingan.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    for i in 0..5 {
        store
            .audit_append(&[action(i, "incident.read", &["17"])])
            .await
            .unwrap();
    }
    // The server anchors the chain head in the ledger every minute.
    let ledger = pingan_server::ledger::LedgerService::open(
        &store,
        &dir,
        std::sync::Arc::new(pingan_core::SystemClock),
    )
    .await
    .unwrap();
    assert_eq!(ledger.anchor_audit_head(None).await.unwrap(), 5);
    let (ok, stdout, stderr) = verify(&dir);
    assert!(ok, "{stdout} {stderr}");
    assert!(
        stdout.contains("anchored in the ledger up to record #5"),
        "{stdout}"
    );

    // Cutting the newest two leaves a valid, shorter chain.
    store
        .execute_raw("DELETE FROM audit_log WHERE seq > 3")
        .await
        .unwrap();
    store.close().await;
    let (ok, stdout, stderr) = verify(&dir);
    assert!(!ok, "verify passed a truncated log: {stdout}");
    assert!(
        stderr.contains("anchors record #5")
            && stderr.contains("record #5 is missing (the log ends at #3)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
