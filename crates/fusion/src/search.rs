//! Search over records: Chinese full text (jieba for addresses and free text,
//! character 1–2-grams for names), structured filters (category, source, district,
//! observation time range) and exact lookups by ID number, phone and plate.
//!
//! The index lives in a directory (or in RAM for tests). Documents are records,
//! keyed by [`RecordKey`]; the caller maps hits to entities through the resolver
//! (`Resolver::person_of`), so merges and splits never require re-indexing.
//! Identifier fields are indexed raw (`STRING`) in canonical form; a query is
//! normalised before the exact lookup ([`classify_query`]).

use std::ops::Bound;
use std::path::Path;

use pingan_core::Timestamp;
use pingan_core::normalize::address::parse_address;
use pingan_core::normalize::{id_number::IdNumber, phone::Phone, plate::Plate};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, TermQuery};
use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value,
};
use tantivy::tokenizer::NgramTokenizer;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use tantivy_jieba::JiebaTokenizer;
use thiserror::Error;

use crate::ingest::{Record, RecordKey};
use crate::model::{EntityKind, Target, targets};
use crate::resolve::RecordId;

#[derive(Debug, Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("query {query:?}: {message}")]
    Query { query: String, message: String },
    #[error("search index at {path}: {message}")]
    Open { path: String, message: String },
}

/// What gets indexed for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchDoc {
    pub record: RecordId,
    pub key: RecordKey,
    pub source: String,
    pub category: String,
    pub district: Option<String>,
    pub observed_at: Timestamp,
    pub name: Option<String>,
    pub address: Option<String>,
    /// Every other textual value (places, descriptions, brands…), space-joined.
    pub text: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub plate: Option<String>,
    /// Org nodes (station, district, city ids) whose jurisdiction the record is
    /// located in; empty when it could not be located. The caller fills it (the
    /// domain knows no map); [`SearchQuery::org`] filters on it.
    pub orgs: Vec<i64>,
}

impl SearchDoc {
    pub fn from_record(record: RecordId, r: &Record) -> SearchDoc {
        let address = [
            targets::person_address(),
            targets::house_address(),
            targets::event_address(),
            targets::address_text(),
        ]
        .into_iter()
        .find_map(|t| r.get(t))
        .map(str::to_owned);
        let district = r
            .get(targets::address_district())
            .map(str::to_owned)
            .or_else(|| address.as_deref().and_then(|a| parse_address(a).district));
        let phone = r
            .get(targets::person_phone())
            .or_else(|| r.get(targets::phone_number()))
            .map(str::to_owned);
        let skip: [Target; 7] = [
            targets::person_name(),
            targets::person_id_number(),
            targets::person_phone(),
            targets::phone_number(),
            targets::vehicle_plate(),
            targets::person_birth_date(),
            targets::event_time(),
        ];
        let text: Vec<&str> = r
            .fields
            .iter()
            .filter(|(t, v)| {
                !skip.contains(t)
                    && t.kind() != EntityKind::Address
                    && Some(*v) != address.as_deref()
            })
            .map(|(_, v)| v)
            .collect();
        SearchDoc {
            record,
            key: r.key,
            source: r.source.to_string(),
            category: r.category.to_string(),
            district,
            observed_at: r.observed_at,
            name: r.get(targets::person_name()).map(str::to_owned),
            address,
            text: text.join(" "),
            id_number: r.get(targets::person_id_number()).map(str::to_owned),
            phone,
            plate: r.get(targets::vehicle_plate()).map(str::to_owned),
            orgs: Vec::new(),
        }
    }
}

/// How a query string was understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryKind {
    IdNumber(String),
    Phone(String),
    Plate(String),
    FullText(String),
}

/// Normalises and classifies a query: a valid ID number, phone or plate becomes an
/// exact lookup on its canonical form; anything else is full text.
pub fn classify_query(q: &str) -> QueryKind {
    let t = q.trim();
    if let Ok(id) = IdNumber::parse(t) {
        return QueryKind::IdNumber(id.as_str().to_owned());
    }
    if t.chars().any(|c| c.is_ascii_digit())
        && !t.chars().any(pingan_core::normalize::text::is_han)
        && let Ok(p) = Phone::parse(t)
    {
        return QueryKind::Phone(p.as_str().to_owned());
    }
    if let Ok(p) = Plate::parse(t) {
        return QueryKind::Plate(p.as_str().to_owned());
    }
    QueryKind::FullText(t.to_owned())
}

/// A search with optional filters. Empty `text` with filters lists by filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    pub category: Option<String>,
    pub source: Option<String>,
    pub district: Option<String>,
    /// Inclusive lower bound on `observed_at`.
    pub from: Option<Timestamp>,
    /// Exclusive upper bound on `observed_at`.
    pub to: Option<Timestamp>,
    /// Only records located in this org node's jurisdiction (see [`SearchDoc::orgs`]).
    pub org: Option<i64>,
    pub limit: usize,
    pub offset: usize,
}

