//! The verifiable case log as a running service: the signing key, the append
//! queue with its single integrator task, proofs and receipts read from the
//! store, C2SP tiles for the public read-only endpoints, periodic anchoring of
//! the audit log's hash chain, and the full store audit used by `pingan ledger audit`.
//!
//! Other modules record events with [`LedgerService::append`] (await it to learn
//! the entry's index; it resolves once the entry is durably stored under a
//! signed checkpoint) and hand out receipts with [`LedgerService::receipt`].
//! Personal data never enters a leaf: put a [`LedgerService::commit_personal`]
//! commitment there instead.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pingan_core::Clock;
use pingan_ledger::tile::{encode_entry_bundle, encode_tile};
use pingan_ledger::{
    AuditCheckpoint, AuditReport, Checkpoint, CheckpointError, Commitment, Finding, Frontier,
    FrontierError, Hash, LeafRecord, NoteError, NoteSigner, NoteVerifier, ProofError, ProofPlan,
    Receipt, RecordError, Salt, TileError, TilePath, TileSet, audit, check_commitment, commit,
    empty_root, integrate,
};
use pingan_store::{
    CaseLeafRow, LedgerBatch, LedgerCheckpointRow, LedgerFeedAck, LedgerTileRow, Store, StoreError,
};
use tokio::sync::{mpsc, oneshot, watch};

/// Log origin (and key name) of a freshly generated key.
pub const DEFAULT_ORIGIN: &str = "pingan.local/ledger";
/// File in the data dir holding the signer key string (mode 0600).
pub const KEY_FILE: &str = "ledger.key";
/// Environment variable that supplies the signer key string instead of the file.
pub const KEY_ENV: &str = "PINGAN_LEDGER_KEY";
/// Environment variable naming the origin of a key generated on first start.
pub const ORIGIN_ENV: &str = "PINGAN_LEDGER_ORIGIN";
/// How often the audit log's chain head is anchored in the ledger.
pub const AUDIT_ANCHOR_EVERY: Duration = Duration::from_secs(60);
/// Largest batch the integrator writes in one transaction.
pub const MAX_BATCH: usize = 16_384;
/// Appends that may wait for the integrator before `append` applies backpressure.
const QUEUE_LEN: usize = 65_536;
/// Attempts to persist one batch before its callers get an error.
const PERSIST_ATTEMPTS: u32 = 5;
/// `meta` key remembering which verifier key signs this database's log.
const META_VKEY: &str = "ledger.vkey";

/// Why a ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("record: {0}")]
    Record(#[from] RecordError),
    #[error("storage: {0}")]
    Store(#[from] StoreError),
    #[error("ledger key {source_name}: {reason}")]
    Key { source_name: String, reason: String },
    #[error(
        "this database's log is signed by {stored} but the configured key is {configured}; refusing to fork the log"
    )]
    KeyMismatch { stored: String, configured: String },
    #[error("stored checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("stored tiles: {0}")]
    Frontier(#[from] FrontierError),
    #[error("stored tiles give root {tiles} but the latest checkpoint signs {checkpoint}")]
    RootMismatch { tiles: String, checkpoint: String },
    #[error("proof: {0}")]
    Proof(#[from] ProofError),
    #[error("tile: {0}")]
    Tile(#[from] TileError),
    #[error("leaf index {index} is not below the log size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("tree size {size} is larger than the log size {log_size}")]
    SizeOutOfRange { size: u64, log_size: u64 },
    #[error("batch was not written after {PERSIST_ATTEMPTS} attempts: {reason}")]
    Batch { reason: String },
    #[error("the ledger integrator has stopped")]
    Stopped,
    #[error("audit worker failed: {reason}")]
    Worker { reason: String },
}

/// The log's current signed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub size: u64,
    pub root: Hash,
    /// The signed checkpoint note at `size`.
    pub note: Arc<str>,
    /// When it was signed (ms since the epoch).
    pub at: i64,
}

/// Where an appended record landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub index: u64,
    pub leaf_hash: Hash,
    /// Size of the first checkpoint that includes the entry.
    pub checkpoint_size: u64,
    /// That checkpoint's signed note.
    pub checkpoint: Arc<str>,
}

