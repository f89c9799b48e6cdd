//! End-to-end data-hub benchmark, printing its numbers (the same run as
//! `pingan bench fusion`; see `pingan_fusion::bench`).
//!
//! Size knob: `FUSION_BENCH_PEOPLE` (default 20000); `FUSION_BENCH_NO_INDEX=1`
//! skips the search index, `FUSION_BENCH_KEEP=1` keeps full records in memory.
//! Run with `cargo bench -p pingan-fusion --features bench --bench fusion`.

use pingan_fusion::bench::{BenchConfig, render, run};

fn main() {
    let people: u64 = std::env::var("FUSION_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("pingan-fusion-bench-{}", std::process::id()));
    let mut cfg = BenchConfig::new(people, dir);
    cfg.index = std::env::var_os("FUSION_BENCH_NO_INDEX").is_none();
    cfg.keep_records = std::env::var_os("FUSION_BENCH_KEEP").is_some();
    match run(&cfg, &mut |line| println!("{line}")) {
        Ok(report) => render(&report).iter().for_each(|l| println!("{l}")),
        Err(e) => {
            eprintln!("fusion bench failed: {e}");
            std::process::exit(1);
        }
    }
}
