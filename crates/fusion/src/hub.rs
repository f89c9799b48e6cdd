//! The in-memory data hub: records, resolver, relation index, search index,
//! checkpoints and rejection report behind one [`ImportSink`].
//!
//! The server keeps the same pieces but persists records, rejections and
//! checkpoints in SQL inside its own `ImportSink::commit` transaction; this type is
//! the reference composition used by tests, the CLI's embedded mode and the bench.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use crate::ingest::{Batch, Checkpoint, CommitOutcome, ImportSink, Record, RecordKey, Rejection};
use crate::profile::{Profile, RelationIndex, TimelineEvent, build_profile};
use crate::resolve::{EntityId, RecordId, Resolver};
use crate::search::{SearchDoc, SearchError, SearchIndex};

/// Builds a record's search document on the indexing thread. The server's
/// builder adds the org nodes the record's address is located in; the default
/// is [`SearchDoc::from_record`].
pub type DocBuilder = Arc<dyn Fn(RecordId, &Record) -> SearchDoc + Send + Sync>;

pub struct Hub {
    /// Full records; empty when the hub is lean (records live in the caller's store).
    records: Vec<Record>,
    keep_records: bool,
    /// Per record id: content hash (update detection) and where it came from.
    hashes: Vec<[u8; 16]>,
    locations: Vec<(u32, u64)>,
    /// Per record id: its key, by which a lean hub's caller fetches the full
    /// record from its store.
    keys: Vec<RecordKey>,
    files: Vec<Arc<str>>,
    by_key: HashMap<RecordKey, RecordId>,
    resolver: Resolver,
    relations: RelationIndex,
    search: Option<SearchIndex>,
    doc_builder: Option<DocBuilder>,
    checkpoints: HashMap<(String, String), Checkpoint>,
    rejections: Vec<Rejection>,
    /// Rejections kept in memory; the rest are only counted.
    max_rejections: usize,
    uncommitted_docs: usize,
    /// Commit the search index after this many new documents (and at each finished file).
    pub search_commit_every: usize,
    times: SinkTimes,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("records", &self.hashes.len())
            .field("keep_records", &self.keep_records)
            .field("indexed", &self.search.is_some())
            .finish_non_exhaustive()
    }
}

/// Wall time the hub spent in each of its phases: resolution on the committing
/// thread, indexing on the batch's indexing thread (the two overlap; tantivy
/// tokenises and writes segments on its own threads, whose tail shows in
/// `commit`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SinkTimes {
    /// Entity resolution and the relation index.
    pub resolve_secs: f64,
    /// Building search documents and handing them to the index writer (on the
    /// indexing thread, overlapping resolution).
    pub index_secs: f64,
    /// Search index commits (waits for the writer threads to finish).
    pub commit_secs: f64,
}

/// Errors from [`Hub`] as a sink.
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error(transparent)]
    Search(#[from] SearchError),
}

impl From<Infallible> for HubError {
    fn from(x: Infallible) -> Self {
        match x {}
    }
}

impl Hub {
    /// A hub that keeps every record in memory (profiles work out of the box).
    pub fn new(resolver: Resolver, search: Option<SearchIndex>) -> Hub {
        Self::build(resolver, search, true)
    }

    /// A hub that does not keep full records, for bulk loads whose records are
    /// persisted elsewhere: [`Hub::record`] returns `None`, [`Hub::location`] still
    /// works, and profiles take the caller's record fetcher
    /// ([`crate::profile::build_profile`]).
    pub fn lean(resolver: Resolver, search: Option<SearchIndex>) -> Hub {
        Self::build(resolver, search, false)
    }

