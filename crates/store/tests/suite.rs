//! The store test suite, run unchanged against both adapters: SQLite in a temp
//! file, and a real PostgreSQL cluster started on 127.0.0.1 for the test.

mod pg;

use pingan_store::*;

async fn sqlite_store() -> (Store, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "pingan-store-test-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Store::open(dir.join("pingan.db").to_str().unwrap())
        .await
        .unwrap();
    (store, dir)
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

async fn org_tree(s: &Store) -> (OrgRow, OrgRow, OrgRow, OrgRow) {
    let city = s
        .create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "C".into(),
                name: "市局".into(),
                area: None,
            },
            1,
        )
        .await
        .unwrap();
    let d1 = s
        .create_org(
            &NewOrg {
                parent_id: Some(city.id),
                kind: "district".into(),
                code: "D1".into(),
                name: "一分局".into(),
                area: None,
            },
            1,
        )
        .await
        .unwrap();
    let d2 = s
        .create_org(
            &NewOrg {
                parent_id: Some(city.id),
                kind: "district".into(),
                code: "D2".into(),
                name: "二分局".into(),
                area: None,
            },
            1,
        )
        .await
        .unwrap();
    let st = s
        .create_org(
            &NewOrg {
                parent_id: Some(d1.id),
                kind: "station".into(),
                code: "S11".into(),
                name: "东门派出所".into(),
                area: Some("{\"type\":\"Polygon\",\"coordinates\":[]}".into()),
            },
            1,
        )
        .await
        .unwrap();
    (city, d1, d2, st)
}

async fn case_orgs(s: &Store) {
    let (city, d1, d2, st) = org_tree(s).await;
    assert_eq!(city.path, format!("/{}/", city.id));
    assert_eq!(st.path, format!("/{}/{}/{}/", city.id, d1.id, st.id));
    let (sub, total) = s.list_orgs(&d1.path, Page::default()).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(
        sub.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![d1.id, st.id]
    );
    assert_eq!(
        s.list_orgs(
            "/",
            Page {
                limit: 2,
                offset: 1
            }
        )
        .await
        .unwrap()
        .0
        .len(),
        2
    );
    assert!(matches!(
        s.create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "C".into(),
                name: "x".into(),
                area: None
            },
            1
        )
        .await,
        Err(StoreError::Conflict { field: "code", .. })
    ));
    assert!(matches!(
        s.get_org(9999).await,
        Err(StoreError::NotFound { entity: "org", .. })
    ));
    let up = s
        .update_org(
            d2.id,
            &OrgPatch {
                name: Some("二分局(新)".into()),
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(
        (up.name.as_str(), up.updated_at, up.code.as_str()),
        ("二分局(新)", 5, "D2")
    );
    assert!(matches!(
        s.delete_org(d1.id).await,
        Err(StoreError::InUse {
            by: "child orgs",
            ..
        })
    ));
    s.delete_org(d2.id).await.unwrap();
    assert!(s.find_org(d2.id).await.unwrap().is_none());
    assert_eq!(s.get_org_by_code("S11").await.unwrap().unwrap().id, st.id);
}

async fn unit_at(s: &Store, callsign: &str, org_id: i64) -> UnitRow {
    s.create_unit(
        &NewUnit {
            callsign: callsign.into(),
            kind: "patrol_car".into(),
            org_id,
            status: "available".into(),
            capabilities: vec![],
            position: None,
        },
        1,
    )
    .await
    .unwrap()
}

/// Moving a node rewrites its path, its descendants' paths and the copies in
/// other tables, and nothing else; a move into its own subtree is refused.
async fn case_org_move(s: &Store) {
    let (city, d1, d2, st) = org_tree(s).await;
    let at_station = unit_at(s, "东门1", st.id).await;
    let at_d1 = unit_at(s, "一分局1", d1.id).await;
    for bad in [st.id, d1.id] {
        assert!(
            matches!(
                s.move_org(d1.id, bad, 2).await,
                Err(StoreError::Changed {
                    entity: "org",
                    field: "parent_id",
                    ..
                })
            ),
            "moving D1 under {bad}"
        );
    }
    assert_eq!(s.get_org(d1.id).await.unwrap(), d1);
    let moved = s.move_org(st.id, d2.id, 7).await.unwrap();
    let new_path = format!("{}{}/", d2.path, st.id);
    assert_eq!(
        (moved.parent_id, moved.path.as_str(), moved.updated_at),
        (Some(d2.id), new_path.as_str(), 7)
    );
    assert_eq!(s.get_unit(at_station.id).await.unwrap().org_path, new_path);
    assert_eq!(s.get_unit(at_d1.id).await.unwrap().org_path, d1.path);
    assert_eq!(s.list_orgs(&d1.path, Page::default()).await.unwrap().1, 1);
    // Moving again to where it is changes nothing.
    assert_eq!(s.move_org(st.id, d2.id, 9).await.unwrap(), moved);
    // A whole subtree: D2 (with the station and its unit) under a second city.
    let c2 = s
        .create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "C2".into(),
                name: "二市局".into(),
                area: None,
            },
            1,
        )
        .await
        .unwrap();
    s.move_org(d2.id, c2.id, 8).await.unwrap();
    let deep = format!("/{}/{}/{}/", c2.id, d2.id, st.id);
    assert_eq!(s.get_org(st.id).await.unwrap().path, deep);
    assert_eq!(s.get_unit(at_station.id).await.unwrap().org_path, deep);
    assert_eq!(s.list_orgs(&city.path, Page::default()).await.unwrap().1, 2);
}