/// Where an entry handed to [`LedgerService::append_feed`] came from: the
/// durable feed row it records (deleted in the entry's transaction) and, for
/// incident states, the case leaf the portal shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FeedOrigin {
    pub(crate) seq: i64,
    pub(crate) case: Option<CaseState>,
}

/// An incident state as the portal lists it (`case_leaves` minus the index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaseState {
    pub(crate) incident_id: i64,
    pub(crate) status: String,
    pub(crate) org_code: String,
    pub(crate) at: i64,
}

/// Entries that enter the log together, in order, in one transaction.
struct Job {
    entries: Vec<Vec<u8>>,
    /// Empty, or one origin per entry.
    feed: Vec<FeedOrigin>,
    done: oneshot::Sender<Result<Vec<Appended>, Arc<str>>>,
}

/// The running ledger. Cheap to share (`Arc`); one per process.
pub struct LedgerService {
    store: Store,
    verifier: NoteVerifier,
    clock: Arc<dyn Clock>,
    jobs: mpsc::Sender<Job>,
    head: watch::Receiver<Head>,
}

impl std::fmt::Debug for LedgerService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerService")
            .field("origin", &self.verifier.name())
            .field("size", &self.head.borrow().size)
            .finish()
    }
}

/// Loads the signer: the key string in `env_key` if given, else `data_dir/ledger.key`,
/// generating a new key named `origin` there (mode 0600) on first start.
pub fn load_or_create_signer(
    data_dir: &Path,
    env_key: Option<&str>,
    origin: &str,
) -> Result<NoteSigner, LedgerError> {
    if let Some(k) = env_key {
        return NoteSigner::parse(k.trim()).map_err(|e| key_err(KEY_ENV, e));
    }
    let path = data_dir.join(KEY_FILE);
    if path.exists() {
        return read_signer(&path);
    }
    let io = |e: std::io::Error| LedgerError::Key {
        source_name: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let signer = NoteSigner::from_seed(origin, rand::random::<[u8; 32]>())
        .map_err(|e| key_err(ORIGIN_ENV, e))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut f, format!("{}\n", signer.skey()).as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    tracing::info!(path = %path.display(), vkey = %signer.verifier().vkey(), "generated the ledger signing key");
    Ok(signer)
}

fn key_err(source: &str, e: NoteError) -> LedgerError {
    LedgerError::Key {
        source_name: source.to_string(),
        reason: e.to_string(),
    }
}

fn read_signer(path: &Path) -> Result<NoteSigner, LedgerError> {
    let text = std::fs::read_to_string(path).map_err(|e| LedgerError::Key {
        source_name: path.display().to_string(),
        reason: e.to_string(),
    })?;
    NoteSigner::parse(text.trim()).map_err(|e| key_err(&path.display().to_string(), e))
}

/// The verifier key of a data dir's ledger (from `PINGAN_LEDGER_KEY` when set,
/// else its `ledger.key`), without creating anything.
pub fn verifier_of_data_dir(data_dir: &Path) -> Result<NoteVerifier, LedgerError> {
    if let Ok(k) = std::env::var(KEY_ENV) {
        return Ok(NoteSigner::parse(k.trim())
            .map_err(|e| key_err(KEY_ENV, e))?
            .verifier());
    }
    Ok(read_signer(&key_path(data_dir))?.verifier())
}

/// Path of the key file in a data dir.
pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

fn tile_rows(writes: &[pingan_ledger::TileWrite]) -> Vec<LedgerTileRow> {
    writes
        .iter()
        .map(|w| LedgerTileRow {
            level: w.tile.level,
            index: w.tile.index,
            width: w.tile.width,
            hashes: encode_tile(&w.hashes),
        })
        .collect()
}

/// Rebuilds the integrator's state from the store: the latest checkpoint
/// (verified) and the right-edge tiles, which must reproduce its root.
async fn load_state(
    store: &Store,
    verifier: &NoteVerifier,
) -> Result<Option<(Frontier, Head)>, LedgerError> {
    let Some(row) = store.ledger_latest_checkpoint().await? else {
        return Ok(None);
    };
    let cp = Checkpoint::open(&row.note, verifier)?;
    let needed = Frontier::tiles_needed(cp.size);
    let ids: Vec<(u8, u64)> = needed.iter().map(|t| (t.level, t.index)).collect();
    let mut set = TileSet::new();
    for r in store.ledger_tiles(&ids).await? {
        set.insert_bytes(
            pingan_ledger::TileId {
                level: r.level,
                index: r.index,
                width: r.width,
            },
            &r.hashes,
        )?;
    }
    let frontier = Frontier::from_tiles(cp.size, &set)?;
    if frontier.root() != cp.root {
        return Err(LedgerError::RootMismatch {
            tiles: hex::encode(frontier.root()),
            checkpoint: hex::encode(cp.root),
        });
    }
    Ok(Some((
        frontier,
        Head {
            size: cp.size,
            root: cp.root,
            note: row.note.into(),
            at: row.at,
        },
    )))
}

/// A salted commitment to `value` with its fresh random salt, not yet kept:
/// for a caller that stores the salt in its own transaction (a commitment
/// whose salt is lost can never be opened, which is how erasure works).
pub fn fresh_commitment(value: &[u8]) -> Result<(Commitment, Salt), LedgerError> {
    let salt = Salt::new(&rand::random::<[u8; 32]>())?;
    Ok((commit(&salt, value), salt))
}

impl LedgerService {
    /// Opens the ledger of `store` with the key from `PINGAN_LEDGER_KEY` or
    /// `data_dir/ledger.key` (generated on first start) and starts its integrator.
    pub async fn open(
        store: &Store,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<LedgerService>, LedgerError> {
        let origin = std::env::var(ORIGIN_ENV).unwrap_or_else(|_| DEFAULT_ORIGIN.to_string());
        let env_key = std::env::var(KEY_ENV).ok();
        let signer = load_or_create_signer(data_dir, env_key.as_deref(), &origin)?;
        Self::start(store.clone(), signer, clock).await
    }

    /// Starts the ledger with an explicit signer (tests, tools).
    pub async fn start(
        store: Store,
        signer: NoteSigner,
        clock: Arc<dyn Clock>,
    ) -> Result<Arc<LedgerService>, LedgerError> {
        let verifier = signer.verifier();
        let vkey = verifier.vkey();
        match store.get_meta(META_VKEY).await? {
            Some(stored) if stored != vkey => {
                return Err(LedgerError::KeyMismatch {
                    stored,
                    configured: vkey,
                });
            }
            Some(_) => {}
            None => store.set_meta(META_VKEY, &vkey).await?,
        }
        let (frontier, head) = match load_state(&store, &verifier).await? {
            Some(s) => s,
            None => {
                // Sign the empty log so the checkpoint endpoint always has an answer.
                let at = clock.now().millis();
                let note = Checkpoint::new(signer.name(), 0, empty_root()).sign(&signer)?;
                let row = LedgerCheckpointRow {
                    size: 0,
                    root: empty_root(),
                    note: note.clone(),
                    at,
                };
                store
                    .ledger_append(LedgerBatch {
                        first_index: 0,
                        entries: &[],
                        tiles: &[],
                        checkpoint: &row,
                        feed: &[],
                    })
                    .await?;
                (
                    Frontier::empty(),
                    Head {
                        size: 0,
                        root: empty_root(),
                        note: note.into(),
                        at,
                    },
                )
            }
        };
        let (jobs, rx) = mpsc::channel(QUEUE_LEN);
        let (head_tx, head) = watch::channel(head);
        let integrator = Integrator {
            store: store.clone(),
            signer,
            verifier: verifier.clone(),
            clock: clock.clone(),
            frontier,
            head: head_tx,
        };
        tokio::spawn(integrator.run(rx));
        Ok(Arc::new(LedgerService {
            store,
            verifier,
            clock,
            jobs,
            head,
        }))
    }

    /// Appends a record; resolves once it is stored under a signed checkpoint.
    /// Records are integrated in the order their `append` calls reach the queue.
    pub async fn append(&self, record: &LeafRecord) -> Result<Appended, LedgerError> {
        let data = record.to_canonical_json()?.into_bytes();
        let mut out = self.submit(vec![data], Vec::new()).await?;
        out.pop().ok_or(LedgerError::Stopped)
    }

    /// Appends records of the durable feed, all or none, consecutively and in
    /// order; each entry's feed row is deleted (and its case leaf stored) in
    /// the transaction that stores it.
    pub(crate) async fn append_feed(
        &self,
        records: &[(LeafRecord, FeedOrigin)],
    ) -> Result<Vec<Appended>, LedgerError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut entries = Vec::with_capacity(records.len());
        for (r, _) in records {
            entries.push(r.to_canonical_json()?.into_bytes());
        }
        let feed = records.iter().map(|(_, o)| o.clone()).collect();
        self.submit(entries, feed).await
    }

    async fn submit(
        &self,
        entries: Vec<Vec<u8>>,
        feed: Vec<FeedOrigin>,
    ) -> Result<Vec<Appended>, LedgerError> {
        let (done, rx) = oneshot::channel();
        self.jobs
            .send(Job {
                entries,
                feed,
                done,
            })
            .await
            .map_err(|_| LedgerError::Stopped)?;
        match rx.await {
            Ok(Ok(a)) => Ok(a),
            Ok(Err(reason)) => Err(LedgerError::Batch {
                reason: reason.to_string(),
            }),
            Err(_) => Err(LedgerError::Stopped),
        }
    }

    /// Appends a record and returns its receipt against the latest checkpoint.
    pub async fn append_with_receipt(&self, record: &LeafRecord) -> Result<Receipt, LedgerError> {
        let a = self.append(record).await?;
        self.receipt(a.index).await
    }

    /// The receipt of entry `index` (with the entry itself) against the latest checkpoint.
    pub async fn receipt(&self, index: u64) -> Result<Receipt, LedgerError> {
        let head = self.head();
        if index >= head.size {
            return Err(LedgerError::IndexOutOfRange {
                index,
                size: head.size,
            });
        }
        let entry = self
            .store
            .ledger_entry(index)
            .await?
            .ok_or(LedgerError::IndexOutOfRange {
                index,
                size: head.size,
            })?;
        let proof = self.inclusion_proof(index, head.size).await?;
        let leaf = self.leaf_hash(index).await?;
        Ok(Receipt::new(index, leaf, head.note.to_string(), proof)
            .with_entry(String::from_utf8_lossy(&entry.data).into_owned()))
    }

    /// The leaf hash integrated at `index`, read from its level-0 tile: what
    /// the tree and its checkpoints commit to, whatever the stored entry says
    /// now (so a receipt of an edited entry shows the mismatch).
    pub async fn leaf_hash(&self, index: u64) -> Result<Hash, LedgerError> {
        let size = self.head().size;
        if index >= size {
            return Err(LedgerError::IndexOutOfRange { index, size });
        }
        let width = u64::from(pingan_ledger::tile::TILE_WIDTH);
        let at = (index % width) as usize * 32;
        let rows = self.store.ledger_tiles(&[(0, index / width)]).await?;
        rows.first()
            .and_then(|r| r.hashes.get(at..at + 32))
            .and_then(|b| Hash::try_from(b).ok())
            .ok_or_else(|| {
                LedgerError::Store(StoreError::Corrupt {
                    field: "ledger_tiles",
                    reason: format!("no level-0 tile holds leaf {index}"),
                })
            })
    }

    /// The log's current signed state.
    pub fn head(&self) -> Head {
        self.head.borrow().clone()
    }

    /// Waits until the log has at least `size` entries under a signed checkpoint.
    pub async fn wait_for_size(&self, size: u64) -> Result<Head, LedgerError> {
        let mut rx = self.head.clone();
        let h = rx
            .wait_for(|h| h.size >= size)
            .await
            .map_err(|_| LedgerError::Stopped)?;
        Ok(h.clone())
    }

    pub fn verifier(&self) -> &NoteVerifier {
        &self.verifier
    }

    /// The log's origin (its key name).
    pub fn origin(&self) -> &str {
        self.verifier.name()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn check_size(&self, size: u64) -> Result<(), LedgerError> {
        let log_size = self.head.borrow().size;
        if size > log_size {
            return Err(LedgerError::SizeOutOfRange { size, log_size });
        }
        Ok(())
    }

    /// Fetches the plan's tiles in one query, cut to the widths the plan's tree size had.
    async fn fetch(&self, plan: &ProofPlan) -> Result<Vec<Hash>, LedgerError> {
        let tiles = plan.tiles();
        let ids: Vec<(u8, u64)> = tiles.iter().map(|t| (t.level, t.index)).collect();
        let mut set = TileSet::new();
        for r in self.store.ledger_tiles(&ids).await? {
            let Some(t) = tiles
                .iter()
                .find(|t| t.level == r.level && t.index == r.index)
            else {
                continue;
            };
            // Tiles only grow to the right: the prefix is the tile at the plan's size.
            let want = usize::from(t.width) * 32;
            if r.hashes.len() >= want {
                set.insert_bytes(*t, &r.hashes[..want])?;
            }
        }
        Ok(plan.build(&set)?)
    }

    /// Inclusion proof of `index` in the tree of `size` entries (≤ the log size).
    pub async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(size)?;
        let plan = ProofPlan::inclusion(index, size)?;
        self.fetch(&plan).await
    }

    /// Consistency proof from tree size `from` to `to` (≤ the log size).
    pub async fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, LedgerError> {
        self.check_size(to)?;
        let plan = ProofPlan::consistency(from, to)?;
        self.fetch(&plan).await
    }

    /// The signed checkpoint note at exactly `size`, if one was signed.
    pub async fn checkpoint_at(&self, size: u64) -> Result<Option<String>, LedgerError> {
        Ok(self.store.ledger_checkpoint(size).await?.map(|c| c.note))
    }

    /// Body of a C2SP tile path (`tile/…`), or `None` when that tile does not exist (yet).
    pub async fn tile(&self, path: TilePath) -> Result<Option<Vec<u8>>, LedgerError> {
        match path {
            TilePath::Hashes(t) => {
                let rows = self.store.ledger_tiles(&[(t.level, t.index)]).await?;
                let want = usize::from(t.width) * 32;
                Ok(rows
                    .into_iter()
                    .next()
                    .filter(|r| r.hashes.len() >= want && r.width >= t.width)
                    .map(|r| r.hashes[..want].to_vec()))
            }
            TilePath::Entries(e) => {
                let first = e.first_entry();
                if first + u64::from(e.width) > self.head().size {
                    return Ok(None);
                }
                let rows = self.store.ledger_entries(first, i64::from(e.width)).await?;
                let contiguous = rows.len() == usize::from(e.width)
                    && rows
                        .iter()
                        .enumerate()
                        .all(|(i, r)| r.index == first + i as u64);
                if !contiguous {
                    return Ok(None);
                }
                let data: Vec<&[u8]> = rows.iter().map(|r| r.data.as_slice()).collect();
                Ok(Some(encode_entry_bundle(&data)?))
            }
        }
    }

    /// A salted commitment to personal data for a leaf: draws a 32-byte salt,
    /// keeps it privately in the store and returns the commitment.
    pub async fn commit_personal(&self, value: &[u8]) -> Result<Commitment, LedgerError> {
        let (c, salt) = fresh_commitment(value)?;
        self.store
            .ledger_put_salt(&c.0, salt.as_bytes(), self.clock.now().millis())
            .await?;
        Ok(c)
    }

    /// Whether `commitment` (made here) opens to `value`; `false` for unknown commitments.
    pub async fn check_personal(
        &self,
        commitment: &Commitment,
        value: &[u8],
    ) -> Result<bool, LedgerError> {
        let Some(salt) = self.store.ledger_salt(&commitment.0).await? else {
            return Ok(false);
        };
        Ok(check_commitment(commitment, &Salt::new(&salt)?, value))
    }

    /// Anchors the audit log's chain head now if it moved since `last_seq`;
    /// returns the anchored seq.
    pub async fn anchor_audit_head(&self, last_seq: Option<i64>) -> Result<i64, LedgerError> {
        let (seq, hash) = self.store.audit_head().await?;
        if last_seq == Some(seq) {
            return Ok(seq);
        }
        let chain_head: Hash = hex::decode(&hash)
            .ok()
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| {
                LedgerError::Store(StoreError::Corrupt {
                    field: "audit_log.hash",
                    reason: format!("{hash:?} is not a SHA-256 hex digest"),
                })
            })?;
        let record = LeafRecord::AuditCheckpoint(AuditCheckpoint {
            audit_seq: u64::try_from(seq).unwrap_or(0),
            chain_head,
            at: self.clock.now(),
        });
        self.append(&record).await?;
        Ok(seq)
    }

    /// Anchors the audit chain head at start and then every `every` (when it moved).
    pub fn spawn_audit_anchor(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last = None;
            loop {
                tick.tick().await;
                match me.anchor_audit_head(last).await {
                    Ok(seq) => {
                        if last != Some(seq) {
                            tracing::debug!(seq, "anchored the audit chain head in the ledger");
                        }
                        last = Some(seq);
                    }
                    // The next tick retries; the interval is the backoff.
                    Err(e) => tracing::warn!(error = %e, "cannot anchor the audit chain head"),
                }
            }
        });
    }
}

