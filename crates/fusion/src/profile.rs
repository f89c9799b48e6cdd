//! Entity profiles (一人一档): an entity's records with per-field provenance, its
//! relations to other entities (same house, same vehicle, same phone, seen
//! together) and a timeline merging its records with caller-supplied events
//! (sensor hits, incidents, alerts from other modules).
//!
//! Relations are derived from a [`RelationIndex`] over records, maintained
//! incrementally as records arrive; record→entity goes through the resolver at
//! query time, so relations follow merges and splits without maintenance.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use pingan_core::Timestamp;
use pingan_core::normalize::address::parse_address;

use crate::ingest::Record;
use crate::model::{EntityKind, Target, targets};
use crate::resolve::{Chains, EntityId, RecordId, Resolver};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RelationKind {
    SameHouse,
    SameVehicle,
    SamePhone,
    /// Records at the same place within [`SEEN_TOGETHER_WINDOW_MS`].
    SeenTogether,
}

impl RelationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::SameHouse => "same_house",
            RelationKind::SameVehicle => "same_vehicle",
            RelationKind::SamePhone => "same_phone",
            RelationKind::SeenTogether => "seen_together",
        }
    }
}

/// Two records at the same place count as "seen together" within this window.
pub const SEEN_TOGETHER_WINDOW_MS: i64 = 30 * 60 * 1000;
const BUCKET_MS: i64 = SEEN_TOGETHER_WINDOW_MS;

fn h64(tag: u8, s: &str, n: i64) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    tag.hash(&mut h);
    s.hash(&mut h);
    n.hash(&mut h);
    h.finish()
}

/// Reverse index from shared values (house, plate, phone, place+time) to records
/// with their observation times. Most keys are shared by a few records (a hotel
/// at one half-hour, a house), hence [`Chains`] rather than a `Vec` per key.
#[derive(Debug, Default, Clone)]
pub struct RelationIndex {
    by_key: Chains<(RecordId, i64)>,
}

fn house_key(r: &Record) -> Option<String> {
    let a = r
        .get(targets::house_address())
        .or_else(|| r.get(targets::person_address()))?;
    let p = parse_address(a);
    let s = p.standard_form();
    Some(if s.is_empty() { a.to_owned() } else { s })
}

/// Calls `f` with each relation key of a record: kind, shared value and hash.
fn visit_keys(r: &Record, f: &mut dyn FnMut(RelationKind, &str, u64)) {
    let has_person =
        r.get(targets::person_name()).is_some() || r.get(targets::person_id_number()).is_some();
    if !has_person {
        return;
    }
    if let Some(h) = house_key(r) {
        f(RelationKind::SameHouse, &h, h64(1, &h, 0));
    }
    if let Some(p) = r.get(targets::vehicle_plate()) {
        f(RelationKind::SameVehicle, p, h64(2, p, 0));
    }
    if let Some(p) = r.get(targets::person_phone()) {
        f(RelationKind::SamePhone, p, h64(3, p, 0));
    }
    if let Some(place) = r.get(targets::event_place()) {
        let b = r.observed_at.millis().div_euclid(BUCKET_MS);
        f(RelationKind::SeenTogether, place, h64(4, place, b));
    }
}

fn keys(r: &Record) -> Vec<(RelationKind, String, u64)> {
    let mut out = Vec::new();
    visit_keys(r, &mut |kind, via, k| out.push((kind, via.to_owned(), k)));
    out
}

impl RelationIndex {
    pub fn add(&mut self, id: RecordId, r: &Record) {
        // Only the hashes are kept: no copy of the shared values per record.
        visit_keys(r, &mut |_, _, k| {
            self.by_key.push(k, (id, r.observed_at.millis()))
        });
    }

    /// Records filed under `key` with their observation times, oldest first.
    fn postings(&self, key: u64) -> Vec<(RecordId, i64)> {
        let mut out: Vec<(RecordId, i64)> = self.by_key.newest(key).collect();
        out.reverse();
        out
    }

    /// Relations of `entity`: for every shared value, the other person entities
    /// and the records that show it.
    pub fn relations(
        &self,
        resolver: &Resolver,
        records: &dyn Fn(RecordId) -> Option<Record>,
        entity: EntityId,
    ) -> Vec<Relation> {
        let Some(view) = resolver.entity(entity) else {
            return Vec::new();
        };
        let mut acc: BTreeMap<(RelationKind, EntityId, String), Vec<RecordId>> = BTreeMap::new();
        for rid in view.records {
            let Some(r) = records(*rid) else { continue };
            for (kind, via, key) in keys(&r) {
                let t = r.observed_at.millis();
                let mut probe = vec![key];
                if kind == RelationKind::SeenTogether {
                    let b = t.div_euclid(BUCKET_MS);
                    probe = vec![h64(4, &via, b - 1), key, h64(4, &via, b + 1)];
                }
                for k in probe {
                    for (other, ot) in &self.postings(k) {
                        if kind == RelationKind::SeenTogether
                            && (ot - t).abs() > SEEN_TOGETHER_WINDOW_MS
                        {
                            continue;
                        }
                        let Some(oe) = resolver.person_of(*other) else {
                            continue;
                        };
                        if oe == entity {
                            continue;
                        }
                        let ev = acc.entry((kind, oe, via.clone())).or_default();
                        for x in [*rid, *other] {
                            if !ev.contains(&x) {
                                ev.push(x);
                            }
                        }
                    }
                }
            }
        }
        acc.into_iter()
            .map(|((kind, other, via), records)| Relation {
                kind,
                other,
                via,
                records,
            })
            .collect()
    }
}

