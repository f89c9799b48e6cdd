//! Data hub persistence suite, run unchanged on SQLite and on a real throwaway
//! PostgreSQL: sources, atomic ingest batches with checkpoints and rejections,
//! record replay order and updates, the resolution journal, and the address /
//! house / resident / vehicle registries.

mod pg;

use pingan_store::*;

fn rec(seq: i64, key: &str, line: i64, hash: &str) -> FusionRecordRow {
    FusionRecordRow {
        seq,
        record_key: key.into(),
        source: "户籍人口".into(),
        category: "person".into(),
        fields: format!(r#"{{"person.name":"张三{line}"}}"#),
        file: "a.csv".into(),
        line,
        observed_at: 1000 + line,
        content_hash: hash.into(),
    }
}

async fn case_sources_and_batches(s: &Store) {
    let src = s
        .create_fusion_source(
            &NewFusionSource {
                name: "户籍人口".into(),
                department: "治安".into(),
                category: "person".into(),
                legal_basis: "居民身份证法".into(),
                update_mode: "full_snapshot".into(),
                mapping_toml: "[source]\nname = \"户籍人口\"\n".into(),
            },
            5,
        )
        .await
        .unwrap();
    assert_eq!(s.get_fusion_source(src.id).await.unwrap(), src);
    assert_eq!(src.created_at, 5);
    let dup = s
        .create_fusion_source(
            &NewFusionSource {
                name: "户籍人口".into(),
                department: "x".into(),
                category: "x".into(),
                legal_basis: "x".into(),
                update_mode: "incremental".into(),
                mapping_toml: String::new(),
            },
            6,
        )
        .await;
    assert!(matches!(
        dup,
        Err(StoreError::Conflict { field: "name", .. })
    ));
    assert_eq!(
        s.find_fusion_source_by_name("户籍人口")
            .await
            .unwrap()
            .unwrap()
            .id,
        src.id
    );
    assert!(s.find_fusion_source_by_name("无").await.unwrap().is_none());
    assert!(matches!(
        s.get_fusion_source(9999).await,
        Err(StoreError::NotFound {
            entity: "source",
            ..
        })
    ));
    assert_eq!(s.list_fusion_sources().await.unwrap().len(), 1);

    let mut cp = FusionCheckpointRow {
        source: "户籍人口".into(),
        file_hash: "h1".into(),
        file: "a.csv".into(),
        last_line: 3,
        read: 2,
        accepted: 1,
        rejected: 1,
        ..Default::default()
    };
    s.commit_fusion_batch(
        &FusionBatch {
            records: vec![rec(1, "k1", 2, "c1")],
            updates: vec![],
            rejections: vec![FusionRejectionRow {
                source: "户籍人口".into(),
                file: "a.csv".into(),
                line: 3,
                field: Some("person.id_number".into()),
                reason: "校验位错误".into(),
            }],
            checkpoint: cp.clone(),
        },
        10,
    )
    .await
    .unwrap();
    assert_eq!(
        s.fusion_checkpoint("户籍人口", "h1").await.unwrap(),
        Some(cp.clone())
    );
    assert_eq!(s.fusion_checkpoint("户籍人口", "h2").await.unwrap(), None);

    // Second batch: a new record and an update of k1 (same key, new content).
    cp.last_line = 5;
    cp.read = 4;
    cp.accepted = 2;
    cp.updated = 1;
    cp.finished = true;
    s.commit_fusion_batch(
        &FusionBatch {
            records: vec![rec(2, "k2", 4, "c2")],
            updates: vec![rec(1, "k1", 5, "c1b")],
            rejections: vec![],
            checkpoint: cp.clone(),
        },
        11,
    )
    .await
    .unwrap();
    assert_eq!(
        s.fusion_checkpoint("户籍人口", "h1").await.unwrap(),
        Some(cp.clone())
    );
    let all = s.fusion_records_after(0, 100).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|r| (r.record_key.as_str(), r.line, r.content_hash.as_str()))
            .collect::<Vec<_>>(),
        [("k1", 5, "c1b"), ("k2", 4, "c2")],
        "an update keeps the replay position of the first insert"
    );
    assert_eq!(all[0].seq, 1);
    assert_eq!(all[1].seq, 2);
    // A seq that is already stored is refused (another writer got there
    // first), and the whole batch with its checkpoint is rolled back.
    let mut late = cp.clone();
    late.last_line = 9;
    let clash = s
        .commit_fusion_batch(
            &FusionBatch {
                records: vec![rec(3, "k3", 6, "c3"), rec(2, "k9", 7, "c9")],
                updates: vec![],
                rejections: vec![],
                checkpoint: late,
            },
            12,
        )
        .await;
    assert!(clash.is_err(), "{clash:?}");
    assert_eq!(s.count_fusion_records(None).await.unwrap(), 2);
    assert_eq!(
        s.fusion_checkpoint("户籍人口", "h1")
            .await
            .unwrap()
            .map(|c| c.last_line),
        Some(5)
    );
    let after_first = s.fusion_records_after(all[0].seq, 100).await.unwrap();
    assert_eq!(after_first.len(), 1);
    assert_eq!(after_first[0].record_key, "k2");
    assert_eq!(s.count_fusion_records(None).await.unwrap(), 2);
    assert_eq!(s.count_fusion_records(Some("户籍人口")).await.unwrap(), 2);
    assert_eq!(s.count_fusion_records(Some("酒店")).await.unwrap(), 0);

    let rej = s
        .fusion_rejections("户籍人口", Some("a.csv"), 10)
        .await
        .unwrap();
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].line, 3);
    assert_eq!(rej[0].field.as_deref(), Some("person.id_number"));
    assert!(
        s.fusion_rejections("户籍人口", Some("b.csv"), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A large batch is stored at its seqs across PostgreSQL's statement chunks,
/// values with quotes and backslashes intact; full records come back by seq.
async fn case_bulk_batch_and_fetch_by_seq(s: &Store) {
    let mut records: Vec<FusionRecordRow> = (0..2500)
        .map(|i| rec(i + 1, &format!("b{i:05}"), i + 2, "c"))
        .collect();
    // Rows from another file in the middle of the batch.
    for r in &mut records[1000..1010] {
        r.file = "b.csv".into();
        r.source = "酒店".into();
    }
    let mut tricky = rec(2600, "q", 1, "h");
    tricky.fields = "{\"person.name\":\"引号\\\"和\\\\反斜杠\"}".into();
    records.push(tricky.clone());
    s.commit_fusion_batch(
        &FusionBatch {
            records,
            updates: vec![rec(8, "b00007", 9999, "c-late")],
            rejections: vec![],
            checkpoint: FusionCheckpointRow {
                source: "户籍人口".into(),
                file_hash: "bulk".into(),
                file: "a.csv".into(),
                ..Default::default()
            },
        },
        12,
    )
    .await
    .unwrap();
    let all = s.fusion_records_after(0, 10_000).await.unwrap();
    assert_eq!(all.len(), 2501);
    let keys: Vec<&str> = all.iter().map(|r| r.record_key.as_str()).collect();
    let mut want: Vec<String> = (0..2500).map(|i| format!("b{i:05}")).collect();
    want.push("q".into());
    assert_eq!(keys, want);
    assert_eq!(
        (all[7].line, all[7].content_hash.as_str()),
        (9999, "c-late")
    );
    assert_eq!(all[2500].fields, tricky.fields);

    assert_eq!(all[2500].seq, 2600);
    assert_eq!(
        all.iter()
            .map(|r| (r.file.as_str(), r.source.as_str()))
            .collect::<Vec<_>>()[999..1011],
        [
            [("a.csv", "户籍人口")].as_slice(),
            &[("b.csv", "酒店"); 10],
            &[("a.csv", "户籍人口")]
        ]
        .concat()
    );
    let got = s.fusion_records_by_seq(&[2600, 4, 9999]).await.unwrap();
    assert_eq!(
        got.iter()
            .map(|r| (r.record_key.as_str(), r.line))
            .collect::<Vec<_>>(),
        [("b00003", 5), ("q", 1)],
        "in seq order, unknown seqs absent"
    );
    assert_eq!(got[1].fields, tricky.fields);
    assert!(s.fusion_records_by_seq(&[]).await.unwrap().is_empty());
}

async fn case_journal_and_registries(s: &Store) {
    let a = s
        .append_resolution_op("merge", r#"{"into":1,"from":2}"#, "analyst", "同一人", 7)
        .await
        .unwrap();
    let b = s
        .append_resolution_op("undo", r#"{"op":0}"#, "analyst", "误合并", 8)
        .await
        .unwrap();
    assert!(b > a);
    let ops = s.resolution_ops().await.unwrap();
    assert_eq!(
        ops.iter().map(|o| o.kind.as_str()).collect::<Vec<_>>(),
        ["merge", "undo"]
    );
    assert_eq!(ops[0].reason, "同一人");

    let addr = |code: &str, number: &str| StdAddressRow {
        id: 0,
        code: code.into(),
        province: "四川省".into(),
        city: "成都市".into(),
        district: "锦江区".into(),
        street: "春熙路街道".into(),
        community: "一社区".into(),
        road: "人民路".into(),
        number: number.into(),
        building: Some("1栋".into()),
        unit: None,
        room: Some("101".into()),
        full_text: format!("四川省成都市锦江区人民路{number}1栋101"),
        lat: 30.65,
        lng: 104.06,
    };
    let bulk = RegistryBulk {
        addresses: vec![addr("A1", "1号"), addr("A2", "2号")],
        houses: vec![(
            HouseRow {
                id: 0,
                code: "H1".into(),
                address_id: 0,
                kind: "住宅".into(),
                area_m2: Some(88.5),
                owner_id_number: Some("510104199001011234".into()),
            },
            "A2".into(),
        )],
        residents: vec![(
            ResidentRow {
                id: 0,
                house_id: 0,
                id_number: "510104199001011234".into(),
                name: "张三".into(),
                relation: "tenant".into(),
                since: Some("2020-01-01".into()),
                until: None,
            },
            "H1".into(),
        )],
        vehicles: vec![VehicleRegRow {
            id: 0,
            plate: "川A12345".into(),
            owner_id_number: "510104199001011234".into(),
            brand: "比亚迪".into(),
            color: "白".into(),
            registered_on: Some("2021-05-01".into()),
        }],
    };
    s.write_registries(&bulk).await.unwrap();
    // Idempotent: a second write adds no addresses, houses or vehicles.
    s.write_registries(&RegistryBulk {
        residents: vec![],
        ..bulk.clone()
    })
    .await
    .unwrap();
    let addrs = s.all_std_addresses().await.unwrap();
    assert_eq!(addrs.len(), 2);
    assert_eq!(addrs[1].code, "A2");
    assert_eq!(s.get_std_address(addrs[1].id).await.unwrap(), addrs[1]);
    assert!(s.houses_at(addrs[0].id).await.unwrap().is_empty());
    let houses = s.houses_at(addrs[1].id).await.unwrap();
    assert_eq!(houses.len(), 1);
    assert_eq!(houses[0].area_m2, Some(88.5));
    let res = s.residents_of(houses[0].id).await.unwrap();
    assert_eq!(res.len(), 1);
    assert_eq!(
        (res[0].name.as_str(), res[0].relation.as_str()),
        ("张三", "tenant")
    );
    let v = s.vehicles_of("510104199001011234").await.unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].plate, "川A12345");
}

macro_rules! suite {
    ($dbs:expr) => {{
        case_sources_and_batches(&$dbs.open("batches").await).await;
        case_journal_and_registries(&$dbs.open("registries").await).await;
        case_bulk_batch_and_fetch_by_seq(&$dbs.open("bulk").await).await;
    }};
}

#[tokio::test]
async fn fusion_suite_sqlite() {
    let dbs = pg::Databases::sqlite("fusion");
    suite!(dbs);
    dbs.finish().await;
}

#[tokio::test]
async fn fusion_suite_postgres() {
    let dbs = pg::Databases::postgres("f").await;
    suite!(dbs);
    dbs.finish().await;
}
