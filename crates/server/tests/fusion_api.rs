//! Data hub API, black-box: register a source, upload GBK CSV and xlsx bodies
//! (rejection report with line/field, cross-file merge), masked and audited
//! search (400 without X-Purpose), profiles with provenance, merge/split/undo
//! audited and reversible, resume of an interrupted import, updates and a
//! restart that keep record ids, and geocoding to the right house.

mod common;

use common::{TestApp, error_code};
use pingan_fusion::model::targets;
use pingan_fusion::read::FileFormat;
use pingan_fusion::resolve::RecordId;
use pingan_server::fusion::{FusionError, ImportRequest, Visibility};
use reqwest::StatusCode;
use serde_json::{Value, json};

const MAPPING: &str = include_str!("../../fusion/examples/mappings/household_registry.toml");
const HEADER: &str = "记录编号,姓名,性别,民族,出生日期,公民身份号码,联系电话,户籍地址";

/// A valid GB 11643 number from its first 17 digits.
fn id(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

fn gbk(s: &str) -> Vec<u8> {
    encoding_rs::GBK.encode(s).0.into_owned()
}

fn xlsx(rows: &[[&str; 8]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in HEADER.split(',').enumerate() {
        ws.write_string(0, c as u16, h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    wb.save_to_buffer().unwrap()
}

async fn audit_text(app: &TestApp, user: &str) -> String {
    let auditor = app.login("auditor").await;
    let (st, b) = app
        .get(&format!("/api/v1/audit?user={user}&limit=500"), &auditor)
        .await;
    assert_eq!(st, StatusCode::OK, "{b}");
    b.to_string()
}

#[tokio::test]
async fn fusion_api_end_to_end() {
    let app = TestApp::demo().await;
    let analyst = app.login("analyst").await;
    let purpose = [("X-Purpose", "案件侦查 2026-001")];

    let (st, src) = app
        .call(
            "POST",
            "/api/v1/sources",
            Some(&analyst),
            Some(json!({"mapping_toml": MAPPING})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED, "{src}");
    assert_eq!(src["name"], "户籍人口");
    let sid = src["id"].as_i64().unwrap();
    let (st, b) = app
        .call(
            "POST",
            "/api/v1/sources",
            Some(&analyst),
            Some(json!({"mapping_toml": "[source]\nname = 1"})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(error_code(&b), "invalid_field");

    // GBK CSV: two valid rows, one bad checksum on line 4.
    let wang = id("51010419900101123");
    let li = id("51010419851231456");
    let bad = format!("{}0", &id("51010419700101789")[..17]);
    let bad = if bad == id("51010419700101789") {
        format!("{}1", &bad[..17])
    } else {
        bad
    };
    let csv = format!(
        "{HEADER}\nR1,王小明,男,汉族,1990-01-01,{wang},13800138000,四川省成都市锦江区人民路88号\nR2,李华,女,汉族,1985-12-31,{li},13900139000,四川省成都市锦江区解放路9号\nR3,张三,男,汉族,1970-01-01,{bad},,四川省成都市锦江区人民路1号\n"
    );
    let (st, rep) = app
        .raw(
            "POST",
            &format!("/api/v1/sources/{sid}/records?file=hukou.csv&encoding=gbk"),
            Some(&analyst),
            "text/csv",
            gbk(&csv),
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{rep}");
    assert_eq!(
        (rep["accepted"].as_u64(), rep["rejected"].as_u64()),
        (Some(2), Some(1)),
        "{rep}"
    );
    assert_eq!(rep["rejections"][0]["file"], "hukou.csv");
    assert_eq!(rep["rejections"][0]["line"], 4);
    // The report names the source column that failed.
    assert_eq!(rep["rejections"][0]["field"], "公民身份号码");
    // The stored report is visible on the source.
    let (_, detail) = app.get(&format!("/api/v1/sources/{sid}"), &analyst).await;
    assert_eq!(detail["records"], 2);
    assert_eq!(detail["rejections"][0]["line"], 4);

    // xlsx: the same person under another record number joins 王小明's entity.
    let body = xlsx(&[[
        "R9",
        "王小明",
        "男",
        "汉族",
        "1990-01-01",
        &wang,
        "13800138000",
        "四川省成都市锦江区人民路88号",
    ]]);
    let (st, rep) = app
        .raw(
            "POST",
            &format!("/api/v1/sources/{sid}/records?file=extra.xlsx"),
            Some(&analyst),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            body,
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{rep}");
    assert_eq!(
        (rep["accepted"].as_u64(), rep["merged"].as_u64()),
        (Some(1), Some(1)),
        "{rep}"
    );
    let (st, b) = app
        .raw(
            "POST",
            &format!("/api/v1/sources/{sid}/records"),
            Some(&analyst),
            "image/png",
            vec![1, 2],
            &[],
        )
        .await;
    assert_eq!(st, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{b}");

    // Search: 400 without a purpose; masked list with one.
    let (st, b) = app.get("/api/v1/search?q=%E7%8E%8B", &analyst).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{b}");
    error_code(&b);
    let (st, res) = app
        .get_with("/api/v1/search?q=%E7%8E%8B", &analyst, &purpose)
        .await;
    assert_eq!(st, StatusCode::OK, "{res}");
    let items = res["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{res}");
    for h in items {
        assert_eq!(h["masked"], true);
        assert_ne!(h["name"], "王小明");
        assert_ne!(h["id_number"].as_str(), Some(wang.as_str()));
    }
    let wang_entity = items[0]["entity"].as_u64().unwrap();
    assert_eq!(items[1]["entity"].as_u64(), Some(wang_entity));
    let (_, res) = app
        .get_with(&format!("/api/v1/search?q={li}"), &analyst, &purpose)
        .await;
    assert_eq!(res["kind"], "id_number");
    assert_eq!(res["total"], 1);
    let li_entity = res["items"][0]["entity"].as_u64().unwrap();
    assert!(audit_text(&app, "analyst").await.contains("search"));

    // Profile: both records with per-field provenance, unmasked for the analyst.
    let (st, prof) = app
        .get_with(
            &format!("/api/v1/entities/{wang_entity}"),
            &analyst,
            &purpose,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{prof}");
    assert_eq!(prof["masked"], false);
    assert_eq!(prof["records"].as_array().unwrap().len(), 2);
    let name = prof["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "person.name")
        .unwrap();
    assert_eq!(name["values"][0]["value"], "王小明");
    let files: Vec<&str> = name["values"][0]["provenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file"].as_str().unwrap())
        .collect();
    assert_eq!(files, ["hukou.csv", "extra.xlsx"]);
    assert!(
        prof["records"][1]["explanation"]
            .as_str()
            .unwrap()
            .contains("id"),
        "{prof}"
    );
    let (st, _) = app
        .get(&format!("/api/v1/entities/{wang_entity}"), &analyst)
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = app
        .get_with("/api/v1/entities/999999", &analyst, &purpose)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);

    // Merge, undo, split, undo — each audited.
    let (st, b) = app
        .call(
            "POST",
            &format!("/api/v1/entities/{wang_entity}/merge"),
            Some(&analyst),
            Some(json!({"from": li_entity, "reason": ""})),
        )
        .await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (st, op) = app
        .call(
            "POST",
            &format!("/api/v1/entities/{wang_entity}/merge"),
            Some(&analyst),
            Some(json!({"from": li_entity, "reason": "同一人（测试）"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{op}");
    let (_, prof) = app
        .get_with(
            &format!("/api/v1/entities/{wang_entity}"),
            &analyst,
            &purpose,
        )
        .await;
    assert_eq!(prof["records"].as_array().unwrap().len(), 3);
    let (st, b) = app
        .call(
            "POST",
            &format!("/api/v1/resolution/operations/{}/undo", op["operation"]),
            Some(&analyst),
            Some(json!({"reason": "误合并"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT, "{b}");
    let (_, prof) = app
        .get_with(
            &format!("/api/v1/entities/{wang_entity}"),
            &analyst,
            &purpose,
        )
        .await;
    assert_eq!(prof["records"].as_array().unwrap().len(), 2);
    let xlsx_record = prof["records"][1]["record"].as_u64().unwrap();
    let (st, sp) = app
        .call(
            "POST",
            &format!("/api/v1/entities/{wang_entity}/split"),
            Some(&analyst),
            Some(json!({"records": [xlsx_record], "reason": "拆分核查"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{sp}");
    assert_ne!(sp["entity"].as_u64(), Some(wang_entity));
    let (_, prof) = app
        .get_with(
            &format!("/api/v1/entities/{wang_entity}"),
            &analyst,
            &purpose,
        )
        .await;
    assert_eq!(prof["records"].as_array().unwrap().len(), 1);
    let (st, _) = app
        .call(
            "POST",
            &format!("/api/v1/resolution/operations/{}/undo", sp["operation"]),
            Some(&analyst),
            Some(json!({"reason": "恢复"})),
        )
        .await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (st, b) = app
        .call(
            "POST",
            &format!("/api/v1/resolution/operations/{}/undo", sp["operation"]),
            Some(&analyst),
            Some(json!({"reason": "再次"})),
        )
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{b}");
    let audit = audit_text(&app, "analyst").await;
    for action in [
        "entity.merge",
        "entity.split",
        "resolution.undo",
        "entity.read",
        "source.import",
    ] {
        assert!(audit.contains(action), "missing {action}");
    }
    app.stop().await;
}

#[tokio::test]
async fn interrupted_import_resumes_without_duplicates() {
    let app = TestApp::demo().await;
    let svc = app.state.fusion.clone();
    svc.add_source(MAPPING).await.unwrap();
    let mut csv = String::from(HEADER);
    for i in 0..10 {
        csv.push_str(&format!(
            "\nR{i},赵{},男,汉族,1991-02-0{},{},,四川省成都市锦江区人民路{i}号",
            ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"][i],
            i % 9 + 1,
            id(&format!("5101041991020{}{:03}", i % 9 + 1, 100 + i))
        ));
    }
    let mut req = ImportRequest::new(FileFormat::Csv);
    req.batch_size = 3;
    req.stop_after_rows = Some(3);
    let err = svc
        .import_bytes("户籍人口", "z.csv", csv.clone().into_bytes(), req)
        .await
        .unwrap_err();
    assert!(matches!(err, FusionError::Paused { rows: 3 }), "{err}");
    let stored = app
        .state
        .store
        .count_fusion_records(Some("户籍人口"))
        .await
        .unwrap();
    req.stop_after_rows = None;
    let rep = svc
        .import_bytes("户籍人口", "z.csv", csv.into_bytes(), req)
        .await
        .unwrap();
    // Lines 2..=4 (the first batch) were committed before the pause.
    assert_eq!(rep.resumed_from_line, Some(4));
    assert!(rep.finished);
    assert_eq!(rep.counts.read, 10);
    assert_eq!(rep.counts.accepted + rep.counts.rejected, 10);
    assert_eq!(rep.counts.duplicates, 0);
    let total = app
        .state
        .store
        .count_fusion_records(Some("户籍人口"))
        .await
        .unwrap();
    assert!(total >= stored);
    assert_eq!(total as u64, rep.counts.accepted);
    assert_eq!(svc.record_count() as u64, rep.counts.accepted);
    app.stop().await;
}

#[tokio::test]
async fn geocode_finds_the_house() {
    let app = TestApp::demo().await;
    let addr = |code: &str, number: &str, building: &str| pingan_store::StdAddressRow {
        id: 0,
        code: code.into(),
        province: "四川省".into(),
        city: "成都市".into(),
        district: "锦江区".into(),
        street: "春熙路街道".into(),
        community: "一社区".into(),
        road: "人民路".into(),
        number: number.into(),
        building: Some(building.into()),
        unit: None,
        room: None,
        full_text: format!("四川省成都市锦江区人民路{number}{building}"),
        lat: 30.65,
        lng: 104.06 + number.len() as f64 * 0.001,
    };
    app.state
        .store
        .write_registries(&pingan_store::RegistryBulk {
            addresses: vec![
                addr("A1", "12号", "1栋"),
                addr("A2", "88号", "3栋"),
                addr("A3", "88号", "5栋"),
            ],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(app.state.fusion.reload_addresses().await.unwrap(), 3);
    let analyst = app.login("analyst").await;
    let q = "成都市锦江区人民路88号3栋";
    let (st, g) = app
        .get(
            &format!("/api/v1/addresses/geocode?q={}", urlencode(q)),
            &analyst,
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{g}");
    let all = app.state.store.all_std_addresses().await.unwrap();
    assert_eq!(g["address_id"].as_i64(), Some(all[1].id), "{g}");
    assert!(g["score"].as_f64().unwrap() > 0.8, "{g}");
    let (st, a) = app
        .get_with(
            &format!("/api/v1/addresses/{}", all[1].id),
            &analyst,
            &[("X-Purpose", "核查")],
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{a}");
    assert_eq!(a["number"], "88号");
    let (st, _) = app.get("/api/v1/addresses/geocode?q=", &analyst).await;
    assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    let _: Value = g;
    app.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A point of the demo city whose location satisfies `want`, scanning a grid
/// over the city's extent.
fn point_where(app: &TestApp, want: impl Fn(&pingan_jurisdiction::Located) -> bool) -> (f64, f64) {
    let city = app.state.city().unwrap();
    let b = city.bbox;
    let j = app.state.jurisdiction();
    for i in 1..60 {
        for k in 1..60 {
            let lat = b.min_lat + (b.max_lat - b.min_lat) * f64::from(i) / 60.0;
            let lng = b.min_lng + (b.max_lng - b.min_lng) * f64::from(k) / 60.0;
            let p = pingan_core::LatLng::new(lat, lng).unwrap();
            if want(&j.locate(p)) {
                return (lat, lng);
            }
        }
    }
    panic!("no point of the city satisfies the condition");
}

/// Station officers find and open only records located (by geocoded address) in
/// their station's area; analysts search city-wide.
#[tokio::test]
async fn search_and_profiles_follow_the_jurisdiction() {
    let app = TestApp::demo().await;
    let officer = app.login("officer01").await;
    let (st, me) = app.get("/api/v1/auth/me", &officer).await;
    assert_eq!(st, StatusCode::OK, "{me}");
    let station = me["org_id"].as_i64().unwrap();
    let j = app.state.jurisdiction();
    let district = j.node(station).unwrap().parent_id.unwrap();
    let here = point_where(&app, |l| l.station == Some(station));
    let there = point_where(&app, |l| {
        l.station.is_some() && l.district != Some(district)
    });
    let addr = |code: &str, road: &str, (lat, lng): (f64, f64)| pingan_store::StdAddressRow {
        id: 0,
        code: code.into(),
        province: "四川省".into(),
        city: "成都市".into(),
        district: "锦江区".into(),
        street: "测试街道".into(),
        community: "测试社区".into(),
        road: road.into(),
        number: "8号".into(),
        building: None,
        unit: None,
        room: None,
        full_text: format!("四川省成都市锦江区{road}8号"),
        lat,
        lng,
    };
    let known = app
        .state
        .fusion
        .load_registries(&pingan_store::RegistryBulk {
            addresses: vec![addr("J1", "青龙路", here), addr("J2", "白虎街", there)],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(known, 2);
    let (st, _) = app
        .call(
            "POST",
            "/api/v1/sources",
            Some(&app.login("analyst").await),
            Some(json!({"mapping_toml": MAPPING})),
        )
        .await;
    assert_eq!(st, StatusCode::CREATED);
    let a = id("51010419850306001");
    let b = id("51010419850306003");
    let csv = format!(
        "{HEADER}\nJ1,钱多多,男,汉,,{a},,四川省成都市锦江区青龙路8号\n\
         J2,钱多宝,男,汉,,{b},,四川省成都市锦江区白虎街8号"
    );
    app.state
        .fusion
        .import_bytes(
            "户籍人口",
            "j.csv",
            csv.into_bytes(),
            ImportRequest::new(FileFormat::Csv),
        )
        .await
        .unwrap();
    let purpose = [("X-Purpose", "辖区核查")];
    let search = |token: String, q: String| {
        let app = &app;
        async move {
            let (st, b) = app
                .get_with(
                    &format!("/api/v1/search?q={}", urlencode(&q)),
                    &token,
                    &purpose,
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b
        }
    };
    let analyst = app.login("analyst").await;
    let all = search(analyst.clone(), "钱多".into()).await;
    assert_eq!(all["total"], 2, "{all}");
    let mine = search(officer.clone(), "钱多".into()).await;
    assert_eq!(mine["total"], 1, "{mine}");
    assert_eq!(mine["items"][0]["name"], "钱*多", "{mine}");
    // Exact identifier lookups are filtered the same way.
    assert_eq!(search(officer.clone(), b.clone()).await["total"], 0);
    assert_eq!(search(analyst.clone(), b.clone()).await["total"], 1);

    let entity_of = |body: &Value| body["items"][0]["entity"].as_u64().unwrap();
    let own = entity_of(&mine);
    let other = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["entity"].as_u64().unwrap())
        .find(|e| *e != own)
        .unwrap();
    let (st, p) = app
        .get_with(&format!("/api/v1/entities/{own}"), &officer, &purpose)
        .await;
    assert_eq!(st, StatusCode::OK, "{p}");
    assert_eq!(p["masked"], true, "{p}");
    let (st, e) = app
        .get_with(&format!("/api/v1/entities/{other}"), &officer, &purpose)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{e}");
    assert_eq!(error_code(&e), "not_found");
    let (st, _) = app
        .get_with(&format!("/api/v1/entities/{other}"), &analyst, &purpose)
        .await;
    assert_eq!(st, StatusCode::OK);
    // Standard addresses outside the station are not shown either.
    let ids: Vec<i64> = app
        .state
        .store
        .all_std_addresses()
        .await
        .unwrap()
        .iter()
        .map(|a| a.id)
        .collect();
    let (st, _) = app
        .get_with(&format!("/api/v1/addresses/{}", ids[0]), &officer, &purpose)
        .await;
    assert_eq!(st, StatusCode::OK);
    let (st, _) = app
        .get_with(&format!("/api/v1/addresses/{}", ids[1]), &officer, &purpose)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The demo population comes with its registries: every house has a standard
/// address at the house's coordinates that the geocoder finds from its text,
/// residents and tenants are linked with dates, vehicles with their owners, and
/// the imported records are placed in the stations' jurisdictions.
#[tokio::test]
async fn demo_population_has_registries_and_geocodes() {
    let app = TestApp::demo().await;
    let r = pingan_server::demo::populate_people(&app.state, 2026, 300)
        .await
        .unwrap();
    assert_eq!(r.people, 300);
    assert!(r.accepted > 300, "{r:?}");
    let addresses = app.state.store.all_std_addresses().await.unwrap();
    assert!(addresses.len() > 100, "{}", addresses.len());
    let analyst = app.login("analyst").await;
    let purpose = [("X-Purpose", "实有人口核查")];
    let mut residents = 0;
    let mut tenants = 0;
    for a in addresses.iter().step_by(addresses.len() / 12) {
        let (st, g) = app
            .get(
                &format!("/api/v1/addresses/geocode?q={}", urlencode(&a.full_text)),
                &analyst,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{g}");
        assert_eq!(
            g["address_id"].as_i64(),
            Some(a.id),
            "{} → {g}",
            a.full_text
        );
        assert!(g["score"].as_f64().unwrap() >= 0.99, "{g}");
        assert!((g["location"]["lat"].as_f64().unwrap() - a.lat).abs() < 1e-9);
        let (st, d) = app
            .get_with(&format!("/api/v1/addresses/{}", a.id), &analyst, &purpose)
            .await;
        assert_eq!(st, StatusCode::OK, "{d}");
        let houses = d["houses"].as_array().unwrap();
        assert_eq!(houses.len(), 1, "{d}");
        for p in houses[0]["residents"].as_array().unwrap() {
            assert!(p["since"].is_string(), "{p}");
            match p["relation"].as_str().unwrap() {
                "tenant" => tenants += 1,
                "owner" | "resident" => residents += 1,
                other => panic!("unexpected relation {other}"),
            }
        }
    }
    assert!(
        residents + tenants > 0,
        "no one lives on the sampled addresses"
    );
    // Vehicles are registered to people of the population (owners or residents).
    let mut people = std::collections::BTreeSet::new();
    for a in &addresses {
        for h in app.state.store.houses_at(a.id).await.unwrap() {
            people.extend(h.owner_id_number.clone());
            for r in app.state.store.residents_of(h.id).await.unwrap() {
                people.insert(r.id_number);
            }
        }
    }
    let mut vehicles = 0;
    for p in &people {
        for v in app.state.store.vehicles_of(p).await.unwrap() {
            assert!(v.plate.starts_with("川A"), "{}", v.plate);
            vehicles += 1;
        }
    }
    assert!(vehicles > 0);
    // Records were located: a station officer finds some, but not all, of them.
    let officer = app.login("officer01").await;
    let count = |token: &str| {
        let token = token.to_owned();
        let app = &app;
        async move {
            let (st, b) = app
                .get_with(
                    &format!("/api/v1/search?q={}&limit=1", urlencode("王")),
                    &token,
                    &[("X-Purpose", "辖区核查")],
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{b}");
            b["total"].as_u64().unwrap()
        }
    };
    let all = count(&analyst).await;
    let mine = count(&officer).await;
    assert!(all > 0 && mine < all, "analyst {all}, officer {mine}");
    app.stop().await;
}

/// Re-delivered rows: a changed one updates its record in place (same record
/// id, new content in the profile), an unchanged one is a duplicate and is not
/// written again. After a restart the resolver is rebuilt from the store with
/// the same record ids, the index is found in sync, and profiles read the
/// updated records back from the store.
#[test]
fn updates_and_a_restart_keep_record_ids() {
    let dir =
        std::env::temp_dir().join(format!("pingan-test-fusion-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let row = |i: usize, road: &str| {
        format!(
            "\nR{i},钱{},女,汉族,1988-03-0{},{},,四川省成都市锦江区{road}{i}号",
            ["一", "二", "三", "四"][i],
            i + 1,
            id(&format!("5101041988030{}{:03}", i + 1, 200 + 2 * i))
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (entity, records) = rt.block_on(async {
        let s = common::boot_over(&dir, true).await;
        let svc = s.fusion.clone();
        svc.add_source(MAPPING).await.unwrap();
        let first = format!(
            "{HEADER}{}{}{}",
            row(0, "人民路"),
            row(1, "人民路"),
            row(2, "人民路")
        );
        let rep = svc
            .import_bytes(
                "户籍人口",
                "a.csv",
                first.into_bytes(),
                ImportRequest::new(FileFormat::Csv),
            )
            .await
            .unwrap();
        assert_eq!(rep.counts.accepted, 3, "{:?}", rep.rejections);
        // R1 moves, R0 is sent again unchanged, R3 is new.
        let second = format!(
            "{HEADER}{}{}{}",
            row(1, "东大街"),
            row(0, "人民路"),
            row(3, "人民路")
        );
        let rep = svc
            .import_bytes(
                "户籍人口",
                "b.csv",
                second.into_bytes(),
                ImportRequest::new(FileFormat::Csv),
            )
            .await
            .unwrap();
        assert_eq!(
            (
                rep.counts.accepted,
                rep.counts.updated,
                rep.counts.duplicates
            ),
            (1, 1, 1)
        );
        assert_eq!(s.store.count_fusion_records(None).await.unwrap(), 4);
        let moved = svc.record(RecordId(1)).await.unwrap().unwrap();
        assert!(
            moved
                .get(targets::person_address())
                .unwrap()
                .contains("东大街"),
            "{moved:?}"
        );
        assert_eq!(&*moved.file, "b.csv");
        let entity = svc.entity_of(RecordId(1)).unwrap();
        let p = svc
            .profile(entity, Visibility::CityWide)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.profile.records, vec![RecordId(1)]);
        let records: Vec<(u32, String)> = (0..4)
            .map(|i| {
                let r = rt_record(&svc, i);
                (i, r)
            })
            .collect();
        (entity, records)
    });
    drop(rt);

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = common::boot_over(&dir, false).await;
        let svc = s.fusion.clone();
        assert_eq!(svc.record_count(), 4);
        for (i, key) in &records {
            assert_eq!(&rt_record(&svc, *i), key, "record {i} keeps its id");
        }
        assert_eq!(svc.entity_of(RecordId(1)), Some(entity));
        let p = svc
            .profile(entity, Visibility::CityWide)
            .await
            .unwrap()
            .unwrap();
        let moved = &p.records[&RecordId(1)];
        assert!(
            moved
                .get(targets::person_address())
                .unwrap()
                .contains("东大街")
        );
        // The index came back in sync: one document per record, the move included.
        let hits = svc
            .search(pingan_fusion::search::SearchQuery {
                text: "东大街".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(hits.total, 1, "{hits:?}");
        let all = svc
            .search(pingan_fusion::search::SearchQuery {
                text: "钱".into(),
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.total, 4, "{all:?}");
    });
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A record's key as the service's hub knows it (by record id).
fn rt_record(svc: &pingan_server::fusion::FusionService, i: u32) -> String {
    svc.inspect(|hub| hub.key_of(RecordId(i)).unwrap().to_hex())
}