/// Where one field value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub record: RecordId,
    pub source: String,
    pub file: String,
    pub line: u64,
    pub observed_at: Timestamp,
}

/// One distinct value of a field with every record that supplied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileValue {
    pub value: String,
    pub provenance: Vec<Provenance>,
}

impl ProfileValue {
    pub fn last_seen(&self) -> Timestamp {
        self.provenance
            .iter()
            .map(|p| p.observed_at)
            .max()
            .unwrap_or_default()
    }
}

/// A field's values, most supported first (then most recent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileField {
    pub target: Target,
    pub values: Vec<ProfileValue>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    pub kind: RelationKind,
    pub other: EntityId,
    /// The shared value (house address, plate, phone, place).
    pub via: String,
    /// Evidence: records of both entities that share it.
    pub records: Vec<RecordId>,
}

/// An event supplied by another module (sensor hit, incident, alert…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEvent {
    pub at: Timestamp,
    pub kind: String,
    pub summary: String,
}

/// A timeline row: a record's observation or a supplied event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineEntry {
    pub at: Timestamp,
    pub kind: String,
    pub summary: String,
    pub record: Option<RecordId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub entity: EntityId,
    pub kind: EntityKind,
    pub records: Vec<RecordId>,
    /// Distinct sources, sorted.
    pub sources: Vec<String>,
    pub fields: Vec<ProfileField>,
    pub relations: Vec<Relation>,
    /// Oldest first.
    pub timeline: Vec<TimelineEntry>,
}

impl Profile {
    /// The best-supported value of a field.
    pub fn value(&self, t: Target) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.target == t)
            .and_then(|f| f.values.first())
            .map(|v| v.value.as_str())
    }
}

/// Assembles the profile of `entity` (following merges). `records` fetches a
/// record by id (from memory or the store). `None` if the entity does not exist.
pub fn build_profile(
    resolver: &Resolver,
    records: &dyn Fn(RecordId) -> Option<Record>,
    relations: &RelationIndex,
    entity: EntityId,
    events: &[TimelineEvent],
) -> Option<Profile> {
    let entity = resolver.current(entity)?;
    let view = resolver.entity(entity)?;
    let mut fields: BTreeMap<Target, Vec<ProfileValue>> = BTreeMap::new();
    let mut sources: Vec<String> = Vec::new();
    let mut timeline: Vec<TimelineEntry> = Vec::new();
    for rid in view.records {
        let Some(r) = records(*rid) else { continue };
        if !sources.iter().any(|s| **s == *r.source) {
            sources.push(r.source.to_string());
        }
        let prov = Provenance {
            record: *rid,
            source: r.source.to_string(),
            file: r.file.to_string(),
            line: r.line,
            observed_at: r.observed_at,
        };
        for (t, v) in r.fields.iter() {
            let vals = fields.entry(t).or_default();
            match vals.iter_mut().find(|x| x.value == v) {
                Some(x) => x.provenance.push(prov.clone()),
                None => vals.push(ProfileValue {
                    value: v.to_string(),
                    provenance: vec![prov.clone()],
                }),
            }
        }
        let what = r
            .get(targets::event_kind())
            .or_else(|| r.get(targets::event_place()))
            .unwrap_or(&r.category);
        timeline.push(TimelineEntry {
            at: r.observed_at,
            kind: format!("record:{}", r.source),
            summary: match r.get(targets::event_place()) {
                Some(p) if p != what => format!("{what} @ {p}"),
                _ => what.to_owned(),
            },
            record: Some(*rid),
        });
    }
    timeline.extend(events.iter().map(|e| TimelineEntry {
        at: e.at,
        kind: e.kind.clone(),
        summary: e.summary.clone(),
        record: None,
    }));
    timeline.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.record.cmp(&b.record)));
    sources.sort();
    let fields = fields
        .into_iter()
        .map(|(target, mut values)| {
            values.sort_by(|a, b| {
                b.provenance
                    .len()
                    .cmp(&a.provenance.len())
                    .then_with(|| b.last_seen().cmp(&a.last_seen()))
                    .then_with(|| a.value.cmp(&b.value))
            });
            ProfileField { target, values }
        })
        .collect();
    let relations = if view.kind == EntityKind::Person {
        relations.relations(resolver, records, entity)
    } else {
        Vec::new()
    };
    Some(Profile {
        entity,
        kind: view.kind,
        records: view.records.to_vec(),
        sources,
        fields,
        relations,
        timeline,
    })
}
