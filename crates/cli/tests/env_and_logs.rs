//! The binary's environment and logs as an operator meets them: a mistyped
//! `PINGAN_*` variable is named on stderr (and the server still starts), and
//! text logs written to a pipe carry no ANSI colour codes.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pingan-env-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn unknown_env_var_is_named_and_piped_logs_have_no_colour() {
    let dir = temp_dir("serve");
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
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) => {
                let done = l.contains("serving");
                lines.push(l);
                if done {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
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
