//! Helpers shared by the CLI's black-box tests (each test file is its own
//! crate and uses only some of them).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// A fresh, empty directory under the system temp dir for test `tag`.
pub(crate) fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pingan-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Lines read from `pipe` (a child's stdout or stderr) until one satisfies
/// `done` (included), the pipe closes, or `timeout` passes: a long-running
/// command (`serve`, `demo`) is read until it says it is up.
pub(crate) fn lines_until(
    pipe: impl Read + Send + 'static,
    done: impl Fn(&str) -> bool,
    timeout: Duration,
) -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut lines = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) => {
                let finished = done(&l);
                lines.push(l);
                if finished {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    lines
}
