//! The data hub service (issue 5): source registry backed by the store, ingest
//! through `pingan_fusion::ingest::import` with a store-backed sink (one SQL
//! transaction per batch: records + rejections + checkpoint), the entity
//! resolver rebuilt at start by replaying stored records and the analyst journal,
//! the tantivy search index in `data_dir/search`, and the geocoder (free text →
//! best standard address, falling back to the road network's street names).
//!
//! The hub state lives behind a `std::sync::Mutex` and is only touched from
//! blocking threads (`spawn_blocking`), so CPU-heavy resolution and indexing never
//! stall the async runtime.
//!
//! Jurisdiction: every indexed record is located (its address geocoded, the point
//! resolved to station/district/city) and its search document tagged with those
//! org ids; [`Visibility`] turns a caller into an org filter for searches and
//! profiles (station officers see their station's records, analysts city-wide).

use std::collections::HashMap;
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use pingan_core::normalize::address::parse_address;
use pingan_core::{Clock, LatLng, Timestamp};
use pingan_fusion::hub::{Hub, SinkTimes};
use pingan_fusion::ingest::{
    Batch, Checkpoint, CommitOutcome, ImportCounts, ImportError, ImportOptions, ImportSink,
    Progress, Record, RecordKey, content_hash, import,
};
use pingan_fusion::mapping::Mapping;
use pingan_fusion::model::Target;
use pingan_fusion::profile::Profile;
use pingan_fusion::read::{FileFormat, ReadOptions, TextEncoding};
use pingan_fusion::resolve::{EntityId, OperationId, RecordId, ResolveError, Resolver};
use pingan_fusion::search::{SearchDoc, SearchIndex, SearchQuery, SearchResults};
use pingan_jurisdiction::Jurisdiction;
use pingan_store::{
    FusionBatch, FusionCheckpointRow, FusionRecordRow, FusionRejectionRow, FusionSourceRow,
    HouseRow, NewFusionSource, RegistryBulk, ResidentRow, StdAddressRow, Store, StoreError,
    VehicleRegRow,
};
use serde::de::{Deserializer, MapAccess, Visitor};

/// Records read back from the store per query while replaying.
const REPLAY_CHUNK: i64 = 20_000;
/// Batches in flight between the resolving thread and the store writer: one
/// queued while one is written, so the two overlap and memory stays bounded.
const STORE_QUEUE: usize = 1;
/// Decoded replay chunks in flight between the store reader and the resolver.
const REPLAY_QUEUE: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum FusionError {
    #[error("mapping: {0}")]
    Mapping(String),
    #[error("source {0:?} is not registered")]
    UnknownSource(String),
    #[error("import of {file}: {message}")]
    Import { file: String, message: String },
    #[error("import paused after {rows} rows as requested")]
    Paused { rows: u64 },
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    #[error("search index: {0}")]
    Search(#[from] pingan_fusion::search::SearchError),
    #[error("record {key} in the store is unreadable: {reason}")]
    CorruptRecord { key: String, reason: String },
    #[error("journal operation {id} is unreadable: {reason}")]
    CorruptJournal { id: i64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("worker thread failed: {0}")]
    Worker(String),
}

/// Counts and rejections of one import call.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportReport {
    pub source: String,
    pub file: String,
    pub file_hash: String,
    pub counts: ImportCounts,
    pub finished: bool,
    /// True when an earlier interrupted import of the same content was continued.
    pub resumed_from_line: Option<u64>,
    /// True when this content had already been imported completely: nothing was
    /// read again and `counts` are the stored ones (file imports only).
    pub already_imported: bool,
    pub rejections: Vec<FusionRejectionRow>,
}

/// Which records a caller may see in searches and profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Every record (analysts and admins; anyone placed at the city level).
    CityWide,
    /// Only records located in this org node's jurisdiction (a station's or a
    /// district's area).
    Org(i64),
}

impl Visibility {
    /// Analysts and admins work city-wide whatever their org; everyone else sees
    /// their org node's jurisdiction, which for the root (city) node is everything.
    pub fn of(p: &crate::auth::Principal, j: &Jurisdiction) -> Visibility {
        use crate::auth::Role;
        if matches!(p.role, Role::Analyst | Role::Admin) {
            return Visibility::CityWide;
        }
        match j.node(p.org_id) {
            Some(n) if n.parent_id.is_none() => Visibility::CityWide,
            _ => Visibility::Org(p.org_id),
        }
    }

    /// The search filter (`None`: no filter).
    pub fn org(self) -> Option<i64> {
        match self {
            Visibility::CityWide => None,
            Visibility::Org(o) => Some(o),
        }
    }
}

/// Places records on the map: address → geocoder → point → jurisdiction.
#[derive(Clone)]
struct Locator {
    geocoder: Arc<RwLock<Geocoder>>,
    jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
}

impl Locator {
    /// Station, district and city ids of an address (empty when it cannot be placed).
    fn orgs_of_address(&self, address: &str) -> Vec<i64> {
        let m = {
            let g = self.geocoder.read().unwrap_or_else(|p| p.into_inner());
            // Nothing to match against: skip parsing the address (every
            // indexed record comes through here).
            if g.addresses.is_empty() && g.streets.is_empty() {
                return Vec::new();
            }
            g.geocode(address)
        };
        let Some(m) = m else {
            return Vec::new();
        };
        let j = self
            .jurisdiction
            .read()
            .map(|j| j.clone())
            .unwrap_or_else(|p| p.into_inner().clone());
        let l = j.locate(m.point);
        [l.station, l.district, l.city]
            .into_iter()
            .flatten()
            .collect()
    }

    /// The search document of a record, tagged with the org nodes it is located in.
    fn doc(&self, id: RecordId, r: &Record) -> SearchDoc {
        let mut d = SearchDoc::from_record(id, r);
        if let Some(a) = &d.address {
            d.orgs = self.orgs_of_address(a);
        }
        d
    }

    fn visible(&self, vis: Visibility, r: &Record) -> bool {
        match vis {
            Visibility::CityWide => true,
            Visibility::Org(o) => self.doc(RecordId(0), r).orgs.contains(&o),
        }
    }
}

