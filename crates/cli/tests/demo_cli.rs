//! `pingan demo` as the reviewer ran it: a taken port fails at once, naming
//! the address, before any city is built; PINGAN_DATA_DIR and PINGAN_LISTEN
//! are honoured; re-running on the same data dir with another seed or demo
//! password warns that the existing city is kept.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pingan_store::{AuditFilter, Page, Store};

mod common;

/// A port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn demo_command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pingan"));
    c.arg("demo")
        .args(["--people", "0"])
        .args(args)
        .env_remove("PINGAN_CONFIG")
        .env_remove("PINGAN_DATABASE")
        .env_remove("PINGAN_DATA_DIR")
        .env_remove("PINGAN_LISTEN")
        .env_remove("PINGAN_DEMO_PASSWORD")
        .env("PINGAN_DEMO_SIMULATE", "false")
        .env("PINGAN_ALERTS_DEMO_FEED", "false")
        .env("PINGAN_LOG", "warn")
        .env("USER", "ops");
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

/// Runs the demo until it prints that it is listening, then stops it;
/// returns (stdout, stderr).
fn run_until_listening(args: &[&str], env: &[(&str, &str)]) -> (String, String) {
    let mut child = demo_command(args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let out_pipe = child.stdout.take().unwrap();
    let lines = common::lines_until(
        out_pipe,
        |l| l.starts_with("pingan listening on"),
        Duration::from_secs(120),
    );
    let stdout: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let _ = child.kill();
    let _ = child.wait();
    (stdout, stderr.join().unwrap())
}

#[test]
fn taken_port_fails_before_building_the_city() {
    let dir = common::temp_dir("demo-port");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let data = dir.join("data");
    let t = Instant::now();
    let o = demo_command(
        &["--port", &port, "--data-dir", data.to_str().unwrap()],
        &[],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with(&format!("error: cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    // Nothing was generated: not even the data dir.
    assert!(!data.exists());
    assert!(t.elapsed() < Duration::from_secs(30));
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

fn listening_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("pingan listening on"))
        .unwrap_or_else(|| panic!("not listening:\n{stdout}"))
}

#[test]
fn env_is_honoured_and_a_rerun_warns_that_the_city_is_kept() {
    let dir = common::temp_dir("demo-env");
    let data: &Path = &dir.join("city");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = [
        ("PINGAN_DATA_DIR", data.to_str().unwrap()),
        ("PINGAN_LISTEN", listen.as_str()),
    ];
    let (stdout, stderr) = run_until_listening(&[], &env);
    assert_eq!(
        listening_line(&stdout),
        format!("pingan listening on http://{listen}"),
        "{stderr}"
    );
    let built = stdout
        .lines()
        .find(|l| l.starts_with("demo city built in "))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        built.ends_with(&format!(" s in {}", data.display())),
        "{built}"
    );
    assert!(data.join("pingan.db").is_file());
    assert!(!stderr.contains("warning"), "{stderr}");
    assert_demo_build_audited(data);

    // Same dir, the same (default) seed and password: reused quietly.
    let (stdout, stderr) = run_until_listening(&[], &env);
    assert!(
        stdout.lines().any(|l| l
            == format!(
                "reusing the demo city in {} (delete it for a fresh one)",
                data.display()
            )),
        "{stdout}"
    );
    assert!(!stderr.contains("warning"), "{stderr}");

    // Another seed and password: both ignored, and said so.
    let (stdout, stderr) =
        run_until_listening(&["--seed", "7", "--demo-password", "another-pass"], &env);
    listening_line(&stdout);
    let d = data.display();
    assert!(
        stderr.contains(&format!(
            "warning: {d} already holds the demo city built with seed 2026; seed 7 is ignored and the existing city (its seed, its people, its passwords) is kept; delete {d} for a new city\n"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "warning: the demo password given is not the existing city's: the logins in {d} keep the password they were built with; delete {d} for a new city with this one\n"
        )),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The demo's org tree, units and accounts are in the audit log as written by
/// the shell user through the CLI, one record per kind, naming every object.
fn assert_demo_build_audited(data: &Path) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = Store::open(data.join("pingan.db").to_str().unwrap())
            .await
            .unwrap();
        let filter = AuditFilter {
            username: Some("cli:ops".into()),
            ..Default::default()
        };
        let (records, total) = store.audit_query(&filter, Page::default()).await.unwrap();
        let orgs = store.all_orgs().await.unwrap();
        let units = store.all_units().await.unwrap();
        let (users, _) = store
            .list_users(
                "/",
                Page {
                    limit: 1000,
                    offset: 0,
                },
            )
            .await
            .unwrap();
        store.close().await;
        assert_eq!(total, 3);
        let got: Vec<_> = records
            .iter()
            .rev()
            .map(|r| {
                let e = &r.entry;
                (
                    e.action.as_str(),
                    e.role.as_str(),
                    e.object_ids.len(),
                    e.detail.as_deref(),
                )
            })
            .collect();
        let why = Some("pingan CLI: demo city, seed 2026");
        assert_eq!(
            got,
            vec![
                ("org.import", "admin", orgs.len(), why),
                ("unit.create", "admin", units.len(), why),
                ("user.create", "admin", users.len(), why),
            ]
        );
        assert_eq!((orgs.len(), users.len()), (29, 29));
        assert!(units.len() >= 500, "{}", units.len());
    });
}
