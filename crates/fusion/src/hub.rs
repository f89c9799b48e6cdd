//! The in-memory data hub: records, resolver, relation index, search index,
//! checkpoints and rejection report behind one [`ImportSink`].
//!
//! The server keeps the same pieces but persists records, rejections and
//! checkpoints in SQL inside its own `ImportSink::commit` transaction; this type is
//! the reference composition used by tests, the CLI's embedded mode and the bench.

use std::collections::HashMap;
use std::convert::Infallible;

use crate::ingest::{Batch, Checkpoint, CommitOutcome, ImportSink, Record, RecordKey, Rejection};
use crate::profile::{Profile, RelationIndex, TimelineEvent, build_profile};
use crate::resolve::{EntityId, RecordId, Resolver};
use crate::search::{SearchDoc, SearchError, SearchIndex};

#[derive(Debug)]
pub struct Hub {
    records: Vec<Record>,
    by_key: HashMap<RecordKey, RecordId>,
    resolver: Resolver,
    relations: RelationIndex,
    search: Option<SearchIndex>,
    checkpoints: HashMap<(String, String), Checkpoint>,
    rejections: Vec<Rejection>,
    /// Rejections kept in memory; the rest are only counted.
    max_rejections: usize,
    uncommitted_docs: usize,
    /// Commit the search index after this many new documents (and at each finished file).
    pub search_commit_every: usize,
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
    pub fn new(resolver: Resolver, search: Option<SearchIndex>) -> Hub {
        Hub {
            records: Vec::new(),
            by_key: HashMap::new(),
            resolver,
            relations: RelationIndex::default(),
            search,
            checkpoints: HashMap::new(),
            rejections: Vec::new(),
            max_rejections: 100_000,
            uncommitted_docs: 0,
            search_commit_every: 200_000,
        }
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn record(&self, id: RecordId) -> Option<&Record> {
        self.records.get(id.0 as usize)
    }

    pub fn record_by_key(&self, key: RecordKey) -> Option<RecordId> {
        self.by_key.get(&key).copied()
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
        if let Some(s) = &mut self.search
            && self.uncommitted_docs > 0
        {
            s.commit()?;
        }
        self.uncommitted_docs = 0;
        Ok(())
    }

    pub fn profile(&self, entity: EntityId, events: &[TimelineEvent]) -> Option<Profile> {
        let fetch = |r: RecordId| self.record(r).cloned();
        build_profile(&self.resolver, &fetch, &self.relations, entity, events)
    }
}

impl ImportSink for Hub {
    type Error = HubError;

    fn commit(&mut self, batch: Batch) -> Result<CommitOutcome, HubError> {
        let mut out = CommitOutcome::default();
        for rec in batch.records {
            if let Some(&id) = self.by_key.get(&rec.key) {
                let old = &mut self.records[id.0 as usize];
                if old.content_hash == rec.content_hash {
                    out.duplicates += 1;
                } else {
                    // An update keeps the record's identity and entity link; the
                    // analyst sees the new values in the profile.
                    *old = rec;
                    if let Some(s) = &mut self.search {
                        s.upsert(&SearchDoc::from_record(id, &self.records[id.0 as usize]))?;
                        self.uncommitted_docs += 1;
                    }
                    out.updated += 1;
                }
                continue;
            }
            let res = self.resolver.add(&rec);
            debug_assert_eq!(res.record.0 as usize, self.records.len());
            if res.joined_existing {
                out.merged += 1;
            }
            out.inserted += 1;
            self.relations.add(res.record, &rec);
            if let Some(s) = &mut self.search {
                s.upsert(&SearchDoc::from_record(res.record, &rec))?;
                self.uncommitted_docs += 1;
            }
            self.by_key.insert(rec.key, res.record);
            self.records.push(rec);
        }
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
