//! The binary's environment and logs as an operator meets them: a mistyped
//! `PINGAN_*` variable is named on stderr (and the server still starts), and
//! text logs written to a pipe carry no ANSI colour codes.

use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

#[test]
fn unknown_env_var_is_named_and_piped_logs_have_no_colour() {
    let dir = common::temp_dir("env-serve");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("data"))
        .env_remove("PINGAN_CONFIG")
        .env_remove("PINGAN_DATABASE")
        .env("PINGAN_LOG", "info")
        .env("PINGAN_LISTENN", "127.0.0.1:9")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr until the server logs that it is serving (or a minute passes).
    let stderr = child.stderr.take().unwrap();
    let lines = common::lines_until(stderr, |l| l.contains("serving"), Duration::from_secs(60));
    let _ = child.kill();
    let _ = child.wait();
    let all = lines.join("\n");
    assert!(
        lines.iter().any(|l| l.contains("serving")),
        "server did not start:\n{all}"
    );
    assert!(
        lines.iter().any(|l| l.starts_with(
            "warning: unknown environment variable PINGAN_LISTENN ignored (did you mean PINGAN_LISTEN?); known: PINGAN_LISTEN, "
        )),
        "{all}"
    );
    assert!(!all.contains('\u{1b}'), "ANSI escape in piped logs:\n{all}");
    // Plain text logs still carry level and target.
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" INFO pingan_store::migrate: applied migration")),
        "{all}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn replay_names_each_rejected_line_without_an_empty_field() {
    let dir = common::temp_dir("replay-errors");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("events.ndjson");
    std::fs::write(&file, "{broken\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pingan"))
        .arg("replay")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{}: line 1: malformed JSON", file.display())),
        "{stderr}"
    );
    assert!(stderr.ends_with("0 alerts, 1 rejected lines\n"), "{stderr}");
}
