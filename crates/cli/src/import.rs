//! `pingan import --source NAME FILE…`: streams files through the data hub's
//! ingest pipeline (the server's `FusionService`, so records are stored, resolved
//! and indexed exactly as an upload to `POST /api/v1/sources/{id}/records`).
//!
//! A progress bar with rate and ETA goes to stderr (hidden when stderr is not a
//! terminal). Each batch commits records, rejections and a checkpoint in one
//! transaction, so a killed import resumes where it stopped when run again and
//! never stores a row twice. Per file it prints the accepted/rejected/merged
//! counts and writes the rejection report (file, line, field, reason) as CSV to
//! a path it prints.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use pingan_fusion::read::{FileFormat, TextEncoding};
use pingan_server::fusion::{FusionError, FusionService, ImportReport, ImportRequest};
use pingan_store::Store;

use crate::{StoreArgs, load_config, open_store};

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// Registered source name (`pingan source list`).
    #[arg(long)]
    source: String,
    /// Files: .csv/.txt/.tsv, .ndjson/.jsonl, .json (array), .xlsx.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Format when the extension does not tell: csv, ndjson, json, xlsx.
    #[arg(long)]
    format: Option<String>,
    /// Text encoding of CSV/NDJSON/JSON: auto (BOM, else UTF-8 if valid, else GB18030), utf-8, gbk, gb18030.
    #[arg(long, default_value = "auto")]
    encoding: String,
    /// Rows per committed batch (the granularity of resuming).
    #[arg(long, default_value_t = 5000)]
    batch_size: usize,
    /// Stop each file after this many rows are committed; running the command
    /// again resumes there (bounded chunks of a very large file).
    #[arg(long)]
    stop_after_rows: Option<u64>,
    /// Directory for the rejection reports (default: <data dir>/reports).
    #[arg(long)]
    report_dir: Option<PathBuf>,
    #[command(flatten)]
    store: StoreArgs,
}

/// How a file's run ended.
enum Outcome {
    Done(ImportReport),
    /// Stopped by `--stop-after-rows`; the checkpoint holds the position.
    Paused(u64),
}

pub(crate) async fn run(config: Option<&Path>, a: ImportArgs) -> anyhow::Result<()> {
    let encoding = TextEncoding::parse(&a.encoding)
        .with_context(|| format!("--encoding {:?}: auto, utf-8, gbk or gb18030", a.encoding))?;
    let forced = match &a.format {
        Some(f) => Some(
            FileFormat::parse(f)
                .with_context(|| format!("--format {f:?}: csv, ndjson, json or xlsx"))?,
        ),
        None => None,
    };
    let mut formats = Vec::with_capacity(a.files.len());
    for f in &a.files {
        let name = f.display().to_string();
        let fmt = forced
            .or_else(|| FileFormat::from_file_name(&name))
            .with_context(|| {
                format!("{name}: unknown file type (use --format csv|ndjson|json|xlsx)")
            })?;
        if !f.is_file() {
            bail!("{name}: no such file");
        }
        formats.push(fmt);
    }
    let cfg = load_config(config, Some(&a.store))?;
    let store = open_store(&cfg).await?;
    let Some(source_row) = store.find_fusion_source_by_name(&a.source).await? else {
        bail!(
            "--source {:?} is not registered (pingan source add MAPPING.toml)",
            a.source
        );
    };
    let jurisdiction = pingan_server::orgs::load_jurisdiction(&store).await?;
    let t = Instant::now();
    let hub = FusionService::open(
        store.clone(),
        &cfg.data_dir,
        Arc::new(pingan_core::SystemClock),
        Arc::new(RwLock::new(Arc::new(jurisdiction))),
    )
    .await
    .context("opening the data hub")?;
    eprintln!(
        "data hub open: {} records, {} entities ({:.1} s)",
        hub.record_count(),
        hub.entity_count(),
        t.elapsed().as_secs_f64()
    );
    let report_dir = a
        .report_dir
        .clone()
        .unwrap_or_else(|| cfg.data_dir.join("reports"));
    let mut failed = Vec::new();
    for (path, format) in a.files.iter().zip(formats) {
        let req = ImportRequest {
            encoding,
            batch_size: a.batch_size.max(1),
            stop_after_rows: a.stop_after_rows,
            ..ImportRequest::new(format)
        };
        let name = path.display().to_string();
        match import_one(&hub, &a.source, path, req).await {
            Ok(outcome) => {
                let report = write_report(&store, &a.source, &name, &report_dir).await?;
                // Personal data entered the hub: audited as the upload route does.
                let detail = match &outcome {
                    Outcome::Done(r) => format!(
                        "{name}: accepted {}, rejected {}, merged {}",
                        r.counts.accepted, r.counts.rejected, r.counts.merged
                    ),
                    Outcome::Paused(rows) => format!("{name}: paused after {rows} rows"),
                };
                crate::audit_cli(
                    &store,
                    "source.import",
                    "source",
                    vec![source_row.id.to_string()],
                    Some(detail),
                )
                .await?;
                match outcome {
                    Outcome::Done(r) => print_counts(&r),
                    Outcome::Paused(rows) => println!(
                        "{name}: paused after {rows} rows as asked; run the same command again to resume"
                    ),
                }
                println!("{name}: rejection report {}", report.display());
            }
            Err(e) => {
                eprintln!("error: {name}: {e}");
                failed.push(name);
            }
        }
    }
    store.close().await;
    if !failed.is_empty() {
        bail!(
            "{} of {} files failed: {}",
            failed.len(),
            a.files.len(),
            failed.join(", ")
        );
    }
    Ok(())
}

