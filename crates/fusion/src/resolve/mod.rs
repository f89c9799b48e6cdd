//! Incremental entity resolution (一人一档).
//!
//! Records arrive one at a time ([`Resolver::add`]) and join entities without a
//! rebuild. Person mentions link by exact key first (a valid ID number; a phone
//! number when the names do not contradict), then by Fellegi–Sunter scoring
//! against candidates found through blocking keys (surname + birth year, each
//! given-name character + birth year, full name, road + surname, phone). Vehicles,
//! phones, organisations, houses, addresses and cases resolve by exact key only.
//!
//! Every link keeps an [`Explanation`]. Analysts [`merge`](Resolver::merge) and
//! [`split`](Resolver::split) entities with a reason; both are recorded as
//! [`Operation`]s and can be [undone](Resolver::undo).
//!
//! State is a deterministic function of the sequence of `add`/`merge`/`split`/
//! `undo` calls, so a store rebuilds it by replaying its journal in order.

pub mod compare;

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use pingan_core::Timestamp;
use pingan_core::normalize::address::parse_address;
use thiserror::Error;

use crate::ingest::Record;
use crate::model::{EntityKind, Target, targets};
pub use compare::{Level, MU, MatchConfig, MatchField};
use compare::{compare_births, compare_names};

/// Dense record number assigned by the resolver in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub u32);

/// Dense entity number assigned in creation order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperationId(pub u32);

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}", self.0)
    }
}
impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E{}", self.0)
    }
}

/// The exact key a link was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    IdNumber,
    Phone,
    Plate,
    PhoneNumber,
    CreditCode,
    OrganisationName,
    HouseAddress,
    AddressText,
    CaseNumber,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::IdNumber => "id_number",
            KeyKind::Phone => "phone",
            KeyKind::Plate => "plate",
            KeyKind::PhoneNumber => "phone_number",
            KeyKind::CreditCode => "credit_code",
            KeyKind::OrganisationName => "organisation_name",
            KeyKind::HouseAddress => "house_address",
            KeyKind::AddressText => "address_text",
            KeyKind::CaseNumber => "case_number",
        }
    }
}

/// How a record came to belong to its entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkMethod {
    ExactKey(KeyKind),
    /// Fellegi–Sunter score at or above the link threshold.
    Probabilistic,
    /// No candidate reached the link threshold: a new entity was created.
    NewEntity,
}

/// One field's contribution to a score. `level: None` means a side had no value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldComparison {
    pub field: MatchField,
    pub level: Option<Level>,
    pub weight: f64,
}

/// Why a record is linked where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub method: LinkMethod,
    /// The best-scoring candidate (for a new entity: the one that fell short).
    pub candidate: Option<EntityId>,
    pub comparisons: Vec<FieldComparison>,
    /// Total score in bits (sum of the comparison weights).
    pub score: f64,
    pub link_threshold: f64,
    pub possible_threshold: f64,
    /// Distinct candidate entities scored.
    pub candidates_scored: u32,
}

impl Explanation {
    /// One line for logs and the console, e.g.
    /// `probabilistic 25.4 ≥ 15: name exact +10.7, birth_date exact +14.7`.
    pub fn summary(&self) -> String {
        let head = match self.method {
            LinkMethod::ExactKey(k) => format!("exact key {}", k.as_str()),
            LinkMethod::Probabilistic => {
                format!("probabilistic {:.1} ≥ {}", self.score, self.link_threshold)
            }
            LinkMethod::NewEntity => format!(
                "new entity (best {:.1} < {})",
                self.score, self.link_threshold
            ),
        };
        let parts: Vec<String> = self
            .comparisons
            .iter()
            .filter_map(|c| {
                c.level
                    .map(|l| format!("{} {} {:+.1}", c.field.as_str(), l.as_str(), c.weight))
            })
            .collect();
        if parts.is_empty() {
            head
        } else {
            format!("{head}: {}", parts.join(", "))
        }
    }
}

/// The compact form of an [`Explanation`] kept per record: weights and score are
/// recomputed from the config on demand (they are a function of the levels).
#[derive(Debug, Clone, Copy)]
struct StoredLink {
    method: LinkMethod,
    candidate: Option<EntityId>,
    levels: [Option<Level>; 4],
    has_comparisons: bool,
    candidates_scored: u32,
}

impl From<&Explanation> for StoredLink {
    fn from(e: &Explanation) -> Self {
        let mut levels = [None; 4];
        for c in &e.comparisons {
            if let Some(i) = MatchField::ALL.iter().position(|f| *f == c.field) {
                levels[i] = c.level;
            }
        }
        StoredLink {
            method: e.method,
            candidate: e.candidate,
            levels,
            has_comparisons: !e.comparisons.is_empty(),
            candidates_scored: e.candidates_scored,
        }
    }
}

/// A record whose best candidate scored between the possible and link thresholds:
/// kept apart, queued for an analyst.
#[derive(Debug, Clone, PartialEq)]
pub struct PossibleMatch {
    pub record: RecordId,
    pub record_entity: EntityId,
    pub candidate: EntityId,
    pub explanation: Explanation,
}