/// The single owner of the log's right edge: drains the queue into batches,
/// integrates, signs and persists each batch, then answers its callers.
struct Integrator {
    store: Store,
    signer: NoteSigner,
    verifier: NoteVerifier,
    clock: Arc<dyn Clock>,
    frontier: Frontier,
    head: watch::Sender<Head>,
}

impl Integrator {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut jobs: Vec<Job> = Vec::new();
        // Group commit: whatever queued up while the previous batch was being
        // written forms the next batch, so an idle log answers at once and a
        // busy one writes large batches.
        while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            let mut data: Vec<Vec<u8>> = Vec::with_capacity(jobs.len());
            // (offset in the batch, origin) of the entries that came from the feed.
            let mut origins: Vec<(u64, FeedOrigin)> = Vec::new();
            let mut counts = Vec::with_capacity(jobs.len());
            for job in &mut jobs {
                counts.push(job.entries.len());
                let base = data.len() as u64;
                origins.extend(
                    job.feed
                        .drain(..)
                        .enumerate()
                        .map(|(k, o)| (base + k as u64, o)),
                );
                data.append(&mut job.entries);
            }
            match self.persist(&data, &origins).await {
                Ok((first, leaf_hashes, head)) => {
                    let mut next = 0usize;
                    for (job, n) in jobs.drain(..).zip(counts) {
                        let appended = (next..next + n)
                            .map(|i| Appended {
                                index: first + i as u64,
                                leaf_hash: leaf_hashes[i],
                                checkpoint_size: head.size,
                                checkpoint: head.note.clone(),
                            })
                            .collect();
                        next += n;
                        let _ = job.done.send(Ok(appended));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, entries = data.len(), "ledger batch failed");
                    let reason: Arc<str> = e.to_string().into();
                    for job in jobs.drain(..) {
                        let _ = job.done.send(Err(reason.clone()));
                    }
                }
            }
        }
    }

    /// Integrates and writes one batch, retrying with backoff; on a conflict
    /// (the stored log moved under us) reloads the right edge and re-integrates.
    async fn persist(
        &mut self,
        data: &[Vec<u8>],
        origins: &[(u64, FeedOrigin)],
    ) -> Result<(u64, Vec<Hash>, Head), LedgerError> {
        let mut delay = Duration::from_millis(20);
        let mut last_err = String::new();
        for attempt in 1..=PERSIST_ATTEMPTS {
            let batch = integrate(&self.frontier, data);
            let at = self.clock.now().millis();
            let note = Checkpoint::new(self.signer.name(), batch.new_size, batch.root)
                .sign(&self.signer)?;
            let cp = LedgerCheckpointRow {
                size: batch.new_size,
                root: batch.root,
                note,
                at,
            };
            let tiles = tile_rows(&batch.tile_writes);
            let feed: Vec<LedgerFeedAck> = origins
                .iter()
                .map(|(offset, o)| LedgerFeedAck {
                    seq: o.seq,
                    case_leaf: o.case.as_ref().map(|c| CaseLeafRow {
                        leaf_index: (batch.old_size + offset) as i64,
                        incident_id: c.incident_id,
                        status: c.status.clone(),
                        org_code: c.org_code.clone(),
                        at: c.at,
                    }),
                })
                .collect();
            let outcome = self
                .store
                .ledger_append(LedgerBatch {
                    first_index: batch.old_size,
                    entries: data,
                    tiles: &tiles,
                    checkpoint: &cp,
                    feed: &feed,
                })
                .await;
            match outcome {
                Ok(()) => {
                    let head = Head {
                        size: batch.new_size,
                        root: batch.root,
                        note: cp.note.into(),
                        at,
                    };
                    self.frontier = batch.frontier;
                    self.head.send_replace(head.clone());
                    return Ok((batch.old_size, batch.leaf_hashes, head));
                }
                // Another process recorded these feed rows: retrying cannot
                // succeed, and the feed worker re-reads what is still pending.
                Err(
                    e @ StoreError::Conflict {
                        entity: "ledger feed",
                        ..
                    },
                ) => {
                    return Err(LedgerError::Batch {
                        reason: e.to_string(),
                    });
                }
                Err(StoreError::Conflict { .. }) => {
                    tracing::warn!(
                        attempt,
                        size = self.frontier.size(),
                        "stored log moved; reloading its right edge"
                    );
                    last_err = "the stored log changed size under the integrator".into();
                    if let Some((frontier, head)) = load_state(&self.store, &self.verifier).await? {
                        self.frontier = frontier;
                        self.head.send_replace(head);
                    }
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "ledger batch write failed; retrying");
                    last_err = e.to_string();
                    tokio::time::sleep(delay).await;
                    delay *= 4;
                }
            }
        }
        Err(LedgerError::Batch { reason: last_err })
    }
}