/// An entity's profile as a caller may see it.
#[derive(Debug, Clone)]
pub struct EntityProfile {
    pub profile: Profile,
    /// Per linked record: why it joined the entity.
    pub explanations: Vec<(RecordId, String)>,
    /// The linked records the caller may see, as stored.
    pub records: HashMap<RecordId, Record>,
}

/// How to read an uploaded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportRequest {
    pub format: FileFormat,
    pub encoding: TextEncoding,
    pub batch_size: usize,
    /// Stop (as if interrupted) once this many rows have been committed: bounded
    /// chunks for very large files; the next call resumes from the checkpoint.
    pub stop_after_rows: Option<u64>,
}

impl ImportRequest {
    pub fn new(format: FileFormat) -> ImportRequest {
        ImportRequest {
            format,
            encoding: TextEncoding::Auto,
            batch_size: 5_000,
            stop_after_rows: None,
        }
    }
}

/// The best standard address for a free-text address.
#[derive(Debug, Clone, PartialEq)]
pub struct GeocodeMatch {
    /// Standard address id (`None` when only a street matched).
    pub address_id: Option<i64>,
    pub text: String,
    pub point: LatLng,
    /// 0..1: share of the parsed components that agree.
    pub score: f64,
    /// Components that matched (`district`, `road`, `number`, `building`, `unit`, `room`, `street_name`).
    pub matched: Vec<&'static str>,
}

/// In-memory standard address registry for geocoding.
#[derive(Debug, Default)]
struct Geocoder {
    addresses: Vec<StdAddressRow>,
    by_road: HashMap<String, Vec<usize>>,
    /// Fallback: road network street names with a representative point.
    streets: HashMap<String, LatLng>,
}

impl Geocoder {
    fn add(&mut self, a: StdAddressRow) {
        self.by_road
            .entry(a.road.clone())
            .or_default()
            .push(self.addresses.len());
        self.addresses.push(a);
    }

    fn geocode(&self, text: &str) -> Option<GeocodeMatch> {
        let p = parse_address(text);
        let road = p.road.as_deref()?;
        if let Some(cands) = self.by_road.get(road) {
            // Weighted agreement: road and number carry the location, the
            // building/unit/room refine it to one house.
            let parts: [(&'static str, Option<&str>, f64); 5] = [
                ("district", p.district.as_deref(), 0.1),
                ("number", p.number.as_deref(), 0.3),
                ("building", p.building.as_deref(), 0.1),
                ("unit", p.unit.as_deref(), 0.05),
                ("room", p.room.as_deref(), 0.05),
            ];
            let mut best: Option<(f64, usize, Vec<&'static str>)> = None;
            for &i in cands {
                let a = &self.addresses[i];
                let mut score = 0.4;
                let mut matched = vec!["road"];
                for (name, v, w) in parts {
                    let Some(v) = v else { continue };
                    let have = match name {
                        "district" => Some(a.district.as_str()),
                        "number" => Some(a.number.as_str()),
                        "building" => a.building.as_deref(),
                        "unit" => a.unit.as_deref(),
                        _ => a.room.as_deref(),
                    };
                    if have.is_some_and(|h| same_part(h, v)) {
                        score += w;
                        matched.push(name);
                    } else if have.is_some() {
                        score -= w / 2.0;
                    }
                }
                if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                    best = Some((score, i, matched));
                }
            }
            let (score, i, matched) = best?;
            let a = &self.addresses[i];
            let point = LatLng::new(a.lat, a.lng).ok()?;
            return Some(GeocodeMatch {
                address_id: Some(a.id),
                text: a.full_text.clone(),
                point,
                score: score.clamp(0.0, 1.0),
                matched,
            });
        }
        let point = *self.streets.get(road)?;
        Some(GeocodeMatch {
            address_id: None,
            text: road.to_owned(),
            point,
            score: 0.3,
            matched: vec!["street_name"],
        })
    }
}

/// Address parts compare on their digits and letters (`88号` = `88`, `3栋` = `3幢`),
/// falling back to the full text when a part has none.
fn same_part(a: &str, b: &str) -> bool {
    let key = |s: &str| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
    let (ka, kb) = (key(a), key(b));
    if ka.is_empty() || kb.is_empty() {
        a == b
    } else {
        ka == kb
    }
}

/// The data hub service; one per server (`AppState::fusion`).
pub struct FusionService {
    store: Store,
    clock: Arc<dyn Clock>,
    /// Lean: full records live in the store (fetched by key for profiles);
    /// the hub keeps resolution, relations, keys and the search index, which
    /// it feeds from its own indexing thread through the locator's documents.
    hub: Arc<Mutex<HubState>>,
    geocoder: Arc<RwLock<Geocoder>>,
    locator: Locator,
    /// One import at a time: checkpoints and replay order assume serial batches.
    import_lock: tokio::sync::Mutex<()>,
    /// Store writer time over all imports (see [`FusionService::times`]).
    store_times: Arc<Mutex<StoreTimes>>,
}

/// Where the service's imports spent their time, summed since start.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServiceTimes {
    /// The hub's resolution, indexing and index-commit time.
    pub hub: SinkTimes,
    /// The store writer thread: building rows and committing SQL batches
    /// (overlapping resolution of the next batch).
    pub store_secs: f64,
    /// The resolving thread blocked because the store writer was behind.
    pub store_wait_secs: f64,
    /// `FusionService::open`: reading and decoding stored records.
    pub replay_read_secs: f64,
    /// `FusionService::open`: re-resolving (and, when behind, re-indexing) them.
    pub replay_resolve_secs: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct StoreTimes {
    write: f64,
    wait: f64,
    replay_read: f64,
    replay_resolve: f64,
}

/// The hub and where its records are stored.
struct HubState {
    hub: Hub,
    /// Per record id: the record's `seq` in the store (increasing; gaps where
    /// a failed batch's ids were never stored, or where an older store's
    /// sequence skipped).
    seqs: Vec<i64>,
    /// The `seq` of the next new record.
    next_seq: i64,
}

/// What becomes of one record of a batch in the store, decided from the hub's
/// key map before the hub sees the batch (so the store needs no key index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// A key neither stored nor earlier in the batch: a new record.
    New,
    /// New content for a stored record (by record id).
    Update(RecordId),
    /// New content for a key that is new earlier in this batch (its position
    /// among the batch's new records): the insert carries the last content.
    UpdateNew(usize),
    /// Same key and content as stored: nothing to write.
    Repeat,
}