/// The outcome of adding one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub record: RecordId,
    /// The person entity, if the record mentions a person.
    pub person: Option<EntityId>,
    /// True when the person joined an entity that already existed.
    pub joined_existing: bool,
    /// Exact-key entities of other kinds the record mentions.
    pub others: Vec<(EntityKind, EntityId)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationKind {
    Merge {
        into: EntityId,
        from: EntityId,
        moved: Vec<RecordId>,
    },
    Split {
        from: EntityId,
        new: EntityId,
        records: Vec<RecordId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    pub actor: String,
    pub reason: String,
    pub at: Timestamp,
}

/// An analyst's merge or split, with who, why and when, and its undo if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub id: OperationId,
    pub kind: OperationKind,
    pub actor: String,
    pub reason: String,
    pub at: Timestamp,
    pub undone: Option<Undo>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ResolveError {
    #[error("entity {0} does not exist")]
    NoEntity(EntityId),
    #[error("entity {0} was merged into another entity")]
    NotActive(EntityId),
    #[error("cannot merge {0} into itself")]
    SameEntity(EntityId),
    #[error("cannot merge a {a} entity with a {b} entity")]
    KindMismatch { a: EntityKind, b: EntityKind },
    #[error("record {record} is not in entity {entity}")]
    NotInEntity { record: RecordId, entity: EntityId },
    #[error("split must leave at least one record in {0} and move at least one")]
    EmptySplit(EntityId),
    #[error("reason must not be empty")]
    NoReason,
    #[error("operation {0:?} does not exist")]
    NoOperation(OperationId),
    #[error("operation {0:?} was already undone")]
    AlreadyUndone(OperationId),
    #[error("operation {op:?} cannot be undone: {why}")]
    UndoConflict { op: OperationId, why: String },
}

/// A person's matching facts, compact (hashes where only equality matters,
/// names interned): millions of these are held, one per record.
#[derive(Debug, Clone, Default)]
struct Facts {
    name: Option<NameId>,
    id: u64,
    phone: u64,
    /// `yyyymmdd`, 0 when unknown.
    birth: u32,
    addr: u64,
    road: u32,
    district: u32,
}

/// An interned name (see [`Names`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NameId(u32);

/// Distinct names, stored once: records and entity summaries hold [`NameId`]s, so
/// equal names compare as integers and no name is allocated per record.
#[derive(Debug, Clone, Default)]
struct Names {
    strings: Vec<Box<str>>,
    /// Name hash → id; a (vanishingly rare) collision probes the next hash.
    by_hash: HashMap<u64, u32, PreHashed>,
}

impl Names {
    fn intern(&mut self, s: &str) -> NameId {
        let mut h = h64("name", s);
        loop {
            match self.by_hash.get(&h) {
                Some(&i) if &*self.strings[i as usize] == s => return NameId(i),
                Some(_) => h = h.wrapping_add(2),
                None => {
                    let i = self.strings.len() as u32;
                    self.strings.push(Box::from(s));
                    self.by_hash.insert(h, i);
                    return NameId(i);
                }
            }
        }
    }

    fn get(&self, n: NameId) -> &str {
        &self.strings[n.0 as usize]
    }
}

/// Hasher for keys that already are well-mixed 64-bit hashes: one multiply
/// instead of SipHash on the millions of block, ID and phone lookups of a load.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PreHashed;

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PreHasher(u64);

impl std::hash::BuildHasher for PreHashed {
    type Hasher = PreHasher;
    fn build_hasher(&self) -> PreHasher {
        PreHasher(0)
    }
}

impl Hasher for PreHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }
}

/// Which blocking keys a record is looked up under. Keys are inserted for every
/// record, but only the selective ones are scanned: with a birth date, those that
/// include the full date or the full name (blocks of a handful of entities even
/// at millions of records); without one, the name and road keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    Always,
    WithBirth,
    WithoutBirth,
}

impl Facts {
    fn from_record(r: &Record, names: &mut Names) -> Option<Facts> {
        let name = r.get(targets::person_name());
        let id = r.get(targets::person_id_number());
        if name.is_none() && id.is_none() {
            return None;
        }
        let birth = r
            .get(targets::person_birth_date())
            .and_then(|b| {
                let mut d = 0u32;
                let mut digits = 0;
                for c in b.bytes().filter(u8::is_ascii_digit) {
                    d = d.checked_mul(10)?.checked_add(u32::from(c - b'0'))?;
                    digits += 1;
                }
                (digits > 0).then_some(d)
            })
            .unwrap_or(0);
        let (addr, road, district) = match r.get(targets::person_address()) {
            Some(a) => {
                let p = parse_address(a);
                let std = p.standard_form();
                let key = if std.is_empty() { a } else { std.as_str() };
                (
                    h64("addr", key),
                    p.road.as_deref().map_or(0, |x| h32("road", x)),
                    p.district.as_deref().map_or(0, |x| h32("district", x)),
                )
            }
            None => (0, 0, 0),
        };
        Some(Facts {
            name: name.map(|n| names.intern(n)),
            id: id.map_or(0, |x| h64("id", x)),
            phone: r
                .get(targets::person_phone())
                .map_or(0, |x| h64("phone", x)),
            birth,
            addr,
            road,
            district,
        })
    }

    /// Blocking keys with when they are probed. Names are blocked with the full
    /// birth date (surname; each given-name character, so a typo in any one
    /// character still meets) and the full name with the birth year (a partial
    /// date); the address cell with the surname (a household); the phone.
    fn block_keys(&self, names: &Names) -> Vec<(u64, Probe)> {
        let mut out = Vec::with_capacity(10);
        self.block_keys_into(names, &mut out);
        out
    }