async fn import_one(
    hub: &FusionService,
    source: &str,
    path: &Path,
    req: ImportRequest,
) -> anyhow::Result<Outcome> {
    let bar = ProgressBar::with_draw_target(
        Some(std::fs::metadata(path)?.len()),
        ProgressDrawTarget::stderr(),
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
        )?
        .progress_chars("=> "),
    );
    bar.set_prefix(path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    ));
    let started = Instant::now();
    let b = bar.clone();
    let progress = Box::new(move |p: pingan_fusion::ingest::Progress| {
        b.set_length(p.total_bytes);
        b.set_position(p.bytes_read);
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        b.set_message(format!(
            "{} rows ({:.0} rows/s) · {} accepted · {} rejected",
            p.counts.read,
            p.counts.read as f64 / secs,
            p.counts.accepted,
            p.counts.rejected
        ));
    });
    let res = hub.import_file(source, path, req, progress).await;
    bar.finish_and_clear();
    match res {
        Ok(r) => Ok(Outcome::Done(r)),
        Err(FusionError::Paused { rows }) => Ok(Outcome::Paused(rows)),
        Err(e) => Err(e.into()),
    }
}

fn print_counts(r: &ImportReport) {
    let c = &r.counts;
    let how = if r.already_imported {
        " (already imported; nothing read)".to_owned()
    } else if let Some(line) = r.resumed_from_line {
        format!(" (resumed after line {line})")
    } else {
        String::new()
    };
    println!(
        "{}: {} rows read, {} accepted, {} rejected, {} merged into existing entities, {} duplicates, {} updated{how}",
        r.file, c.read, c.accepted, c.rejected, c.merged, c.duplicates, c.updated
    );
}

/// Writes every stored rejection of `file` for `source` (all runs, so a resumed
/// import's report is complete) as CSV; returns the path.
async fn write_report(
    store: &Store,
    source: &str,
    file: &str,
    dir: &Path,
) -> anyhow::Result<PathBuf> {
    let rows = store
        .fusion_rejections(source, Some(file), i64::MAX)
        .await?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let base = Path::new(file)
        .file_name()
        .map_or_else(|| file.to_owned(), |n| n.to_string_lossy().into());
    let path = dir.join(format!("{}-{}.rejections.csv", safe(source), safe(&base)));
    let mut w = csv::Writer::from_path(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(["file", "line", "field", "reason"])?;
    for r in rows {
        w.write_record([
            r.file.as_str(),
            &r.line.to_string(),
            r.field.as_deref().unwrap_or(""),
            r.reason.as_str(),
        ])?;
    }
    w.flush()?;
    Ok(path)
}