/// Classifies a batch's records against the hub, in batch order, exactly as
/// the hub's commit will treat them.
fn fates(hub: &Hub, records: &[Record]) -> Vec<Fate> {
    // Per key already met in this batch: where a later change of it is
    // written, and its latest content hash.
    let mut seen: HashMap<RecordKey, (Fate, [u8; 16])> = HashMap::new();
    let mut new = 0;
    records
        .iter()
        .map(|r| {
            if let Some((target, hash)) = seen.get_mut(&r.key) {
                if *hash == r.content_hash {
                    return Fate::Repeat;
                }
                *hash = r.content_hash;
                return *target;
            }
            let (fate, target) = match hub.record_by_key(r.key) {
                Some(id) if hub.content_hash_of(id) == Some(r.content_hash) => {
                    (Fate::Repeat, Fate::Update(id))
                }
                Some(id) => (Fate::Update(id), Fate::Update(id)),
                None => {
                    new += 1;
                    (Fate::New, Fate::UpdateNew(new - 1))
                }
            };
            seen.insert(r.key, (target, r.content_hash));
            fate
        })
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `{"person.name":"…",…}`, written directly into one buffer (no JSON tree
/// and no string per value; values go through serde_json's escaper).
fn fields_json(r: &Record) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(r.fields.iter().map(|(_, v)| v.len() + 24).sum());
    out.push(b'{');
    for (i, (t, v)) in r.fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(t.kind().as_str().as_bytes());
        out.push(b'.');
        out.extend_from_slice(t.field().as_bytes());
        out.extend_from_slice(b"\":");
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut out, v);
    }
    out.push(b'}');
    // Only UTF-8 went in (the values are &str, the rest ASCII).
    String::from_utf8(out).unwrap_or_default()
}

fn record_to_row(r: &Record) -> FusionRecordRow {
    FusionRecordRow {
        seq: 0,
        record_key: r.key.to_hex(),
        source: r.source.to_string(),
        category: r.category.to_string(),
        fields: fields_json(r),
        file: r.file.to_string(),
        line: r.line as i64,
        observed_at: r.observed_at.millis(),
        content_hash: hex::encode(r.content_hash),
    }
}

fn row_to_record(r: &FusionRecordRow) -> Result<Record, FusionError> {
    let bad = |reason: &str| FusionError::CorruptRecord {
        key: r.record_key.clone(),
        reason: reason.to_owned(),
    };
    let key = RecordKey::from_hex(&r.record_key).ok_or_else(|| bad("record_key is not hex"))?;
    let hash: [u8; 16] = hex::decode(&r.content_hash)
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| bad("content_hash is not 16 hex bytes"))?;
    let mut de = serde_json::Deserializer::from_str(&r.fields);
    let pairs = match de.deserialize_map(FieldsVisitor) {
        Ok(Ok(pairs)) => pairs,
        Ok(Err(reason)) => return Err(bad(reason)),
        Err(_) => return Err(bad("fields is not a JSON object of strings")),
    };
    Ok(Record {
        key,
        content_hash: hash,
        source: r.source.as_str().into(),
        category: r.category.as_str().into(),
        file: r.file.as_str().into(),
        line: r.line.max(0) as u64,
        observed_at: Timestamp::from_millis(r.observed_at),
        fields: pingan_fusion::ingest::Fields::new(pairs),
    })
}

/// Decodes a stored `fields` object straight into (target, value) pairs: no
/// JSON tree and no key strings allocated per record (replay decodes millions).
struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    /// An unknown target is reported as the record's corruption, not a JSON error.
    type Value = Result<Vec<(Target, String)>, &'static str>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of field target to string value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(8));
        let mut unknown = false;
        while let Some((k, v)) = map.next_entry::<std::borrow::Cow<'de, str>, String>()? {
            match Target::parse(&k) {
                Some(t) => pairs.push((t, v)),
                None => unknown = true,
            }
        }
        Ok(if unknown {
            Err("unknown field target")
        } else {
            Ok(pairs)
        })
    }
}

fn checkpoint_row(c: &Checkpoint) -> FusionCheckpointRow {
    FusionCheckpointRow {
        source: c.source.clone(),
        file_hash: c.file_hash.clone(),
        file: c.file.clone(),
        last_line: c.last_line as i64,
        read: c.counts.read as i64,
        accepted: c.counts.accepted as i64,
        rejected: c.counts.rejected as i64,
        duplicates: c.counts.duplicates as i64,
        updated: c.counts.updated as i64,
        merged: c.counts.merged as i64,
        finished: c.finished,
    }
}

fn row_checkpoint(c: &FusionCheckpointRow) -> Checkpoint {
    Checkpoint {
        source: c.source.clone(),
        file: c.file.clone(),
        file_hash: c.file_hash.clone(),
        last_line: c.last_line.max(0) as u64,
        counts: ImportCounts {
            read: c.read as u64,
            accepted: c.accepted as u64,
            rejected: c.rejected as u64,
            duplicates: c.duplicates as u64,
            updated: c.updated as u64,
            merged: c.merged as u64,
        },
        finished: c.finished,
    }
}

/// One batch on its way to the store writer thread.
struct StoreJob {
    /// New records at their seqs.
    inserts: Vec<(i64, Record)>,
    /// New content of stored records, by seq.
    updates: Vec<(i64, Record)>,
    rejections: Vec<FusionRejectionRow>,
    checkpoint: FusionCheckpointRow,
}

/// The store writer: builds each batch's rows and commits records, rejections
/// and checkpoint in one SQL transaction, in batch order, while the importing
/// thread resolves the next batch. Returns its busy time; stops at the first
/// failed commit (the importing thread sees the closed queue and joins it).
fn write_batches(
    store: &Store,
    rt: &tokio::runtime::Handle,
    now: i64,
    jobs: std::sync::mpsc::Receiver<StoreJob>,
) -> Result<f64, FusionError> {
    let mut busy = 0.0;
    for job in jobs {
        let t = std::time::Instant::now();
        let row = |(seq, r): &(i64, Record)| FusionRecordRow {
            seq: *seq,
            ..record_to_row(r)
        };
        let batch = FusionBatch {
            records: job.inserts.iter().map(row).collect(),
            updates: job.updates.iter().map(row).collect(),
            rejections: job.rejections,
            checkpoint: job.checkpoint,
        };
        drop(job.inserts);
        rt.block_on(store.commit_fusion_batch(&batch, now))?;
        busy += t.elapsed().as_secs_f64();
    }
    Ok(busy)
}