    /// [`Facts::block_keys`] into a reused buffer (cleared first): this runs
    /// twice per record.
    fn block_keys_into(&self, names: &Names, out: &mut Vec<(u64, Probe)>) {
        out.clear();
        let mut name = self
            .name
            .map(|n| names.get(n).chars())
            .into_iter()
            .flatten();
        let surname = name.next();
        let year = self.birth / 10_000;
        if let Some(n) = self.name {
            out.push((h64c("n", n.0, 0), Probe::WithoutBirth));
            if year > 0 {
                out.push((h64c("ny", n.0, u64::from(year)), Probe::WithBirth));
            }
        }
        if let Some(surname) = surname {
            if self.birth > 0 {
                let birth = u64::from(self.birth);
                out.push((h64c("sd", surname as u32, birth), Probe::WithBirth));
                for c in name.take(3) {
                    out.push((h64c("gd", c as u32, birth), Probe::WithBirth));
                }
            }
            if self.addr != 0 {
                out.push((h64c("as", surname as u32, self.addr), Probe::Always));
            }
            if self.road != 0 {
                out.push((
                    h64c("rs", surname as u32, u64::from(self.road)),
                    Probe::WithoutBirth,
                ));
            }
        }
        if self.phone != 0 {
            out.push((self.phone ^ 0x9e37_79b9_7f4a_7c15, Probe::Always));
        }
        out.sort_unstable_by_key(|k| k.0);
        out.dedup_by_key(|k| k.0);
    }

    fn probes(&self, p: Probe) -> bool {
        match p {
            Probe::Always => true,
            Probe::WithBirth => self.birth != 0,
            Probe::WithoutBirth => self.birth == 0,
        }
    }
}

fn h64(tag: &str, s: &str) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    tag.hash(&mut h);
    s.hash(&mut h);
    h.finish() | 1
}

fn h32(tag: &str, s: &str) -> u32 {
    (h64(tag, s) >> 32) as u32 | 1
}

fn h64c(tag: &str, c: u32, n: u64) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    tag.hash(&mut h);
    c.hash(&mut h);
    n.hash(&mut h);
    h.finish() | 1
}

/// A multimap from pre-hashed keys to small values, newest first, as chains in
/// one flat arena: most keys hold one or two values, and a `Vec` per key cost
/// more in headers and allocations than in entries. Used for blocking keys and
/// the relation index.
#[derive(Debug, Clone)]
pub(crate) struct Chains<T> {
    /// Key → index of its newest value.
    heads: HashMap<u64, u32, PreHashed>,
    values: Vec<T>,
    /// Per value: index of the next older value of its key, or [`CHAIN_END`].
    next: Vec<u32>,
}

const CHAIN_END: u32 = u32::MAX;

impl<T> Default for Chains<T> {
    fn default() -> Self {
        Chains {
            heads: HashMap::default(),
            values: Vec::new(),
            next: Vec::new(),
        }
    }
}

impl<T: Copy> Chains<T> {
    pub(crate) fn push(&mut self, key: u64, v: T) {
        let head = self.heads.get(&key).copied().unwrap_or(CHAIN_END);
        self.heads.insert(key, self.values.len() as u32);
        self.values.push(v);
        self.next.push(head);
    }

    /// The values filed under `key`, newest first.
    pub(crate) fn newest(&self, key: u64) -> impl Iterator<Item = T> + '_ {
        let mut i = self.heads.get(&key).copied().unwrap_or(CHAIN_END);
        std::iter::from_fn(move || {
            if i == CHAIN_END {
                return None;
            }
            let v = self.values[i as usize];
            i = self.next[i as usize];
            Some(v)
        })
    }
}

/// The blocking index: key → the entities filed under it, newest first.
#[derive(Debug, Clone, Default)]
struct Blocks(Chains<EntityId>);

impl Blocks {
    /// Files `e` under `key` unless it is the newest entity there already
    /// (looking further costs a cache miss per entry; records that repeat their
    /// entity's facts file no keys at all, see [`Resolver::add`]).
    fn insert(&mut self, key: u64, e: EntityId) {
        if self.0.newest(key).next() != Some(e) {
            self.0.push(key, e);
        }
    }

    /// Up to `max` entities filed under `key`, newest first.
    fn newest(&self, key: u64, max: usize) -> impl Iterator<Item = EntityId> + '_ {
        self.0.newest(key).take(max)
    }
}

/// Name agreement of two interned names (equal ids are equal names).
fn name_level(names: &Names, a: NameId, b: NameId) -> Level {
    if a == b {
        Level::Exact
    } else {
        compare_names(names.get(a), names.get(b))
    }
}

/// Distinct values of an entity's records, for scoring (capped to bound memory).
#[derive(Debug, Clone, Default)]
struct Summary {
    names: Vec<NameId>,
    ids: Vec<u64>,
    phones: Vec<u64>,
    births: Vec<u32>,
    addrs: Vec<(u64, u32, u32)>,
}

const SUMMARY_CAP: usize = 16;

fn push_distinct<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if v.len() < SUMMARY_CAP && !v.contains(&x) {
        v.push(x);
    }
}

impl Summary {
    fn add(&mut self, f: &Facts) {
        if let Some(n) = f.name {
            push_distinct(&mut self.names, n);
        }
        if f.id != 0 {
            push_distinct(&mut self.ids, f.id);
        }
        if f.phone != 0 {
            push_distinct(&mut self.phones, f.phone);
        }
        if f.birth != 0 {
            push_distinct(&mut self.births, f.birth);
        }
        if f.addr != 0 {
            push_distinct(&mut self.addrs, (f.addr, f.road, f.district));
        }
    }

    fn absorb(&mut self, o: &Summary) {
        o.names
            .iter()
            .for_each(|x| push_distinct(&mut self.names, *x));
        o.ids.iter().for_each(|x| push_distinct(&mut self.ids, *x));
        o.phones
            .iter()
            .for_each(|x| push_distinct(&mut self.phones, *x));
        o.births
            .iter()
            .for_each(|x| push_distinct(&mut self.births, *x));
        o.addrs
            .iter()
            .for_each(|x| push_distinct(&mut self.addrs, *x));
    }
}

#[derive(Debug, Clone)]
struct Entity {
    kind: EntityKind,
    records: Vec<RecordId>,
    merged_into: Option<EntityId>,
    summary: Summary,
}

