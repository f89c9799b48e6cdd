//! The administrative commands on real temp data dirs: they refuse a data dir
//! without a database instead of creating an empty one; `user add` applies the
//! API's username rule and, like `org import`, leaves an audit record that
//! `pingan audit verify` accepts; GeoJSON errors name file, line, feature and
//! field.

use std::path::Path;
use std::process::{Command, Output};

use pingan_store::{AuditFilter, Page, Store};

mod common;

const MAPPING: &str = include_str!("../../fusion/examples/mappings/household_registry.toml");

/// The city bureau and one district, the district on lines 9–13.
const TREE: &str = r#"{
  "type": "FeatureCollection",
  "features": [
    {
      "type": "Feature",
      "properties": {"code": "510100", "name": "平安市公安局", "kind": "city"},
      "geometry": {"type": "Polygon", "coordinates": [[[104.0, 30.6], [104.1, 30.6], [104.1, 30.7], [104.0, 30.7], [104.0, 30.6]]]}
    },
    {
      "type": "Feature",
      "properties": {"code": "510100-JC", "name": "锦城分局", "kind": "district", "parent_code": "510100"},
      "geometry": null
    }
  ]
}
"#;

/// `pingan ARGS --data-dir DATA`, configured by nothing but its arguments and
/// run as shell user `ops`.
fn pingan(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .env_remove("PINGAN_CONFIG")
        .env_remove("PINGAN_DATABASE")
        .env_remove("PINGAN_NEW_PASSWORD")
        .env("PINGAN_LOG", "warn")
        .env("USER", "ops")
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn sqlite_url(data: &Path) -> String {
    format!("sqlite://{}", data.join("pingan.db").display())
}

/// A fresh deployment's first command: `org import` naming the database,
/// which creates it; `nodes` org nodes are created.
fn import_creating_the_database(data: &Path, tree: &str, nodes: usize) {
    let o = pingan(
        data,
        &["org", "import", tree, "--database", &sqlite_url(data)],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        format!("{tree}: {nodes} org nodes created, 0 updated\n")
    );
}

#[test]
fn admin_commands_refuse_a_data_dir_without_a_database() {
    let dir = common::temp_dir("admin-typo");
    let typo = dir.join("typo");
    let (tree, mapping, csv) = (
        dir.join("tree.geojson"),
        dir.join("m.toml"),
        dir.join("a.csv"),
    );
    std::fs::write(&tree, TREE).unwrap();
    std::fs::write(&mapping, MAPPING).unwrap();
    std::fs::write(&csv, "记录编号,姓名\n").unwrap();
    let (tree, mapping, csv) = (
        tree.to_str().unwrap(),
        mapping.to_str().unwrap(),
        csv.to_str().unwrap(),
    );
    let expected = format!(
        "error: no pingan database at {}; run `pingan serve` or `pingan demo` first, or pass --database\n",
        typo.join("pingan.db").display()
    );
    for args in [
        &["audit", "verify"][..],
        &["org", "export"],
        &["org", "import", tree],
        &[
            "user",
            "add",
            "--username",
            "chief",
            "--role",
            "admin",
            "--org-code",
            "510100",
            "--password",
            "long-enough",
        ],
        &["source", "list"],
        &["source", "show", "户籍人口"],
        &["source", "add", mapping],
        &["import", "--source", "户籍人口", csv],
        &["ledger", "audit"],
    ] {
        let o = pingan(&typo, args);
        assert_eq!(
            o.status.code(),
            Some(1),
            "pingan {args:?}: {}",
            text(&o.stdout)
        );
        assert_eq!(text(&o.stdout), "", "pingan {args:?}");
        assert_eq!(text(&o.stderr), expected, "pingan {args:?}");
        assert!(!typo.exists(), "pingan {args:?} created {}", typo.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn user_add_is_validated_and_audited() {
    let dir = common::temp_dir("admin-user");
    let data = dir.join("data");
    let tree = dir.join("tree.geojson");
    std::fs::write(&tree, TREE).unwrap();
    let tree = tree.to_str().unwrap();

    import_creating_the_database(&data, tree, 2);

    let add = |username: &str, role: &str| {
        pingan(
            &data,
            &[
                "user",
                "add",
                "--username",
                username,
                "--display-name",
                "局长",
                "--role",
                role,
                "--org-code",
                "510100",
                "--password",
                "long-enough",
            ],
        )
    };
    // The API's rule (POST /api/v1/users), naming the flag.
    let o = add("bad name", "admin");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        "error: --username \"bad name\": 2–64 letters, digits, '_', '-' or '.'\n"
    );
    // A station officer belongs to a station, not to the city bureau.
    let o = add("patrol", "station_officer");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).starts_with(
            "error: --org-code \"510100\": a station_officer belongs to a police station"
        ),
        "{}",
        text(&o.stderr)
    );
    let o = add("chief", "admin");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "user chief (#1) created in 平安市公安局\n");

    let store = Store::open(data.join("pingan.db").to_str().unwrap())
        .await
        .unwrap();
    assert!(
        store
            .get_user_by_username("bad name")
            .await
            .unwrap()
            .is_none()
    );
    let city = store.get_org_by_code("510100").await.unwrap().unwrap();
    let district = store.get_org_by_code("510100-JC").await.unwrap().unwrap();
    let (records, total) = store
        .audit_query(&AuditFilter::default(), Page::default())
        .await
        .unwrap();
    store.close().await;
    assert_eq!(total, 2);
    // Newest first.
    let got: Vec<_> = records
        .iter()
        .map(|r| {
            let e = &r.entry;
            (
                r.seq,
                e.username.as_str(),
                e.role.as_str(),
                e.action.as_str(),
                e.object_type.as_str(),
                e.object_ids.clone(),
                e.outcome.as_str(),
                e.detail.clone(),
                e.user_id,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                2,
                "cli:ops",
                "admin",
                "user.create",
                "user",
                vec!["1".to_string()],
                "ok",
                Some("pingan CLI".to_string()),
                None
            ),
            (
                1,
                "cli:ops",
                "admin",
                "org.import",
                "org",
                vec![city.id.to_string(), district.id.to_string()],
                "ok",
                Some(format!("pingan CLI: {tree}: created 2, updated 0")),
                None
            ),
        ]
    );

    let o = pingan(&data, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("audit chain intact: 2 records, head #2 "),
        "{}",
        text(&o.stdout)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn org_import_errors_name_file_line_feature_and_field() {
    let dir = common::temp_dir("admin-geojson");
    let data = dir.join("data");
    let bad = dir.join("bad.geojson");
    // The district (feature 2, starting on line 9) loses its kind.
    std::fs::write(&bad, TREE.replace(r#", "kind": "district""#, "")).unwrap();
    let bad = bad.to_str().unwrap();
    let o = pingan(
        &data,
        &["org", "import", bad, "--database", &sqlite_url(&data)],
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error: {bad}: line 9: feature 2: property `kind` must be city, district or station\n"
        )
    );
    // Not JSON at all: serde_json's own line and column.
    std::fs::write(
        dir.join("broken.geojson"),
        "{\n  \"type\": \"FeatureCollection\",\n  \"features\": [\n    {,}\n  ]\n}\n",
    )
    .unwrap();
    let broken = dir.join("broken.geojson");
    let o = pingan(&data, &["org", "import", broken.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        text(&o.stderr),
        format!(
            "error: {}: not a GeoJSON FeatureCollection: key must be a string at line 4 column 6\n",
            broken.display()
        )
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The README's new-deployment sequence, on the example org tree it names.
#[test]
fn readme_fresh_deployment_sequence() {
    let dir = common::temp_dir("admin-readme");
    let data = dir.join("pingan-data");
    let tree = concat!(env!("CARGO_MANIFEST_DIR"), "/data/org-tree.example.geojson");
    import_creating_the_database(&data, tree, 6);
    let o = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args([
            "user",
            "add",
            "--username",
            "chief",
            "--display-name",
            "局长",
        ])
        .args(["--role", "admin", "--org-code", "510100", "--data-dir"])
        .arg(&data)
        .env_remove("PINGAN_CONFIG")
        .env_remove("PINGAN_DATABASE")
        .env("PINGAN_NEW_PASSWORD", "a-long-password")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "user chief (#1) created in 平安市公安局\n");
    let o = pingan(&data, &["audit", "verify"]);
    assert!(
        text(&o.stdout).starts_with("audit chain intact: 2 records, head #2 "),
        "{}",
        text(&o.stdout)
    );

    // The export gives the tree back (depth first); a reader that stops
    // early is no error.
    let o = pingan(&data, &["org", "export"]);
    let exported: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let codes: Vec<&str> = exported["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "510100",
            "510100-JC",
            "510100-JC-01",
            "510100-JC-02",
            "510100-QY",
            "510100-QY-01"
        ]
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(["org", "export", "--data-dir"])
        .arg(&data)
        .env_remove("PINGAN_CONFIG")
        .env_remove("PINGAN_DATABASE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");
    let _ = std::fs::remove_dir_all(&dir);
}