/// One result row, unmasked: pass it through [`crate::mask::mask_hit`] before
/// showing it in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub record: RecordId,
    pub key: RecordKey,
    pub score: f32,
    pub source: String,
    pub category: String,
    pub district: Option<String>,
    pub observed_at: Timestamp,
    pub name: Option<String>,
    pub address: Option<String>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub plate: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResults {
    pub kind: QueryKind,
    /// Total matching records (not only the returned page).
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

#[derive(Clone, Copy)]
struct Fields {
    record: Field,
    key: Field,
    source: Field,
    category: Field,
    district: Field,
    observed_at: Field,
    name: Field,
    address: Field,
    text: Field,
    id_number: Field,
    phone: Field,
    plate: Field,
    org: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text_opts = |tok: &str| {
        TextOptions::default()
            .set_indexing_options(
                TextFieldIndexing::default()
                    .set_tokenizer(tok)
                    .set_index_option(IndexRecordOption::WithFreqsAndPositions),
            )
            .set_stored()
    };
    let f = Fields {
        // Documents are replaced and deleted by record id: an 8-byte term whose
        // dictionary compresses to almost nothing (the 32-character hex key,
        // unique per document, was the largest part of building the index).
        record: b.add_u64_field("record", INDEXED | STORED | FAST),
        key: b.add_text_field("key", STORED),
        source: b.add_text_field("source", STRING | STORED),
        category: b.add_text_field("category", STRING | STORED),
        district: b.add_text_field("district", STRING | STORED),
        // Range filters run on the fast column; indexing millisecond values
        // would add a term per document for nothing.
        observed_at: b.add_i64_field("observed_at", FAST | STORED),
        name: b.add_text_field("name", text_opts("name_ngram")),
        address: b.add_text_field("address", text_opts("jieba")),
        text: b.add_text_field("text", text_opts("jieba")),
        id_number: b.add_text_field("id_number", STRING | STORED),
        phone: b.add_text_field("phone", STRING | STORED),
        plate: b.add_text_field("plate", STRING | STORED),
        org: b.add_i64_field("org", INDEXED),
    };
    (b.build(), f)
}

/// The record index. One writer per index (tantivy's rule): the owner adds and
/// commits; searches see what was committed.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    writer: IndexWriter<TantivyDocument>,
    f: Fields,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex").finish_non_exhaustive()
    }
}

/// Writer memory budget: large enough for throughput, bounded for RSS.
const WRITER_BUDGET: usize = 192 << 20;

impl SearchIndex {
    /// Opens the index in `dir`, creating it if empty.
    pub fn open_or_create(dir: &Path) -> Result<SearchIndex, SearchError> {
        let (schema, f) = schema();
        std::fs::create_dir_all(dir).map_err(|e| SearchError::Open {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| SearchError::Open {
            path: dir.display().to_string(),
            message: e.to_string(),
        })?;
        let index = match Index::open_or_create(mmap, schema.clone()) {
            Ok(i) => i,
            // An index written by an older version with another schema: it is
            // derived data (the owner re-indexes from its records when the index
            // is behind), so start it afresh rather than refuse to open.
            Err(tantivy::TantivyError::SchemaError(_)) => {
                let open_err = |e: std::io::Error| SearchError::Open {
                    path: dir.display().to_string(),
                    message: e.to_string(),
                };
                std::fs::remove_dir_all(dir).map_err(open_err)?;
                std::fs::create_dir_all(dir).map_err(open_err)?;
                let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| {
                    SearchError::Open {
                        path: dir.display().to_string(),
                        message: e.to_string(),
                    }
                })?;
                Index::create(mmap, schema, tantivy::IndexSettings::default())?
            }
            Err(e) => return Err(e.into()),
        };
        Self::finish(index, f)
    }

    /// An index in memory (tests, small demos).
    pub fn in_memory() -> Result<SearchIndex, SearchError> {
        let (schema, f) = schema();
        Self::finish(Index::create_in_ram(schema), f)
    }