/// A read-only view of an entity.
#[derive(Debug, Clone, Copy)]
pub struct EntityView<'a> {
    pub id: EntityId,
    pub kind: EntityKind,
    pub records: &'a [RecordId],
    /// `Some` when the entity was merged away (its records now live there).
    pub merged_into: Option<EntityId>,
}

/// Exact-key targets of the non-person kinds.
fn other_keys(r: &Record) -> Vec<(EntityKind, KeyKind, u64)> {
    let mut out = Vec::new();
    let mut add = |kind: EntityKind, key: KeyKind, t: Target| {
        if let Some(v) = r.get(t) {
            out.push((kind, key, h64(key.as_str(), v)));
            true
        } else {
            false
        }
    };
    add(
        EntityKind::Vehicle,
        KeyKind::Plate,
        targets::vehicle_plate(),
    );
    add(
        EntityKind::Phone,
        KeyKind::PhoneNumber,
        targets::phone_number(),
    );
    if !add(
        EntityKind::Organisation,
        KeyKind::CreditCode,
        Target::known(EntityKind::Organisation, "credit_code"),
    ) {
        add(
            EntityKind::Organisation,
            KeyKind::OrganisationName,
            Target::known(EntityKind::Organisation, "name"),
        );
    }
    add(
        EntityKind::Address,
        KeyKind::AddressText,
        targets::address_text(),
    );
    add(
        EntityKind::Case,
        KeyKind::CaseNumber,
        Target::known(EntityKind::Case, "number"),
    );
    if let Some(a) = r.get(targets::house_address()) {
        let room = r
            .get(Target::known(EntityKind::House, "room"))
            .unwrap_or("");
        out.push((
            EntityKind::House,
            KeyKind::HouseAddress,
            h64("house", &format!("{a}\u{1f}{room}")),
        ));
    }
    out
}

/// The incremental resolver. See the module documentation.
#[derive(Debug, Clone)]
pub struct Resolver {
    cfg: MatchConfig,
    /// `cfg`'s weights by field and level, looked up millions of times per
    /// load (the map lookup and log2 were a measurable share of scoring).
    weights: Weights,
    entities: Vec<Entity>,
    rec_person: Vec<Option<EntityId>>,
    rec_facts: Vec<Facts>,
    rec_other: HashMap<RecordId, Vec<(EntityKind, u64, EntityId)>>,
    links: Vec<Option<StoredLink>>,
    id_index: HashMap<u64, EntityId, PreHashed>,
    phone_index: HashMap<u64, EntityId, PreHashed>,
    key_index: HashMap<(EntityKind, u64), EntityId>,
    blocks: Blocks,
    names: Names,
    /// Scratch buffers of `add`, kept to spare two allocations per record.
    key_buf: Vec<(u64, Probe)>,
    cand_buf: Vec<EntityId>,
    possible: Vec<PossibleMatch>,
    ops: Vec<Operation>,
}

impl Default for Resolver {
    fn default() -> Self {
        Resolver::new(MatchConfig::default())
    }
}

const LEVELS: [Level; 7] = [
    Level::Exact,
    Level::OneEdit,
    Level::Homophone,
    Level::Partial,
    Level::SameRoad,
    Level::SameDistrict,
    Level::Disagree,
];

/// Match weights (bits) by `MatchField as usize` and `Level as usize`, plus the
/// largest weight of each field (the bound for pruning candidates).
#[derive(Debug, Clone)]
struct Weights {
    w: [[f64; LEVELS.len()]; 4],
    max: [f64; 4],
}

impl Weights {
    fn new(cfg: &MatchConfig) -> Weights {
        let mut w = [[0.0; LEVELS.len()]; 4];
        let mut max = [0.0f64; 4];
        for f in MatchField::ALL {
            for l in LEVELS {
                let x = cfg.weight(f, l);
                w[f as usize][l as usize] = x;
                max[f as usize] = max[f as usize].max(x);
            }
        }
        Weights { w, max }
    }

    fn get(&self, f: MatchField, l: Level) -> f64 {
        self.w[f as usize][l as usize]
    }
}

impl Resolver {
    pub fn new(cfg: MatchConfig) -> Self {
        Resolver {
            weights: Weights::new(&cfg),
            cfg,
            entities: Vec::new(),
            rec_person: Vec::new(),
            rec_facts: Vec::new(),
            rec_other: HashMap::new(),
            links: Vec::new(),
            id_index: HashMap::default(),
            phone_index: HashMap::default(),
            key_index: HashMap::new(),
            blocks: Blocks::default(),
            names: Names::default(),
            key_buf: Vec::new(),
            cand_buf: Vec::new(),
            possible: Vec::new(),
            ops: Vec::new(),
        }
    }

    pub fn config(&self) -> &MatchConfig {
        &self.cfg
    }

    pub fn record_count(&self) -> usize {
        self.rec_person.len()
    }

    /// Entities ever created (including merged-away ones).
    pub fn entity_count(&self) -> usize {
        self.entities.len()
    }

    /// Active person entities.
    pub fn person_count(&self) -> usize {
        self.entities
            .iter()
            .filter(|e| e.kind == EntityKind::Person && e.merged_into.is_none())
            .count()
    }

    fn canonical(&self, mut e: EntityId) -> EntityId {
        while let Some(n) = self.entities[e.0 as usize].merged_into {
            e = n;
        }
        e
    }

    fn new_entity(&mut self, kind: EntityKind) -> EntityId {
        let id = EntityId(self.entities.len() as u32);
        self.entities.push(Entity {
            kind,
            records: Vec::new(),
            merged_into: None,
            summary: Summary::default(),
        });
        id
    }

