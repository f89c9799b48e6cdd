//! `pingan ledger key|verify|audit` end to end on a data dir: a receipt
//! written to a file verifies offline with only the published verifier key
//! (no database, no server) and a doctored one is refused; the audit of the
//! untouched store passes, and after one entry is edited in the database
//! behind the application's back it fails and names that entry.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use pingan_ledger::{CaseEntity, CaseStateChange, LeafRecord};
use pingan_server::ledger::LedgerService;
use pingan_store::Store;

fn data_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "pingan-ledger-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `pingan ledger ARGS…`; returns (success, stdout, stderr).
fn pingan_ledger(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .arg("ledger")
        .args(args)
        .env_remove("PINGAN_DATABASE")
        .env_remove("PINGAN_LEDGER_KEY")
        .env("PINGAN_LOG", "warn")
        .output()
        .expect("run pingan");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn record(i: u64) -> LeafRecord {
    LeafRecord::CaseState(CaseStateChange {
        entity: CaseEntity::Incident,
        number: format!("JQ20261124{i:06}"),
        from: Some("dispatched".into()),
        to: "on_scene".into(),
        at: pingan_core::Timestamp::from_millis(1_764_000_000_000 + i as i64),
        org: "510104000000".into(),
        subject: None,
    })
}

#[tokio::test]
async fn receipts_verify_offline_and_the_audit_names_an_edited_entry() {
    let dir = data_dir();
    let store = Store::open(path(&dir.join("pingan.db"))).await.unwrap();
    // The data dir's own key, generated on first start as in `pingan serve`.
    let ledger = LedgerService::open(&store, &dir, Arc::new(pingan_core::SystemClock))
        .await
        .unwrap();
    for i in 0..40 {
        ledger.append(&record(i)).await.unwrap();
    }
    let receipt = ledger.receipt(17).await.unwrap();
    let vkey = ledger.verifier().vkey();
    store.close().await;

    // The published key is the one `pingan ledger key` prints.
    let (ok, stdout, stderr) = pingan_ledger(&["key", "--data-dir", path(&dir)]);
    assert!(ok, "{stderr}");
    assert_eq!(stdout.trim(), vkey);

    // Offline: only the receipt file and the key (the database is moved away).
    let file = dir.join("receipt.json");
    std::fs::write(&file, receipt.to_json()).unwrap();
    std::fs::rename(dir.join("pingan.db"), dir.join("elsewhere.db")).unwrap();
    let (ok, stdout, stderr) = pingan_ledger(&["verify", path(&file), "--key", &vkey]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("receipt verified: entry 17 "),
        "{stdout}"
    );
    assert!(stdout.contains("JQ20261124000017"), "{stdout}");

    // A receipt whose entry was changed does not verify.
    let forged = receipt
        .to_json()
        .replace("JQ20261124000017", "JQ20261124000099");
    assert_ne!(forged, receipt.to_json());
    std::fs::write(&file, forged).unwrap();
    let (ok, _, stderr) = pingan_ledger(&["verify", path(&file), "--key", &vkey]);
    assert!(!ok);
    assert!(stderr.contains("does NOT verify"), "{stderr}");
    // Nor does a genuine one checked against another log's key.
    std::fs::write(&file, receipt.to_json()).unwrap();
    let other = pingan_ledger::NoteSigner::from_seed("pingan.local/ledger", [7; 32])
        .unwrap()
        .verifier()
        .vkey();
    let (ok, _, stderr) = pingan_ledger(&["verify", path(&file), "--key", &other]);
    assert!(!ok, "{stderr}");

    // The audit of the untouched store passes...
    std::fs::rename(dir.join("elsewhere.db"), dir.join("pingan.db")).unwrap();
    let (ok, stdout, stderr) = pingan_ledger(&["audit", "--data-dir", path(&dir)]);
    assert!(ok, "{stdout}\n{stderr}");
    assert!(stdout.contains("ledger intact"), "{stdout}");
    assert!(stdout.contains("40 entries read"), "{stdout}");

    // ...and names the entry edited directly in the database.
    let store = Store::open(path(&dir.join("pingan.db"))).await.unwrap();
    let n = store
        .execute_raw(
            "UPDATE ledger_entries SET data = CAST(REPLACE(CAST(data AS TEXT), 'on_scene', 'canceled') AS BLOB) WHERE idx = 23",
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    store.close().await;
    let (ok, stdout, stderr) = pingan_ledger(&["audit", "--data-dir", path(&dir)]);
    assert!(!ok, "{stdout}");
    let findings: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("FINDING"))
        .collect();
    assert!(!findings.is_empty(), "{stdout}");
    assert!(
        findings
            .iter()
            .any(|f| f.starts_with("FINDING: entry 23 was altered")),
        "{findings:?}\n{stderr}"
    );
    assert!(
        findings
            .iter()
            .all(|f| !f.contains("entry 22 ") && !f.contains("entry 24 ")),
        "{findings:?}"
    );
    assert!(stderr.contains("ledger audit found"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
