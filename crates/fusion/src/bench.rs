//! The end-to-end data-hub benchmark behind `pingan bench fusion` and
//! `cargo bench -p pingan-fusion --bench fusion` (feature `bench`): synthetic
//! departmental exports with ground truth (pingan-synth) written as CSV files →
//! import + normalise + resolve + index through [`crate::ingest::import`] into a
//! [`Hub`] → pairwise precision/recall/F1 against the truth → search latency for
//! names, addresses and identifiers → peak RSS.
//!
//! It measures and returns numbers; printing is the caller's job. Progress lines
//! go to the `log` callback as the phases finish.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use pingan_core::{LatLng, Timestamp};
use pingan_synth::{SourceKind, StreetRef, SynthCity, SynthConfig};
use thiserror::Error;

use crate::hub::Hub;
use crate::ingest::{ImportOptions, import};
use crate::mapping::{Mapping, example_mapping};
use crate::read::FileFormat;
use crate::resolve::{RecordId, Resolver};
use crate::search::{SearchIndex, SearchQuery, SearchResults};

/// Synthetic records per person across the five sources (measured: 525,000
/// records for 150,000 people), to turn a record target into a population.
pub const RECORDS_PER_PERSON: f64 = 3.5;

#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Synthetic people; the sources hold about [`RECORDS_PER_PERSON`] records each.
    pub people: u64,
    pub seed: u64,
    /// Working directory for the CSV exports and the index (created, removed after).
    pub dir: PathBuf,
    /// Build the search index (and measure searches).
    pub index: bool,
    /// Keep full records in memory (profiles) instead of only their keys and
    /// locations, as a store-backed hub does.
    pub keep_records: bool,
    /// Rows per committed batch.
    pub batch_size: usize,
}

impl BenchConfig {
    pub fn new(people: u64, dir: PathBuf) -> BenchConfig {
        BenchConfig {
            people,
            seed: 42,
            dir,
            index: true,
            keep_records: false,
            batch_size: 5000,
        }
    }
}

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("synthetic city: {0}")]
    Synth(#[from] pingan_synth::SynthError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("mapping of {source_kind}: {message}")]
    Mapping {
        source_kind: &'static str,
        message: String,
    },
    #[error("import of {file}: {message}")]
    Import { file: String, message: String },
    #[error(transparent)]
    Search(#[from] crate::search::SearchError),
}

/// One source's import.
#[derive(Debug, Clone)]
pub struct SourceRun {
    pub source: &'static str,
    pub read: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub merged: u64,
    pub secs: f64,
}

/// Latency of one kind of query, in milliseconds.
#[derive(Debug, Clone)]
pub struct SearchStats {
    /// `name`, `address`, `id_number`, `phone`, `plate` or `all`.
    pub kind: &'static str,
    pub queries: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Queries that found nothing (a sanity check: should be 0 or near).
    pub empty: usize,
}

#[derive(Debug, Clone)]
pub struct BenchReport {
    pub people: u64,
    pub generated: u64,
    pub generate_secs: f64,
    pub sources: Vec<SourceRun>,
    /// Records stored (accepted), and the import+normalise+resolve+index wall time.
    pub records: u64,
    pub import_secs: f64,
    pub person_entities: usize,
    pub possible_matches: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Empty when the index was off.
    pub search: Vec<SearchStats>,
    /// `VmHWM` of this process (MiB; 0 where `/proc` is unavailable).
    pub peak_rss_mib: f64,
    /// Where the import's wall time went (the phases overlap: reading and
    /// normalising run on their own thread, tantivy on its writer threads).
    pub phases: Phases,
    /// CPU seconds (user + system, all threads) the import used: on a shared
    /// machine a steadier measure of the work than wall time.
    pub import_cpu_secs: f64,
    /// `/proc/loadavg` 1-minute load before and after the import.
    pub load_before: f64,
    pub load_after: f64,
}

/// Seconds per pipeline phase, each on the thread that runs it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Reading thread: CSV decoding.
    pub read: f64,
    /// Reading thread: mapping and normalising rows into records.
    pub normalise: f64,
    /// Reading thread: blocked on a full queue (the committing side was slower).
    pub read_wait: f64,
    /// Committing thread: entity resolution and relations.
    pub resolve: f64,
    /// Committing thread: building documents for the index writer.
    pub index: f64,
    /// Committing thread: index commits (the writer threads' tail).
    pub commit: f64,
    /// Store path only: the store writer thread building and committing SQL
    /// batches (overlapping resolution); 0 for the in-memory hub.
    pub store: f64,
    /// Store path only: the committing thread blocked on a full store queue.
    pub store_wait: f64,
}