    /// Resolves one record; it gets the next [`RecordId`].
    pub fn add(&mut self, record: &Record) -> Resolution {
        let rid = RecordId(self.rec_person.len() as u32);
        let mut others = Vec::new();
        for (kind, key, hash) in other_keys(record) {
            let e = match self.key_index.get(&(kind, hash)) {
                Some(e) => self.canonical(*e),
                None => {
                    let e = self.new_entity(kind);
                    self.key_index.insert((kind, hash), e);
                    e
                }
            };
            let _ = key;
            self.entities[e.0 as usize].records.push(rid);
            self.rec_other.entry(rid).or_default().push((kind, hash, e));
            others.push((kind, e));
        }
        let Some(facts) = Facts::from_record(record, &mut self.names) else {
            self.rec_person.push(None);
            self.rec_facts.push(Facts::default());
            self.links.push(None);
            return Resolution {
                record: rid,
                person: None,
                joined_existing: false,
                others,
            };
        };
        let (entity, joined, explanation) = self.resolve_person(rid, &facts);
        let ent = &mut self.entities[entity.0 as usize];
        ent.records.push(rid);
        // A record that repeats what its entity already holds (its one name and
        // birth date, a known address and phone) has exactly keys the entity is
        // filed under already: skip filing them again.
        let s = &ent.summary;
        let redundant = joined
            && facts.name.is_none_or(|n| s.names == [n])
            && (facts.birth == 0 || s.births == [facts.birth])
            && (facts.addr == 0 || s.addrs.iter().any(|a| a.0 == facts.addr))
            && (facts.phone == 0 || s.phones.contains(&facts.phone));
        ent.summary.add(&facts);
        if facts.id != 0 {
            self.id_index.entry(facts.id).or_insert(entity);
        }
        if facts.phone != 0 {
            self.phone_index.entry(facts.phone).or_insert(entity);
        }
        if !redundant {
            let mut keys = std::mem::take(&mut self.key_buf);
            facts.block_keys_into(&self.names, &mut keys);
            for (k, _) in &keys {
                self.blocks.insert(*k, entity);
            }
            self.key_buf = keys;
        }
        self.rec_person.push(Some(entity));
        self.rec_facts.push(facts);
        self.links.push(Some(StoredLink::from(&explanation)));
        Resolution {
            record: rid,
            person: Some(entity),
            joined_existing: joined,
            others,
        }
    }

    fn score(&self, f: &Facts, e: EntityId) -> (f64, Vec<FieldComparison>) {
        let (score, comps) = self
            .score_above(f, e, f64::NEG_INFINITY)
            .expect("no bound excludes a candidate");
        (score, comps.to_vec())
    }

    /// The score of `e` for `f` with its field comparisons, or `None` when it
    /// cannot exceed `floor` (the best score so far): the cheap fields are
    /// compared first and the name comparisons skipped when even an exact name
    /// would not lift the total above `floor`. Exact: the best candidate found
    /// with pruning is the one found without.
    fn score_above(
        &self,
        f: &Facts,
        e: EntityId,
        floor: f64,
    ) -> Option<(f64, [FieldComparison; 4])> {
        let s = &self.entities[e.0 as usize].summary;
        let weights = &self.weights;
        let best =
            |field: MatchField, levels: &mut dyn Iterator<Item = Level>| -> FieldComparison {
                let mut out: Option<(Level, f64)> = None;
                for l in levels {
                    let w = weights.get(field, l);
                    if out.is_none_or(|(_, bw)| w > bw) {
                        out = Some((l, w));
                    }
                }
                FieldComparison {
                    field,
                    level: out.map(|o| o.0),
                    weight: out.map_or(0.0, |o| o.1),
                }
            };
        let birth = if f.birth != 0 {
            best(
                MatchField::BirthDate,
                &mut s.births.iter().map(|b| compare_births(f.birth, *b)),
            )
        } else {
            best(MatchField::BirthDate, &mut std::iter::empty())
        };
        let phone = if f.phone != 0 && !s.phones.is_empty() {
            let l = if s.phones.contains(&f.phone) {
                Level::Exact
            } else {
                Level::Disagree
            };
            best(MatchField::Phone, &mut std::iter::once(l))
        } else {
            best(MatchField::Phone, &mut std::iter::empty())
        };
        let addr = if f.addr != 0 {
            best(
                MatchField::Address,
                &mut s.addrs.iter().map(|(a, r, d)| {
                    if *a == f.addr {
                        Level::Exact
                    } else if f.road != 0
                        && *r == f.road
                        && (f.district == 0 || *d == 0 || *d == f.district)
                    {
                        Level::SameRoad
                    } else if f.district != 0 && *d == f.district {
                        Level::SameDistrict
                    } else {
                        Level::Disagree
                    }
                }),
            )
        } else {
            best(MatchField::Address, &mut std::iter::empty())
        };
        // Summed in the same order as the comparisons are listed, so that the
        // total is bit-for-bit the one of an unpruned run.
        let name_bound = if f.name.is_some() && !s.names.is_empty() {
            weights.max[MatchField::Name as usize]
        } else {
            0.0
        };
        if name_bound + birth.weight + phone.weight + addr.weight <= floor {
            return None;
        }
        let names = &self.names;
        let name = match f.name {
            Some(n) => best(
                MatchField::Name,
                &mut s.names.iter().map(|x| name_level(names, n, *x)),
            ),
            None => best(MatchField::Name, &mut std::iter::empty()),
        };
        let comps = [name, birth, phone, addr];
        Some((comps.iter().map(|c| c.weight).sum(), comps))
    }

