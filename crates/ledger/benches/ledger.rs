//! Ledger benchmarks: batched appends per second in memory, inclusion and
//! consistency proof generation at 10M leaves, and stored bytes per entry.
//!
//! `LEDGER_BENCH_SIZE` overrides the 10,000,000-leaf tree size.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pingan_core::Timestamp;
use pingan_ledger::{
    CaseEntity, CaseStateChange, Commitment, Frontier, Hash, LeafRecord, MemoryTileStore,
    ProofPlan, TileReader, TileSet, integrate, integrate_leaf_hashes, leaf_hash, prove_consistency,
    prove_inclusion, tree_root, verify_inclusion,
};

fn record(i: u64) -> String {
    LeafRecord::CaseState(CaseStateChange {
        entity: CaseEntity::Case,
        number: format!("A5101042026{i:010}"),
        from: Some("investigating".into()),
        to: "closed".into(),
        at: Timestamp::from_millis(1_764_000_000_000 + i as i64),
        org: "510104".into(),
        subject: Some(Commitment(leaf_hash(&i.to_be_bytes()))),
    })
    .to_canonical_json()
    .expect("valid record")
}

/// Tiny xorshift so the bench needs no RNG crate.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn bench_appends(c: &mut Criterion) {
    let batch: Vec<String> = (0..10_000).map(record).collect();
    println!("record size: {} bytes of canonical JSON", batch[0].len());
    // Start from a log that already has 1M entries so batches cross tile boundaries at every level used.
    let base = integrate_leaf_hashes(
        &Frontier::empty(),
        (0..1_000_000u64)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect(),
    );
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(batch.len() as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(5));
    g.bench_function("integrate 10k records + apply to memory store", |b| {
        b.iter_batched(
            || (base.frontier.clone(), MemoryTileStore::new()),
            |(f, mut store)| {
                let i = integrate(&f, &batch);
                store.apply(&i);
                black_box(i.root)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // Plain wall-clock figure to print: 100 batches of 10k in a row.
    let mut f = base.frontier.clone();
    let mut store = MemoryTileStore::new();
    let start = Instant::now();
    for _ in 0..100 {
        let i = integrate(&f, &batch);
        store.apply(&i);
        f = i.frontier;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "appends: 1,000,000 records in batches of 10,000 took {secs:.3} s = {:.0} appends/s",
        1e6 / secs
    );
}

fn bench_proofs(c: &mut Criterion) {
    let size: u64 = std::env::var("LEDGER_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let start = Instant::now();
    let mut store = MemoryTileStore::new();
    let mut f = Frontier::empty();
    let mut next = 0u64;
    while next < size {
        let end = (next + 100_000).min(size);
        let i = integrate_leaf_hashes(
            &f,
            (next..end).map(|i| leaf_hash(&i.to_be_bytes())).collect(),
        );
        store.apply(&i);
        f = i.frontier;
        next = end;
    }
    println!(
        "built {size}-leaf tile store in {:.2} s: {} tiles, {} bytes of hashes = {:.3} bytes per entry",
        start.elapsed().as_secs_f64(),
        store.tile_count(),
        store.hash_bytes(),
        store.hash_bytes() as f64 / size as f64
    );
    let root = f.root();
    assert_eq!(tree_root(&store, size).unwrap(), root);

    let mut g = c.benchmark_group(format!("proofs at {size} leaves"));
    g.sample_size(50).measurement_time(Duration::from_secs(4));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    g.bench_function("inclusion: plan + build from tile store", |b| {
        b.iter(|| {
            let index = rng.below(size);
            black_box(prove_inclusion(&store, index, size).unwrap())
        })
    });
    g.bench_function("inclusion: plan + fetch planned tiles + build", |b| {
        b.iter(|| {
            let index = rng.below(size);
            let plan = ProofPlan::inclusion(index, size).unwrap();
            let mut fetched = TileSet::new();
            for t in plan.tiles() {
                let hashes = store.read_tile(t.level, t.index).unwrap();
                fetched.insert(t.level, t.index, hashes[..usize::from(t.width)].to_vec());
            }
            black_box(plan.build(&fetched).unwrap())
        })
    });
    g.bench_function("consistency: plan + build from tile store", |b| {
        b.iter(|| {
            let old = 1 + rng.below(size - 1);
            black_box(prove_consistency(&store, old, size).unwrap())
        })
    });
    let index = rng.below(size);
    let proof = prove_inclusion(&store, index, size).unwrap();
    let lh: Hash = leaf_hash(&index.to_be_bytes());
    g.bench_function("inclusion: verify", |b| {
        b.iter(|| verify_inclusion(black_box(&lh), index, size, &proof, &root).unwrap())
    });
    g.finish();

    let plan = ProofPlan::inclusion(index, size).unwrap();
    println!(
        "inclusion proof of {index} at {size}: {} hashes from {} stored nodes in {} tiles",
        plan.proof_len(),
        plan.nodes().len(),
        plan.tiles().len()
    );
    // Averages to print without reading criterion's output.
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        black_box(prove_inclusion(&store, rng.below(size), size).unwrap());
    }
    let inc = t.elapsed().as_secs_f64() / n as f64;
    let t = Instant::now();
    for _ in 0..n {
        black_box(prove_consistency(&store, 1 + rng.below(size - 1), size).unwrap());
    }
    let con = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "at {size} leaves: inclusion proof {:.1} µs, consistency proof {:.1} µs (mean of {n} random)",
        inc * 1e6,
        con * 1e6
    );
}

criterion_group!(benches, bench_appends, bench_proofs);
criterion_main!(benches);