/// Books the seqs of the records the hub just added (record ids `before..`,
/// in order), checking that the hub added exactly those.
fn book_new_records(
    st: &mut HubState,
    before: usize,
    seqs: impl ExactSizeIterator<Item = i64>,
) -> Result<(), FusionError> {
    let added = st.hub.record_count() - before;
    if added != seqs.len() || st.seqs.len() != before {
        return Err(FusionError::Worker(format!(
            "the hub added {added} records where the store expected {}",
            seqs.len()
        )));
    }
    for seq in seqs {
        st.next_seq = st.next_seq.max(seq + 1);
        st.seqs.push(seq);
    }
    Ok(())
}

/// The store-backed sink: the hub resolves and indexes a batch, then the batch
/// goes to the store writer thread, which commits records, rejections and the
/// checkpoint in one SQL transaction (so a killed import resumes exactly after
/// the last stored batch) while this thread resolves the next one. If a SQL
/// commit fails the hub is ahead of the store until the next start, which
/// rebuilds it from the store.
struct StoreSink<'a> {
    hub: &'a Mutex<HubState>,
    stop_after_rows: Option<u64>,
    committed_rows: u64,
    rejections: Vec<FusionRejectionRow>,
    to_store: Option<std::sync::mpsc::SyncSender<StoreJob>>,
    wait_secs: f64,
}

impl ImportSink for StoreSink<'_> {
    type Error = FusionError;

    fn commit(&mut self, batch: Batch) -> Result<CommitOutcome, FusionError> {
        if let Some(limit) = self.stop_after_rows
            && self.committed_rows >= limit
        {
            return Err(FusionError::Paused {
                rows: self.committed_rows,
            });
        }
        let rejections: Vec<FusionRejectionRow> = batch
            .rejections
            .iter()
            .map(|j| FusionRejectionRow {
                source: batch.checkpoint.source.clone(),
                file: j.file.clone(),
                line: j.line as i64,
                field: j.field.clone(),
                reason: j.reason.clone(),
            })
            .collect();
        let mut cp = batch.checkpoint.clone();
        let mut st = lock(self.hub);
        // The hub consumes its records (the lean hub hands them to the
        // indexing thread); the store writer gets copies of those it writes.
        let mut inserts: Vec<(i64, Record)> = Vec::new();
        let mut updates: Vec<(i64, Record)> = Vec::new();
        for (r, fate) in batch.records.iter().zip(fates(&st.hub, &batch.records)) {
            match fate {
                Fate::New => inserts.push((st.next_seq + inserts.len() as i64, r.clone())),
                Fate::UpdateNew(i) => inserts[i].1 = r.clone(),
                Fate::Update(id) => updates.push((st.seqs[id.0 as usize], r.clone())),
                Fate::Repeat => {}
            }
        }
        let before = st.hub.record_count();
        let out = st
            .hub
            .commit(Batch {
                records: batch.records,
                rejections: Vec::new(),
                checkpoint: batch.checkpoint,
            })
            .map_err(|e| FusionError::Worker(e.to_string()))?;
        book_new_records(&mut st, before, inserts.iter().map(|(seq, _)| *seq))?;
        drop(st);
        cp.apply(out);
        let job = StoreJob {
            inserts,
            updates,
            rejections: rejections.clone(),
            checkpoint: checkpoint_row(&cp),
        };
        let t = std::time::Instant::now();
        let sent = self
            .to_store
            .as_ref()
            .is_some_and(|tx| tx.send(job).is_ok());
        self.wait_secs += t.elapsed().as_secs_f64();
        if !sent {
            // The writer stopped on an error, which joining it reports.
            return Err(FusionError::Worker("the store writer stopped".into()));
        }
        self.rejections.extend(rejections);
        self.committed_rows = cp.counts.read;
        Ok(out)
    }
}

impl FusionService {
    /// Opens the hub: replays stored records into the resolver, re-indexes when
    /// the index is behind the store, re-applies the analyst journal, and loads
    /// the standard address registry.
    ///
    /// `jurisdiction` is the server's shared jurisdiction index: records are
    /// located in it when indexed (see [`Visibility`]).
    pub async fn open(
        store: Store,
        data_dir: &Path,
        clock: Arc<dyn Clock>,
        jurisdiction: Arc<RwLock<Arc<Jurisdiction>>>,
    ) -> Result<Arc<FusionService>, FusionError> {
        let dir = data_dir.join("search");
        let index = tokio::task::spawn_blocking(move || SearchIndex::open_or_create(&dir))
            .await
            .map_err(|e| FusionError::Worker(e.to_string()))??;
        let geocoder = Arc::new(RwLock::new(Geocoder::default()));
        let locator = Locator {
            geocoder: geocoder.clone(),
            jurisdiction,
        };
        let mut hub = Hub::lean(Resolver::default(), Some(index));
        let docs = locator.clone();
        hub.set_doc_builder(Arc::new(move |id, r| docs.doc(id, r)));
        // The index is committed at the end of each file (and of each upload);
        // a killed import leaves it behind the store, and the next start
        // re-indexes.
        hub.search_commit_every = usize::MAX;
        let svc = Arc::new(FusionService {
            store,
            clock,
            hub: Arc::new(Mutex::new(HubState {
                hub,
                seqs: Vec::new(),
                next_seq: 1,
            })),
            locator,
            geocoder,
            import_lock: tokio::sync::Mutex::new(()),
            store_times: Arc::default(),
        });
        // Addresses first: re-indexing during replay locates records with them.
        svc.reload_addresses().await?;
        svc.replay().await?;
        Ok(svc)
    }