    fn explanation(
        &self,
        method: LinkMethod,
        candidate: Option<EntityId>,
        score: f64,
        comparisons: Vec<FieldComparison>,
        n: u32,
    ) -> Explanation {
        Explanation {
            method,
            candidate,
            comparisons,
            score,
            link_threshold: self.cfg.link_threshold,
            possible_threshold: self.cfg.possible_threshold,
            candidates_scored: n,
        }
    }

    fn resolve_person(&mut self, rid: RecordId, f: &Facts) -> (EntityId, bool, Explanation) {
        if f.id != 0
            && let Some(&e) = self.id_index.get(&f.id)
        {
            let e = self.canonical(e);
            let (score, comps) = self.score(f, e);
            return (
                e,
                true,
                self.explanation(
                    LinkMethod::ExactKey(KeyKind::IdNumber),
                    Some(e),
                    score,
                    comps,
                    1,
                ),
            );
        }
        if f.phone != 0
            && let Some(&e) = self.phone_index.get(&f.phone)
        {
            let e = self.canonical(e);
            let s = &self.entities[e.0 as usize].summary;
            let id_conflict = f.id != 0 && !s.ids.is_empty() && !s.ids.contains(&f.id);
            let name_ok = match f.name {
                Some(n) => {
                    s.names.is_empty()
                        || s.names
                            .iter()
                            .any(|x| name_level(&self.names, n, *x) != Level::Disagree)
                }
                None => true,
            };
            if !id_conflict && name_ok {
                let (score, comps) = self.score(f, e);
                return (
                    e,
                    true,
                    self.explanation(
                        LinkMethod::ExactKey(KeyKind::Phone),
                        Some(e),
                        score,
                        comps,
                        1,
                    ),
                );
            }
        }
        // Probabilistic: gather candidates from the blocks.
        let mut cands = std::mem::take(&mut self.cand_buf);
        cands.clear();
        let mut keys = std::mem::take(&mut self.key_buf);
        f.block_keys_into(&self.names, &mut keys);
        for (k, probe) in &keys {
            if f.probes(*probe) {
                cands.extend(
                    self.blocks
                        .newest(*k, self.cfg.max_block)
                        .map(|e| self.canonical(e)),
                );
            }
        }
        self.key_buf = keys;
        cands.sort_unstable();
        cands.dedup();
        let mut best: Option<(f64, EntityId, [FieldComparison; 4])> = None;
        let mut scored = 0u32;
        for &e in &cands {
            let s = &self.entities[e.0 as usize].summary;
            // Two different valid ID numbers are two different people.
            if f.id != 0 && !s.ids.is_empty() && !s.ids.contains(&f.id) {
                continue;
            }
            scored += 1;
            let floor = best.as_ref().map_or(f64::NEG_INFINITY, |(b, _, _)| *b);
            if let Some((score, comps)) = self.score_above(f, e, floor)
                && score > floor
            {
                best = Some((score, e, comps));
            }
        }
        self.cand_buf = cands;
        let best = best.map(|(score, e, comps)| (score, e, comps.to_vec()));
        match best {
            Some((score, e, comps)) if score >= self.cfg.link_threshold => (
                e,
                true,
                self.explanation(LinkMethod::Probabilistic, Some(e), score, comps, scored),
            ),
            Some((score, cand, comps)) => {
                let e = self.new_entity(EntityKind::Person);
                let ex = self.explanation(LinkMethod::NewEntity, Some(cand), score, comps, scored);
                if score >= self.cfg.possible_threshold {
                    self.possible.push(PossibleMatch {
                        record: rid,
                        record_entity: e,
                        candidate: cand,
                        explanation: ex.clone(),
                    });
                }
                (e, false, ex)
            }
            None => {
                let e = self.new_entity(EntityKind::Person);
                (
                    e,
                    false,
                    self.explanation(LinkMethod::NewEntity, None, 0.0, Vec::new(), 0),
                )
            }
        }
    }

    /// The person entity a record belongs to now.
    pub fn person_of(&self, r: RecordId) -> Option<EntityId> {
        self.rec_person.get(r.0 as usize).copied().flatten()
    }

    /// Every entity a record belongs to: its person first, then exact-key entities.
    pub fn entities_of(&self, r: RecordId) -> Vec<EntityId> {
        let mut out: Vec<EntityId> = self.person_of(r).into_iter().collect();
        if let Some(o) = self.rec_other.get(&r) {
            out.extend(o.iter().map(|(_, _, e)| *e));
        }
        out
    }

    /// Why the record is linked to its person entity (as decided when it arrived;
    /// see [`Resolver::moved_by`] for analyst moves since).
    pub fn explanation_of(&self, r: RecordId) -> Option<Explanation> {
        let l = self.links.get(r.0 as usize).copied().flatten()?;
        let comparisons: Vec<FieldComparison> = if l.has_comparisons {
            MatchField::ALL
                .iter()
                .zip(l.levels)
                .map(|(f, level)| FieldComparison {
                    field: *f,
                    level,
                    weight: level.map_or(0.0, |lv| self.cfg.weight(*f, lv)),
                })
                .collect()
        } else {
            Vec::new()
        };
        let score = comparisons.iter().map(|c| c.weight).sum();
        Some(self.explanation(
            l.method,
            l.candidate,
            score,
            comparisons,
            l.candidates_scored,
        ))
    }

