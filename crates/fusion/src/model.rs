//! pingan's target model as seen by mappings: entity kinds and the catalogue of
//! fields a source column may be mapped onto (`person.name`, `vehicle.plate`, …).
//!
//! The catalogue is closed on purpose: a typo in a mapping file (`person.nmae`) is a
//! validation error with a line number, not a silently empty column.

use std::fmt;

/// The kinds of entity a source row can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntityKind {
    Person,
    Vehicle,
    Phone,
    Address,
    House,
    Organisation,
    Event,
    Case,
}

impl EntityKind {
    pub const ALL: [EntityKind; 8] = [
        EntityKind::Person,
        EntityKind::Vehicle,
        EntityKind::Phone,
        EntityKind::Address,
        EntityKind::House,
        EntityKind::Organisation,
        EntityKind::Event,
        EntityKind::Case,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Vehicle => "vehicle",
            EntityKind::Phone => "phone",
            EntityKind::Address => "address",
            EntityKind::House => "house",
            EntityKind::Organisation => "organisation",
            EntityKind::Event => "event",
            EntityKind::Case => "case",
        }
    }

    pub fn parse(s: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The fields a mapping may target for this kind.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            EntityKind::Person => &[
                "name",
                "id_number",
                "phone",
                "birth_date",
                "sex",
                "address",
                "ethnicity",
                "nationality",
                "passport",
            ],
            EntityKind::Vehicle => &["plate", "vin", "brand", "model", "color", "vehicle_type"],
            EntityKind::Phone => &["number", "carrier"],
            EntityKind::Address => &["text", "district", "lat", "lng"],
            EntityKind::House => &["address", "room", "usage", "area"],
            EntityKind::Organisation => &["name", "credit_code", "address", "phone"],
            EntityKind::Event => &[
                "kind",
                "time",
                "place",
                "address",
                "description",
                "lat",
                "lng",
            ],
            EntityKind::Case => &["number", "kind", "time", "description", "address"],
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A field of the target model, e.g. `person.id_number`. Only constructible from
/// the catalogue, so holding one proves the name is known. One byte, because
/// millions of records carry a list of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target(u8);

/// The catalogue flattened in kind order; a [`Target`] is an index into it.
fn catalogue() -> &'static [(EntityKind, &'static str)] {
    static CAT: std::sync::OnceLock<Vec<(EntityKind, &'static str)>> = std::sync::OnceLock::new();
    CAT.get_or_init(|| {
        EntityKind::ALL
            .iter()
            .flat_map(|k| k.fields().iter().map(move |f| (*k, *f)))
            .collect()
    })
}

impl Target {
    /// Parses `kind.field`; `None` when either part is not in the catalogue.
    pub fn parse(s: &str) -> Option<Target> {
        let (kind, field) = s.split_once('.')?;
        let kind = EntityKind::parse(kind)?;
        Self::find(kind, field)
    }

    fn find(kind: EntityKind, field: &str) -> Option<Target> {
        catalogue()
            .iter()
            .position(|(k, f)| *k == kind && *f == field)
            .map(|i| Target(i as u8))
    }

    /// A catalogue field.
    ///
    /// # Panics
    /// On a programming error only: `field` is not in `kind`'s catalogue.
    pub(crate) fn known(kind: EntityKind, field: &str) -> Target {
        Self::find(kind, field).unwrap_or_else(|| panic!("{kind}.{field} is not in the catalogue"))
    }

    /// Every target in the catalogue.
    pub fn all() -> impl Iterator<Item = Target> {
        (0..catalogue().len()).map(|i| Target(i as u8))
    }

    /// Position in the catalogue (stable within a build; used in content hashes).
    pub(crate) fn index(self) -> u8 {
        self.0
    }

    pub fn kind(self) -> EntityKind {
        catalogue()[usize::from(self.0)].0
    }

    pub fn field(self) -> &'static str {
        catalogue()[usize::from(self.0)].1
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.kind().as_str(), self.field())
    }
}

/// Well-known targets used by resolution, search and profiles.
pub mod targets {
    use super::{EntityKind, Target};

    pub fn person_name() -> Target {
        Target::known(EntityKind::Person, "name")
    }
    pub fn person_id_number() -> Target {
        Target::known(EntityKind::Person, "id_number")
    }
    pub fn person_phone() -> Target {
        Target::known(EntityKind::Person, "phone")
    }
    pub fn person_birth_date() -> Target {
        Target::known(EntityKind::Person, "birth_date")
    }
    pub fn person_sex() -> Target {
        Target::known(EntityKind::Person, "sex")
    }
    pub fn person_address() -> Target {
        Target::known(EntityKind::Person, "address")
    }
    pub fn vehicle_plate() -> Target {
        Target::known(EntityKind::Vehicle, "plate")
    }
    pub fn phone_number() -> Target {
        Target::known(EntityKind::Phone, "number")
    }
    pub fn house_address() -> Target {
        Target::known(EntityKind::House, "address")
    }
    pub fn address_text() -> Target {
        Target::known(EntityKind::Address, "text")
    }
    pub fn address_district() -> Target {
        Target::known(EntityKind::Address, "district")
    }
    pub fn event_time() -> Target {
        Target::known(EntityKind::Event, "time")
    }
    pub fn event_place() -> Target {
        Target::known(EntityKind::Event, "place")
    }
    pub fn event_kind() -> Target {
        Target::known(EntityKind::Event, "kind")
    }
    pub fn event_description() -> Target {
        Target::known(EntityKind::Event, "description")
    }
    pub fn event_address() -> Target {
        Target::known(EntityKind::Event, "address")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_only_from_catalogue() {
        let t = Target::parse("person.id_number").unwrap();
        assert_eq!(t.kind(), EntityKind::Person);
        assert_eq!(t.to_string(), "person.id_number");
        assert_eq!(Target::parse("person.nmae"), None);
        assert_eq!(Target::parse("animal.name"), None);
        assert_eq!(Target::parse("person"), None);
        assert_eq!(Target::all().count(), 41);
        for k in EntityKind::ALL {
            assert_eq!(EntityKind::parse(k.as_str()), Some(k));
            for f in k.fields() {
                assert!(Target::parse(&format!("{k}.{f}")).is_some());
            }
        }
    }
}