/// Recomputes the whole log in `store` with [`pingan_ledger::audit`]: every
/// tile and checkpoint is loaded, entries are streamed in index order.
pub async fn audit_store(
    store: &Store,
    verifier: &NoteVerifier,
) -> Result<AuditReport, LedgerError> {
    const PAGE: i64 = 10_000;
    let mut tiles = TileSet::new();
    let (mut level, mut index) = (0u8, 0u64);
    loop {
        let page = store.ledger_tiles_from(level, index, PAGE).await?;
        let Some(last) = page.last() else { break };
        (level, index) = (last.level, last.index + 1);
        for r in page {
            // A body whose length disagrees with its width still goes in (cut
            // to whole hashes) so the audit reports what is actually there.
            let hashes: Vec<Hash> = r
                .hashes
                .chunks_exact(32)
                .map(|c| c.try_into().expect("chunks of 32"))
                .collect();
            tiles.insert(r.level, r.index, hashes);
        }
    }
    let mut notes = Vec::new();
    let mut from = 0u64;
    loop {
        let page = store.ledger_checkpoints(from, PAGE).await?;
        let Some(last) = page.last() else { break };
        from = last.size + 1;
        notes.extend(page.into_iter().map(|c| c.note));
    }
    // Entries stream through a small channel so the log never sits in memory whole.
    let (tx, mut rx) = mpsc::channel::<Vec<(u64, Vec<u8>)>>(4);
    let verifier = verifier.clone();
    let worker = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = notes.iter().map(String::as_str).collect();
        let pages = std::iter::from_fn(|| rx.blocking_recv());
        audit(pages.flatten(), &tiles, &refs, &verifier)
    });
    let mut next = 0u64;
    loop {
        let page = store.ledger_entries(next, PAGE).await?;
        let Some(last) = page.last() else { break };
        next = last.index + 1;
        let rows = page.into_iter().map(|e| (e.index, e.data)).collect();
        if tx.send(rows).await.is_err() {
            break;
        }
    }
    drop(tx);
    let mut report = worker.await.map_err(|e| LedgerError::Worker {
        reason: e.to_string(),
    })?;
    if let Some(AnchorCheck {
        ledger_index,
        audit_seq,
        problem: Some(reason),
    }) = check_audit_anchor(store).await?
    {
        report.findings.push(Finding::AuditLogAnchor {
            index: ledger_index,
            audit_seq,
            reason,
        });
    }
    Ok(report)
}