impl BenchReport {
    /// Rows read per second end to end.
    pub fn rows_per_sec(&self) -> f64 {
        let read: u64 = self.sources.iter().map(|s| s.read).sum();
        read as f64 / self.import_secs.max(f64::MIN_POSITIVE)
    }
}

/// A `/proc/self/status` memory line (`VmHWM:`, `VmRSS:`…) in MiB; 0 where unavailable.
pub fn status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(key)).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|k| k.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU seconds (user + system) of this process so far; 0 where `/proc` is
/// unavailable. `/proc/self/stat` counts in clock ticks, 100 per second on Linux.
pub fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the parenthesised command name; utime and stime are
            // the 14th and 15th fields of the line.
            let rest = &s[s.rfind(')')? + 2..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
            Some(ticks as f64 / 100.0)
        })
        .unwrap_or(0.0)
}

/// The 1-minute load average; 0 where unavailable.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// 120 streets on a 12 × 10 grid around central Chengdu, the first ten with real names.
fn streets() -> Vec<StreetRef> {
    let center = LatLng::new(30.657, 104.066).expect("a valid constant coordinate");
    let roads = [
        "红星路",
        "人民南路",
        "春熙路",
        "蜀都大道",
        "解放路",
        "建设路",
        "府青路",
        "玉林街",
        "科华北路",
        "东大街",
    ];
    (0..120)
        .map(|i| {
            let name = roads
                .get(i)
                .map_or_else(|| format!("新华{i}路"), |r| (*r).to_owned());
            StreetRef::new(
                name,
                center.offset_m(
                    (i / 12) as f64 * 400.0 - 2000.0,
                    (i % 12) as f64 * 400.0 - 2000.0,
                ),
            )
        })
        .collect()
}

/// Runs the benchmark. `log` receives one line per finished phase. The working
/// directory is removed afterwards, whether the run succeeded or not.
pub fn run(cfg: &BenchConfig, log: &mut dyn FnMut(String)) -> Result<BenchReport, BenchError> {
    let res = run_in(cfg, log);
    let _ = std::fs::remove_dir_all(&cfg.dir);
    res
}

/// The generated departmental exports of a run, with their ground truth.
pub struct Generated {
    pub city: SynthCity,
    /// (source kind, file name, path) per export, in import order.
    pub files: Vec<(SourceKind, String, PathBuf)>,
    /// Per file, the true person of each row (row i is on line i + 2, after
    /// the header), in a flat vector so the bookkeeping weighs little in the RSS.
    truth: Vec<Vec<u64>>,
    pub records: u64,
    pub secs: f64,
}