    fn finish(index: Index, f: Fields) -> Result<SearchIndex, SearchError> {
        index.tokenizers().register("jieba", JiebaTokenizer::new());
        index
            .tokenizers()
            .register("name_ngram", NgramTokenizer::new(1, 2, false)?);
        // One indexing thread: the caller's pipeline already keeps the other core
        // busy reading and resolving, and one thread's budget makes segments
        // twice as large, so the merges that rewrite them are fewer.
        let writer = index.writer_with_options(
            tantivy::indexer::IndexWriterOptions::builder()
                .num_worker_threads(1)
                .num_merge_threads(1)
                .memory_budget_per_thread(WRITER_BUDGET)
                .build(),
        )?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            writer,
            f,
        })
    }

    /// Adds or replaces (by record id) a record's document; visible after
    /// [`commit`](Self::commit).
    pub fn upsert(&self, d: &SearchDoc) -> Result<(), SearchError> {
        self.delete(d.record);
        self.add(d)
    }

    /// Adds the document of a record that is not in the index yet (a new
    /// record): no delete is queued, which would cost a dictionary lookup in
    /// every segment at commit. Use [`upsert`](Self::upsert) when unsure.
    pub fn add(&self, d: &SearchDoc) -> Result<(), SearchError> {
        let f = self.f;
        let key = d.key.to_hex();
        let mut doc = TantivyDocument::default();
        doc.add_u64(f.record, u64::from(d.record.0));
        doc.add_text(f.key, &key);
        doc.add_text(f.source, &d.source);
        doc.add_text(f.category, &d.category);
        if let Some(x) = &d.district {
            doc.add_text(f.district, x);
        }
        doc.add_i64(f.observed_at, d.observed_at.millis());
        for (field, v) in [
            (f.name, &d.name),
            (f.address, &d.address),
            (f.id_number, &d.id_number),
            (f.phone, &d.phone),
            (f.plate, &d.plate),
        ] {
            if let Some(v) = v {
                doc.add_text(field, v);
            }
        }
        if !d.text.is_empty() {
            doc.add_text(f.text, &d.text);
        }
        for o in &d.orgs {
            doc.add_i64(f.org, *o);
        }
        self.writer.add_document(doc)?;
        Ok(())
    }

    /// Removes every document (before a full re-index, which then adds
    /// without per-record deletes); visible after [`commit`](Self::commit).
    pub fn clear(&self) -> Result<(), SearchError> {
        self.writer.delete_all_documents()?;
        Ok(())
    }

    /// Removes a record's document; visible after [`commit`](Self::commit).
    pub fn delete(&self, record: RecordId) {
        self.writer
            .delete_term(Term::from_field_u64(self.f.record, u64::from(record.0)));
    }

    /// Makes pending changes durable and visible to searches.
    pub fn commit(&mut self) -> Result<(), SearchError> {
        self.writer.commit()?;
        self.reader.reload()?;
        Ok(())
    }

    /// Number of searchable documents.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn search(&self, q: &SearchQuery) -> Result<SearchResults, SearchError> {
        let f = self.f;
        let kind = classify_query(&q.text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let term = |field: Field, v: &str| -> Box<dyn Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, v),
                IndexRecordOption::Basic,
            ))
        };
        match &kind {
            QueryKind::IdNumber(v) => clauses.push((Occur::Must, term(f.id_number, v))),
            QueryKind::Phone(v) => clauses.push((Occur::Must, term(f.phone, v))),
            QueryKind::Plate(v) => clauses.push((Occur::Must, term(f.plate, v))),
            QueryKind::FullText(t) if !t.is_empty() => {
                let mut parser =
                    QueryParser::for_index(&self.index, vec![f.name, f.address, f.text]);
                parser.set_conjunction_by_default();
                parser.set_field_boost(f.name, 2.0);
                // Users type names and addresses, not query syntax: search the words.
                // Same normalisation as the indexed values (simplified, half-width).
                let t = pingan_core::normalize::text::to_half_width(
                    &pingan_core::normalize::text::to_simplified(t),
                );
                let cleaned: String = t
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || c == '·' {
                            c
                        } else {
                            ' '
                        }
                    })
                    .collect();
                let (query, _errors) = parser.parse_query_lenient(&cleaned);
                clauses.push((Occur::Must, query));
            }
            QueryKind::FullText(_) => {}
        }
        for (field, v) in [
            (f.category, &q.category),
            (f.source, &q.source),
            (f.district, &q.district),
        ] {
            if let Some(v) = v {
                clauses.push((Occur::Must, term(field, v)));
            }
        }
        if let Some(o) = q.org {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_i64(f.org, o),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if q.from.is_some() || q.to.is_some() {
            let lo = q.from.map_or(Bound::Unbounded, |t| {
                Bound::Included(Term::from_field_i64(f.observed_at, t.millis()))
            });
            let hi = q.to.map_or(Bound::Unbounded, |t| {
                Bound::Excluded(Term::from_field_i64(f.observed_at, t.millis()))
            });
            clauses.push((Occur::Must, Box::new(RangeQuery::new(lo, hi))));
        }
        if clauses.is_empty() {
            return Ok(SearchResults {
                kind,
                total: 0,
                hits: Vec::new(),
            });
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = if q.limit == 0 { 20 } else { q.limit.min(1000) };
        let (top, total) = searcher.search(
            &query,
            &(
                TopDocs::with_limit(limit)
                    .and_offset(q.offset)
                    .order_by_score(),
                Count,
            ),
        )?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let s = |field: Field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
            };
            hits.push(SearchHit {
                record: RecordId(
                    doc.get_first(f.record)
                        .and_then(|v| v.as_u64())
                        .unwrap_or(0) as u32,
                ),
                key: s(f.key)
                    .and_then(|k| RecordKey::from_hex(&k))
                    .unwrap_or(RecordKey([0; 16])),
                score,
                source: s(f.source).unwrap_or_default(),
                category: s(f.category).unwrap_or_default(),
                district: s(f.district),
                observed_at: Timestamp(
                    doc.get_first(f.observed_at)
                        .and_then(|v| v.as_i64())
                        .unwrap_or(0),
                ),
                name: s(f.name),
                address: s(f.address),
                id_number: s(f.id_number),
                phone: s(f.phone),
                plate: s(f.plate),
            });
        }
        Ok(SearchResults { kind, total, hits })
    }
}