    fn build(resolver: Resolver, search: Option<SearchIndex>, keep_records: bool) -> Hub {
        Hub {
            records: Vec::new(),
            keep_records,
            hashes: Vec::new(),
            locations: Vec::new(),
            keys: Vec::new(),
            files: Vec::new(),
            by_key: HashMap::new(),
            resolver,
            relations: RelationIndex::default(),
            search,
            doc_builder: None,
            checkpoints: HashMap::new(),
            rejections: Vec::new(),
            max_rejections: 100_000,
            uncommitted_docs: 0,
            search_commit_every: 200_000,
            times: SinkTimes::default(),
        }
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn record(&self, id: RecordId) -> Option<&Record> {
        self.records.get(id.0 as usize)
    }

    /// Number of records stored (kept or not).
    pub fn record_count(&self) -> usize {
        self.hashes.len()
    }

    /// Source file and line of a record.
    pub fn location(&self, id: RecordId) -> Option<(&str, u64)> {
        self.locations
            .get(id.0 as usize)
            .map(|(f, l)| (&*self.files[*f as usize], *l))
    }

    pub fn record_by_key(&self, key: RecordKey) -> Option<RecordId> {
        self.by_key.get(&key).copied()
    }

    /// The key of a record (kept or not): a lean hub's caller fetches the
    /// full record from its store by this key.
    pub fn key_of(&self, id: RecordId) -> Option<RecordKey> {
        self.keys.get(id.0 as usize).copied()
    }

    /// The content hash a record was last stored with (update detection).
    pub fn content_hash_of(&self, id: RecordId) -> Option<[u8; 16]> {
        self.hashes.get(id.0 as usize).copied()
    }

    /// How the indexing thread builds search documents from now on (default
    /// [`SearchDoc::from_record`]).
    pub fn set_doc_builder(&mut self, builder: DocBuilder) {
        self.doc_builder = Some(builder);
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// For analyst merges, splits and undos.
    pub fn resolver_mut(&mut self) -> &mut Resolver {
        &mut self.resolver
    }

    pub fn search(&self) -> Option<&SearchIndex> {
        self.search.as_ref()
    }

    /// Mutable access to the index (clearing it before a full re-index).
    pub fn search_mut(&mut self) -> Option<&mut SearchIndex> {
        self.search.as_mut()
    }

    pub fn relations(&self) -> &RelationIndex {
        &self.relations
    }

    /// The stored checkpoint of `source`'s import of the file with this content hash.
    pub fn checkpoint(&self, source: &str, file_hash: &str) -> Option<&Checkpoint> {
        self.checkpoints
            .get(&(source.to_owned(), file_hash.to_owned()))
    }

    pub fn rejections(&self) -> &[Rejection] {
        &self.rejections
    }

    /// Commits pending search documents.
    pub fn flush(&mut self) -> Result<(), SearchError> {
        let t = Instant::now();
        if let Some(s) = &mut self.search
            && self.uncommitted_docs > 0
        {
            s.commit()?;
        }
        self.uncommitted_docs = 0;
        self.times.commit_secs += t.elapsed().as_secs_f64();
        Ok(())
    }

    /// Time spent so far in resolution, indexing and index commits.
    pub fn times(&self) -> SinkTimes {
        self.times
    }

    pub fn profile(&self, entity: EntityId, events: &[TimelineEvent]) -> Option<Profile> {
        let fetch = |r: RecordId| self.record(r).cloned();
        build_profile(&self.resolver, &fetch, &self.relations, entity, events)
    }
}

/// A record on its way to the search index, built and handed to tantivy by
/// the batch's indexing thread.
enum ToIndex {
    /// A new record id: nothing to replace.
    Add(RecordId, Record),
    /// A changed record keeps its id; its document is replaced.
    Replace(RecordId, Record),
}

/// Records in flight between the resolving and the indexing thread.
const INDEX_QUEUE: usize = 1024;

impl Hub {
    /// Resolves and books a batch's records, sending each new or changed one
    /// to `index` (when there is a search index) as it goes.
    fn apply(
        &mut self,
        records: Vec<Record>,
        index: Option<&std::sync::mpsc::SyncSender<ToIndex>>,
        out: &mut CommitOutcome,
    ) {
        // A failed send means the indexing thread stopped on an error, which
        // its join reports; resolution carries on so the batch stays whole.
        let send = |msg: ToIndex| {
            if let Some(tx) = index {
                let _ = tx.send(msg);
            }
        };
        for rec in records {
            if let Some(&id) = self.by_key.get(&rec.key) {
                if self.hashes[id.0 as usize] == rec.content_hash {
                    out.duplicates += 1;
                } else {
                    // An update keeps the record's identity and entity link; the
                    // analyst sees the new values in the profile.
                    self.hashes[id.0 as usize] = rec.content_hash;
                    if self.keep_records {
                        send(ToIndex::Replace(id, rec.clone()));
                        self.records[id.0 as usize] = rec;
                    } else {
                        send(ToIndex::Replace(id, rec));
                    }
                    out.updated += 1;
                }
                continue;
            }
            let t = Instant::now();
            let res = self.resolver.add(&rec);
            debug_assert_eq!(res.record.0 as usize, self.hashes.len());
            if res.joined_existing {
                out.merged += 1;
            }
            out.inserted += 1;
            self.relations.add(res.record, &rec);
            self.times.resolve_secs += t.elapsed().as_secs_f64();
            self.by_key.insert(rec.key, res.record);
            self.hashes.push(rec.content_hash);
            let file = match self.files.iter().rposition(|f| *f == rec.file) {
                Some(i) => i,
                None => {
                    self.files.push(rec.file.clone());
                    self.files.len() - 1
                }
            };
            self.locations.push((file as u32, rec.line));
            self.keys.push(rec.key);
            if self.keep_records {
                send(ToIndex::Add(res.record, rec.clone()));
                self.records.push(rec);
            } else {
                send(ToIndex::Add(res.record, rec));
            }
        }
    }
}

impl Hub {
    /// Resolves `records` and, when `index` is set and there is a search
    /// index, indexes the new and changed ones on a second thread meanwhile.
    /// Indexing runs beside resolution (tantivy's writer blocks when its own
    /// tokenising thread falls behind), so a batch costs about the longer of
    /// the two instead of their sum.
    fn resolve_batch(
        &mut self,
        records: Vec<Record>,
        index: bool,
    ) -> Result<CommitOutcome, HubError> {
        let mut out = CommitOutcome::default();
        let search = if index { self.search.take() } else { None };
        let build = self.doc_builder.clone();
        let indexed = match &search {
            None => {
                self.apply(records, None, &mut out);
                Ok((0, 0.0))
            }
            Some(index) => std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<ToIndex>(INDEX_QUEUE);
                let indexer = scope.spawn(move || -> Result<(usize, f64), SearchError> {
                    let t = Instant::now();
                    let doc = |id: RecordId, rec: &Record| match &build {
                        Some(b) => b(id, rec),
                        None => SearchDoc::from_record(id, rec),
                    };
                    let mut n = 0;
                    for msg in rx {
                        match msg {
                            ToIndex::Add(id, rec) => index.add(&doc(id, &rec))?,
                            ToIndex::Replace(id, rec) => index.upsert(&doc(id, &rec))?,
                        }
                        n += 1;
                    }
                    Ok((n, t.elapsed().as_secs_f64()))
                });
                self.apply(records, Some(&tx), &mut out);
                drop(tx);
                match indexer.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }),
        };
        if index {
            self.search = search;
        }
        let (docs, secs) = indexed?;
        self.uncommitted_docs += docs;
        self.times.index_secs += secs;
        Ok(out)
    }

    /// Adds records that are already persisted (a store-backed hub rebuilt at
    /// start, in store order so record ids come out the same): resolution,
    /// relations and keys, with no checkpoint or rejection bookkeeping;
    /// indexed only when `index` is set (the index is behind the store).
    pub fn replay(&mut self, records: Vec<Record>, index: bool) -> Result<CommitOutcome, HubError> {
        self.resolve_batch(records, index)
    }
}

impl ImportSink for Hub {
    type Error = HubError;

    /// Resolves the batch while a second thread indexes it,
    /// keeps its rejections and checkpoint, and commits the index at the end of
    /// a file or every `search_commit_every` documents.
    fn commit(&mut self, batch: Batch) -> Result<CommitOutcome, HubError> {
        let out = self.resolve_batch(batch.records, true)?;
        let room = self.max_rejections.saturating_sub(self.rejections.len());
        self.rejections
            .extend(batch.rejections.into_iter().take(room));
        if batch.checkpoint.finished || self.uncommitted_docs >= self.search_commit_every {
            self.flush()?;
        }
        let mut cp = batch.checkpoint;
        cp.apply(out);
        self.checkpoints
            .insert((cp.source.clone(), cp.file_hash.clone()), cp);
        Ok(out)
    }
}
