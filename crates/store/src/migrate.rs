//! Schema migrations, one ordered set per dialect, embedded in the binary and applied
//! at start. Other crates' tables are added here as further numbered files.

use sqlx::Row;

use crate::{Dialect, Result, Store, StoreError, db};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("../migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("../migrations/postgres/", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation"),
    migration!(2, "0002_ledger"),
    migration!(3, "0003_alert"),
    migration!(4, "0004_dispatch"),
    migration!(5, "0005_fusion"),
    migration!(6, "0006_citizen"),
    migration!(7, "0007_dispatch_admin"),
    migration!(8, "0008_ledger_compact"),
    migration!(10, "0010_dispatch_nearby"),
    migration!(11, "0011_fusion_seq"),
    migration!(12, "0012_partner_keys"),
];

pub(crate) async fn run(store: &Store) -> Result<()> {
    store
        .execute_raw(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await?;
    let applied: Vec<i64> = db!(store, p => sqlx::query("SELECT version FROM schema_migrations")
        .fetch_all(p)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>("version"))
        .collect::<Result<Vec<_>, _>>()?);
    for m in MIGRATIONS {
        if applied.contains(&m.version) {
            continue;
        }
        let sql = match store.dialect() {
            Dialect::Sqlite => m.sqlite,
            Dialect::Postgres => m.postgres,
        };
        let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
        let wrap = |source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        db!(store, p => {
            let mut tx = p.begin().await.map_err(wrap)?;
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(wrap)?;
            sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                .bind(m.version)
                .bind(m.name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(wrap)?;
            tx.commit().await.map_err(wrap)?;
        });
        tracing::info!(version = m.version, name = m.name, "applied migration");
    }
    Ok(())
}
