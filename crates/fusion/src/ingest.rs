//! The ingest pipeline: raw rows → mapped, normalised [`Record`]s or
//! [`Rejection`]s, committed in batches with a resumable [`Checkpoint`].
//!
//! Idempotence has two layers. A checkpoint (file content hash + last committed
//! line) lets an interrupted import resume after the last committed batch; and every
//! record carries a [`RecordKey`] derived from its source and stable row key (or
//! its content), so a sink that refuses duplicate keys never stores a row twice even
//! if the same file is imported again from the start.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pingan_core::Timestamp;
use pingan_core::normalize::id_number::IdNumber;
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::mapping::{FieldInput, Mapping};
use crate::model::{Target, targets};
use crate::read::{FileFormat, RawRow, ReadError, ReadEvent, ReadOptions, read_rows};
use crate::transform::{Transform, datetime_to_timestamp};

/// Idempotent identity of a record: 128 bits of SHA-256 over the source name and
/// the row's stable key (or its mapped content).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey(pub [u8; 16]);

impl RecordKey {
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<RecordKey> {
        let v = hex::decode(s).ok()?;
        Some(RecordKey(v.try_into().ok()?))
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordKey({})", self.to_hex())
    }
}

/// A mapped and normalised row with its provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub key: RecordKey,
    /// Hash of the mapped fields: a re-delivered row with the same key but a new
    /// hash is an update.
    pub content_hash: [u8; 16],
    pub source: Arc<str>,
    pub category: Arc<str>,
    pub file: Arc<str>,
    pub line: u64,
    /// When the fact was observed: `event.time` if mapped, else the import time.
    pub observed_at: Timestamp,
    /// Mapped values in canonical form, sorted by target.
    pub fields: Fields,
}

impl Record {
    pub fn get(&self, t: Target) -> Option<&str> {
        self.fields.get(t)
    }
}

/// A record's values packed in one allocation (millions of records are held in
/// memory): value `i` is `text[end[i-1]..end[i]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fields {
    index: Box<[(Target, u32)]>,
    text: Box<str>,
}

impl Fields {
    /// From (target, value) pairs; sorts by target (a later duplicate target is dropped).
    pub fn new(mut pairs: Vec<(Target, String)>) -> Fields {
        pairs.sort_by_key(|(t, _)| *t);
        pairs.dedup_by_key(|(t, _)| *t);
        let mut text = String::with_capacity(pairs.iter().map(|(_, v)| v.len()).sum());
        let mut index = Vec::with_capacity(pairs.len());
        for (t, v) in pairs {
            text.push_str(&v);
            index.push((t, text.len() as u32));
        }
        Fields {
            index: index.into_boxed_slice(),
            text: text.into_boxed_str(),
        }
    }

    fn value(&self, i: usize) -> &str {
        let start = if i == 0 {
            0
        } else {
            self.index[i - 1].1 as usize
        };
        &self.text[start..self.index[i].1 as usize]
    }

    pub fn get(&self, t: Target) -> Option<&str> {
        self.index
            .binary_search_by_key(&t, |(k, _)| *k)
            .ok()
            .map(|i| self.value(i))
    }

    /// In target order.
    pub fn iter(&self) -> impl Iterator<Item = (Target, &str)> + '_ {
        (0..self.index.len()).map(|i| (self.index[i].0, self.value(i)))
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// A row that was not accepted, for the rejection report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file: String,
    pub line: u64,
    /// The source column (or target when no column is involved); `None` when the
    /// whole row was unreadable.
    pub field: Option<String>,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "{} line {}: {}: {}",
                self.file, self.line, field, self.reason
            ),
            None => write!(f, "{} line {}: {}", self.file, self.line, self.reason),
        }
    }
}

/// Running totals of an import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    /// Rows read (accepted + rejected, duplicates included).
    pub read: u64,
    /// New records stored.
    pub accepted: u64,
    pub rejected: u64,
    /// Rows whose key and content were already stored (re-import).
    pub duplicates: u64,
    /// Rows whose key was stored with different content (an update).
    pub updated: u64,
    /// New records that joined an already existing entity.
    pub merged: u64,
}