/// The audit log checked against the latest anchor of its chain head in the
/// ledger: a log cut short or rewritten after it was anchored still verifies
/// as a chain on its own, but no longer holds the anchored record.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorCheck {
    /// The ledger entry holding the anchor.
    pub ledger_index: u64,
    /// The audit record it anchors (0: the empty log).
    pub audit_seq: u64,
    /// What is wrong, if anything.
    pub problem: Option<String>,
}

/// Finds the newest audit anchor in the ledger (scanning back from its end)
/// and checks that the audit log still holds that record with that hash.
/// `None` when the ledger holds no anchor yet.
pub async fn check_audit_anchor(store: &Store) -> Result<Option<AnchorCheck>, LedgerError> {
    const PAGE: i64 = 512;
    let mut before = u64::MAX;
    loop {
        let page = store.ledger_entries_before(before, PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        before = last.index;
        for e in page {
            let Ok(LeafRecord::AuditCheckpoint(a)) = LeafRecord::from_canonical_json(&e.data)
            else {
                continue;
            };
            let anchored = hex::encode(a.chain_head);
            let seq = i64::try_from(a.audit_seq).unwrap_or(i64::MAX);
            let problem = if seq == 0 {
                None
            } else {
                match store.audit_hash_at(seq).await? {
                    None => {
                        let (head, _) = store.audit_head().await?;
                        Some(format!(
                            "record #{seq} is missing (the log ends at #{head}): records were removed"
                        ))
                    }
                    Some(h) if h != anchored => Some(format!(
                        "record #{seq} hashes to {h}, not the anchored {anchored}: the log was rewritten"
                    )),
                    Some(_) => None,
                }
            };
            return Ok(Some(AnchorCheck {
                ledger_index: e.index,
                audit_seq: a.audit_seq,
                problem,
            }));
        }
    }
}

/// Numbers measured by [`bench`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    pub entries: u64,
    pub append_secs: f64,
    pub appends_per_sec: f64,
    pub batches: u64,
    pub inclusion_proof_micros: f64,
    pub consistency_proof_micros: f64,
    pub receipt_micros: f64,
    /// Database bytes (after a WAL checkpoint on SQLite) per entry, all tables.
    pub bytes_per_entry: f64,
}

