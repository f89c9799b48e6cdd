//! End-to-end tests of the data hub: imports (GBK CSV, xlsx, NDJSON, JSON arrays),
//! rejection reports, resume after an interrupted import, resolution with
//! explanations, merge/split/undo, search with filters and exact lookups, masking
//! and profiles.

use std::io::Cursor;

use pingan_core::Timestamp;
use pingan_core::normalize::id_number::IdNumber;
use pingan_fusion::hub::{Hub, HubError};
use pingan_fusion::ingest::{
    Batch, Checkpoint, CommitOutcome, ImportError, ImportOptions, ImportSink, content_hash, import,
};
use pingan_fusion::mapping::Mapping;
use pingan_fusion::mask::mask_hit;
use pingan_fusion::model::targets;
use pingan_fusion::profile::{RelationKind, TimelineEvent};
use pingan_fusion::read::{FileFormat, TextEncoding};
use pingan_fusion::resolve::{
    KeyKind, Level, LinkMethod, MatchField, RecordId, ResolveError, Resolver,
};
use pingan_fusion::search::{QueryKind, SearchIndex, SearchQuery};

const HOUSEHOLD: &str = include_str!("../examples/mappings/household_registry.toml");
const HOTEL: &str = include_str!("../examples/mappings/hotel_stay.toml");
const NET_CAFE: &str = include_str!("../examples/mappings/net_cafe.toml");
const VEHICLE: &str = include_str!("../examples/mappings/vehicle_registry.toml");
const VISIT: &str = include_str!("../examples/mappings/community_visit.toml");

const NOW: Timestamp = Timestamp(1_795_000_000_000);

fn id(birth: (i32, u32, u32), seq: u16) -> String {
    IdNumber::build("510104", birth, seq)
        .unwrap()
        .as_str()
        .to_owned()
}

fn hub() -> Hub {
    Hub::new(Resolver::default(), Some(SearchIndex::in_memory().unwrap()))
}

fn run(hub: &mut Hub, mapping: &str, file: &str, bytes: Vec<u8>, format: FileFormat) -> Checkpoint {
    let m = Mapping::from_toml(mapping).unwrap();
    let opts = ImportOptions::new(format, NOW);
    import(&m, file, Cursor::new(bytes), &opts, None, hub, &mut |_| {}).unwrap()
}

fn household_csv(rows: &[[&str; 8]]) -> String {
    let mut s = String::from("记录编号,姓名,性别,民族,出生日期,公民身份号码,联系电话,户籍地址\n");
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s
}

#[test]
fn all_example_mappings_parse() {
    for m in [HOUSEHOLD, HOTEL, NET_CAFE, VEHICLE, VISIT] {
        Mapping::from_toml(m).unwrap();
    }
}