    /// Rebuilds the resolver from the stored records in `seq` order (record ids
    /// come out as they were assigned). A task reads and decodes the next
    /// chunks while a blocking thread resolves the current one. The index is
    /// rebuilt (cleared, then every record added) only when its document count
    /// differs from the store's.
    async fn replay(&self) -> Result<(), FusionError> {
        let total = self.store.count_fusion_records(None).await?;
        let reindex = {
            let mut st = lock(&self.hub);
            let index = st.hub.search_mut().expect("the service's hub has an index");
            let behind = index.len() as i64 != total;
            if behind {
                index.clear()?;
            }
            behind
        };
        if total > 0 {
            type Chunk = Result<(Vec<i64>, Vec<Record>), FusionError>;
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Chunk>(REPLAY_QUEUE);
            let store = self.store.clone();
            let reader = tokio::spawn(async move {
                let mut after = 0;
                let mut busy = 0.0;
                loop {
                    let t = std::time::Instant::now();
                    let rows = match store.fusion_records_after(after, REPLAY_CHUNK).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            break;
                        }
                    };
                    let Some(last) = rows.last() else { break };
                    after = last.seq;
                    let decoded = tokio::task::spawn_blocking(move || {
                        let seqs = rows.iter().map(|r| r.seq).collect();
                        let records = rows.iter().map(row_to_record).collect::<Result<_, _>>()?;
                        Ok((seqs, records))
                    })
                    .await
                    .map_err(|e| FusionError::Worker(e.to_string()))
                    .and_then(|r| r);
                    busy += t.elapsed().as_secs_f64();
                    let failed = decoded.is_err();
                    if tx.send(decoded).await.is_err() || failed {
                        break;
                    }
                }
                busy
            });
            let mut resolve = 0.0;
            while let Some(chunk) = rx.recv().await {
                let (seqs, records) = chunk?;
                let hub = self.hub.clone();
                let t = std::time::Instant::now();
                tokio::task::spawn_blocking(move || -> Result<(), FusionError> {
                    let mut st = lock(&hub);
                    // A key stored twice (not written by this service) is
                    // replayed as the hub would import it: an update.
                    let new: Vec<i64> = fates(&st.hub, &records)
                        .into_iter()
                        .zip(seqs)
                        .filter(|(f, _)| *f == Fate::New)
                        .map(|(_, seq)| seq)
                        .collect();
                    let before = st.hub.record_count();
                    st.hub
                        .replay(records, reindex)
                        .map_err(|e| FusionError::Worker(e.to_string()))?;
                    book_new_records(&mut st, before, new.into_iter())
                })
                .await
                .map_err(|e| FusionError::Worker(e.to_string()))??;
                resolve += t.elapsed().as_secs_f64();
            }
            let read = reader
                .await
                .map_err(|e| FusionError::Worker(e.to_string()))?;
            let mut times = lock(&self.store_times);
            times.replay_read += read;
            times.replay_resolve += resolve;
        }
        if reindex {
            let hub = self.hub.clone();
            tokio::task::spawn_blocking(move || lock(&hub).hub.flush())
                .await
                .map_err(|e| FusionError::Worker(e.to_string()))??;
        }
        for op in self.store.resolution_ops().await? {
            let bad = |reason: &str| FusionError::CorruptJournal {
                id: op.id,
                reason: reason.to_owned(),
            };
            let v: serde_json::Value =
                serde_json::from_str(&op.payload).map_err(|_| bad("payload is not JSON"))?;
            let num = |k: &str| {
                v.get(k)
                    .and_then(serde_json::Value::as_u64)
                    .map(|n| n as u32)
                    .ok_or_else(|| bad(k))
            };
            let at = Timestamp::from_millis(op.at);
            let mut st = lock(&self.hub);
            let r = st.hub.resolver_mut();
            match op.kind.as_str() {
                "merge" => {
                    r.merge(
                        EntityId(num("into")?),
                        EntityId(num("from")?),
                        &op.actor,
                        &op.reason,
                        at,
                    )?;
                }
                "split" => {
                    let recs: Vec<RecordId> = v
                        .get("records")
                        .and_then(serde_json::Value::as_array)
                        .ok_or_else(|| bad("records"))?
                        .iter()
                        .filter_map(|x| x.as_u64().map(|n| RecordId(n as u32)))
                        .collect();
                    r.split(EntityId(num("from")?), &recs, &op.actor, &op.reason, at)?;
                }
                "undo" => r.undo(OperationId(num("operation")?), &op.actor, &op.reason, at)?,
                _ => return Err(bad("unknown kind")),
            }
        }
        Ok(())
    }

    /// Reloads the standard address registry into the geocoder.
    pub async fn reload_addresses(&self) -> Result<usize, FusionError> {
        let rows = self.store.all_std_addresses().await?;
        let n = rows.len();
        let mut g = Geocoder::default();
        for a in rows {
            g.add(a);
        }
        let mut cur = self.geocoder.write().unwrap_or_else(|p| p.into_inner());
        g.streets = std::mem::take(&mut cur.streets);
        *cur = g;
        Ok(n)
    }

    /// Street names with a representative point, the geocoder's fallback when no
    /// standard address is on the parsed road (set from the city's road network).
    pub fn set_streets(&self, streets: impl IntoIterator<Item = (String, LatLng)>) {
        let mut g = self.geocoder.write().unwrap_or_else(|p| p.into_inner());
        g.streets = streets.into_iter().collect();
    }

    /// Free text → best standard address with a score (call intake uses this).
    /// `None` when no road in the text is known.
    pub fn geocode(&self, text: &str) -> Option<GeocodeMatch> {
        self.geocoder
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .geocode(text)
    }

    // ------------------------------------------------------------ sources

    /// Registers a source from its mapping TOML (validated by `Mapping::from_toml`).
    pub async fn add_source(&self, mapping_toml: &str) -> Result<FusionSourceRow, FusionError> {
        add_source(&self.store, mapping_toml, self.clock.now().millis()).await
    }

    // ------------------------------------------------------------ import

    /// Imports one file's bytes for `source`, resuming an interrupted import of
    /// the same content from its stored checkpoint.
    pub async fn import_bytes(
        &self,
        source: &str,
        file_name: &str,
        bytes: Vec<u8>,
        req: ImportRequest,
    ) -> Result<ImportReport, FusionError> {
        self.import_reader(
            source,
            file_name,
            Cursor::new(bytes),
            req,
            false,
            Box::new(|_| {}),
        )
        .await
    }

    /// Streams a file from disk for `source` (the CLI's `pingan import`): memory
    /// stays bounded by the batch size whatever the file size. An interrupted
    /// import of the same content resumes from its checkpoint; content that was
    /// already imported completely is not read again (`already_imported`).
    /// `progress` is called after every committed batch.
    pub async fn import_file(
        &self,
        source: &str,
        path: &Path,
        req: ImportRequest,
        progress: Box<dyn FnMut(Progress) + Send>,
    ) -> Result<ImportReport, FusionError> {
        let file_name = path.display().to_string();
        let f = std::fs::File::open(path).map_err(|e| FusionError::Import {
            file: file_name.clone(),
            message: e.to_string(),
        })?;
        let input = std::io::BufReader::with_capacity(256 << 10, f);
        self.import_reader(source, &file_name, input, req, true, progress)
            .await
    }

    async fn import_reader<R: Read + Seek + Send + 'static>(
        &self,
        source: &str,
        file_name: &str,
        input: R,
        req: ImportRequest,
        skip_finished: bool,
        mut progress: Box<dyn FnMut(Progress) + Send>,
    ) -> Result<ImportReport, FusionError> {
        let _serial = self.import_lock.lock().await;
        let row = self
            .store
            .find_fusion_source_by_name(source)
            .await?
            .ok_or_else(|| FusionError::UnknownSource(source.to_owned()))?;
        let mapping = Mapping::from_toml(&row.mapping_toml)
            .map_err(|e| FusionError::Mapping(e.to_string()))?;
        // Hashing reads the whole file: off the async threads.
        let (input, hash) = tokio::task::spawn_blocking(move || {
            let mut input = input;
            let h = content_hash(&mut input);
            (input, h)
        })
        .await
        .map_err(|e| FusionError::Worker(e.to_string()))?;
        let hash = hash.map_err(|e| FusionError::Import {
            file: file_name.to_owned(),
            message: e.to_string(),
        })?;
        let stored = self.store.fusion_checkpoint(source, &hash).await?;
        if skip_finished && let Some(c) = stored.as_ref().filter(|c| c.finished) {
            return Ok(ImportReport {
                source: source.to_owned(),
                file: file_name.to_owned(),
                file_hash: hash,
                counts: row_checkpoint(c).counts,
                finished: true,
                resumed_from_line: None,
                already_imported: true,
                rejections: Vec::new(),
            });
        }
        let resume = stored.filter(|c| !c.finished).map(|c| row_checkpoint(&c));
        let now = self.clock.now();
        let hub = self.hub.clone();
        let store = self.store.clone();
        let store_times = self.store_times.clone();
        let rt = tokio::runtime::Handle::current();
        let file = file_name.to_owned();
        let source = source.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut opts = ImportOptions::new(req.format, now);
            opts.read = ReadOptions {
                encoding: req.encoding,
                ..ReadOptions::default()
            };
            opts.batch_size = req.batch_size.max(1);
            let resumed_from_line = resume.as_ref().map(|c| c.last_line);
            let (res, sink, written) = std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<StoreJob>(STORE_QUEUE);
                let (store, rt) = (&store, &rt);
                let writer = scope.spawn(move || write_batches(store, rt, now.millis(), rx));
                let mut sink = StoreSink {
                    hub: &hub,
                    stop_after_rows: req.stop_after_rows,
                    committed_rows: 0,
                    rejections: Vec::new(),
                    to_store: Some(tx),
                    wait_secs: 0.0,
                };
                let res = import(
                    &mapping,
                    &file,
                    input,
                    &opts,
                    resume.as_ref(),
                    &mut sink,
                    &mut *progress,
                );
                // Whatever the import's outcome, the batches already handed
                // over are stored (or the writer's error is reported) before
                // the call returns.
                sink.to_store = None;
                let written = match writer.join() {
                    Ok(r) => r,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                (res, sink, written)
            });
            {
                let mut t = lock(&store_times);
                t.wait += sink.wait_secs;
                if let Ok(secs) = &written {
                    t.write += secs;
                }
            }
            // A store failure comes first: the import may have stopped only
            // because the writer did.
            written?;
            match res {
                Ok(cp) => Ok(ImportReport {
                    source,
                    file: file.clone(),
                    file_hash: cp.file_hash.clone(),
                    counts: cp.counts,
                    finished: cp.finished,
                    resumed_from_line,
                    already_imported: false,
                    rejections: sink.rejections,
                }),
                Err(ImportError::Sink { source: e, .. }) => Err(e),
                Err(e) => Err(FusionError::Import {
                    file,
                    message: e.to_string(),
                }),
            }
        })
        .await
        .map_err(|e| FusionError::Worker(e.to_string()))?
    }

    // ------------------------------------------------------------ queries

    /// Full-text / identifier search (hits unmasked: the caller masks lists).
    pub async fn search(&self, q: SearchQuery) -> Result<SearchResults, FusionError> {
        let hub = self.hub.clone();
        tokio::task::spawn_blocking(move || {
            let st = lock(&hub);
            let index = st.hub.search().expect("the service's hub has an index");
            Ok(index.search(&q)?)
        })
        .await
        .map_err(|e| FusionError::Worker(e.to_string()))?
    }

    /// The entity a record currently belongs to (person first).
    pub fn entity_of(&self, r: RecordId) -> Option<EntityId> {
        let st = lock(&self.hub);
        let hub = &st.hub;
        hub.resolver()
            .person_of(r)
            .or_else(|| hub.resolver().entities_of(r).first().copied())
    }

    /// The profile of an entity (following merges), with per-record explanations
    /// and the full records (fetched from the store in one query), built from
    /// the records `vis` may see; `None` when it may see none of them (an
    /// entity outside the caller's jurisdiction does not exist for it).
    pub async fn profile(
        &self,
        e: EntityId,
        vis: Visibility,
    ) -> Result<Option<EntityProfile>, FusionError> {
        let seqs: Vec<(RecordId, i64)> = {
            let st = lock(&self.hub);
            let hub = &st.hub;
            let Some(view) = hub
                .resolver()
                .current(e)
                .and_then(|c| hub.resolver().entity(c))
            else {
                return Ok(None);
            };
            view.records
                .iter()
                .filter_map(|r| st.seqs.get(r.0 as usize).map(|s| (*r, *s)))
                .collect()
        };
        let mut records = self.records_by_seq(&seqs).await?;
        records.retain(|_, rec| self.locator.visible(vis, rec));
        let st = lock(&self.hub);
        let hub = &st.hub;
        let fetch = |r: RecordId| records.get(&r).cloned();
        let Some(mut p) =
            pingan_fusion::profile::build_profile(hub.resolver(), &fetch, hub.relations(), e, &[])
        else {
            return Ok(None);
        };
        if vis != Visibility::CityWide {
            p.records.retain(|r| records.contains_key(r));
            if p.records.is_empty() {
                return Ok(None);
            }
        }
        let explanations = p
            .records
            .iter()
            .filter_map(|r| hub.resolver().explanation_of(*r).map(|x| (*r, x.summary())))
            .collect();
        Ok(Some(EntityProfile {
            profile: p,
            explanations,
            records,
        }))
    }

    /// Full records from the store by (record id, seq), in one query.
    async fn records_by_seq(
        &self,
        seqs: &[(RecordId, i64)],
    ) -> Result<HashMap<RecordId, Record>, FusionError> {
        let want: Vec<i64> = seqs.iter().map(|(_, s)| *s).collect();
        let rows = self.store.fusion_records_by_seq(&want).await?;
        let ids: HashMap<i64, RecordId> = seqs.iter().map(|(r, s)| (*s, *r)).collect();
        let mut out = HashMap::with_capacity(rows.len());
        for row in &rows {
            if let Some(id) = ids.get(&row.seq) {
                out.insert(*id, row_to_record(row)?);
            }
        }
        Ok(out)
    }

    /// A record with its source location, from the store.
    pub async fn record(&self, r: RecordId) -> Result<Option<Record>, FusionError> {
        let Some(seq) = lock(&self.hub).seqs.get(r.0 as usize).copied() else {
            return Ok(None);
        };
        Ok(self.records_by_seq(&[(r, seq)]).await?.remove(&r))
    }

    /// Merges entity `from` into `into`; journaled, returns the operation id.
    pub async fn merge(
        &self,
        into: EntityId,
        from: EntityId,
        actor: &str,
        reason: &str,
    ) -> Result<OperationId, FusionError> {
        let at = self.clock.now();
        let op = lock(&self.hub)
            .hub
            .resolver_mut()
            .merge(into, from, actor, reason, at)?;
        self.store
            .append_resolution_op(
                "merge",
                &serde_json::json!({"into": into.0, "from": from.0}).to_string(),
                actor,
                reason,
                at.millis(),
            )
            .await?;
        Ok(op)
    }

    /// Moves `records` out of `from` into a new entity; journaled.
    pub async fn split(
        &self,
        from: EntityId,
        records: &[RecordId],
        actor: &str,
        reason: &str,
    ) -> Result<(OperationId, EntityId), FusionError> {
        let at = self.clock.now();
        let r = lock(&self.hub)
            .hub
            .resolver_mut()
            .split(from, records, actor, reason, at)?;
        let ids: Vec<u32> = records.iter().map(|r| r.0).collect();
        self.store
            .append_resolution_op(
                "split",
                &serde_json::json!({"from": from.0, "records": ids}).to_string(),
                actor,
                reason,
                at.millis(),
            )
            .await?;
        Ok(r)
    }

    /// Reverses a merge or split; journaled.
    pub async fn undo(
        &self,
        op: OperationId,
        actor: &str,
        reason: &str,
    ) -> Result<(), FusionError> {
        let at = self.clock.now();
        lock(&self.hub)
            .hub
            .resolver_mut()
            .undo(op, actor, reason, at)?;
        self.store
            .append_resolution_op(
                "undo",
                &serde_json::json!({"operation": op.0}).to_string(),
                actor,
                reason,
                at.millis(),
            )
            .await?;
        Ok(())
    }

    pub fn record_count(&self) -> usize {
        lock(&self.hub).hub.record_count()
    }

    pub fn entity_count(&self) -> usize {
        lock(&self.hub).hub.resolver().entity_count()
    }

    /// Read-only access to the hub (resolver, record locations, index) for
    /// benchmarks and diagnostics; holds the hub lock while `f` runs.
    pub fn inspect<T>(&self, f: impl FnOnce(&Hub) -> T) -> T {
        f(&lock(&self.hub).hub)
    }

    /// Where imports and the start-up replay spent their time so far.
    pub fn times(&self) -> ServiceTimes {
        let hub = lock(&self.hub).hub.times();
        let t = *lock(&self.store_times);
        ServiceTimes {
            hub,
            store_secs: t.write,
            store_wait_secs: t.wait,
            replay_read_secs: t.replay_read,
            replay_resolve_secs: t.replay_resolve,
        }
    }

    /// Writes standard address / house / resident / vehicle registries and
    /// reloads the geocoder; returns the number of standard addresses it now knows.
    pub async fn load_registries(&self, bulk: &RegistryBulk) -> Result<usize, FusionError> {
        self.store.write_registries(bulk).await?;
        self.reload_addresses().await
    }

    /// Station, district and city ids a free-text address is located in (empty
    /// when it cannot be geocoded).
    pub fn orgs_of_address(&self, address: &str) -> Vec<i64> {
        self.locator.orgs_of_address(address)
    }
}

