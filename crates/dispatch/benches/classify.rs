//! Classifier start-up (jieba dictionary + training on the corpus) and
//! per-call classification latency over the labelled descriptions.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use pingan_dispatch::Classifier;
use pingan_dispatch::classify::{BUILTIN_CORPUS, parse_corpus};

fn bench(c: &mut Criterion) {
    let t = Instant::now();
    let clf = Classifier::builtin();
    println!(
        "classifier start-up (dictionary + training): {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let rows = parse_corpus(BUILTIN_CORPUS, clf.taxonomy()).expect("corpus parses");
    let mut samples: Vec<u64> = Vec::new();
    for _ in 0..5 {
        for r in &rows {
            let t = Instant::now();
            black_box(clf.classify(&r.text));
            samples.push(t.elapsed().as_nanos() as u64);
        }
    }
    samples.sort_unstable();
    let pct =
        |p: f64| samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "classify one description: p50 {:.1} µs, p99 {:.1} µs ({} calls)",
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0,
        samples.len()
    );
    let text = "有人拿刀在幸福路菜市场门口砍人，已经有人流血了";
    c.bench_function("classify_one", |b| b.iter(|| clf.classify(black_box(text))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
