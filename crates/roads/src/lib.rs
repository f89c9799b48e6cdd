//! Road network for pingan: OpenStreetMap import (PBF and OSM XML) with a car
//! profile, contraction-hierarchy routing with snapping, many-to-one ETAs for
//! dispatch, a prepared-graph cache, street lookup and GeoJSON export, and the
//! demo city's generated streets.
//!
//! Entry points:
//! - [`load_or_build`]: a file (PBF or XML) and a cache directory → [`Router`].
//! - [`Router::snap`], [`Router::eta`], [`Router::route`], [`Router::eta_many`],
//!   [`Router::nearest_by_eta`]: queries, all `&self`.
//! - [`Router::streets`]: [`StreetIndex::find`] and [`StreetIndex::streets`].
//! - [`to_geojson`]: the base map.
//! - [`demo::generate`] / [`demo::write_demo_city`]: the demo city as `.osm`.
//!
//! The crate reads and writes files only for import and the cache; the graph
//! logic is pure ([`router_from_osm_xml`] builds from bytes).

pub mod cache;
pub mod demo;
pub mod geojson;
pub mod graph;
pub mod osm;
pub mod profile;
pub mod router;
pub mod streets;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use cache::{BuildReport, CacheError, load_or_build};
pub use demo::{DemoCity, DemoCityConfig};
pub use geojson::{GeoJsonOptions, to_geojson};
pub use graph::{GraphStats, NodeId, RoadGraph, Segment, WayInfo};
pub use osm::{ImportError, OsmFormat};
pub use profile::{Direction, HighwayClass};
pub use router::{Eta, EtaStrategy, Route, Router, Snap};
pub use streets::{Street, StreetIndex, StreetMatch};

#[derive(Debug, Error)]
pub enum RoadsError {
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("cannot access {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{input} has no connected road network a car can use")]
    EmptyNetwork { input: String },
}

/// Imports an OSM file (PBF or XML) into a road graph, without the hierarchy.
pub fn graph_from_file(path: &Path) -> Result<RoadGraph, RoadsError> {
    let roads = osm::import_file(path)?;
    non_empty(RoadGraph::from_osm(roads), &path.display().to_string())
}

/// Builds a prepared router from OSM XML bytes (no file system, no cache).
pub fn router_from_osm_xml(xml: &[u8]) -> Result<Router, RoadsError> {
    let roads = osm::import_xml_bytes(xml)?;
    Ok(Router::new(non_empty(
        RoadGraph::from_osm(roads),
        "<memory>",
    )?))
}

fn non_empty(graph: RoadGraph, source: &str) -> Result<RoadGraph, RoadsError> {
    if graph.segments().is_empty() {
        return Err(RoadsError::EmptyNetwork {
            input: source.to_owned(),
        });
    }
    Ok(graph)
}
