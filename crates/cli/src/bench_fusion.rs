//! `pingan bench fusion [--records N] [--store]`: the data hub's end-to-end
//! benchmark: synthetic departmental exports with ground truth → import +
//! normalise + resolve + index → precision/recall/F1 → search p50/p99 for
//! names, addresses and identifiers → peak RSS. Prints its numbers.
//!
//! Without `--store` it drives the in-memory hub (`pingan_fusion::bench`).
//! With `--store` the same files go through the path users run: the server's
//! `FusionService` over a fresh SQLite data directory, exactly as
//! `pingan import` calls it (records, rejections and checkpoints stored per
//! batch), scored from the service's resolver and searched through the
//! service; `--reopen` then times `FusionService::open` over the stored corpus.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use pingan_fusion::bench::{
    BenchConfig, BenchReport, Generated, Phases, RECORDS_PER_PERSON, SourceRun, cpu_secs, generate,
    load_average, measure_search, render, render_source, run, status_mib,
};
use pingan_fusion::read::FileFormat;
use pingan_server::fusion::{FusionService, ImportRequest, add_source};
use pingan_store::Store;

#[derive(Args)]
pub(crate) struct BenchFusionArgs {
    /// Target number of source records (the synthetic population is sized to
    /// produce about this many across the five sources).
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the search index (measures import + resolution alone; in-memory only).
    #[arg(long)]
    no_index: bool,
    /// Import through the server's store-backed `FusionService` on SQLite (the
    /// `pingan import` path) instead of the in-memory hub.
    #[arg(long)]
    store: bool,
    /// With `--store`: afterwards, time opening the service again over the
    /// stored records (the server's start-up replay).
    #[arg(long)]
    reopen: bool,
    /// Rows per committed batch.
    #[arg(long, default_value_t = 5000)]
    batch_size: usize,
    /// Working directory for the generated exports, the index and (with
    /// `--store`) the database (removed after); default a fresh directory
    /// under the system temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub(crate) fn run_bench(a: &BenchFusionArgs) -> anyhow::Result<()> {
    let people = ((a.records as f64 / RECORDS_PER_PERSON).round() as u64).max(1);
    let dir = a.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("pingan-bench-fusion-{}", std::process::id()))
    });
    let mut cfg = BenchConfig::new(people, dir);
    cfg.seed = a.seed;
    cfg.index = !a.no_index;
    cfg.batch_size = a.batch_size.max(1);
    println!(
        "fusion bench{}: ~{} records from {people} synthetic people, {} cores",
        if a.store {
            " through FusionService on SQLite"
        } else {
            ""
        },
        a.records,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let report = if a.store {
        let rt = tokio::runtime::Handle::current();
        let res = rt.block_on(run_store(&cfg, a.reopen));
        let _ = std::fs::remove_dir_all(&cfg.dir);
        res?
    } else {
        run(&cfg, &mut |line| println!("{line}"))?
    };
    for line in render(&report) {
        println!("{line}");
    }
    Ok(())
}

/// The store-backed run; the caller removes `cfg.dir`.
async fn run_store(cfg: &BenchConfig, reopen: bool) -> anyhow::Result<BenchReport> {
    let gen_cfg = cfg.clone();
    let mut g = tokio::task::spawn_blocking(move || generate(&gen_cfg)).await??;
    println!(
        "generated {} records of {} people in {} sources in {:.1} s",
        g.records,
        cfg.people,
        g.files.len(),
        g.secs
    );
    let data_dir = cfg.dir.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let store = Store::open(&data_dir.join("pingan.db").display().to_string())
        .await
        .context("opening the bench database")?;
    let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
    let mut names = Vec::new();
    for (kind, _, _) in &g.files {
        let row = add_source(&store, Generated::mapping_toml(*kind)?, now).await?;
        names.push(row.name);
    }
    let svc = open_service(&store, &data_dir).await?;

    let load_before = load_average();
    let cpu_before = cpu_secs();
    let t_all = Instant::now();
    let mut sources = Vec::new();
    for ((kind, _, path), name) in g.files.iter().zip(&names) {
        let t = Instant::now();
        let req = ImportRequest {
            batch_size: cfg.batch_size,
            ..ImportRequest::new(FileFormat::Csv)
        };
        let rep = svc
            .import_file(name, path, req, Box::new(|_| {}))
            .await
            .with_context(|| format!("importing {}", path.display()))?;
        let run = SourceRun {
            source: kind.name(),
            read: rep.counts.read,
            accepted: rep.counts.accepted,
            rejected: rep.counts.rejected,
            merged: rep.counts.merged,
            secs: t.elapsed().as_secs_f64(),
        };
        println!("{}", render_source(&run));
        sources.push(run);
    }
    let import_secs = t_all.elapsed().as_secs_f64();
    let import_cpu_secs = cpu_secs() - cpu_before;
    let load_after = load_average();
    let times = svc.times();

    // Quality from the service's resolver; record locations map rows to truth.
    let (records, person_entities, possible_matches, q) = svc.inspect(|hub| {
        (
            hub.record_count() as u64,
            hub.resolver().person_count(),
            hub.resolver().possible_matches().len(),
            g.score(
                hub.record_count(),
                &|r| hub.resolver().person_of(r).map(|e| e.0),
                &|r| hub.location(r).map(|(f, l)| (file_name(f), l)),
            ),
        )
    });
    g.drop_truth();
    let search = {
        let svc = svc.clone();
        let people = cfg.people;
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            measure_search(&g.city, people, &mut |q| rt.block_on(svc.search(q.clone())))
        })
        .await??
    };
    let peak_rss_mib = status_mib("VmHWM:");
    if reopen {
        drop(svc);
        let t = Instant::now();
        let svc = open_service(&store, &data_dir).await?;
        let times = svc.times();
        println!(
            "reopen: FusionService::open over {} stored records in {:.1} s (read+decode {:.1} s, resolve {:.1} s), {} entities, RSS now {:.0} MiB",
            svc.record_count(),
            t.elapsed().as_secs_f64(),
            times.replay_read_secs,
            times.replay_resolve_secs,
            svc.entity_count(),
            status_mib("VmRSS:")
        );
    }
    Ok(BenchReport {
        people: cfg.people,
        generated: g.records,
        generate_secs: g.secs,
        sources,
        records,
        import_secs,
        person_entities,
        possible_matches,
        precision: q.precision,
        recall: q.recall,
        f1: q.f1,
        search,
        peak_rss_mib,
        phases: Phases {
            resolve: times.hub.resolve_secs,
            index: times.hub.index_secs,
            commit: times.hub.commit_secs,
            store: times.store_secs,
            store_wait: times.store_wait_secs,
            ..Phases::default()
        },
        import_cpu_secs,
        load_before,
        load_after,
    })
}

/// The service over `data_dir` exactly as `pingan import` opens it.
async fn open_service(store: &Store, data_dir: &Path) -> anyhow::Result<Arc<FusionService>> {
    let jurisdiction = pingan_server::orgs::load_jurisdiction(store).await?;
    Ok(FusionService::open(
        store.clone(),
        data_dir,
        Arc::new(pingan_core::SystemClock),
        Arc::new(RwLock::new(Arc::new(jurisdiction))),
    )
    .await?)
}

/// The service records the path it was given; the truth is keyed by file name.
fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map_or_else(|| path.to_owned(), |n| n.to_string_lossy().into_owned())
}