/// Where an import of one file stands: everything up to and including `last_line`
/// has been committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub source: String,
    pub file: String,
    /// Hex SHA-256 of the file's bytes: a checkpoint only applies to the same content.
    pub file_hash: String,
    pub last_line: u64,
    pub counts: ImportCounts,
    pub finished: bool,
}

impl Checkpoint {
    /// Adds a sink's outcome to the counts. A sink calls this on
    /// `batch.checkpoint` before persisting it, so the stored checkpoint includes
    /// the batch it commits (its `read`/`rejected` already do).
    pub fn apply(&mut self, out: CommitOutcome) {
        self.counts.accepted += out.inserted;
        self.counts.duplicates += out.duplicates;
        self.counts.updated += out.updated;
        self.counts.merged += out.merged;
    }
}

/// What a sink reports for one committed batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    pub inserted: u64,
    pub duplicates: u64,
    pub updated: u64,
    pub merged: u64,
}

/// One unit of commit: the sink must store records, rejections and checkpoint
/// atomically (one SQL transaction), so that the checkpoint never runs ahead of
/// the data. The checkpoint's `read` and `rejected` include this batch; the sink
/// adds its own outcome with [`Checkpoint::apply`] before storing it.
#[derive(Debug, Clone)]
pub struct Batch {
    pub records: Vec<Record>,
    pub rejections: Vec<Rejection>,
    pub checkpoint: Checkpoint,
}

/// Where batches go: the in-memory [`crate::hub::Hub`], or the server's store.
pub trait ImportSink {
    type Error: std::error::Error + Send + Sync + 'static;
    fn commit(&mut self, batch: Batch) -> Result<CommitOutcome, Self::Error>;
}

/// Progress after each committed batch, for a progress bar with rate and ETA.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes_read: u64,
    pub total_bytes: u64,
    pub counts: ImportCounts,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub format: FileFormat,
    pub read: ReadOptions,
    /// Rows per committed batch.
    pub batch_size: usize,
    /// The import's wall-clock time (records without `event.time` are observed then).
    pub imported_at: Timestamp,
    /// Where the reading thread adds up its phase times (benchmarks); `None` to skip.
    pub times: Option<Arc<ReadTimes>>,
}

/// Wall time of the reading thread's phases, in nanoseconds, summed over the
/// imports that share it: reading and decoding rows, mapping and normalising
/// them, and waiting for the committing side (a full queue: the sink is the
/// slower half).
#[derive(Debug, Default)]
pub struct ReadTimes {
    pub read_ns: AtomicU64,
    pub normalise_ns: AtomicU64,
    pub wait_ns: AtomicU64,
}

impl ReadTimes {
    fn add(counter: &AtomicU64, d: std::time::Duration) {
        counter.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
    }

    /// (read, normalise, wait) in seconds.
    pub fn secs(&self) -> (f64, f64, f64) {
        let s = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e9;
        (s(&self.read_ns), s(&self.normalise_ns), s(&self.wait_ns))
    }
}

impl ImportOptions {
    pub fn new(format: FileFormat, imported_at: Timestamp) -> Self {
        ImportOptions {
            format,
            read: ReadOptions::default(),
            batch_size: 1000,
            imported_at,
            times: None,
        }
    }
}

#[derive(Debug, Error)]
pub enum ImportError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("{file}: I/O error: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error("{file}: mapped columns missing from the header: {}", columns.join(", "))]
    MissingColumns { file: String, columns: Vec<String> },
    #[error("{file}: checkpoint is for content {expected}, file now hashes to {found}")]
    CheckpointMismatch {
        file: String,
        expected: String,
        found: String,
    },
    #[error("{file}: commit failed after line {last_committed_line}: {source}")]
    Sink {
        file: String,
        last_committed_line: u64,
        #[source]
        source: E,
    },
}

/// Hex SHA-256 of everything `r` yields, then rewinds it.
pub fn content_hash<R: Read + Seek>(r: &mut R) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(hex::encode(h.finalize()))
}