/// Appends `entries` case-state records through a fresh service on `store`
/// (which should be empty) with `in_flight` appends outstanding, then times
/// proofs and receipts from the store. For `pingan ledger bench`.
pub async fn bench(
    store: &Store,
    entries: u64,
    in_flight: usize,
) -> Result<BenchReport, LedgerError> {
    use futures::StreamExt;
    use pingan_ledger::{CaseEntity, CaseStateChange};

    let signer = NoteSigner::from_seed("bench.pingan.local/ledger", rand::random::<[u8; 32]>())
        .map_err(|e| key_err("bench", e))?;
    let svc =
        LedgerService::start(store.clone(), signer, Arc::new(pingan_core::SystemClock)).await?;
    let base = svc.head().size;
    let record = |i: u64| {
        LeafRecord::CaseState(CaseStateChange {
            entity: CaseEntity::Incident,
            number: format!("J510104202611{i:010}"),
            from: Some("dispatched".into()),
            to: "on_scene".into(),
            at: pingan_core::Timestamp::from_millis(1_764_000_000_000 + i as i64),
            org: "510104000000".into(),
            subject: Some(Commitment([(i % 251) as u8; 32])),
        })
    };
    let started = std::time::Instant::now();
    let mut pending = futures::stream::FuturesUnordered::new();
    let mut next = 0u64;
    let mut checkpoints = std::collections::BTreeSet::new();
    while next < entries || !pending.is_empty() {
        while next < entries && pending.len() < in_flight {
            let r = record(next);
            let svc = svc.clone();
            pending.push(async move { svc.append(&r).await });
            next += 1;
        }
        if let Some(done) = pending.next().await {
            checkpoints.insert(done?.checkpoint_size);
        }
    }
    let append_secs = started.elapsed().as_secs_f64();
    let size = svc.head().size;
    let samples = 200u64;
    let pick = |k: u64| (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 7) % (size - base).max(1) + base;
    let t = std::time::Instant::now();
    for k in 0..samples {
        svc.inclusion_proof(pick(k), size).await?;
    }
    let inclusion_proof_micros = t.elapsed().as_secs_f64() * 1e6 / samples as f64;
    let t = std::time::Instant::now();
    for k in 0..samples {
        svc.consistency_proof(pick(k).max(1), size).await?;
    }
    let consistency_proof_micros = t.elapsed().as_secs_f64() * 1e6 / samples as f64;
    let t = std::time::Instant::now();
    for k in 0..samples {
        svc.receipt(pick(k)).await?;
    }
    let receipt_micros = t.elapsed().as_secs_f64() * 1e6 / samples as f64;
    if store.dialect() == pingan_store::Dialect::Sqlite {
        store.execute_raw("PRAGMA wal_checkpoint(TRUNCATE)").await?;
    }
    let bytes_per_entry = store.database_bytes().await? as f64 / entries.max(1) as f64;
    Ok(BenchReport {
        entries,
        append_secs,
        appends_per_sec: entries as f64 / append_secs,
        batches: checkpoints.len() as u64,
        inclusion_proof_micros,
        consistency_proof_micros,
        receipt_micros,
        bytes_per_entry,
    })
}