impl Generated {
    /// The mapping TOML the bench registers for a source kind.
    pub fn mapping_toml(kind: SourceKind) -> Result<&'static str, BenchError> {
        example_mapping(kind.name()).ok_or_else(|| BenchError::Mapping {
            source_kind: kind.name(),
            message: "no example mapping".into(),
        })
    }

    /// Pairwise precision, recall and F1 of a resolution against the truth, over
    /// the `records` record ids: `person_of` gives a record's person entity,
    /// `location` its file name and line.
    pub fn score(
        &self,
        records: usize,
        person_of: &dyn Fn(RecordId) -> Option<u32>,
        location: &dyn Fn(RecordId) -> Option<(String, u64)>,
    ) -> Quality {
        let mut pred_truth: HashMap<(u32, u64), u64> = HashMap::new();
        let mut pred: HashMap<u32, u64> = HashMap::new();
        let mut gold: HashMap<u64, u64> = HashMap::new();
        for i in 0..records {
            let rid = RecordId(i as u32);
            let Some(e) = person_of(rid) else {
                continue;
            };
            let Some((file, line)) = location(rid) else {
                continue;
            };
            let Some(&t) = self
                .files
                .iter()
                .position(|(_, name, _)| *name == file)
                .and_then(|f| self.truth[f].get(line.checked_sub(2)? as usize))
            else {
                continue;
            };
            *pred_truth.entry((e, t)).or_default() += 1;
            *pred.entry(e).or_default() += 1;
            *gold.entry(t).or_default() += 1;
        }
        let tp: u64 = pred_truth.values().map(|n| pairs(*n)).sum();
        let pp: u64 = pred.values().map(|n| pairs(*n)).sum();
        let gp: u64 = gold.values().map(|n| pairs(*n)).sum();
        let precision = tp as f64 / pp.max(1) as f64;
        let recall = tp as f64 / gp.max(1) as f64;
        Quality {
            precision,
            recall,
            f1: 2.0 * precision * recall / (precision + recall).max(f64::MIN_POSITIVE),
        }
    }

    /// Drops the truth once scored (it weighs in the RSS of what follows).
    pub fn drop_truth(&mut self) {
        self.truth = Vec::new();
    }
}

/// Pairwise resolution quality against the generator's truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

/// Generates the synthetic city of `cfg` and writes its departmental exports
/// as CSV files under `cfg.dir` (created).
pub fn generate(cfg: &BenchConfig) -> Result<Generated, BenchError> {
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| BenchError::Io { path, source }
    };
    let city = SynthCity::new(SynthConfig::new(
        cfg.seed,
        cfg.people,
        "510104",
        "川A",
        streets(),
    ))?;
    std::fs::create_dir_all(&cfg.dir).map_err(io(&cfg.dir))?;
    let t = Instant::now();
    let mut files = Vec::new();
    let mut truth: Vec<Vec<u64>> = Vec::new();
    let mut generated = 0u64;
    for kind in SourceKind::ALL {
        let name = format!("{}.csv", kind.name());
        let path = cfg.dir.join(&name);
        let mut w = BufWriter::new(File::create(&path).map_err(io(&path))?);
        writeln!(w, "{}", kind.csv_header()).map_err(io(&path))?;
        let mut people = Vec::new();
        for r in city.records(kind) {
            writeln!(w, "{}", r.to_source_csv_row()).map_err(io(&path))?;
            people.push(r.truth_person);
            generated += 1;
        }
        truth.push(people);
        w.flush().map_err(io(&path))?;
        files.push((kind, name, path));
    }
    Ok(Generated {
        city,
        files,
        truth,
        records: generated,
        secs: t.elapsed().as_secs_f64(),
    })
}