#[test]
fn gbk_csv_import_with_rejection_report() {
    let a = id((1990, 3, 7), 123);
    let b = id((1985, 12, 1), 224);
    let bad_checksum = {
        let mut s = id((1970, 1, 1), 111);
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        s
    };
    let csv = household_csv(&[
        [
            "HJ1",
            "王小明",
            "男",
            "汉族",
            "1990-03-07",
            &a,
            "13800138000",
            "四川省成都市锦江区红星路三段1号",
        ],
        [
            "HJ2",
            "李 丽",
            "女",
            "汉族",
            "1985年12月1日",
            &b,
            "+86 139 0000 1111",
            "四川省成都市青羊区人民南路一段5号",
        ],
        [
            "HJ3",
            "張偉",
            "男",
            "汉族",
            "1970-01-01",
            &bad_checksum,
            "",
            "四川省成都市锦江区",
        ],
        [
            "HJ4",
            "",
            "男",
            "汉族",
            "1970-01-01",
            &id((1970, 1, 1), 111),
            "",
            "",
        ],
        [
            "HJ5",
            "赵六",
            "女",
            "汉族",
            "1991-01-01",
            &id((1990, 3, 7), 124),
            "",
            "",
        ],
    ]);
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&csv);
    assert!(!unmappable);
    assert!(
        std::str::from_utf8(&gbk).is_err(),
        "fixture must really be GBK"
    );
    let mut h = hub();
    let cp = run(
        &mut h,
        HOUSEHOLD,
        "hj.csv",
        gbk.into_owned(),
        FileFormat::Csv,
    );
    assert!(cp.finished);
    assert_eq!(cp.counts.read, 5);
    assert_eq!(cp.counts.accepted, 2);
    assert_eq!(cp.counts.rejected, 3);
    let r0 = h.record(RecordId(0)).unwrap();
    assert_eq!(r0.get(targets::person_name()), Some("王小明"));
    assert_eq!(
        r0.get(targets::person_address()),
        Some("四川省成都市锦江区红星路三段1号")
    );
    assert_eq!(r0.line, 2);
    let r1 = h.record(RecordId(1)).unwrap();
    assert_eq!(r1.get(targets::person_name()), Some("李丽"));
    assert_eq!(r1.get(targets::person_phone()), Some("13900001111"));
    assert_eq!(r1.get(targets::person_birth_date()), Some("1985-12-01"));
    let rej: Vec<(String, u64, Option<String>, String)> = h
        .rejections()
        .iter()
        .map(|r| (r.file.clone(), r.line, r.field.clone(), r.reason.clone()))
        .collect();
    assert_eq!(rej.len(), 3, "{rej:?}");
    assert_eq!(
        (rej[0].0.as_str(), rej[0].1, rej[0].2.as_deref()),
        ("hj.csv", 4, Some("公民身份号码"))
    );
    assert!(
        rej[0].3.starts_with("id_number: ID number check character"),
        "{}",
        rej[0].3
    );
    assert_eq!(
        (rej[1].1, rej[1].2.as_deref(), rej[1].3.as_str()),
        (5, Some("姓名"), "required value is missing")
    );
    assert_eq!(
        (rej[2].1, rej[2].2.as_deref(), rej[2].3.as_str()),
        (
            6,
            Some("出生日期"),
            "birth date 1991-01-01 contradicts the ID number's 1990-03-07"
        )
    );
}

