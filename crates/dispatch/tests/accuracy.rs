//! Classification accuracy on held-out labelled calls (never on training rows).

use pingan_dispatch::classify::{BUILTIN_CORPUS, evaluate, parse_corpus, split_fold};
use pingan_dispatch::{Classifier, ClassifierConfig, Taxonomy};

#[test]
fn held_out_accuracy_meets_floor() {
    let taxonomy = Taxonomy::builtin();
    let rows = parse_corpus(BUILTIN_CORPUS, &taxonomy).unwrap();
    let k = 5;
    let mut total = 0;
    let mut type_ok = 0;
    let mut prio_ok = 0;
    let mut within_one = 0;
    // Full 5-fold cross-validation: each row is scored exactly once, by a model
    // that never saw it.
    for fold in 0..k {
        let (train, test) = split_fold(&rows, k, fold);
        let clf = Classifier::train(&taxonomy, &train, ClassifierConfig::default()).unwrap();
        let ev = evaluate(&clf, &test);
        println!(
            "fold {fold}: n={} type={:.3} priority={:.3}",
            ev.total,
            ev.type_accuracy(),
            ev.priority_accuracy()
        );
        for (want, got, text) in ev.type_errors.iter() {
            println!("  miss: {want} -> {got}: {text}");
        }
        total += ev.total;
        type_ok += ev.type_correct;
        prio_ok += ev.priority_correct;
        within_one += ev.priority_within_one;
    }
    let type_acc = type_ok as f64 / total as f64;
    let prio_acc = prio_ok as f64 / total as f64;
    println!(
        "5-fold held-out over {total} calls: type accuracy {type_acc:.3}, priority accuracy {prio_acc:.3}, priority within one level {:.3}",
        within_one as f64 / total as f64
    );
    // Ablations, for the report: each signal alone on the same folds.
    for (name, config) in [
        (
            "rules only",
            ClassifierConfig {
                model_temperature: 1e9,
                ..ClassifierConfig::default()
            },
        ),
        (
            "naive Bayes only",
            ClassifierConfig {
                rule_weight: 0.0,
                ..ClassifierConfig::default()
            },
        ),
    ] {
        let mut ok = 0;
        for fold in 0..k {
            let (train, test) = split_fold(&rows, k, fold);
            let clf = Classifier::train(&taxonomy, &train, config).unwrap();
            ok += evaluate(&clf, &test).type_correct;
        }
        println!("{name}: type accuracy {:.3}", ok as f64 / total as f64);
    }
    assert!(type_acc >= 0.85, "type accuracy {type_acc:.3} below 0.85");
    assert!(
        prio_acc >= 0.80,
        "priority accuracy {prio_acc:.3} below 0.80"
    );
}