async fn case_units(s: &Store) {
    let (city, d1, d2, st) = org_tree(s).await;
    let u = s
        .create_unit(
            &NewUnit {
                callsign: "东门1".into(),
                kind: "patrol_car".into(),
                org_id: st.id,
                status: "available".into(),
                capabilities: vec!["armed".into()],
                position: Some((30.6, 104.0)),
            },
            10,
        )
        .await
        .unwrap();
    assert_eq!(
        (u.org_path.clone(), u.lat, u.position_at),
        (st.path.clone(), Some(30.6), Some(10))
    );
    let bulk: Vec<NewUnit> = (0..20)
        .map(|i| NewUnit {
            callsign: format!("U{i}"),
            kind: if i % 2 == 0 { "foot_patrol" } else { "drone" }.into(),
            org_id: if i < 10 { st.id } else { city.id },
            status: "available".into(),
            capabilities: vec![],
            position: None,
        })
        .collect();
    assert_eq!(s.create_units_bulk(&bulk, 11).await.unwrap(), 20);
    let f = UnitFilter {
        path_prefix: d1.path.clone(),
        ..Default::default()
    };
    assert_eq!(
        s.list_units(
            &f,
            Page {
                limit: 5,
                offset: 0
            }
        )
        .await
        .unwrap()
        .1,
        11
    );
    let f2 = UnitFilter {
        path_prefix: "/".into(),
        kind: Some("drone".into()),
        ..Default::default()
    };
    assert_eq!(s.list_units(&f2, Page::default()).await.unwrap().1, 10);
    assert!(matches!(
        s.create_unit(
            &NewUnit {
                callsign: "东门1".into(),
                kind: "x".into(),
                org_id: st.id,
                status: "available".into(),
                capabilities: vec![],
                position: None
            },
            1
        )
        .await,
        Err(StoreError::Conflict {
            field: "callsign",
            ..
        })
    ));
    // Positions: newer applied, older ignored.
    let n = s
        .update_positions(&[
            PositionUpdate {
                unit_id: u.id,
                lat: 30.7,
                lng: 104.1,
                at: 20,
            },
            PositionUpdate {
                unit_id: u.id,
                lat: 1.0,
                lng: 1.0,
                at: 15,
            },
        ])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let got = s.get_unit(u.id).await.unwrap();
    assert_eq!(
        (got.lat, got.lng, got.position_at),
        (Some(30.7), Some(104.1), Some(20))
    );
    let got = s
        .set_unit_status(u.id, "dispatched", Some(42), 21)
        .await
        .unwrap();
    assert_eq!(
        (got.status.as_str(), got.incident_id),
        ("dispatched", Some(42))
    );
    let moved = s
        .update_unit(
            u.id,
            &UnitPatch {
                org_id: Some(city.id),
                ..Default::default()
            },
            22,
        )
        .await
        .unwrap();
    assert_eq!(moved.org_path, city.path);
    // A unit a user is bound to stays; unbound, it can go.
    let crew = s
        .create_user(
            &NewUser {
                username: "crew".into(),
                display_name: "车组".into(),
                password_hash: "h".into(),
                role: "station_officer".into(),
                org_id: city.id,
                unit_id: Some(u.id),
            },
            23,
        )
        .await
        .unwrap();
    assert!(matches!(
        s.delete_unit(u.id).await,
        Err(StoreError::InUse { by: "users", .. })
    ));
    // So does an org an API key belongs to.
    s.create_api_key(
        &NewApiKey {
            name: "cam".into(),
            key_hash: "kh".into(),
            role: "sensor".into(),
            org_id: d2.id,
            scopes: vec![],
            expires_at: None,
            partner: None,
        },
        23,
    )
    .await
    .unwrap();
    assert!(matches!(
        s.delete_org(d2.id).await,
        Err(StoreError::InUse { by: "API keys", .. })
    ));
    s.update_user(
        crew.id,
        &UserPatch {
            unit_id: Some(None),
            org_id: Some(st.id),
            ..Default::default()
        },
        24,
    )
    .await
    .unwrap();
    s.delete_unit(u.id).await.unwrap();
    assert!(matches!(
        s.get_unit(u.id).await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn case_users_sessions_keys(s: &Store) {
    let (city, d1, _d2, st) = org_tree(s).await;
    let u = s
        .create_user(
            &NewUser {
                username: "alice".into(),
                display_name: "爱丽丝".into(),
                password_hash: "h".into(),
                role: "dispatcher".into(),
                org_id: st.id,
                unit_id: None,
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(u.org_path, st.path);
    assert!(matches!(
        s.create_user(
            &NewUser {
                username: "alice".into(),
                display_name: "x".into(),
                password_hash: "h".into(),
                role: "admin".into(),
                org_id: city.id,
                unit_id: None
            },
            1
        )
        .await,
        Err(StoreError::Conflict {
            field: "username",
            ..
        })
    ));
    assert_eq!(s.list_users(&d1.path, Page::default()).await.unwrap().1, 1);
    s.create_session("tok1", u.id, 100, 200).await.unwrap();
    assert_eq!(
        s.session_user("tok1", 150).await.unwrap().unwrap().0.id,
        u.id
    );
    assert!(
        s.session_user("tok1", 200).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.session_user("nope", 150).await.unwrap().is_none());
    assert!(s.revoke_session("tok1", 160).await.unwrap());
    assert!(
        s.session_user("tok1", 161).await.unwrap().is_none(),
        "revoked"
    );
    let u2 = s
        .update_user(
            u.id,
            &UserPatch {
                disabled: Some(true),
                ..Default::default()
            },
            2,
        )
        .await
        .unwrap();
    assert!(u2.disabled);
    let k = s
        .create_api_key(
            &NewApiKey {
                name: "cam-1".into(),
                key_hash: "kh".into(),
                role: "sensor".into(),
                org_id: st.id,
                scopes: vec!["events:write".into()],
                expires_at: None,
                partner: None,
            },
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        s.api_key_by_hash("kh", 5).await.unwrap().unwrap().scopes,
        vec!["events:write".to_string()]
    );
    s.revoke_api_key(k.id, 6).await.unwrap();
    assert!(s.api_key_by_hash("kh", 7).await.unwrap().is_none());
    assert_eq!(s.list_api_keys("/").await.unwrap().len(), 1);
}

fn entry(i: i64, user: &str, ids: &[&str]) -> AuditEntry {
    AuditEntry {
        at: 1000 + i,
        user_id: Some(1),
        username: user.into(),
        role: "analyst".into(),
        action: "person.read".into(),
        object_type: "person".into(),
        object_ids: ids.iter().map(|s| s.to_string()).collect(),
        purpose: Some("case 2026-17".into()),
        outcome: "ok".into(),
        detail: None,
    }
}

async fn case_audit(s: &Store) {
    let v = s.audit_verify().await.unwrap();
    assert!(v.ok() && v.checked == 0 && v.head_hash == GENESIS_HASH);
    let seqs = s
        .audit_append(&[entry(1, "alice", &["p1"]), entry(2, "bob", &["p2", "p3"])])
        .await
        .unwrap();
    assert_eq!(seqs, vec![1, 2]);
    for i in 3..=30 {
        s.audit_append(&[entry(i, if i % 3 == 0 { "alice" } else { "bob" }, &["p9"])])
            .await
            .unwrap();
    }
    let v = s.audit_verify().await.unwrap();
    assert!(v.ok(), "{v:?}");
    assert_eq!((v.checked, v.head_seq), (30, 30));
    assert_eq!(s.audit_head().await.unwrap(), (30, v.head_hash.clone()));
    let (alice, n) = s
        .audit_query(
            &AuditFilter {
                username: Some("alice".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 11);
    assert!(alice.iter().all(|r| r.entry.username == "alice"));
    let (p3, _) = s
        .audit_query(
            &AuditFilter {
                object_id: Some("p3".into()),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(p3.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2]);
    let (_, n) = s
        .audit_query(
            &AuditFilter {
                from: Some(1010),
                to: Some(1020),
                ..Default::default()
            },
            Page::default(),
        )
        .await
        .unwrap();
    assert_eq!(n, 10);
    // An edit made directly in the database is detected at that record.
    s.execute_raw("UPDATE audit_log SET username = 'mallory' WHERE seq = 17")
        .await
        .unwrap();
    let v = s.audit_verify().await.unwrap();
    assert_eq!(v.first_bad.as_ref().map(|b| b.0), Some(17), "{v:?}");
    assert!(v.first_bad.unwrap().1.contains("edited"));
    s.execute_raw("UPDATE audit_log SET username = 'bob' WHERE seq = 17")
        .await
        .unwrap();
    assert!(s.audit_verify().await.unwrap().ok());
    // A deleted record is detected too.
    s.execute_raw("DELETE FROM audit_log WHERE seq = 9")
        .await
        .unwrap();
    let v = s.audit_verify().await.unwrap();
    assert_eq!(v.first_bad.map(|b| b.0), Some(10));
}

async fn case_meta(s: &Store) {
    assert_eq!(s.get_meta("k").await.unwrap(), None);
    s.set_meta("k", "v1").await.unwrap();
    s.set_meta("k", "v2").await.unwrap();
    assert_eq!(s.get_meta("k").await.unwrap().as_deref(), Some("v2"));
    s.ping().await.unwrap();
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_orgs(&$dbs.open("orgs").await).await;
        case_org_move(&$dbs.open("org_move").await).await;
        case_units(&$dbs.open("units").await).await;
        case_users_sessions_keys(&$dbs.open("users").await).await;
        case_audit(&$dbs.open("audit").await).await;
        case_meta(&$dbs.open("meta").await).await;
    }};
}

#[tokio::test]
async fn store_suite_sqlite() {
    let dbs = pg::Databases::sqlite("store");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn store_suite_postgres() {
    let dbs = pg::Databases::postgres("t").await;
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn migrations_are_idempotent() {
    let (s, dir) = sqlite_store().await;
    s.close().await;
    let s = Store::open(dir.join("pingan.db").to_str().unwrap())
        .await
        .unwrap();
    s.ping().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

/// WAL checkpoints run in the background, not inside a commit: with SQLite's
/// own auto-checkpoint off, committed pages still reach the main file within
/// about a second, without anyone asking for a checkpoint.
#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background() {
    let (s, dir) = sqlite_store().await;
    let main = dir.join("pingan.db");
    let before = std::fs::metadata(&main).unwrap().len();
    s.execute_raw("CREATE TABLE ballast (b BLOB)")
        .await
        .unwrap();
    s.execute_raw(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 512) \
         INSERT INTO ballast SELECT randomblob(4096) FROM n",
    )
    .await
    .unwrap();
    let mut grown = 0;
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        grown = std::fs::metadata(&main).unwrap().len();
        if grown >= before + 2 * 1024 * 1024 {
            break;
        }
    }
    assert!(
        grown >= before + 2 * 1024 * 1024,
        "main file {before} -> {grown} bytes: the WAL was not checkpointed"
    );
    s.close().await;
}
