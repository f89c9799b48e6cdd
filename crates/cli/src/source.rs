//! `pingan source add|list|show`: the data hub's source registry (数据源), on the
//! data dir's store directly (no server, no hub replay). A mapping file is
//! validated before it is registered; errors name the file, line and field.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Subcommand;

use crate::{StoreArgs, load_config, open_store};

#[derive(Subcommand)]
pub(crate) enum SourceCmd {
    /// Register a source from its mapping TOML ([source] + [[field]] tables).
    Add {
        /// The mapping file.
        mapping: PathBuf,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List the registered sources with their record counts.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Show one source: owner, legal basis, mapping, record count and rejections.
    Show {
        /// Source name (as in the mapping's `source.name`).
        name: String,
        /// Rejections to print (most recent imports last).
        #[arg(long, default_value_t = 20)]
        rejections: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Reads and validates a mapping file; the error starts with the file name and
/// carries the line and field from [`pingan_fusion::mapping::MappingError`].
pub(crate) fn read_mapping(path: &Path) -> anyhow::Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Err(e) = pingan_fusion::mapping::Mapping::from_toml(&text) {
        bail!("{}: {e}", path.display());
    }
    Ok(text)
}

pub(crate) async fn run(config: Option<&Path>, cmd: SourceCmd) -> anyhow::Result<()> {
    match cmd {
        SourceCmd::Add { mapping, store } => {
            let text = read_mapping(&mapping)?;
            let cfg = load_config(config, Some(&store))?;
            let store = open_store(&cfg).await?;
            let now = pingan_core::Clock::now(&pingan_core::SystemClock).millis();
            let row = pingan_server::fusion::add_source(&store, &text, now)
                .await
                .with_context(|| format!("{}", mapping.display()))?;
            crate::audit_cli(
                &store,
                "source.create",
                "source",
                vec![row.id.to_string()],
                Some(row.name.clone()),
            )
            .await?;
            println!(
                "source {:?} (#{}) registered: {} · {} · {}",
                row.name, row.id, row.department, row.category, row.update_mode
            );
            Ok(())
        }
        SourceCmd::List { store } => {
            let cfg = load_config(config, Some(&store))?;
            let store = open_store(&cfg).await?;
            let rows = store.list_fusion_sources().await?;
            if rows.is_empty() {
                println!("no sources registered (pingan source add MAPPING.toml)");
            }
            for r in rows {
                let n = store.count_fusion_records(Some(&r.name)).await?;
                println!(
                    "#{:<4} {:<16} {:<20} {:<12} {:<14} {:>10} records",
                    r.id, r.name, r.department, r.category, r.update_mode, n
                );
            }
            Ok(())
        }
        SourceCmd::Show {
            name,
            rejections,
            store,
        } => {
            let cfg = load_config(config, Some(&store))?;
            let store = open_store(&cfg).await?;
            let r = store
                .find_fusion_source_by_name(&name)
                .await?
                .with_context(|| format!("source {name:?} is not registered"))?;
            let n = store.count_fusion_records(Some(&r.name)).await?;
            println!("source       {} (#{})", r.name, r.id);
            println!("department   {}", r.department);
            println!("category     {}", r.category);
            println!("legal basis  {}", r.legal_basis);
            println!("update mode  {}", r.update_mode);
            println!("records      {n}");
            let rej = store
                .fusion_rejections(&r.name, None, rejections.max(0))
                .await?;
            println!("rejections   (first {})", rej.len());
            for j in rej {
                println!(
                    "  {} line {}: {}: {}",
                    j.file,
                    j.line,
                    j.field.as_deref().unwrap_or("-"),
                    j.reason
                );
            }
            println!("mapping:\n{}", r.mapping_toml.trim_end());
            Ok(())
        }
    }
}