fn key_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// Maps one raw row through `mapping`. `Err` lists every field that failed.
pub fn map_row(
    mapping: &Mapping,
    source: &Arc<str>,
    category: &Arc<str>,
    file: &Arc<str>,
    row: &RawRow,
    imported_at: Timestamp,
) -> Result<Record, Vec<Rejection>> {
    let mut errors = Vec::new();
    let reject = |field: String, reason: String| Rejection {
        file: file.to_string(),
        line: row.line,
        field: Some(field),
        reason,
    };
    let mut fields: Vec<(Target, String)> = Vec::with_capacity(mapping.fields.len() + 2);
    for fm in &mapping.fields {
        let (mut value, label): (Option<String>, String) = match &fm.input {
            FieldInput::Column(c) => (
                row.get(c)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                c.clone(),
            ),
            FieldInput::Generated => (Some(String::new()), fm.target.to_string()),
        };
        let mut failed = false;
        for t in &fm.transforms {
            let Some(v) = value.as_deref() else { break };
            let generating = matches!(t, Transform::Constant(_) | Transform::Concat { .. });
            if v.is_empty() && !generating {
                value = None;
                break;
            }
            match t.apply(v, row) {
                Ok(out) => value = Some(out),
                Err(reason) => {
                    errors.push(reject(label.clone(), format!("{}: {reason}", t.name())));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            continue;
        }
        match value.filter(|v| !v.trim().is_empty()) {
            Some(v) => fields.push((fm.target, v)),
            None if fm.required => errors.push(reject(label, "required value is missing".into())),
            None => {}
        }
    }
    derive_from_id_number(&mut fields, mapping, row, &mut errors, file);
    if !errors.is_empty() {
        return Err(errors);
    }
    fields.sort_by_key(|(t, _)| *t);
    let observed_at = fields
        .iter()
        .find(|(t, _)| *t == targets::event_time())
        .and_then(|(_, v)| datetime_to_timestamp(v))
        .unwrap_or(imported_at);
    let content_hash = {
        let mut parts: Vec<&[u8]> = Vec::with_capacity(fields.len() * 2 + 1);
        parts.push(source.as_bytes());
        let idx: Vec<[u8; 1]> = fields.iter().map(|(t, _)| [t.index()]).collect();
        for ((_, v), i) in fields.iter().zip(&idx) {
            parts.push(i);
            parts.push(v.as_bytes());
        }
        key_of(&parts)
    };
    let key = if mapping.source.row_key.is_empty() {
        RecordKey(content_hash)
    } else {
        let mut parts: Vec<&[u8]> = vec![b"row-key", source.as_bytes()];
        for c in &mapping.source.row_key {
            parts.push(row.get(c).map_or(&b""[..], |v| v.trim().as_bytes()));
        }
        RecordKey(key_of(&parts))
    };
    Ok(Record {
        key,
        content_hash,
        source: source.clone(),
        category: category.clone(),
        file: file.clone(),
        line: row.line,
        observed_at,
        fields: Fields::new(fields),
    })
}

/// Birth date and sex follow from a valid ID number: fill them when unmapped and
/// reject the row when the source contradicts the ID.
fn derive_from_id_number(
    fields: &mut Vec<(Target, String)>,
    mapping: &Mapping,
    row: &RawRow,
    errors: &mut Vec<Rejection>,
    file: &Arc<str>,
) {
    let get = |fields: &Vec<(Target, String)>, t: Target| {
        fields
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.to_string())
    };
    let Some(id) = get(fields, targets::person_id_number()) else {
        return;
    };
    let Ok(id) = IdNumber::parse(&id) else { return };
    let birth = id.birth().to_string();
    let sex = id.sex().as_chinese();
    let label = |t: Target| match mapping.field(t).map(|f| &f.input) {
        Some(FieldInput::Column(c)) => c.clone(),
        _ => t.to_string(),
    };
    match get(fields, targets::person_birth_date()) {
        None => fields.push((targets::person_birth_date(), birth)),
        Some(b) if b != birth => errors.push(Rejection {
            file: file.to_string(),
            line: row.line,
            field: Some(label(targets::person_birth_date())),
            reason: format!("birth date {b} contradicts the ID number's {birth}"),
        }),
        Some(_) => {}
    }
    match get(fields, targets::person_sex()) {
        None => fields.push((targets::person_sex(), sex.to_owned())),
        Some(s) if (s == "男" || s == "女") && s != sex => errors.push(Rejection {
            file: file.to_string(),
            line: row.line,
            field: Some(label(targets::person_sex())),
            reason: format!("sex {s} contradicts the ID number's {sex}"),
        }),
        Some(_) => {}
    }
}

/// Counts bytes pulled through it, for progress reporting (read from the
/// committing thread while the reading thread advances it).
struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl<R: Seek> Seek for CountingReader<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos)
    }
}