/// Registers a source from its mapping TOML (validated by `Mapping::from_toml`;
/// the error names the line and field). Used by the API and by `pingan source add`,
/// which works on the store without starting the hub.
pub async fn add_source(
    store: &Store,
    mapping_toml: &str,
    now: i64,
) -> Result<FusionSourceRow, FusionError> {
    let m = Mapping::from_toml(mapping_toml).map_err(|e| FusionError::Mapping(e.to_string()))?;
    Ok(store
        .create_fusion_source(
            &NewFusionSource {
                name: m.source.name.clone(),
                department: m.source.department.clone(),
                category: m.source.category.clone(),
                legal_basis: m.source.legal_basis.clone(),
                update_mode: m.source.update_mode.as_str().to_owned(),
                mapping_toml: mapping_toml.to_owned(),
            },
            now,
        )
        .await?)
}

impl From<FusionError> for crate::error::ApiError {
    fn from(e: FusionError) -> Self {
        use crate::error::ApiError;
        match e {
            FusionError::Mapping(m) => ApiError::invalid("mapping", m),
            FusionError::UnknownSource(s) => ApiError::not_found("source", s),
            FusionError::Import { message, .. } => ApiError::invalid("body", message),
            FusionError::Paused { rows } => {
                ApiError::conflict(format!("import paused after {rows} rows"))
            }
            FusionError::Resolve(r) => match r {
                ResolveError::NoEntity(id) => ApiError::not_found("entity", id.0),
                ResolveError::NoOperation(op) => ApiError::not_found("operation", op.0),
                ResolveError::NoReason => ApiError::invalid("reason", r.to_string()),
                ResolveError::NotInEntity { .. } | ResolveError::EmptySplit(_) => {
                    ApiError::invalid("records", r.to_string())
                }
                ResolveError::SameEntity(_) | ResolveError::KindMismatch { .. } => {
                    ApiError::invalid("from", r.to_string())
                }
                ResolveError::NotActive(_)
                | ResolveError::AlreadyUndone(_)
                | ResolveError::UndoConflict { .. } => ApiError::conflict(r.to_string()),
            },
            FusionError::Store(s) => s.into(),
            other => {
                tracing::error!(error = %other, "data hub failure");
                ApiError::internal(other.to_string())
            }
        }
    }
}