fn run_in(cfg: &BenchConfig, log: &mut dyn FnMut(String)) -> Result<BenchReport, BenchError> {
    let io = |path: &std::path::Path| {
        let path = path.display().to_string();
        move |source| BenchError::Io { path, source }
    };
    // 1. Departmental exports as files, with the truth kept aside.
    let mut gen_ = generate(cfg)?;
    let (generated, generate_secs) = (gen_.records, gen_.secs);
    log(format!(
        "generated {generated} records of {} people in {} sources in {generate_secs:.1} s",
        cfg.people,
        gen_.files.len()
    ));

    // 2. Import + normalise + resolve + index.
    let index = if cfg.index {
        Some(SearchIndex::open_or_create(&cfg.dir.join("index"))?)
    } else {
        None
    };
    let mut hub = if cfg.keep_records {
        Hub::new(Resolver::default(), index)
    } else {
        Hub::lean(Resolver::default(), index)
    };
    // Commit the index once per file: every commit seals small segments that
    // the merger then rewrites.
    hub.search_commit_every = usize::MAX;
    let read_times = std::sync::Arc::new(crate::ingest::ReadTimes::default());
    let load_before = load_average();
    let cpu_before = cpu_secs();
    let t_all = Instant::now();
    let mut sources = Vec::new();
    for (kind, name, path) in &gen_.files {
        let mapping_error = |message: String| BenchError::Mapping {
            source_kind: kind.name(),
            message,
        };
        let m = Mapping::from_toml(Generated::mapping_toml(*kind)?)
            .map_err(|e| mapping_error(e.to_string()))?;
        let opts = ImportOptions {
            batch_size: cfg.batch_size.max(1),
            times: Some(read_times.clone()),
            ..ImportOptions::new(FileFormat::Csv, bench_import_time())
        };
        let t = Instant::now();
        let f = std::io::BufReader::with_capacity(256 << 10, File::open(path).map_err(io(path))?);
        let cp = import(&m, name, f, &opts, None, &mut hub, &mut |_| {}).map_err(|e| {
            BenchError::Import {
                file: name.clone(),
                message: e.to_string(),
            }
        })?;
        let run = SourceRun {
            source: kind.name(),
            read: cp.counts.read,
            accepted: cp.counts.accepted,
            rejected: cp.counts.rejected,
            merged: cp.counts.merged,
            secs: t.elapsed().as_secs_f64(),
        };
        log(render_source(&run));
        sources.push(run);
    }
    hub.flush()?;
    let import_secs = t_all.elapsed().as_secs_f64();
    let import_cpu_secs = cpu_secs() - cpu_before;
    let load_after = load_average();
    let (read, normalise, read_wait) = read_times.secs();
    let sink = hub.times();
    let phases = Phases {
        read,
        normalise,
        read_wait,
        resolve: sink.resolve_secs,
        index: sink.index_secs,
        commit: sink.commit_secs,
        ..Phases::default()
    };

    // 3. Resolution quality, pairwise over accepted person records.
    let q = gen_.score(
        hub.record_count(),
        &|r| hub.resolver().person_of(r).map(|e| e.0),
        &|r| hub.location(r).map(|(f, l)| (f.to_owned(), l)),
    );
    gen_.drop_truth();

    // 4. Search latency over queries drawn from the sources.
    let mut search = Vec::new();
    if let Some(index) = hub.search() {
        search = measure_search(&gen_.city, cfg.people, &mut |q| index.search(q))?;
    }
    let report = BenchReport {
        people: cfg.people,
        generated,
        generate_secs,
        sources,
        records: hub.record_count() as u64,
        import_secs,
        person_entities: hub.resolver().person_count(),
        possible_matches: hub.resolver().possible_matches().len(),
        precision: q.precision,
        recall: q.recall,
        f1: q.f1,
        search,
        peak_rss_mib: status_mib("VmHWM:"),
        phases,
        import_cpu_secs,
        load_before,
        load_after,
    };
    Ok(report)
}

/// The import time the bench stamps on records (fixed, so runs compare).
pub fn bench_import_time() -> Timestamp {
    Timestamp::from_civil_utc(2026, 11, 24, 0, 0, 0)
}

/// One source's import as a progress line.
pub fn render_source(run: &SourceRun) -> String {
    format!(
        "  {:<20} read {:>9} accepted {:>9} rejected {:>7} merged {:>9} {:>7.1} s {:>8.0} rows/s",
        run.source,
        run.read,
        run.accepted,
        run.rejected,
        run.merged,
        run.secs,
        run.read as f64 / run.secs.max(f64::MIN_POSITIVE)
    )
}

