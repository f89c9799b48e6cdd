//! Chooses classifier hyper-parameters by 4-fold cross-validation inside the
//! training part of fold 0 (the fold the accuracy test holds out), so the
//! held-out rows never influence the choice. Run:
//! `cargo run --release -p pingan-dispatch --example tune_classifier`.

use pingan_dispatch::classify::{BUILTIN_CORPUS, evaluate, parse_corpus, split_fold};
use pingan_dispatch::{Classifier, ClassifierConfig, Taxonomy};

fn main() {
    let taxonomy = Taxonomy::builtin();
    let rows = parse_corpus(BUILTIN_CORPUS, &taxonomy).expect("corpus parses");
    let (train, _held_out) = split_fold(&rows, 5, 0);
    let mut best: Option<(f64, ClassifierConfig)> = None;
    for smoothing in [0.1, 0.3, 1.0] {
        for rule_weight in [1.0, 2.0, 4.0, 8.0] {
            // A huge temperature switches the model off (rules alone).
            for model_temperature in [3.0, 10.0, 30.0, 1e9] {
                let config = ClassifierConfig {
                    smoothing,
                    rule_weight,
                    model_temperature,
                };
                let mut ok = 0;
                let mut n = 0;
                for f in 0..4 {
                    let (tr, te) = split_fold(&train, 4, f);
                    let clf = Classifier::train(&taxonomy, &tr, config).expect("trains");
                    let ev = evaluate(&clf, &te);
                    ok += ev.type_correct;
                    n += ev.total;
                }
                let acc = ok as f64 / n as f64;
                println!(
                    "smoothing={smoothing} rule_weight={rule_weight} temperature={model_temperature}: inner-CV type accuracy {acc:.3}"
                );
                if best.is_none_or(|(b, _)| acc > b) {
                    best = Some((acc, config));
                }
            }
        }
    }
    let (acc, config) = best.expect("grid is not empty");
    println!("best: {config:?} inner-CV accuracy {acc:.3}");
}