/// The standard address (标准地址), actual housing (实有房屋), actual population
/// (实有人口: residents and tenants with their dates) and vehicle registries of a
/// synthetic city, one standard address per house down to the room, at the
/// house's coordinates. Codes are derived from the synthetic ids, so loading the
/// same city twice adds nothing.
pub fn synth_registries(synth: &pingan_synth::SynthCity) -> RegistryBulk {
    use pingan_synth::ResidenceRole;
    let people: Vec<pingan_synth::Person> = synth.people().collect();
    let houses: Vec<pingan_synth::House> = synth.houses().collect();
    let mut bulk = RegistryBulk::default();
    for h in &houses {
        let a = &h.address;
        let region = parse_address(&a.region_name);
        let code = format!("{}-{:08}", a.district_code, h.id);
        bulk.addresses.push(StdAddressRow {
            id: 0,
            code: code.clone(),
            province: region.province.unwrap_or_default(),
            city: region.city.unwrap_or_default(),
            district: region.district.unwrap_or_default(),
            street: a.street_office.clone(),
            community: a.community.clone(),
            road: a.road.clone(),
            number: format!("{}号", a.number),
            building: Some(format!("{}栋", a.building)),
            unit: Some(format!("{}单元", a.unit)),
            room: Some(format!("{}室", a.room)),
            full_text: a.text(),
            lat: h.point.lat(),
            lng: h.point.lng(),
        });
        bulk.houses.push((
            HouseRow {
                id: 0,
                code: format!("H{:08}", h.id),
                address_id: 0,
                kind: h.use_.as_chinese().to_owned(),
                area_m2: Some(h.area_m2),
                owner_id_number: people
                    .get(h.owner as usize)
                    .map(|p| p.id_number.as_str().to_owned()),
            },
            code,
        ));
    }
    for r in synth.residences() {
        let Some(p) = people.get(r.person as usize) else {
            continue;
        };
        let owner = houses.get(r.house as usize).map(|h| h.owner) == Some(r.person);
        let relation = match r.role {
            _ if owner => "owner",
            ResidenceRole::Resident => "resident",
            ResidenceRole::Tenant => "tenant",
        };
        bulk.residents.push((
            ResidentRow {
                id: 0,
                house_id: 0,
                id_number: p.id_number.as_str().to_owned(),
                name: p.name.clone(),
                relation: relation.to_owned(),
                since: Some(r.since.to_string()),
                until: r.until.map(|d| d.to_string()),
            },
            format!("H{:08}", r.house),
        ));
    }
    for v in synth.vehicles() {
        let Some(owner) = people.get(v.owner as usize) else {
            continue;
        };
        bulk.vehicles.push(VehicleRegRow {
            id: 0,
            plate: v.plate.as_str().to_owned(),
            owner_id_number: owner.id_number.as_str().to_owned(),
            brand: v.brand.to_owned(),
            color: v.colour.to_owned(),
            registered_on: Some(v.registered.to_string()),
        });
    }
    bulk
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: u8, hash: u8) -> Record {
        Record {
            key: RecordKey([key; 16]),
            content_hash: [hash; 16],
            source: "s".into(),
            category: "person".into(),
            file: "f.csv".into(),
            line: 2,
            observed_at: Timestamp::from_millis(0),
            fields: pingan_fusion::ingest::Fields::new(vec![]),
        }
    }

    #[test]
    fn stored_rows_decode_to_the_same_record() {
        use pingan_fusion::model::targets;
        let mut r = rec(7, 9);
        r.fields = pingan_fusion::ingest::Fields::new(vec![
            (targets::person_name(), "张\"三\\".into()),
            (targets::person_address(), "成都市\n红星路1号".into()),
        ]);
        let row = record_to_row(&r);
        assert_eq!(
            row.fields,
            r#"{"person.name":"张\"三\\","person.address":"成都市\n红星路1号"}"#
        );
        assert_eq!(row_to_record(&row).expect("decodes"), r);
        let mut bad = row.clone();
        bad.fields = r#"{"person.nope":"x"}"#.into();
        assert!(matches!(
            row_to_record(&bad),
            Err(FusionError::CorruptRecord { reason, .. }) if reason == "unknown field target"
        ));
    }

    #[test]
    fn fates_follow_the_hub_and_earlier_rows_of_the_batch() {
        let mut hub = Hub::lean(Resolver::default(), None);
        hub.replay(vec![rec(1, 1), rec(2, 1)], false)
            .expect("replay");
        let batch = [
            rec(1, 1), // stored, same content
            rec(2, 2), // stored, new content
            rec(3, 1), // new
            rec(3, 1), // repeat of the new one
            rec(4, 1), // new
            rec(3, 2), // the first new one changes again
            rec(2, 3), // the stored one changes again
            rec(2, 3), // and repeats
        ];
        assert_eq!(
            fates(&hub, &batch),
            vec![
                Fate::Repeat,
                Fate::Update(RecordId(1)),
                Fate::New,
                Fate::Repeat,
                Fate::New,
                Fate::UpdateNew(0),
                Fate::Update(RecordId(1)),
                Fate::Repeat,
            ]
        );
        // The hub agrees: two new records, three updates (one per changed row).
        let before = hub.record_count();
        let out = hub.replay(batch.to_vec(), false).expect("replay");
        assert_eq!(hub.record_count() - before, 2);
        assert_eq!((out.inserted, out.updated, out.duplicates), (2, 3, 3));
    }
}
