//! The verifiable case log end to end: records appended through the running
//! server's service get receipts that verify offline with the published key;
//! consistency between two checkpoints; tiles served match a recomputation;
//! bad input gets the error shape; a direct database edit is caught by the audit.

use std::sync::Arc;

use pingan_core::Timestamp;
use pingan_ledger::hash::root_of;
use pingan_ledger::tile::decode_entry_bundle;
use pingan_ledger::{
    CaseEntity, CaseStateChange, Checkpoint, Finding, LeafRecord, NoteSigner, NoteVerifier,
    ReceiptError, leaf_hash, verify_checkpoint_consistency, verify_inclusion, verify_receipt,
};
use pingan_server::ledger::{LedgerError, LedgerService, audit_store};
use pingan_server::{AppState, Config};
use reqwest::StatusCode;
use serde_json::Value;

struct App {
    base: String,
    client: reqwest::Client,
    state: AppState,
    dir: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl App {
    async fn start(tag: &str) -> App {
        let dir = std::env::temp_dir().join(format!(
            "pingan-ledger-api-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let store = pingan_store::Store::open(dir.join("pingan.db").to_str().unwrap())
            .await
            .unwrap();
        let cfg = Config {
            data_dir: dir.clone(),
            ..Config::default()
        };
        let (router, state) = pingan_server::build(store, cfg, pingan_server::system_clock())
            .await
            .unwrap();
        // The audit-chain anchor goes in at start; let it land first so entry
        // 0 is known and the test's own appends follow it.
        state.ledger.wait_for_size(1).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(pingan_server::serve(
            listener,
            router,
            async {
                let _ = rx.await;
            },
            std::time::Duration::from_secs(5),
        ));
        App {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            state,
            dir,
            stop: Some(tx),
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let st = resp.status();
        let text = resp.text().await.unwrap();
        (
            st,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get_bytes(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (resp.status(), resp.bytes().await.unwrap().to_vec())
    }

    async fn finish(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.state.store.close().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn record(i: u64) -> LeafRecord {
    LeafRecord::CaseState(CaseStateChange {
        entity: CaseEntity::Incident,
        number: format!("J51010420261124{i:05}"),
        from: Some("dispatched".into()),
        to: "on_scene".into(),
        at: Timestamp::from_millis(1_764_000_000_000 + i as i64),
        org: "510104".into(),
        subject: None,
    })
}

/// Appends `n` records concurrently (so they batch) and returns their indices in record order.
async fn append_many(s: &AppState, from: u64, n: u64) -> Vec<u64> {
    let futs = (from..from + n).map(|i| {
        let ledger = s.ledger.clone();
        async move { ledger.append(&record(i)).await.unwrap().index }
    });
    futures::future::join_all(futs).await
}

fn error_code(v: &Value) -> &str {
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "not the error shape: {v}"
    );
    v["error"]["code"].as_str().unwrap()
}

#[tokio::test]
async fn receipts_verify_offline_and_tiles_match() {
    let app = App::start("receipts").await;
    let s = &app.state;
    let indices = append_many(s, 0, 300).await;
    let mut sorted = indices.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 300, "every append got its own index");

    // The key: generated on first start, private file 0600, published as a vkey.
    let key_file = app.dir.join("ledger.key");
    let skey = std::fs::read_to_string(&key_file).unwrap();
    assert!(
        skey.starts_with("PRIVATE+KEY+pingan.local/ledger+"),
        "{skey}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let (st, vk) = app.get("/api/v1/ledger/verifier-key").await;
    assert_eq!(st, StatusCode::OK);
    let vkey = vk["vkey"].as_str().unwrap().to_string();
    assert_eq!(vk["origin"], "pingan.local/ledger");
    assert_eq!(
        NoteSigner::parse(skey.trim()).unwrap().verifier().vkey(),
        vkey
    );
    let verifier = NoteVerifier::parse(&vkey).unwrap();

    // Each entry's receipt verifies with the public key alone and carries the record.
    for (n, &index) in indices.iter().enumerate().step_by(37) {
        let (st, body) = app.get(&format!("/api/v1/ledger/entries/{index}")).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let v = verify_receipt(&body["receipt"].to_string(), &verifier).unwrap();
        assert_eq!(v.leaf_index, index);
        assert_eq!(v.record, Some(record(n as u64)));
        assert_eq!(body["record"]["number"], format!("J51010420261124{n:05}"));
        assert!(v.checkpoint.size >= 300);
    }
    let receipt = s.ledger.receipt(indices[5]).await.unwrap();
    verify_receipt(&receipt.to_json(), &verifier).unwrap();

    // The public checkpoint is a signed note of the current size.
    let (st, note) = app.get("/ledger/checkpoint").await;
    assert_eq!(st, StatusCode::OK);
    let cp = Checkpoint::open(note.as_str().unwrap(), &verifier).unwrap();
    let head = s.ledger.head();
    assert_eq!((cp.size, cp.root), (head.size, head.root));
    let (_, json_cp) = app.get("/api/v1/ledger/checkpoint").await;
    assert_eq!(json_cp["size"], head.size);
    assert_eq!(json_cp["root"], hex::encode(head.root));
    assert_eq!(json_cp["note"], note);

    // An inclusion proof over HTTP checks against the signed root.
    let i = indices[123];
    let (st, inc) = app
        .get(&format!(
            "/api/v1/ledger/proof/inclusion?index={i}&size={}",
            cp.size
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{inc}");
    let proof: Vec<[u8; 32]> = inc["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let leaf: [u8; 32] = hex::decode(inc["leaf_hash"].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    verify_inclusion(&leaf, i, cp.size, &proof, &cp.root).unwrap();
    assert_eq!(inc["checkpoint"], note);

    // Tiles served match a recomputation from the stored entries.
    let entries = s.store.ledger_entries(0, 1000).await.unwrap();
    assert_eq!(entries.len() as u64, cp.size);
    let leaves: Vec<[u8; 32]> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
    let (st, t0) = app.get_bytes("/ledger/tile/0/000").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(t0, leaves[..256].concat());
    let w = cp.size - 256;
    let (st, t1) = app.get_bytes(&format!("/ledger/tile/0/001.p/{w}")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(t1, leaves[256..].concat());
    let (st, up) = app.get_bytes("/ledger/tile/1/000.p/1").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(up, root_of(&leaves[..256]).to_vec());
    // A narrower view of a tile is its prefix.
    let (_, t0p) = app.get_bytes("/ledger/tile/0/000.p/10").await;
    assert_eq!(t0p, leaves[..10].concat());
    let (st, bundle) = app.get_bytes("/ledger/tile/entries/000").await;
    assert_eq!(st, StatusCode::OK);
    let data: Vec<Vec<u8>> = entries[..256].iter().map(|e| e.data.clone()).collect();
    assert_eq!(decode_entry_bundle(&bundle).unwrap(), data);

    // Bad input: 4xx with the error shape.
    let (st, b) = app.get("/ledger/tile/0/1").await;
    assert_eq!(
        (st, error_code(&b)),
        (StatusCode::BAD_REQUEST, "invalid_tile_path")
    );
    let (st, b) = app.get("/ledger/tile/0/001").await;
    assert_eq!((st, error_code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, b) = app.get("/ledger/tile/entries/005").await;
    assert_eq!((st, error_code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, b) = app.get("/api/v1/ledger/proof/inclusion?index=abc").await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    error_code(&b);
    let (st, b) = app
        .get(&format!("/api/v1/ledger/proof/inclusion?index={}", cp.size))
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(b["error"]["field"], "index");
    let (st, b) = app
        .get(&format!(
            "/api/v1/ledger/proof/inclusion?index=0&size={}",
            cp.size + 1000
        ))
        .await;
    assert_eq!(
        (st, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("size"))
    );
    let (st, b) = app
        .get("/api/v1/ledger/proof/consistency?from=9&to=3")
        .await;
    assert_eq!(
        (st, b["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("from"))
    );
    let (st, b) = app.get("/api/v1/ledger/entries/99999999").await;
    assert_eq!((st, error_code(&b)), (StatusCode::NOT_FOUND, "not_found"));
    let (st, b) = app.get("/api/v1/ledger/entries/-1").await;
    assert!(st.is_client_error(), "{st} {b}");
    error_code(&b);

    // The public routes are in the OpenAPI document, without a security requirement.
    let (_, spec) = app.get("/api/openapi.json").await;
    for p in [
        "/ledger/checkpoint",
        "/ledger/tile/{path}",
        "/api/v1/ledger/checkpoint",
        "/api/v1/ledger/proof/inclusion",
        "/api/v1/ledger/proof/consistency",
        "/api/v1/ledger/entries/{index}",
        "/api/v1/ledger/verifier-key",
    ] {
        let op = &spec["paths"][p]["get"];
        assert!(op.is_object(), "{p} missing from the spec");
        assert!(op.get("security").is_none(), "{p} should be public");
    }
    app.finish().await;
}

#[tokio::test]
async fn consistency_between_two_checkpoints() {
    let app = App::start("consistency").await;
    let s = &app.state;
    append_many(s, 0, 40).await;
    let old = s.ledger.head();
    append_many(s, 40, 700).await;
    let new = s.ledger.head();
    assert!(new.size >= old.size + 700);
    let (st, c) = app
        .get(&format!(
            "/api/v1/ledger/proof/consistency?from={}&to={}",
            old.size, new.size
        ))
        .await;
    assert_eq!(st, StatusCode::OK, "{c}");
    assert_eq!(c["from_checkpoint"].as_str(), Some(&*old.note));
    assert_eq!(c["to_checkpoint"].as_str(), Some(&*new.note));
    let proof: Vec<[u8; 32]> = c["proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            hex::decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect();
    let (a, b) =
        verify_checkpoint_consistency(&old.note, &new.note, &proof, s.ledger.verifier()).unwrap();
    assert_eq!((a.size, b.size), (old.size, new.size));
    // The same proof does not connect the old checkpoint to a different root.
    let mut forged = proof.clone();
    forged[0][0] ^= 1;
    assert!(
        verify_checkpoint_consistency(&old.note, &new.note, &forged, s.ledger.verifier()).is_err()
    );
    // Every intermediate size is consistent with the latest one too.
    for from in [1, 2, 255, 256, 257, old.size] {
        let proof = s.ledger.consistency_proof(from, new.size).await.unwrap();
        let old_root = pingan_ledger::tree_root(
            &LeavesLookup(
                s.store
                    .ledger_entries(0, from as i64)
                    .await
                    .unwrap()
                    .iter()
                    .map(|e| leaf_hash(&e.data))
                    .collect(),
            ),
            from,
        )
        .unwrap();
        pingan_ledger::verify_consistency(from, new.size, &proof, &old_root, &new.root).unwrap();
    }
    app.finish().await;
}

/// Perfect-subtree lookup straight from leaf hashes (the reference computation).
struct LeavesLookup(Vec<[u8; 32]>);

impl pingan_ledger::NodeLookup for LeavesLookup {
    fn node(&self, id: pingan_ledger::NodeId) -> Option<[u8; 32]> {
        let a = usize::try_from(id.first_leaf()).ok()?;
        let b = usize::try_from(id.end_leaf()).ok()?;
        self.0.get(a..b).map(root_of)
    }
}

#[tokio::test]
async fn audit_catches_a_direct_database_edit() {
    let app = App::start("tamper").await;
    let s = &app.state;
    let indices = append_many(s, 0, 20).await;
    let verifier = s.ledger.verifier().clone();
    let clean = audit_store(&s.store, &verifier).await.unwrap();
    assert!(clean.is_clean(), "{:?}", clean.findings);
    assert_eq!(clean.recomputed_root, Some(s.ledger.head().root));

    let victim = indices[7];
    let changed = s
        .store
        .execute_raw(&format!(
            "UPDATE ledger_entries SET data = CAST(REPLACE(CAST(data AS TEXT), 'on_scene', 'canceled') AS BLOB) WHERE idx = {victim}"
        ))
        .await
        .unwrap();
    assert_eq!(changed, 1);
    let report = audit_store(&s.store, &verifier).await.unwrap();
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::AlteredEntry { index, .. } if *index == victim)),
        "{:?}",
        report.findings
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(f, Finding::CheckpointRootMismatch { .. })),
        "{:?}",
        report.findings
    );
    // The edited entry's receipt no longer verifies.
    let receipt = s.ledger.receipt(victim).await.unwrap();
    assert_eq!(
        verify_receipt(&receipt.to_json(), &verifier).unwrap_err(),
        ReceiptError::EntryHash
    );

    // Restarting on the same database keeps appending on the same tree; a
    // different key is refused rather than forking the log.
    let size = s.ledger.head().size;
    let other = NoteSigner::from_seed("pingan.local/ledger", [9; 32]).unwrap();
    let e = LedgerService::start(s.store.clone(), other, Arc::new(pingan_core::SystemClock))
        .await
        .unwrap_err();
    assert!(matches!(e, LedgerError::KeyMismatch { .. }), "{e}");
    let skey = std::fs::read_to_string(app.dir.join("ledger.key")).unwrap();
    let again = LedgerService::start(
        s.store.clone(),
        NoteSigner::parse(skey.trim()).unwrap(),
        Arc::new(pingan_core::SystemClock),
    )
    .await
    .unwrap();
    assert_eq!(again.head().size, size);
    let a = again.append(&record(999)).await.unwrap();
    assert_eq!(a.index, size);
    app.finish().await;
}

#[tokio::test]
async fn audit_chain_head_is_anchored_and_commitments_open() {
    let app = App::start("anchor").await;
    let s = &app.state;
    // The anchor task recorded the head at start (App::start waited for it).
    let first = s.store.ledger_entry(0).await.unwrap().unwrap();
    let rec = LeafRecord::from_canonical_json(&first.data).unwrap();
    let (seq, hash) = s.store.audit_head().await.unwrap();
    match rec {
        LeafRecord::AuditCheckpoint(a) => {
            assert_eq!(a.audit_seq, seq as u64);
            assert_eq!(hex::encode(a.chain_head), hash);
        }
        other => panic!("entry 0 is not an audit anchor: {other:?}"),
    }
    // An unchanged head is not anchored twice.
    let size = s.ledger.head().size;
    assert_eq!(s.ledger.anchor_audit_head(Some(seq)).await.unwrap(), seq);
    assert_eq!(s.ledger.head().size, size);

    // Commitments hide personal data; the private salt opens them.
    let c = s.ledger.commit_personal(b"13800138000").await.unwrap();
    assert!(s.ledger.check_personal(&c, b"13800138000").await.unwrap());
    assert!(!s.ledger.check_personal(&c, b"13800138001").await.unwrap());
    let c2 = s.ledger.commit_personal(b"13800138000").await.unwrap();
    assert_ne!(c, c2, "fresh salt per commitment");
    app.finish().await;
}