/// Search latency per query kind over names, addresses and identifiers drawn
/// from the city's registries, through `search` (an index, or a service in
/// front of one).
pub fn measure_search<E>(
    city: &SynthCity,
    people: u64,
    search: &mut dyn FnMut(&SearchQuery) -> Result<SearchResults, E>,
) -> Result<Vec<SearchStats>, E> {
    let mut queries: Vec<(&'static str, String)> = Vec::new();
    let step = (people as usize / 400).max(1);
    for kind in [SourceKind::HouseholdRegistry, SourceKind::VehicleRegistry] {
        for r in city.records(kind).step_by(step) {
            if let Some(n) = r.name {
                queries.push(("name", n));
            }
            if let Some(road) = r
                .address
                .as_deref()
                .and_then(|a| pingan_core::normalize::address::parse_address(a).road)
            {
                queries.push(("address", road));
            }
            if let Some(i) = r.id_number {
                queries.push(("id_number", i));
            }
            if let Some(p) = r.phone {
                queries.push(("phone", p));
            }
            if let Some(p) = r.plate {
                queries.push(("plate", p));
            }
        }
    }
    let mut by_kind: Vec<(&'static str, Vec<f64>, usize)> = Vec::new();
    let mut all = Vec::with_capacity(queries.len());
    for (kind, q) in &queries {
        let t = Instant::now();
        let res = search(&SearchQuery {
            text: q.clone(),
            limit: 20,
            ..SearchQuery::default()
        })?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let slot = match by_kind.iter().position(|(k, _, _)| k == kind) {
            Some(i) => i,
            None => {
                by_kind.push((kind, Vec::new(), 0));
                by_kind.len() - 1
            }
        };
        by_kind[slot].1.push(ms);
        if res.total == 0 {
            by_kind[slot].2 += 1;
        }
        all.push(ms);
    }
    by_kind.sort_by(|a, b| a.0.cmp(b.0));
    let empty_all = by_kind.iter().map(|k| k.2).sum();
    by_kind.push(("all", all, empty_all));
    Ok(by_kind
        .into_iter()
        .map(|(kind, mut v, empty)| {
            v.sort_by(f64::total_cmp);
            SearchStats {
                kind,
                queries: v.len(),
                p50_ms: percentile(&v, 0.5),
                p99_ms: percentile(&v, 0.99),
                empty,
            }
        })
        .collect())
}

/// The report as the lines `pingan bench fusion` and the cargo bench print.
pub fn render(r: &BenchReport) -> Vec<String> {
    let mut out = vec![
        format!(
            "end-to-end import+normalise+resolve+index: {} records stored in {:.1} s = {:.0} rows/s ({} people, {} generated records)",
            r.records,
            r.import_secs,
            r.rows_per_sec(),
            r.people,
            r.generated
        ),
        format!(
            "phases (s): read {:.1}, normalise {:.1}, reader waiting {:.1} | resolve {:.1}, index {:.1}, index commit {:.1} | store write {:.1}, waiting for the store {:.1} | CPU {:.1} s for {:.1} s wall, load {:.1} → {:.1}",
            r.phases.read,
            r.phases.normalise,
            r.phases.read_wait,
            r.phases.resolve,
            r.phases.index,
            r.phases.commit,
            r.phases.store,
            r.phases.store_wait,
            r.import_cpu_secs,
            r.import_secs,
            r.load_before,
            r.load_after
        ),
        format!(
            "resolution (pairwise vs ground truth): precision {:.4} recall {:.4} F1 {:.4} ({} person entities, {} possible matches queued)",
            r.precision, r.recall, r.f1, r.person_entities, r.possible_matches
        ),
    ];
    for s in &r.search {
        out.push(format!(
            "search {:<10} n={:>5} p50 {:.3} ms p99 {:.3} ms ({} without hits)",
            s.kind, s.queries, s.p50_ms, s.p99_ms, s.empty
        ));
    }
    out.push(format!("peak RSS (VmHWM) {:.0} MiB", r.peak_rss_mib));
    out
}
