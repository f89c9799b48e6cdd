//! The source registry: registered sources by name, each with its validated
//! mapping and the mapping file's text (kept verbatim for `source show` and for
//! persistence). The server stores the text and re-registers at start-up.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::mapping::{Mapping, MappingError};

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RegistryError {
    #[error("mapping file: {0}")]
    Mapping(#[from] MappingError),
    #[error("source {name:?} is already registered")]
    Duplicate { name: String },
    #[error("source {name:?} is not registered")]
    Unknown { name: String },
}

/// A registered source.
#[derive(Debug, Clone)]
pub struct RegisteredSource {
    pub mapping: Mapping,
    /// The mapping file as submitted.
    pub mapping_text: String,
}

#[derive(Debug, Clone, Default)]
pub struct SourceRegistry {
    sources: BTreeMap<String, RegisteredSource>,
}

impl SourceRegistry {
    /// Validates and registers a mapping file; the source name comes from it.
    pub fn add(&mut self, mapping_text: &str) -> Result<&RegisteredSource, RegistryError> {
        let mapping = Mapping::from_toml(mapping_text)?;
        let name = mapping.source.name.clone();
        if self.sources.contains_key(&name) {
            return Err(RegistryError::Duplicate { name });
        }
        Ok(self.sources.entry(name).or_insert(RegisteredSource {
            mapping,
            mapping_text: mapping_text.to_owned(),
        }))
    }

    /// Replaces a registered source's mapping (same source name required).
    pub fn replace(&mut self, mapping_text: &str) -> Result<&RegisteredSource, RegistryError> {
        let mapping = Mapping::from_toml(mapping_text)?;
        let name = mapping.source.name.clone();
        let slot = self
            .sources
            .get_mut(&name)
            .ok_or(RegistryError::Unknown { name })?;
        *slot = RegisteredSource {
            mapping,
            mapping_text: mapping_text.to_owned(),
        };
        Ok(slot)
    }

    pub fn get(&self, name: &str) -> Option<&RegisteredSource> {
        self.sources.get(name)
    }

    /// All sources, by name.
    pub fn list(&self) -> impl Iterator<Item = &RegisteredSource> {
        self.sources.values()
    }

    pub fn remove(&mut self, name: &str) -> Result<RegisteredSource, RegistryError> {
        self.sources
            .remove(name)
            .ok_or_else(|| RegistryError::Unknown {
                name: name.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOTEL: &str = include_str!("../examples/mappings/hotel_stay.toml");
    const CAFE: &str = include_str!("../examples/mappings/net_cafe.toml");

    #[test]
    fn add_list_show_replace() {
        let mut r = SourceRegistry::default();
        assert_eq!(
            r.add(HOTEL).unwrap().mapping.source.department,
            "治安管理大队"
        );
        r.add(CAFE).unwrap();
        assert_eq!(
            r.add(HOTEL).unwrap_err(),
            RegistryError::Duplicate {
                name: "酒店住宿".into()
            }
        );
        let names: Vec<&str> = r.list().map(|s| s.mapping.source.name.as_str()).collect();
        assert_eq!(names, ["网吧上网", "酒店住宿"]);
        assert_eq!(r.get("酒店住宿").unwrap().mapping_text, HOTEL);
        let changed = HOTEL.replace("治安管理大队", "治安支队");
        assert_eq!(
            r.replace(&changed).unwrap().mapping.source.department,
            "治安支队"
        );
        assert!(matches!(
            r.add("[source]\nname = 1"),
            Err(RegistryError::Mapping(_))
        ));
        r.remove("网吧上网").unwrap();
        assert!(r.remove("网吧上网").is_err());
    }
}