    pub fn entity(&self, e: EntityId) -> Option<EntityView<'_>> {
        let ent = self.entities.get(e.0 as usize)?;
        Some(EntityView {
            id: e,
            kind: ent.kind,
            records: &ent.records,
            merged_into: ent.merged_into,
        })
    }

    /// Follows merges: the entity whose file now holds `e`'s records.
    pub fn current(&self, e: EntityId) -> Option<EntityId> {
        ((e.0 as usize) < self.entities.len()).then(|| self.canonical(e))
    }

    /// The latest analyst operation (not undone) that moved this record, if any:
    /// the record's entity is then the analyst's decision, not its [`Explanation`].
    pub fn moved_by(&self, r: RecordId) -> Option<&Operation> {
        self.ops
            .iter()
            .rev()
            .filter(|o| o.undone.is_none())
            .find(|o| match &o.kind {
                OperationKind::Merge { moved, .. } => moved.contains(&r),
                OperationKind::Split { records, .. } => records.contains(&r),
            })
    }

    /// The person entity holding an ID number (canonical 18 characters).
    pub fn by_id_number(&self, id: &str) -> Option<EntityId> {
        self.id_index
            .get(&h64("id", id))
            .map(|e| self.canonical(*e))
    }

    /// The person entity first seen with a phone number (canonical form).
    pub fn by_phone(&self, phone: &str) -> Option<EntityId> {
        self.phone_index
            .get(&h64("phone", phone))
            .map(|e| self.canonical(*e))
    }

    /// The vehicle entity of a plate (canonical form).
    pub fn by_plate(&self, plate: &str) -> Option<EntityId> {
        self.key_index
            .get(&(EntityKind::Vehicle, h64(KeyKind::Plate.as_str(), plate)))
            .map(|e| self.canonical(*e))
    }

    /// Records that scored between the thresholds against an existing entity.
    pub fn possible_matches(&self) -> &[PossibleMatch] {
        &self.possible
    }

    pub fn operations(&self) -> &[Operation] {
        &self.ops
    }

    /// Scores a record's facts against an entity, e.g. to show an analyst why two
    /// files were not linked.
    pub fn compare(&self, r: RecordId, e: EntityId) -> Option<(f64, Vec<FieldComparison>)> {
        let f = self.rec_facts.get(r.0 as usize)?;
        if self.entities.get(e.0 as usize)?.kind != EntityKind::Person {
            return None;
        }
        Some(self.score(f, e))
    }

    fn active(&self, e: EntityId) -> Result<&Entity, ResolveError> {
        let ent = self
            .entities
            .get(e.0 as usize)
            .ok_or(ResolveError::NoEntity(e))?;
        if ent.merged_into.is_some() {
            return Err(ResolveError::NotActive(e));
        }
        Ok(ent)
    }

    fn recompute_summary(&mut self, e: EntityId) {
        let mut s = Summary::default();
        for r in &self.entities[e.0 as usize].records {
            if self.rec_person[r.0 as usize] == Some(e) {
                s.add(&self.rec_facts[r.0 as usize]);
            }
        }
        self.entities[e.0 as usize].summary = s;
    }

    /// Points a record at entity `to` (person link or exact-key link of that kind).
    fn relink(&mut self, r: RecordId, from: EntityId, to: EntityId) {
        if self.rec_person[r.0 as usize] == Some(from) {
            self.rec_person[r.0 as usize] = Some(to);
        }
        if let Some(o) = self.rec_other.get_mut(&r) {
            for x in o.iter_mut().filter(|x| x.2 == from) {
                x.2 = to;
            }
        }
    }

    /// Re-points exact-key index entries of `records` that resolve to `old` but whose
    /// key `old` no longer holds, to `new`; and adds `new`'s block keys.
    fn repoint_keys(&mut self, records: &[RecordId], old: EntityId, new: EntityId) {
        let old_ids = self.entities[old.0 as usize].summary.ids.clone();
        let old_phones = self.entities[old.0 as usize].summary.phones.clone();
        for r in records {
            let f = self.rec_facts[r.0 as usize].clone();
            if f.id != 0
                && !old_ids.contains(&f.id)
                && self
                    .id_index
                    .get(&f.id)
                    .is_some_and(|e| self.canonical(*e) == old)
            {
                self.id_index.insert(f.id, new);
            }
            if f.phone != 0
                && !old_phones.contains(&f.phone)
                && self
                    .phone_index
                    .get(&f.phone)
                    .is_some_and(|e| self.canonical(*e) == old)
            {
                self.phone_index.insert(f.phone, new);
            }
            for (k, _) in f.block_keys(&self.names) {
                self.blocks.insert(k, new);
            }
            if let Some(o) = self.rec_other.get(r).cloned() {
                for (kind, hash, e) in o {
                    if e != new {
                        continue;
                    }
                    let still_old = self.entities[old.0 as usize].records.iter().any(|x| {
                        self.rec_other.get(x).is_some_and(|v| {
                            v.iter().any(|y| y.0 == kind && y.1 == hash && y.2 == old)
                        })
                    });
                    if !still_old
                        && self
                            .key_index
                            .get(&(kind, hash))
                            .is_some_and(|e| self.canonical(*e) == old)
                    {
                        self.key_index.insert((kind, hash), new);
                    }
                }
            }
        }
    }

    fn check_reason(reason: &str) -> Result<(), ResolveError> {
        if reason.trim().is_empty() {
            Err(ResolveError::NoReason)
        } else {
            Ok(())
        }
    }

    /// Merges entity `from` into `into` (all of `from`'s records move).
    pub fn merge(
        &mut self,
        into: EntityId,
        from: EntityId,
        actor: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<OperationId, ResolveError> {
        Self::check_reason(reason)?;
        if into == from {
            return Err(ResolveError::SameEntity(into));
        }
        let (ka, kb) = (self.active(into)?.kind, self.active(from)?.kind);
        if ka != kb {
            return Err(ResolveError::KindMismatch { a: ka, b: kb });
        }
        let op = OperationId(self.ops.len() as u32);
        let moved = std::mem::take(&mut self.entities[from.0 as usize].records);
        for r in &moved {
            self.relink(*r, from, into);
        }
        self.entities[into.0 as usize]
            .records
            .extend(moved.iter().copied());
        let fs = self.entities[from.0 as usize].summary.clone();
        self.entities[into.0 as usize].summary.absorb(&fs);
        self.entities[from.0 as usize].merged_into = Some(into);
        self.ops.push(Operation {
            id: op,
            kind: OperationKind::Merge { into, from, moved },
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
            undone: None,
        });
        Ok(op)
    }

    /// Moves `records` out of `from` into a new entity.
    pub fn split(
        &mut self,
        from: EntityId,
        records: &[RecordId],
        actor: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<(OperationId, EntityId), ResolveError> {
        Self::check_reason(reason)?;
        let ent = self.active(from)?;
        for r in records {
            if !ent.records.contains(r) {
                return Err(ResolveError::NotInEntity {
                    record: *r,
                    entity: from,
                });
            }
        }
        let mut records: Vec<RecordId> = records.to_vec();
        records.sort_unstable();
        records.dedup();
        if records.is_empty() || records.len() >= ent.records.len() {
            return Err(ResolveError::EmptySplit(from));
        }
        let kind = ent.kind;
        let op = OperationId(self.ops.len() as u32);
        let new = self.new_entity(kind);
        self.move_records(&records, from, new);
        self.ops.push(Operation {
            id: op,
            kind: OperationKind::Split {
                from,
                new,
                records: records.clone(),
            },
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
            undone: None,
        });
        Ok((op, new))
    }

    fn move_records(&mut self, records: &[RecordId], from: EntityId, to: EntityId) {
        let set: std::collections::HashSet<RecordId> = records.iter().copied().collect();
        self.entities[from.0 as usize]
            .records
            .retain(|r| !set.contains(r));
        for r in records {
            self.relink(*r, from, to);
        }
        self.entities[to.0 as usize]
            .records
            .extend(records.iter().copied());
        self.recompute_summary(from);
        self.recompute_summary(to);
        self.repoint_keys(records, from, to);
    }

    /// Reverses a merge or split, recording who undid it and why.
    pub fn undo(
        &mut self,
        op: OperationId,
        actor: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<(), ResolveError> {
        Self::check_reason(reason)?;
        let o = self
            .ops
            .get(op.0 as usize)
            .ok_or(ResolveError::NoOperation(op))?
            .clone();
        if o.undone.is_some() {
            return Err(ResolveError::AlreadyUndone(op));
        }
        match &o.kind {
            OperationKind::Merge { into, from, moved } => {
                if self.entities[from.0 as usize].merged_into != Some(*into) {
                    return Err(ResolveError::UndoConflict {
                        op,
                        why: format!("{from} is no longer merged into {into}"),
                    });
                }
                self.active(*into).map_err(|_| ResolveError::UndoConflict {
                    op,
                    why: format!("{into} was itself merged away; undo that first"),
                })?;
                if let Some(r) = moved
                    .iter()
                    .find(|r| !self.entities[into.0 as usize].records.contains(r))
                {
                    return Err(ResolveError::UndoConflict {
                        op,
                        why: format!("record {r} has left {into} since; undo that first"),
                    });
                }
                self.entities[from.0 as usize].merged_into = None;
                self.move_records(moved, *into, *from);
            }
            OperationKind::Split { from, new, .. } => {
                self.active(*from).map_err(|_| ResolveError::UndoConflict {
                    op,
                    why: format!("{from} was merged away; undo that first"),
                })?;
                self.active(*new).map_err(|_| ResolveError::UndoConflict {
                    op,
                    why: format!("{new} was merged away; undo that first"),
                })?;
                let all = self.entities[new.0 as usize].records.clone();
                self.move_records(&all, *new, *from);
                self.entities[new.0 as usize].merged_into = Some(*from);
            }
        }
        self.ops[op.0 as usize].undone = Some(Undo {
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            at,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_list_values_per_key_newest_first() {
        let mut c: Chains<u32> = Chains::default();
        c.push(7, 1);
        c.push(9, 2);
        c.push(7, 3);
        c.push(7, 4);
        assert_eq!(c.newest(7).collect::<Vec<_>>(), [4, 3, 1]);
        assert_eq!(c.newest(9).collect::<Vec<_>>(), [2]);
        assert_eq!(c.newest(8).count(), 0);
    }

    #[test]
    fn blocks_do_not_refile_the_newest_entity_and_cap_the_scan() {
        let mut b = Blocks::default();
        for e in [1, 1, 2, 2, 3] {
            b.insert(5, EntityId(e));
        }
        assert_eq!(
            b.newest(5, 10).collect::<Vec<_>>(),
            [EntityId(3), EntityId(2), EntityId(1)]
        );
        assert_eq!(
            b.newest(5, 2).collect::<Vec<_>>(),
            [EntityId(3), EntityId(2)]
        );
    }

    #[test]
    fn names_intern_once_and_birth_keys_only_probe_with_a_birth_date() {
        let mut names = Names::default();
        let a = names.intern("王小明");
        assert_eq!(names.intern("王小明"), a);
        assert_ne!(names.intern("汪小明"), a);
        assert_eq!(names.get(a), "王小明");
        let with_birth = Facts {
            name: Some(a),
            birth: 19_900_307,
            ..Facts::default()
        };
        let keys = with_birth.block_keys(&names);
        // n, ny, sd, gd(小), gd(明)
        assert_eq!(keys.len(), 5);
        let probed = keys.iter().filter(|(_, p)| with_birth.probes(*p)).count();
        assert_eq!(probed, 4);
        let without = Facts {
            name: Some(a),
            ..Facts::default()
        };
        let keys = without.block_keys(&names);
        assert_eq!(keys.len(), 1);
        assert!(without.probes(keys[0].1));
    }
}
