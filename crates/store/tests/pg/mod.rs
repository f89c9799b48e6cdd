//! A throwaway PostgreSQL cluster on 127.0.0.1 for adapter tests: `initdb` into a
//! temp dir, `pg_ctl start` on a free port, stopped and removed on drop.
//! PostgreSQL refuses to run as root, so as root the commands run as `postgres`.

use std::path::PathBuf;
use std::process::Command;

pub(crate) struct TempPostgres {
    dir: PathBuf,
    bin: PathBuf,
    pub(crate) port: u16,
    as_root: bool,
}

fn find_bin() -> PathBuf {
    if let Ok(p) = std::env::var("PINGAN_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server not installed (/usr/lib/postgresql missing): run .ci/run or apt-get install postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TempPostgres {
    pub(crate) fn start() -> TempPostgres {
        let bin = find_bin();
        let as_root = is_root();
        let dir =
            std::env::temp_dir().join(format!("pingan-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        if as_root {
            assert!(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir)
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let pg = TempPostgres {
            dir,
            bin,
            port: free_port(),
            as_root,
        };
        let data = pg.dir.join("data");
        pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "pingan",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
        );
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            pg.port,
            pg.dir.display()
        );
        let log = pg.dir.join("pg.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &opts,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        pg
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let status = if self.as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .status()
        } else {
            Command::new(&exe).args(args).status()
        };
        let ok = status.map(|s| s.success()).unwrap_or(false);
        if !ok {
            let log = std::fs::read_to_string(self.dir.join("pg.log")).unwrap_or_default();
            panic!("{tool} {args:?} failed; server log:\n{log}");
        }
    }

    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://pingan@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let exe = self.bin.join("pg_ctl");
        let args = [
            "-D",
            data.to_str().unwrap_or_default(),
            "-m",
            "immediate",
            "-w",
            "stop",
        ];
        let _ = if self.as_root {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&exe)
                .args(args)
                .status()
        } else {
            Command::new(&exe).args(args).status()
        };
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Fresh, empty databases for one suite's cases: SQLite files in a temp dir,
/// or databases created in one throwaway PostgreSQL cluster. Every suite file
/// runs its cases through both, so the adapters are held to the same results.
#[allow(dead_code)] // each suite binary includes this module; not all use every item
pub(crate) enum Databases {
    Sqlite {
        root: PathBuf,
    },
    Postgres {
        pg: TempPostgres,
        admin: pingan_store::Store,
        prefix: String,
    },
}

#[allow(dead_code)]
impl Databases {
    /// SQLite databases under a fresh temp dir named after `tag`.
    pub(crate) fn sqlite(tag: &str) -> Databases {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let root =
            std::env::temp_dir().join(format!("pingan-{tag}-suite-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        Databases::Sqlite { root }
    }

    /// A PostgreSQL cluster; databases are named `<prefix>_<name>`.
    pub(crate) async fn postgres(prefix: &str) -> Databases {
        let pg = TempPostgres::start();
        let admin = pingan_store::Store::open(&pg.url("postgres"))
            .await
            .unwrap();
        Databases::Postgres {
            pg,
            admin,
            prefix: prefix.to_string(),
        }
    }

    /// Opens (creating and migrating) the database for one case.
    pub(crate) async fn open(&self, name: &str) -> pingan_store::Store {
        match self {
            Databases::Sqlite { root } => {
                let path = root.join(format!("{name}.db"));
                pingan_store::Store::open(path.to_str().unwrap())
                    .await
                    .unwrap()
            }
            Databases::Postgres { pg, admin, prefix } => {
                let db = format!("{prefix}_{name}");
                admin
                    .execute_raw(&format!("CREATE DATABASE {db}"))
                    .await
                    .unwrap();
                pingan_store::Store::open(&pg.url(&db)).await.unwrap()
            }
        }
    }

    /// Removes the SQLite files, or stops the PostgreSQL cluster.
    pub(crate) async fn finish(self) {
        match self {
            Databases::Sqlite { root } => {
                let _ = std::fs::remove_dir_all(root);
            }
            Databases::Postgres { pg, admin, .. } => {
                admin.close().await;
                drop(pg);
            }
        }
    }
}

/// The smallest org tree most cases need: a city bureau `C` and one station
/// `S1` named `station_name` under it.
#[allow(dead_code)]
pub(crate) async fn city_and_station(
    s: &pingan_store::Store,
    station_name: &str,
) -> (pingan_store::OrgRow, pingan_store::OrgRow) {
    let org = |parent_id: Option<i64>, kind: &str, code: &str, name: &str| pingan_store::NewOrg {
        parent_id,
        kind: kind.into(),
        code: code.into(),
        name: name.into(),
        area: None,
    };
    let city = s
        .create_org(&org(None, "city", "C", "市局"), 1)
        .await
        .unwrap();
    let st = s
        .create_org(&org(Some(city.id), "station", "S1", station_name), 1)
        .await
        .unwrap();
    (city, st)
}

/// A noise complaint (one 110 call at 30.6, 104.0, received at 10) in
/// `org_id`, with no timeline entries.
#[allow(dead_code)]
pub(crate) fn noise_incident(org_id: i64) -> pingan_store::NewIncident {
    pingan_store::NewIncident {
        day: "20261124".into(),
        status: "created".into(),
        type_code: None,
        priority: None,
        org_id,
        call: pingan_store::NewCall {
            channel: "110".into(),
            caller_phone: "13812345678".into(),
            caller_name: None,
            description: "噪音扰民".into(),
            lat: 30.6,
            lng: 104.0,
            address: None,
            received_at: 10,
        },
        timeline: vec![],
    }
}
