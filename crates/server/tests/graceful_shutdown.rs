//! Graceful shutdown under a stream of writes: the server is told to stop (the
//! same future `pingan serve` resolves on SIGTERM) while eight clients keep
//! creating units. Afterwards, and again after reopening the database file as a
//! restarted process would, every write that was answered 2xx is stored, and
//! no write is half done: each stored unit has its audit record and the audit
//! chain verifies.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pingan_server::Config;
use pingan_store::{AuditFilter, NewOrg, NewUser, Page, Store};
use serde_json::{Value, json};

const WRITERS: usize = 8;
/// Acknowledged writes before the shutdown signal.
const BEFORE_SIGNAL: usize = 60;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_finishes_in_flight_writes_and_loses_no_acknowledged_one() {
    let dir = std::env::temp_dir().join(format!(
        "pingan-shutdown-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("pingan.db");
    let store = Store::open(db.to_str().unwrap()).await.unwrap();
    let now = pingan_server::system_clock().now().millis();
    let org = store
        .create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "SD".into(),
                name: "关停测试市局".into(),
                area: None,
            },
            now,
        )
        .await
        .unwrap();
    store
        .create_user(
            &NewUser {
                username: "admin".into(),
                display_name: "管理员".into(),
                password_hash: pingan_server::auth::hash_password("shutdown-pw").unwrap(),
                role: "admin".into(),
                org_id: org.id,
                unit_id: None,
            },
            now,
        )
        .await
        .unwrap();
    let cfg = Config {
        data_dir: dir.clone(),
        ..Config::default()
    };
    let (router, state) = pingan_server::build(store.clone(), cfg, pingan_server::system_clock())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(pingan_server::serve(
        listener,
        router,
        async {
            let _ = stop_rx.await;
        },
        Duration::from_secs(20),
    ));

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "shutdown-pw"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap().to_string();

    // Writers run until the server stops answering; each records the units
    // it was told were created (callsign → id).
    let acked = Arc::new(AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (client, base, token, acked) =
            (client.clone(), base.clone(), token.clone(), acked.clone());
        let org_id = org.id;
        writers.push(tokio::spawn(async move {
            let mut created: HashMap<String, i64> = HashMap::new();
            let mut refused = 0usize;
            for i in 0.. {
                let callsign = format!("关停{w}-{i}");
                let r = client
                    .post(format!("{base}/api/v1/units"))
                    .bearer_auth(&token)
                    .json(&json!({"callsign": callsign, "kind": "patrol_car", "org_id": org_id}))
                    .send()
                    .await;
                let Ok(resp) = r else {
                    // Connection refused or closed: the server is going away.
                    break;
                };
                let st = resp.status();
                let Ok(body) = resp.json::<Value>().await else {
                    break;
                };
                if st.is_success() {
                    created.insert(callsign, body["id"].as_i64().unwrap());
                    acked.fetch_add(1, Ordering::SeqCst);
                } else {
                    assert!(st.is_client_error() || st == 503, "{st} {body}");
                    refused += 1;
                }
            }
            (created, refused)
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked.load(Ordering::SeqCst) < BEFORE_SIGNAL {
        assert!(tokio::time::Instant::now() < deadline, "writes too slow");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at_signal = acked.load(Ordering::SeqCst);
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), server)
        .await
        .expect("serve returns after draining")
        .unwrap()
        .unwrap();
    let mut acknowledged: HashMap<String, i64> = HashMap::new();
    for w in writers {
        let (created, _refused) = tokio::time::timeout(Duration::from_secs(60), w)
            .await
            .expect("writers stop once the server is gone")
            .unwrap();
        acknowledged.extend(created);
    }
    assert!(
        acknowledged.len() >= BEFORE_SIGNAL,
        "{}",
        acknowledged.len()
    );
    // The listener is closed: nothing new is accepted.
    assert!(client.get(format!("{base}/healthz")).send().await.is_err());

    // Check the store as the stopped server left it, then as a restarted
    // process sees the file.
    drop(state);
    store.close().await;
    let reopened = Store::open(db.to_str().unwrap()).await.unwrap();
    let (units, total) = reopened
        .list_units(
            &pingan_store::UnitFilter {
                path_prefix: org.path.clone(),
                ..Default::default()
            },
            Page {
                limit: 100_000,
                offset: 0,
            },
        )
        .await
        .unwrap();
    assert_eq!(units.len() as i64, total);
    let stored: HashMap<&str, i64> = units.iter().map(|u| (u.callsign.as_str(), u.id)).collect();
    for (callsign, id) in &acknowledged {
        assert_eq!(
            stored.get(callsign.as_str()),
            Some(id),
            "acknowledged unit {callsign} (#{id}) is missing after shutdown"
        );
    }
    let (records, _) = reopened
        .audit_query(
            &AuditFilter {
                action: Some("unit.create".into()),
                ..Default::default()
            },
            Page {
                limit: 100_000,
                offset: 0,
            },
        )
        .await
        .unwrap();
    let audited: HashSet<String> = records
        .iter()
        .flat_map(|r| r.entry.object_ids.iter().cloned())
        .collect();
    for u in &units {
        assert!(
            audited.contains(&u.id.to_string()),
            "unit {} (#{}) was stored without its audit record",
            u.callsign,
            u.id
        );
    }
    println!(
        "shutdown under writes: {at_signal} acknowledged at the signal, {} in all, {} stored, {} audited",
        acknowledged.len(),
        units.len(),
        audited.len()
    );
    let v = reopened.audit_verify().await.unwrap();
    assert!(v.ok(), "{v:?}");
    reopened.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
