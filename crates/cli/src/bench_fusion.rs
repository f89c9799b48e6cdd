//! `pingan bench fusion [--records N]`: the data hub's end-to-end benchmark
//! (`pingan_fusion::bench`): synthetic departmental exports with ground truth →
//! import + normalise + resolve + index → precision/recall/F1 → search p50/p99
//! for names, addresses and identifiers → peak RSS. Prints its numbers.

use std::path::PathBuf;

use clap::Args;
use pingan_fusion::bench::{BenchConfig, RECORDS_PER_PERSON, render, run};

#[derive(Args)]
pub(crate) struct BenchFusionArgs {
    /// Target number of source records (the synthetic population is sized to
    /// produce about this many across the five sources).
    #[arg(long, default_value_t = 1_000_000)]
    records: u64,
    /// Seed of the synthetic population.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Skip the search index (measures import + resolution alone).
    #[arg(long)]
    no_index: bool,
    /// Working directory for the generated exports and the index (removed after);
    /// default a fresh directory under the system temp dir.
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
    println!(
        "fusion bench: ~{} records from {people} synthetic people, {} cores",
        a.records,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let report = run(&cfg, &mut |line| println!("{line}"))?;
    for line in render(&report) {
        println!("{line}");
    }
    Ok(())
}