/// One batch's worth of mapped rows, handed from the reading thread to the
/// committing one.
struct Chunk {
    records: Vec<Record>,
    rejections: Vec<Rejection>,
    read: u64,
    rejected: u64,
    last_line: u64,
}

/// Why the reading thread stopped early.
enum ReadStop {
    Read(ReadError),
    MissingColumns(Vec<String>),
}

/// Mapped batches in flight between the two threads: enough to keep both busy,
/// few enough to bound memory.
const CHUNKS_IN_FLIGHT: usize = 2;

/// Imports one file into `sink`.
///
/// `resume`: the checkpoint of an earlier, interrupted import of the same file (as
/// stored by the sink). Rows up to its `last_line` are skipped; counts continue
/// from it. `progress` is called after each committed batch.
///
/// Reading, decoding, mapping and normalising run on a second thread, one batch
/// ahead of the sink (resolution and indexing on the calling thread), so the two
/// halves of the pipeline use two cores. Batches are committed in file order.
pub fn import<R: Read + Seek + Send, S: ImportSink>(
    mapping: &Mapping,
    file_name: &str,
    mut input: R,
    opts: &ImportOptions,
    resume: Option<&Checkpoint>,
    sink: &mut S,
    progress: &mut dyn FnMut(Progress),
) -> Result<Checkpoint, ImportError<S::Error>> {
    let io_err = |source| ImportError::Io {
        file: file_name.to_owned(),
        source,
    };
    let total_bytes = input.seek(SeekFrom::End(0)).map_err(io_err)?;
    input.seek(SeekFrom::Start(0)).map_err(io_err)?;
    let file_hash = content_hash(&mut input).map_err(io_err)?;
    let mut cp = match resume {
        Some(c) if c.file_hash != file_hash => {
            return Err(ImportError::CheckpointMismatch {
                file: file_name.to_owned(),
                expected: c.file_hash.clone(),
                found: file_hash,
            });
        }
        Some(c) => Checkpoint {
            finished: false,
            ..c.clone()
        },
        None => Checkpoint {
            source: mapping.source.name.clone(),
            file: file_name.to_owned(),
            file_hash,
            last_line: 0,
            counts: ImportCounts::default(),
            finished: false,
        },
    };
    let skip_through = cp.last_line;
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = CountingReader {
        inner: input,
        count: bytes.clone(),
    };
    let batch_size = opts.batch_size.max(1);
    // (batch, is the final remainder)
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Chunk, bool)>(CHUNKS_IN_FLIGHT);

    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            read_and_map(
                mapping,
                file_name,
                counting,
                opts,
                skip_through,
                batch_size,
                tx,
            )
        });
        let mut committed: Result<(), ImportError<S::Error>> = Ok(());
        let mut commit = |chunk: Chunk, finished: bool, cp: &mut Checkpoint| {
            let mut next = cp.clone();
            next.last_line = chunk.last_line;
            next.counts.read += chunk.read;
            next.counts.rejected += chunk.rejected;
            next.finished = finished;
            let batch = Batch {
                records: chunk.records,
                rejections: chunk.rejections,
                checkpoint: next.clone(),
            };
            let out = sink.commit(batch).map_err(|source| ImportError::Sink {
                file: cp.file.clone(),
                last_committed_line: cp.last_line,
                source,
            })?;
            next.apply(out);
            *cp = next;
            progress(Progress {
                bytes_read: bytes.load(Ordering::Relaxed),
                total_bytes,
                counts: cp.counts,
            });
            Ok(())
        };
        // The final remainder (possibly empty) also marks the checkpoint finished.
        for (chunk, last) in rx.iter() {
            if let Err(e) = commit(chunk, last, &mut cp) {
                committed = Err(e);
                break;
            }
        }
        // Stops the reader if the sink failed (its next send fails).
        drop(rx);
        let read = reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        committed?;
        match read {
            Ok(()) => {}
            Err(ReadStop::Read(e)) => return Err(ImportError::Read(e)),
            Err(ReadStop::MissingColumns(columns)) => {
                return Err(ImportError::MissingColumns {
                    file: file_name.to_owned(),
                    columns,
                });
            }
        }
        Ok(cp)
    })
}