#[test]
fn explicit_encoding_option_and_wrong_encoding_is_rejected_not_garbled() {
    let csv = household_csv(&[[
        "HJ1",
        "王小明",
        "男",
        "汉族",
        "1990-03-07",
        &id((1990, 3, 7), 123),
        "",
        "",
    ]]);
    let (gbk, _, _) = encoding_rs::GBK.encode(&csv);
    let m = Mapping::from_toml(HOUSEHOLD).unwrap();
    let mut opts = ImportOptions::new(FileFormat::Csv, NOW);
    opts.read.encoding = TextEncoding::Gb18030;
    let mut h = hub();
    let cp = import(
        &m,
        "a.csv",
        Cursor::new(gbk.to_vec()),
        &opts,
        None,
        &mut h,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(cp.counts.accepted, 1);
    assert_eq!(
        h.record(RecordId(0)).unwrap().get(targets::person_name()),
        Some("王小明")
    );
    // Forcing UTF-8 on GBK bytes fails the header check, naming the file.
    opts.read.encoding = TextEncoding::Utf8;
    let mut h = hub();
    let err = import(
        &m,
        "a.csv",
        Cursor::new(gbk.to_vec()),
        &opts,
        None,
        &mut h,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("a.csv: CSV header"), "{err}");
}

#[test]
fn missing_columns_fail_before_any_row() {
    let m = Mapping::from_toml(HOUSEHOLD).unwrap();
    let csv = "记录编号,姓名\nHJ1,王小明\n";
    let mut h = hub();
    let opts = ImportOptions::new(FileFormat::Csv, NOW);
    let err = import(
        &m,
        "x.csv",
        Cursor::new(csv.as_bytes().to_vec()),
        &opts,
        None,
        &mut h,
        &mut |_| {},
    )
    .unwrap_err();
    match err {
        ImportError::MissingColumns { file, columns } => {
            assert_eq!(file, "x.csv");
            assert_eq!(
                columns,
                [
                    "性别",
                    "民族",
                    "出生日期",
                    "公民身份号码",
                    "联系电话",
                    "户籍地址"
                ]
            );
        }
        other => panic!("{other}"),
    }
    assert_eq!(h.records().len(), 0);
}

#[test]
fn xlsx_import() {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    let header = [
        "记录编号",
        "旅客姓名",
        "性别",
        "证件号码",
        "手机号码",
        "入住时间",
        "旅馆名称",
    ];
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let a = id((1990, 3, 7), 123);
    ws.write_string(1, 0, "LG1").unwrap();
    ws.write_string(1, 1, "王小明").unwrap();
    ws.write_number(1, 2, 1).unwrap();
    ws.write_string(1, 3, &a).unwrap();
    ws.write_number(1, 4, 13800138000.0).unwrap();
    ws.write_string(1, 5, "2026-11-20 22:15:00").unwrap();
    ws.write_string(1, 6, "锦江宾馆").unwrap();
    // Row 3: bad phone → rejected, with its sheet row number.
    ws.write_string(2, 0, "LG2").unwrap();
    ws.write_string(2, 1, "李丽").unwrap();
    ws.write_string(2, 4, "1380013800").unwrap();
    ws.write_string(2, 5, "2026-11-21 08:00").unwrap();
    // Row 5 (row 4 empty): no phone, valid.
    ws.write_string(4, 0, "LG3").unwrap();
    ws.write_string(4, 1, "赵六").unwrap();
    ws.write_string(4, 5, "2026/11/22 10:30:00").unwrap();
    let bytes = wb.save_to_buffer().unwrap();
    let mut h = hub();
    let cp = run(&mut h, HOTEL, "hotel.xlsx", bytes, FileFormat::Xlsx);
    assert_eq!(
        (cp.counts.read, cp.counts.accepted, cp.counts.rejected),
        (3, 2, 1)
    );
    let r = h.record(RecordId(0)).unwrap();
    assert_eq!(r.line, 2);
    assert_eq!(r.get(targets::person_sex()), Some("男"));
    assert_eq!(r.get(targets::person_phone()), Some("13800138000"));
    assert_eq!(r.get(targets::event_place()), Some("锦江宾馆"));
    assert_eq!(r.get(targets::event_kind()), Some("入住登记"));
    assert_eq!(r.observed_at.to_rfc3339(), "2026-11-20T14:15:00.000Z");
    assert_eq!(h.record(RecordId(1)).unwrap().line, 5);
    let rej = &h.rejections()[0];
    assert_eq!(
        (rej.file.as_str(), rej.line, rej.field.as_deref()),
        ("hotel.xlsx", 3, Some("手机号码"))
    );
}

#[test]
fn ndjson_and_json_array_imports() {
    let a = id((1990, 3, 7), 123);
    let nd = format!(
        "{{\"记录编号\":\"WB1\",\"姓名\":\"王小明\",\"证件号码\":\"{a}\",\"上机时间\":\"2026-11-20 20:00:00\",\"场所名称\":\"星际网咖\"}}\n\
         \n\
         {{not json}}\n\
         [1,2]\n\
         {{\"记录编号\":\"WB2\",\"姓名\":\"李丽\",\"证件号码\":\"{}\",\"上机时间\":\"2026-11-20 20:10:00\",\"场所名称\":\"星际网咖\"}}\n",
        id((1985, 12, 1), 224)
    );
    let mut h = hub();
    let cp = run(
        &mut h,
        NET_CAFE,
        "wb.ndjson",
        nd.into_bytes(),
        FileFormat::Ndjson,
    );
    assert_eq!(
        (cp.counts.read, cp.counts.accepted, cp.counts.rejected),
        (4, 2, 2)
    );
    let lines: Vec<u64> = h.rejections().iter().map(|r| r.line).collect();
    assert_eq!(lines, [3, 4]);
    assert!(
        h.rejections()[1]
            .reason
            .contains("expected a JSON object, found an array")
    );
    assert_eq!(h.record(RecordId(1)).unwrap().line, 5);

    let arr = format!(
        "[\n  {{\"记录编号\":\"WB1\",\"姓名\":\"王小明\",\"证件号码\":\"{a}\",\"上机时间\":\"2026-11-20 20:00:00\",\"场所名称\":\"a]b,{{\"}},\n  42,\n  {{\"记录编号\":\"WB9\",\"姓名\":\"赵六\",\"证件号码\":\"{}\",\"上机时间\":\"2026-11-21\"}}\n]",
        id((1970, 1, 1), 111)
    );
    let mut h = hub();
    let cp = run(
        &mut h,
        NET_CAFE,
        "wb.json",
        arr.into_bytes(),
        FileFormat::JsonArray,
    );
    assert_eq!(
        (cp.counts.read, cp.counts.accepted, cp.counts.rejected),
        (3, 2, 1)
    );
    assert_eq!(
        h.record(RecordId(0)).unwrap().get(targets::event_place()),
        Some("a]b,{")
    );
    assert_eq!(h.record(RecordId(1)).unwrap().line, 4);
    assert_eq!(h.rejections()[0].line, 3);
}

/// Fails the commit after `ok` batches, like a process killed mid-import.
struct Killed<'a> {
    hub: &'a mut Hub,
    ok: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("killed")]
