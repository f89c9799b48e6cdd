//! `pingan bench dispatch` with tiny sizes: it runs end to end (graph, router,
//! recommendation, a real in-process server under concurrent HTTP clients) and
//! prints every number the issue asks for.

use std::process::Command;

/// The number after `key` on `line` (up to the next space).
fn number_after(line: &str, key: &str) -> f64 {
    let rest = &line[line
        .find(key)
        .unwrap_or_else(|| panic!("{key} missing in {line:?}"))
        + key.len()..];
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse()
        .unwrap_or_else(|_| panic!("no number after {key} in {line:?}"))
}

fn line<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
}

#[test]
fn bench_dispatch_prints_its_numbers() {
    let out = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args([
            "bench",
            "dispatch",
            "--queries",
            "50",
            "--units",
            "10",
            "--recommendations",
            "20",
            "--calls",
            "12",
            "--clients",
            "4",
            "--rates",
            "8",
            "--rate-secs",
            "1.5",
        ])
        .env("PINGAN_LOG", "warn")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let prep = line(&stdout, "graph import:");
    assert!(number_after(prep, "preprocessing: ") > 0.0, "{prep}");
    let mem = line(&stdout, "memory:");
    assert!(number_after(mem, "= ") > 1_000_000.0, "{mem}");

    let routing = line(&stdout, "routing query");
    assert_eq!(number_after(routing, "n="), 50.0);
    assert!(number_after(routing, "p99=") >= number_after(routing, "p50="));

    // The demo city has ~530 units, more than asked for: all are used.
    let rec = line(&stdout, "recommendation among");
    assert!(number_after(rec, "among ") > 500.0, "{rec}");
    assert_eq!(number_after(rec, "n="), 20.0);
    assert!(number_after(rec, "p99=") > 0.0);

    let rt = line(&stdout, "12 round trips in");
    assert!(number_after(rt, "= ") > 0.0, "{rt}");
    // CPU time comes in 10 ms ticks: a dozen round trips may round to zero.
    let cpu = line(&stdout, "process CPU");
    assert!(number_after(cpu, "wall = ") >= 0.0, "{cpu}");
    assert!(line(&stdout, "load average (1 min) before").contains("after"));
    let total = line(&stdout, "round trip:");
    assert_eq!(number_after(total, "n="), 12.0);
    assert!(number_after(total, "p99=") >= number_after(total, "p50="));
    for step in ["POST /calls:", "GET recommendations:", "POST dispatch:"] {
        assert!(number_after(line(&stdout, step), "p50=") > 0.0, "{step}");
    }
    // Units are released after each round trip, so none runs out.
    assert!(line(&stdout, "0 calls found no free unit").contains(", 0 errors"));

    // The open-loop run: latency from each scheduled start, and the verdict.
    let open = stdout
        .split("open loop at 8 round trips/s offered for 1.5 s:")
        .nth(1)
        .unwrap_or_else(|| panic!("no open-loop run in:\n{stdout}"));
    let timed = line(open, "round trip (from its scheduled start):");
    assert!(number_after(timed, "n=") > 0.0, "{timed}");
    assert!(number_after(timed, "p99=") >= number_after(timed, "p50="));
    assert!(line(open, "0 calls found no free unit").contains(", 0 errors"));
    assert!(
        stdout.contains("highest offered rate with round-trip p99 < 20 ms under 4 clients: 8")
            || stdout.contains("no offered rate met round-trip p99 < 20 ms"),
        "{stdout}"
    );
}