/// The reading thread: rows → records or rejections, sent in batches of
/// `batch_size` rows, then the remainder (always sent, possibly empty, so the
/// committing side has a final batch to mark finished).
fn read_and_map<R: Read + Seek>(
    mapping: &Mapping,
    file_name: &str,
    input: R,
    opts: &ImportOptions,
    skip_through: u64,
    batch_size: usize,
    tx: std::sync::mpsc::SyncSender<(Chunk, bool)>,
) -> Result<(), ReadStop> {
    let source: Arc<str> = Arc::from(mapping.source.name.as_str());
    let category: Arc<str> = Arc::from(mapping.source.category.as_str());
    let file: Arc<str> = Arc::from(file_name);
    let columns = mapping.columns();
    let empty = |last_line| Chunk {
        records: Vec::with_capacity(batch_size),
        rejections: Vec::new(),
        read: 0,
        rejected: 0,
        last_line,
    };
    let mut chunk = empty(skip_through);
    let mut pending_rows = 0usize;
    let mut missing: Option<Vec<String>> = None;
    let mut receiver_gone = false;
    // Phase times, kept locally and published once at the end.
    let zero = std::time::Duration::ZERO;
    let (mut t_read, mut t_norm, mut t_wait) = (zero, zero, zero);
    let mut resumed = Instant::now();
    read_rows(file_name, input, opts.format, &opts.read, &mut |ev| {
        let entered = Instant::now();
        t_read += entered - resumed;
        match ev {
            ReadEvent::Header(h) => {
                let absent: Vec<String> = columns
                    .iter()
                    .filter(|c| !h.iter().any(|x| &**x == c.as_str()))
                    .cloned()
                    .collect();
                if !absent.is_empty() {
                    missing = Some(absent);
                    return ControlFlow::Break(());
                }
                return ControlFlow::Continue(());
            }
            ReadEvent::Row(row) => {
                if row.line <= skip_through {
                    return ControlFlow::Continue(());
                }
                chunk.read += 1;
                chunk.last_line = row.line;
                match map_row(mapping, &source, &category, &file, &row, opts.imported_at) {
                    Ok(r) => chunk.records.push(r),
                    Err(errs) => {
                        chunk.rejected += 1;
                        chunk.rejections.extend(errs);
                    }
                }
            }
            ReadEvent::Bad { line, reason } => {
                if line <= skip_through {
                    return ControlFlow::Continue(());
                }
                chunk.read += 1;
                chunk.rejected += 1;
                chunk.last_line = line;
                chunk.rejections.push(Rejection {
                    file: file_name.to_owned(),
                    line,
                    field: None,
                    reason,
                });
            }
        }
        let mapped = Instant::now();
        t_norm += mapped - entered;
        pending_rows += 1;
        if pending_rows >= batch_size {
            pending_rows = 0;
            let last = chunk.last_line;
            let sent = tx.send((std::mem::replace(&mut chunk, empty(last)), false));
            if sent.is_err() {
                receiver_gone = true;
                return ControlFlow::Break(());
            }
        }
        resumed = Instant::now();
        t_wait += resumed - mapped;
        ControlFlow::Continue(())
    })
    .map_err(ReadStop::Read)?;
    if let Some(times) = &opts.times {
        ReadTimes::add(&times.read_ns, t_read);
        ReadTimes::add(&times.normalise_ns, t_norm);
        ReadTimes::add(&times.wait_ns, t_wait);
    }
    if let Some(columns) = missing {
        return Err(ReadStop::MissingColumns(columns));
    }
    if !receiver_gone {
        // The committing side stopped on its own error if this fails; that
        // error is the one reported.
        let _ = tx.send((chunk, true));
    }
    Ok(())
}