struct KilledError;

impl ImportSink for Killed<'_> {
    type Error = KilledError;
    fn commit(&mut self, batch: Batch) -> Result<CommitOutcome, KilledError> {
        if self.ok == 0 {
            return Err(KilledError);
        }
        self.ok -= 1;
        self.hub.commit(batch).map_err(|_: HubError| KilledError)
    }
}

#[test]
fn resume_after_interrupted_import_loses_nothing_and_duplicates_nothing() {
    let mut csv = String::from("记录编号,姓名,性别,民族,出生日期,公民身份号码,联系电话,户籍地址\n");
    for i in 0..2500u32 {
        let birth = (1950 + (i % 50) as i32, 1 + i % 12, 1 + i % 28);
        let name = format!("测试{}", char::from_u32(0x4e00 + i).unwrap());
        let idn = if i % 500 == 7 {
            "123".to_owned()
        } else {
            id(birth, (i % 999) as u16)
        };
        csv.push_str(&format!("HJ{i},{name},,汉族,,{idn},,\n"));
    }
    let bytes = csv.into_bytes();
    let m = Mapping::from_toml(HOUSEHOLD).unwrap();
    let mut opts = ImportOptions::new(FileFormat::Csv, NOW);
    opts.batch_size = 100;
    let mut h = hub();
    let err = import(
        &m,
        "big.csv",
        Cursor::new(bytes.clone()),
        &opts,
        None,
        &mut Killed { hub: &mut h, ok: 7 },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ImportError::Sink {
                last_committed_line: 701,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(h.records().len(), 698);
    let hash = content_hash(&mut Cursor::new(bytes.clone())).unwrap();
    let cp = h.checkpoint("户籍人口", &hash).unwrap().clone();
    assert_eq!(
        (cp.last_line, cp.finished, cp.counts.read),
        (701, false, 700)
    );

    let mut progress = Vec::new();
    let done = import(
        &m,
        "big.csv",
        Cursor::new(bytes.clone()),
        &opts,
        Some(&cp),
        &mut h,
        &mut |p| progress.push(p.counts.read),
    )
    .unwrap();
    assert!(done.finished);
    assert_eq!(done.counts.read, 2500);
    assert_eq!(done.counts.rejected, 5);
    assert_eq!(done.counts.accepted, 2495);
    assert_eq!(done.counts.duplicates, 0);
    assert_eq!(h.records().len(), 2495);
    assert_eq!(progress.first(), Some(&800));
    let mut keys: Vec<_> = h.records().iter().map(|r| r.key).collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 2495);
    let mut lines: Vec<u64> = h.records().iter().map(|r| r.line).collect();
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 2495);

    // Importing the same file again from scratch stores nothing new.
    let again = import(
        &m,
        "big.csv",
        Cursor::new(bytes.clone()),
        &opts,
        None,
        &mut h,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((again.counts.accepted, again.counts.duplicates), (0, 2495));
    assert_eq!(h.records().len(), 2495);

    // A checkpoint does not apply to different content.
    let mut other = bytes.clone();
    other.extend_from_slice("HJX,某某,,汉族,,,,\n".as_bytes());
    let err = import(
        &m,
        "big.csv",
        Cursor::new(other),
        &opts,
        Some(&cp),
        &mut h,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(err, ImportError::CheckpointMismatch { .. }));
}

fn visit_csv(rows: &[[&str; 8]]) -> Vec<u8> {
    let mut s = String::from("记录编号,姓名,性别,出生日期,身份证号,联系电话,现住址,走访日期\n");
    for r in rows {
        s.push_str(&r.join(","));
        s.push('\n');
    }
    s.into_bytes()
}

#[test]
fn resolution_links_with_explanations_and_analysts_can_merge_split_undo() {
    let a = id((1990, 3, 7), 123);
    let mut h = hub();
    run(
        &mut h,
        HOUSEHOLD,
        "hj.csv",
        household_csv(&[
            [
                "HJ1",
                "王小明",
                "男",
                "汉族",
                "1990-03-07",
                &a,
                "13800138000",
                "四川省成都市锦江区红星路三段1号",
            ],
            [
                "HJ2",
                "陈静",
                "女",
                "汉族",
                "1988-06-16",
                &id((1988, 6, 16), 222),
                "",
                "四川省成都市青羊区人民南路一段5号",
            ],
        ])
        .into_bytes(),
        FileFormat::Csv,
    );
    run(
        &mut h,
        VISIT,
        "zf.csv",
        visit_csv(&[
            // R2: same ID → exact key.
            ["ZF1", "王小明", "男", "", &a, "", "", "2026-11-01"],
            // R3: no ID, name + birth + address agree → probabilistic link.
            [
                "ZF2",
                "王小明",
                "男",
                "1990-03-07",
                "",
                "",
                "四川省成都市锦江区红星路三段1号",
                "2026-11-02",
            ],
            // R4: homophone surname, same birth date, same road → links.
            [
                "ZF3",
                "汪小明",
                "男",
                "1990-03-07",
                "",
                "",
                "四川省成都市锦江区红星路三段8号",
                "2026-11-03",
            ],
            // R5: same name, different birth year, different district → new entity.
            [
                "ZF4",
                "王小明",
                "男",
                "1960-05-05",
                "",
                "",
                "四川省成都市武侯区科华北路2号",
                "2026-11-04",
            ],
            // R6: phone key, compatible name → exact key on phone.
            [
                "ZF5",
                "王晓明",
                "男",
                "",
                "",
                "13800138000",
                "",
                "2026-11-05",
            ],
        ]),
        FileFormat::Csv,
    );
    let r = h.resolver();
    let e = r.person_of(RecordId(0)).unwrap();
    assert_eq!(r.person_of(RecordId(1)).map(|x| x != e), Some(true));
    let ex = |i| r.explanation_of(RecordId(i)).unwrap();
    assert_eq!(r.person_of(RecordId(2)), Some(e));
    assert_eq!(ex(2).method, LinkMethod::ExactKey(KeyKind::IdNumber));
    assert_eq!(r.person_of(RecordId(3)), Some(e));
    assert_eq!(ex(3).method, LinkMethod::Probabilistic);
    let levels: Vec<(MatchField, Option<Level>)> = ex(3)
        .comparisons
        .iter()
        .map(|c| (c.field, c.level))
        .collect();
    assert_eq!(
        levels,
        [
            (MatchField::Name, Some(Level::Exact)),
            (MatchField::BirthDate, Some(Level::Exact)),
            (MatchField::Phone, None),
            (MatchField::Address, Some(Level::Exact)),
        ]
    );
    let total: f64 = ex(3).comparisons.iter().map(|c| c.weight).sum();
    assert!((ex(3).score - total).abs() < 1e-9);
    assert!(ex(3).score >= ex(3).link_threshold);
    assert!(
        ex(3).summary().starts_with("probabilistic "),
        "{}",
        ex(3).summary()
    );
    assert_eq!(r.person_of(RecordId(4)), Some(e), "{}", ex(4).summary());
    assert_eq!(ex(4).comparisons[0].level, Some(Level::OneEdit));
    assert_eq!(ex(4).comparisons[3].level, Some(Level::SameRoad));
    let other = r.person_of(RecordId(5)).unwrap();
    assert_ne!(other, e);
    assert_eq!(ex(5).method, LinkMethod::NewEntity);
    // Blocking with a birth date only looks at entities sharing the full date or
    // the full name and birth year: a namesake born in another year is not even
    // a candidate, and scoring it says why.
    assert_eq!(ex(5).candidate, None);
    assert_eq!(ex(5).candidates_scored, 0);
    let (score, comps) = r.compare(RecordId(5), e).unwrap();
    assert_eq!(comps[0].level, Some(Level::Exact));
    assert_eq!(comps[1].level, Some(Level::Disagree));
    assert!(score < r.config().possible_threshold, "{score}");
    assert_eq!(r.person_of(RecordId(6)), Some(e));
    assert_eq!(ex(6).method, LinkMethod::ExactKey(KeyKind::Phone));
    assert_eq!(r.by_id_number(&a), Some(e));
    assert_eq!(r.by_phone("13800138000"), Some(e));
    assert_eq!(
        r.entity(e).unwrap().records,
        [
            RecordId(0),
            RecordId(2),
            RecordId(3),
            RecordId(4),
            RecordId(6)
        ]
    );

    // Analyst: merge the 1960 王小明 in (wrongly), undo it; split the homophone record out, undo.
    let t = Timestamp(1_000);
    let hr = h.resolver_mut();
    assert_eq!(
        hr.merge(e, other, "analyst", " ", t),
        Err(ResolveError::NoReason)
    );
    let op = hr
        .merge(e, other, "analyst", "同一人：核实户籍", t)
        .unwrap();
    assert_eq!(hr.person_of(RecordId(5)), Some(e));
    assert_eq!(hr.entity(other).unwrap().merged_into, Some(e));
    assert_eq!(hr.current(other), Some(e));
    assert_eq!(hr.moved_by(RecordId(5)).map(|o| o.id), Some(op));
    assert_eq!(
        hr.merge(e, other, "analyst", "again", t),
        Err(ResolveError::NotActive(other))
    );
    hr.undo(op, "supervisor", "出生年份不同，非同一人", t)
        .unwrap();
    assert_eq!(hr.person_of(RecordId(5)), Some(other));
    assert_eq!(hr.entity(other).unwrap().merged_into, None);
    assert_eq!(hr.entity(e).unwrap().records.len(), 5);
    assert_eq!(
        hr.undo(op, "x", "y", t),
        Err(ResolveError::AlreadyUndone(op))
    );
    assert!(hr.operations()[0].undone.is_some());

    let (sop, new) = hr
        .split(
            e,
            &[RecordId(4)],
            "analyst",
            "汪小明 is a different person",
            t,
        )
        .unwrap();
    assert_eq!(hr.person_of(RecordId(4)), Some(new));
    assert_eq!(hr.entity(e).unwrap().records.len(), 4);
    assert_eq!(
        hr.split(e, &[RecordId(1)], "a", "b", t),
        Err(ResolveError::NotInEntity {
            record: RecordId(1),
            entity: e
        })
    );
    assert_eq!(
        hr.split(
            e,
            &[RecordId(0), RecordId(2), RecordId(3), RecordId(6)],
            "a",
            "b",
            t
        ),
        Err(ResolveError::EmptySplit(e))
    );
    hr.undo(sop, "supervisor", "split was wrong", t).unwrap();
    assert_eq!(hr.person_of(RecordId(4)), Some(e));
    assert_eq!(hr.current(new), Some(e));
    assert_eq!(hr.entity(e).unwrap().records.len(), 5);

    // New records keep joining incrementally after analyst operations.
    run(
        &mut h,
        VISIT,
        "zf2.csv",
        visit_csv(&[[
            "ZF9",
            "王小明",
            "男",
            "1990-03-07",
            &a,
            "",
            "",
            "2026-11-09",
        ]]),
        FileFormat::Csv,
    );
    assert_eq!(h.resolver().person_of(RecordId(7)), Some(e));
}

#[test]
fn search_filters_exact_lookups_masking_and_profile() {
    let a = id((1990, 3, 7), 123);
    let b = id((1985, 12, 1), 224);
    let mut h = hub();
    run(
        &mut h,
        HOUSEHOLD,
        "hj.csv",
        household_csv(&[
            [
                "HJ1",
                "王小明",
                "男",
                "汉族",
                "1990-03-07",
                &a,
                "13800138000",
                "四川省成都市锦江区红星路三段1号",
            ],
            [
                "HJ2",
                "李丽",
                "女",
                "汉族",
                "1985-12-01",
                &b,
                "13900001111",
                "四川省成都市青羊区人民南路一段5号",
            ],
        ])
        .into_bytes(),
        FileFormat::Csv,
    );
    let hotel = format!(
        "记录编号,旅客姓名,性别,证件号码,手机号码,入住时间,旅馆名称\n\
         LG1,王小明,男,{a},,2026-11-20 22:15:00,锦江宾馆\n\
         LG2,李丽,女,{b},,2026-11-20 22:20:00,锦江宾馆\n\
         LG3,李丽,女,{b},,2026-10-01 09:00:00,春熙酒店\n"
    );
    run(&mut h, HOTEL, "lg.csv", hotel.into_bytes(), FileFormat::Csv);
    let vehicle = format!(
        "记录编号,号牌号码,品牌,车身颜色,登记日期,所有人,身份证明号码,联系电话,住所地址\n\
         CL1,川a·12345,大众,白,2020-05-01,王小明,{a},,四川省成都市锦江区红星路三段1号\n"
    );
    run(
        &mut h,
        VEHICLE,
        "cl.csv",
        vehicle.into_bytes(),
        FileFormat::Csv,
    );
    let s = h.search().unwrap();
    assert_eq!(s.len(), 6);
    let q = |text: &str| SearchQuery {
        text: text.into(),
        ..SearchQuery::default()
    };
    // Name full text.
    let res = s.search(&q("王小明")).unwrap();
    assert_eq!(res.total, 3);
    let recs: Vec<u32> = {
        let mut v: Vec<u32> = res.hits.iter().map(|x| x.record.0).collect();
        v.sort();
        v
    };
    assert_eq!(recs, [0, 2, 5]);
    // Traditional characters in the query find simplified names.
    assert_eq!(s.search(&q("王小明 紅星路")).unwrap().total, 2);
    // Address words (jieba) and the hotel name in free text.
    assert_eq!(s.search(&q("人民南路")).unwrap().total, 1);
    assert_eq!(s.search(&q("锦江宾馆")).unwrap().total, 2);
    // Filters: category, source, district, date range.
    let mut f = q("李丽");
    f.category = Some("hotel".into());
    assert_eq!(s.search(&f).unwrap().total, 2);
    f.from = Some(Timestamp::from_civil_utc(2026, 11, 1, 0, 0, 0));
    let r = s.search(&f).unwrap();
    assert_eq!((r.total, r.hits[0].record), (1, RecordId(3)));
    let mut d = q("");
    d.district = Some("锦江区".into());
    assert_eq!(s.search(&d).unwrap().total, 2);
    let mut src = q("");
    src.source = Some("机动车登记".into());
    assert_eq!(s.search(&src).unwrap().hits[0].record, RecordId(5));
    // Exact lookups are normalised first.
    let r = s.search(&q(&a.to_lowercase())).unwrap();
    assert_eq!(r.kind, QueryKind::IdNumber(a.clone()));
    assert_eq!(r.total, 3);
    let r = s.search(&q("+86 139-0000-1111")).unwrap();
    assert_eq!(r.kind, QueryKind::Phone("13900001111".into()));
    assert_eq!(r.total, 1);
    let r = s.search(&q("川a12345")).unwrap();
    assert_eq!(r.kind, QueryKind::Plate("川A12345".into()));
    assert_eq!((r.total, r.hits[0].record), (1, RecordId(5)));
    // Masking for lists.
    let shown = mask_hit(&r.hits[0], false, None);
    assert_eq!(shown.hit.plate.as_deref(), Some("川A***45"));
    assert_eq!(shown.hit.name.as_deref(), Some("王*明"));
    let shown = mask_hit(&r.hits[0], true, Some("交通肇事逃逸案侦查"));
    assert_eq!(shown.hit.id_number.as_deref(), Some(a.as_str()));

    // Profile of 王小明: 3 records from 3 sources, provenance, relations, timeline.
    let e = h.resolver().by_id_number(&a).unwrap();
    let lee = h.resolver().by_id_number(&b).unwrap();
    let events = [TimelineEvent {
        at: Timestamp::from_civil_utc(2026, 11, 21, 3, 0, 0),
        kind: "sensor_hit".into(),
        summary: "卡口过车 川A12345".into(),
    }];
    let p = h.profile(e, &events).unwrap();
    assert_eq!(p.records, [RecordId(0), RecordId(2), RecordId(5)]);
    assert_eq!(p.sources, ["户籍人口", "机动车登记", "酒店住宿"]);
    assert_eq!(p.value(targets::person_name()), Some("王小明"));
    assert_eq!(p.value(targets::vehicle_plate()), Some("川A12345"));
    let name = p
        .fields
        .iter()
        .find(|f| f.target == targets::person_name())
        .unwrap();
    let prov: Vec<(&str, u64)> = name.values[0]
        .provenance
        .iter()
        .map(|x| (x.file.as_str(), x.line))
        .collect();
    assert_eq!(prov, [("hj.csv", 2), ("lg.csv", 2), ("cl.csv", 2)]);
    let rel: Vec<(RelationKind, _)> = p.relations.iter().map(|r| (r.kind, r.other)).collect();
    assert_eq!(rel, [(RelationKind::SeenTogether, lee)]);
    assert_eq!(p.relations[0].via, "锦江宾馆");
    assert_eq!(p.timeline.len(), 4);
    assert_eq!(p.timeline.last().unwrap().kind, "sensor_hit");
    assert!(p.timeline.windows(2).all(|w| w[0].at <= w[1].at));
}

/// Documents tagged with the org nodes they are located in are found with the
/// `org` filter only from those nodes; untagged documents from none.
#[test]
fn search_filters_by_jurisdiction_org() {
    use pingan_fusion::ingest::RecordKey;
    use pingan_fusion::search::SearchDoc;
    let mut s = SearchIndex::in_memory().unwrap();
    let doc = |n: u32, name: &str, orgs: Vec<i64>| SearchDoc {
        record: RecordId(n),
        key: RecordKey([n as u8; 16]),
        source: "户籍人口".into(),
        category: "population".into(),
        district: None,
        observed_at: NOW,
        name: Some(name.into()),
        address: None,
        text: String::new(),
        id_number: None,
        phone: None,
        plate: None,
        orgs,
    };
    s.upsert(&doc(0, "王小明", vec![11, 2, 1])).unwrap();
    s.upsert(&doc(1, "王小红", vec![12, 2, 1])).unwrap();
    s.upsert(&doc(2, "王小刚", vec![21, 3, 1])).unwrap();
    s.upsert(&doc(3, "王小强", Vec::new())).unwrap();
    s.commit().unwrap();
    let found = |org: Option<i64>| {
        let r = s
            .search(&SearchQuery {
                text: "王小".into(),
                org,
                ..SearchQuery::default()
            })
            .unwrap();
        let mut v: Vec<u32> = r.hits.iter().map(|h| h.record.0).collect();
        v.sort();
        (r.total, v)
    };
    assert_eq!(found(None), (4, vec![0, 1, 2, 3]));
    assert_eq!(found(Some(11)), (1, vec![0]));
    assert_eq!(found(Some(2)), (2, vec![0, 1]));
    assert_eq!(found(Some(1)), (3, vec![0, 1, 2]));
    assert_eq!(found(Some(99)), (0, vec![]));
}

/// An index directory written with another schema (an older version) is
/// started afresh instead of refusing to open.
#[test]
fn index_with_an_old_schema_is_recreated() {
    let dir = std::env::temp_dir().join(format!("pingan-fusion-oldschema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    {
        let mut b = tantivy::schema::Schema::builder();
        b.add_text_field("legacy", tantivy::schema::STRING);
        let idx = tantivy::Index::create_in_dir(&dir, b.build()).unwrap();
        let mut w: tantivy::IndexWriter = idx.writer(15 << 20).unwrap();
        w.commit().unwrap();
    }
    let mut s = SearchIndex::open_or_create(&dir).unwrap();
    assert_eq!(s.len(), 0);
    s.commit().unwrap();
    drop(s);
    // Reopening the recreated index keeps it.
    assert!(SearchIndex::open_or_create(&dir).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}
