//! The data hub from the command line, on a real temp data dir: `pingan source
//! add|list|show` (mapping errors name file, line and field), `pingan import` of
//! a GBK CSV with its rejection report, resuming a paused import and an import
//! killed mid-way without duplicates, and re-running a finished import.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use pingan_store::Store;

const MAPPING: &str = include_str!("../../fusion/examples/mappings/household_registry.toml");
const HEADER: &str = "记录编号,姓名,性别,民族,出生日期,公民身份号码,联系电话,户籍地址";
const SOURCE: &str = "户籍人口";

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pingan-hub-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `pingan ARGS --data-dir DIR/data`, configured by nothing but its arguments.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pingan"));
    c.args(args)
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env_remove("PINGAN_CONFIG")
        .env("PINGAN_LOG", "warn");
    c
}

fn pingan(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let o = pingan(dir, args);
    assert!(
        o.status.success(),
        "pingan {args:?} failed: {}\n{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    text(&o.stdout)
}

/// A valid GB 11643 number: region 510104, born 1980-01-01, sequence `seq`
/// mod 1000 (odd: male, even: female), checksum computed.
fn id(seq: u32) -> String {
    let first17 = format!("51010419800101{:03}", seq % 1000);
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(W)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    format!("{first17}{}", b"10X98765432"[(sum % 11) as usize] as char)
}

fn register(dir: &Path) {
    let mapping = dir.join("household.toml");
    std::fs::write(&mapping, MAPPING).unwrap();
    // The first command on a fresh data dir names the database explicitly:
    // admin commands refuse a data dir without one (a mistyped --data-dir).
    let db = format!("sqlite://{}", dir.join("data/pingan.db").display());
    let out = ok(
        dir,
        &[
            "source",
            "add",
            mapping.to_str().unwrap(),
            "--database",
            &db,
        ],
    );
    assert!(out.contains("source \"户籍人口\""), "{out}");
}

async fn store(dir: &Path) -> Store {
    Store::open(dir.join("data/pingan.db").to_str().unwrap())
        .await
        .unwrap()
}

/// `rows` valid rows (record numbers HJ0…, names 居民 + the number in Chinese
/// digits), UTF-8.
fn csv_rows(rows: u32) -> String {
    let mut s = format!("{HEADER}\n");
    for i in 0..rows {
        let name: String = i
            .to_string()
            .chars()
            .map(|d| {
                "零一二三四五六七八九"
                    .chars()
                    .nth(d as usize - '0' as usize)
                    .unwrap()
            })
            .collect();
        s.push_str(&format!(
            "HJ{i},居民{name},{},汉,,{},,四川省成都市锦江区红星路{}号\n",
            if i % 2 == 0 { "女" } else { "男" },
            id(i * 2 + (i % 2)),
            i + 1
        ));
    }
    s
}

#[test]
fn source_commands_validate_and_show() {
    let dir = temp_dir("source");
    // A mapping error names the file, the line and the field.
    let bad = dir.join("bad.toml");
    let broken = MAPPING.replacen("target = \"person.sex\"", "target = \"person.sexx\"", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("person.sexx"))
        .unwrap()
        + 1;
    std::fs::write(&bad, &broken).unwrap();
    let o = pingan(&dir, &["source", "add", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(err.contains("bad.toml"), "{err}");
    assert!(err.contains(&format!("line {line}")), "{err}");
    assert!(err.contains("person.sexx"), "{err}");

    register(&dir);
    // The same name twice is refused.
    let o = pingan(
        &dir,
        &[
            "source",
            "add",
            dir.join("household.toml").to_str().unwrap(),
        ],
    );
    assert!(!o.status.success(), "{}", text(&o.stdout));

    let list = ok(&dir, &["source", "list"]);
    assert!(list.contains("户籍人口"), "{list}");
    assert!(list.contains("户政管理大队"), "{list}");
    assert!(list.contains("0 records"), "{list}");
    let show = ok(&dir, &["source", "show", SOURCE]);
    assert!(show.contains("update mode  full_snapshot"), "{show}");
    assert!(show.contains("row_key = [\"记录编号\"]"), "{show}");
    let o = pingan(&dir, &["source", "show", "无此来源"]);
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("not registered"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn gbk_csv_import_with_rejection_report() {
    let dir = temp_dir("gbk");
    register(&dir);
    let a = id(1);
    let b = id(2);
    let mut bad_id = id(3);
    bad_id.replace_range(17..18, if bad_id.ends_with('1') { "2" } else { "1" });
    let csv = format!(
        "{HEADER}\n\
         HJ1,张三,男,汉,,{a},13800138000,四川省成都市锦江区红星路1号\n\
         HJ2,李四,女,回,,{bad_id},,四川省成都市锦江区红星路2号\n\
         HJ3,,女,汉,,{b},,四川省成都市锦江区红星路3号\n\
         HJ4,王五,女,汉,,{b},,四川省成都市锦江区红星路3号\n"
    );
    let file = dir.join("hj.csv");
    std::fs::write(&file, encoding_rs::GBK.encode(&csv).0).unwrap();
    let f = file.to_str().unwrap();
    let out = ok(&dir, &["import", "--source", SOURCE, f]);
    assert!(
        out.contains(&format!(
            "{f}: 4 rows read, 2 accepted, 2 rejected, 0 merged into existing entities, 0 duplicates, 0 updated"
        )),
        "{out}"
    );
    let report = out
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{f}: rejection report ")))
        .unwrap_or_else(|| panic!("no report path in {out}"));
    let report = std::fs::read_to_string(report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "file,line,field,reason");
    assert_eq!(lines.len(), 3, "{report}");
    assert!(
        lines[1].starts_with(&format!(
            "{f},3,公民身份号码,\"id_number: ID number check character"
        )),
        "{report}"
    );
    assert_eq!(lines[2], format!("{f},4,姓名,required value is missing"));

    // GBK was decoded: the stored names are the Chinese ones.
    let s = store(&dir).await;
    let rows = s.fusion_records_after(0, 10).await.unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.fields).unwrap();
            v["person.name"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(names, ["张三", "王五"]);
    s.close().await;

    // Importing the same content again reads nothing and adds nothing.
    let out = ok(&dir, &["import", "--source", SOURCE, f]);
    assert!(out.contains("already imported"), "{out}");
    assert!(out.contains("2 accepted, 2 rejected"), "{out}");
    let s = store(&dir).await;
    assert_eq!(s.count_fusion_records(Some(SOURCE)).await.unwrap(), 2);
    assert_eq!(
        s.fusion_rejections(SOURCE, None, 100).await.unwrap().len(),
        2
    );
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn paused_import_resumes_without_duplicates() {
    let dir = temp_dir("pause");
    register(&dir);
    let file = dir.join("many.csv");
    std::fs::write(&file, csv_rows(10)).unwrap();
    let f = file.to_str().unwrap();
    let out = ok(
        &dir,
        &[
            "import",
            "--source",
            SOURCE,
            "--batch-size",
            "2",
            "--stop-after-rows",
            "4",
            f,
        ],
    );
    assert!(out.contains("paused after 4 rows"), "{out}");
    let s = store(&dir).await;
    assert_eq!(s.count_fusion_records(Some(SOURCE)).await.unwrap(), 4);
    s.close().await;
    let out = ok(
        &dir,
        &["import", "--source", SOURCE, "--batch-size", "2", f],
    );
    assert!(
        out.contains(&format!(
            "{f}: 10 rows read, 10 accepted, 0 rejected, 0 merged into existing entities, 0 duplicates, 0 updated (resumed after line 5)"
        )),
        "{out}"
    );
    let s = store(&dir).await;
    assert_eq!(s.count_fusion_records(Some(SOURCE)).await.unwrap(), 10);
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn killed_import_resumes_without_duplicates() {
    let dir = temp_dir("kill");
    register(&dir);
    let rows = 20_000u32;
    let file = dir.join("big.csv");
    std::fs::write(&file, csv_rows(rows)).unwrap();
    let s = store(&dir).await;
    let f = file.to_str().unwrap();
    let mut child = command(
        &dir,
        &["import", "--source", SOURCE, "--batch-size", "200", f],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    // Kill it (SIGKILL: no cleanup) once some batches are committed.
    let t = Instant::now();
    let mut stored_at_kill = 0;
    while t.elapsed() < Duration::from_secs(120) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        stored_at_kill = s.count_fusion_records(Some(SOURCE)).await.unwrap();
        if stored_at_kill > 0 {
            child.kill().unwrap();
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.wait().unwrap();
    eprintln!("records stored when the import was killed: {stored_at_kill} of {rows}");
    let out = ok(
        &dir,
        &["import", "--source", SOURCE, "--batch-size", "200", f],
    );
    assert!(
        out.contains(&format!("{rows} rows read, {rows} accepted")),
        "{out}"
    );
    if stored_at_kill > 0 && stored_at_kill < i64::from(rows) {
        assert!(out.contains("(resumed after line"), "{out}");
    }
    assert_eq!(
        s.count_fusion_records(Some(SOURCE)).await.unwrap(),
        i64::from(rows)
    );
    s.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
