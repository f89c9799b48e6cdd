//! OpenStreetMap import: PBF and OSM XML into the routable ways a car may use.
//!
//! Both formats go through the same two streaming passes: the first keeps only
//! routable ways (their node references, compacted to dense indices, and the
//! profile of their tags); the second keeps coordinates only for the nodes those
//! ways reference. Nothing else of the file is held in memory.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use quick_xml::events::{BytesStart, Event};
use thiserror::Error;

use crate::profile::{WayProfile, WayTags};

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("cannot read OSM file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid OSM PBF {path}: {message}")]
    Pbf { path: PathBuf, message: String },
    #[error("invalid OSM XML {path} at byte {position}: {message}")]
    Xml {
        path: PathBuf,
        position: u64,
        message: String,
    },
    #[error("OSM file {path} contains no road a car may use")]
    NoRoads { path: PathBuf },
}

/// The file formats the importer reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OsmFormat {
    Pbf,
    Xml,
}

impl OsmFormat {
    /// Tells the format from the first bytes: XML starts with `<` (after an
    /// optional byte-order mark and whitespace); anything else is taken as PBF,
    /// whose blobs start with a big-endian header length.
    pub fn sniff(head: &[u8]) -> OsmFormat {
        let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
        match head.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => OsmFormat::Xml,
            _ => OsmFormat::Pbf,
        }
    }
}

/// One routable way: its profile and its nodes as indices into [`OsmRoads::coords`].
#[derive(Debug, Clone)]
pub(crate) struct ImportedWay {
    pub(crate) profile: WayProfile,
    pub(crate) nodes: Vec<u32>,
}

/// The routable part of an OSM file.
#[derive(Debug, Clone)]
pub(crate) struct OsmRoads {
    /// `[lat, lng]` per node index; NaN when the file referenced a node it does
    /// not contain (extracts cut at their border do this).
    pub(crate) coords: Vec<[f64; 2]>,
    pub(crate) ways: Vec<ImportedWay>,
}

/// Pass-one state: routable ways with node ids compacted in first-seen order.
#[derive(Default)]
struct WayCollector {
    ways: Vec<ImportedWay>,
    index: HashMap<i64, u32>,
}

impl WayCollector {
    fn add(&mut self, tags: &WayTags, refs: impl Iterator<Item = i64>) {
        let Some(profile) = tags.profile() else {
            return;
        };
        let nodes: Vec<u32> = refs
            .map(|id| {
                let next = self.index.len() as u32;
                *self.index.entry(id).or_insert(next)
            })
            .collect();
        if nodes.len() >= 2 {
            self.ways.push(ImportedWay { profile, nodes });
        }
    }

    fn into_roads(self) -> (OsmRoads, HashMap<i64, u32>) {
        let coords = vec![[f64::NAN, f64::NAN]; self.index.len()];
        (
            OsmRoads {
                coords,
                ways: self.ways,
            },
            self.index,
        )
    }
}

/// Reads an OSM file (PBF or XML, told apart by content) into its routable ways.
pub(crate) fn import_file(path: &Path) -> Result<OsmRoads, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 64];
    let n = File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .map_err(io)?;
    let roads = match OsmFormat::sniff(&head[..n]) {
        OsmFormat::Xml => {
            let open = || File::open(path).map(BufReader::new).map_err(io);
            import_xml_passes(open()?, open()?, path)?
        }
        OsmFormat::Pbf => import_pbf(path)?,
    };
    if roads.ways.is_empty() {
        return Err(ImportError::NoRoads {
            path: path.to_owned(),
        });
    }
    Ok(roads)
}

/// Parses OSM XML held in memory (used for generated cities and tests).
pub(crate) fn import_xml_bytes(xml: &[u8]) -> Result<OsmRoads, ImportError> {
    let path = Path::new("<memory>");
    let roads = import_xml_passes(xml, xml, path)?;
    if roads.ways.is_empty() {
        return Err(ImportError::NoRoads {
            path: path.to_owned(),
        });
    }
    Ok(roads)
}

fn import_pbf(path: &Path) -> Result<OsmRoads, ImportError> {
    use osmpbf::{Element, ElementReader};
    let pbf_err = |e: osmpbf::Error| ImportError::Pbf {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let mut ways = WayCollector::default();
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|element| {
            if let Element::Way(way) = element {
                let mut tags = WayTags::default();
                for (k, v) in way.tags() {
                    tags.set(k, v);
                }
                ways.add(&tags, way.refs());
            }
        })
        .map_err(pbf_err)?;
    let (mut roads, index) = ways.into_roads();
    let mut put = |id: i64, lat: f64, lng: f64| {
        if let Some(&i) = index.get(&id) {
            roads.coords[i as usize] = [lat, lng];
        }
    };
    ElementReader::from_path(path)
        .map_err(pbf_err)?
        .for_each(|element| match element {
            Element::Node(n) => put(n.id(), n.lat(), n.lon()),
            Element::DenseNode(n) => put(n.id(), n.lat(), n.lon()),
            Element::Way(_) | Element::Relation(_) => {}
        })
        .map_err(pbf_err)?;
    Ok(roads)
}

fn import_xml_passes<R: BufRead>(
    first: R,
    second: R,
    path: &Path,
) -> Result<OsmRoads, ImportError> {
    let mut ways = WayCollector::default();
    xml_scan(first, path, &mut XmlSink::Ways(&mut ways))?;
    let (mut roads, index) = ways.into_roads();
    xml_scan(
        second,
        path,
        &mut XmlSink::Nodes {
            index: &index,
            coords: &mut roads.coords,
        },
    )?;
    Ok(roads)
}

enum XmlSink<'a> {
    Ways(&'a mut WayCollector),
    Nodes {
        index: &'a HashMap<i64, u32>,
        coords: &'a mut Vec<[f64; 2]>,
    },
}

fn xml_scan<R: BufRead>(input: R, path: &Path, sink: &mut XmlSink<'_>) -> Result<(), ImportError> {
    let mut reader = quick_xml::Reader::from_reader(input);
    let mut buf = Vec::new();
    // State of the `<way>` being read in pass one.
    let mut in_way = false;
    let mut tags = WayTags::default();
    let mut refs: Vec<i64> = Vec::new();
    loop {
        let position = reader.buffer_position();
        let err = |message: String| ImportError::Xml {
            path: path.to_owned(),
            position,
            message,
        };
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| err(e.to_string()))?;
        match (&event, &mut *sink) {
            (Event::Eof, _) => break,
            (Event::Start(e) | Event::Empty(e), XmlSink::Nodes { index, coords })
                if e.name().as_ref() == b"node" =>
            {
                let id = attr_i64(e, b"id").map_err(&err)?;
                if let Some(&i) = index.get(&id) {
                    let lat = attr_f64(e, b"lat").map_err(&err)?;
                    let lon = attr_f64(e, b"lon").map_err(&err)?;
                    coords[i as usize] = [lat, lon];
                }
            }
            (Event::Start(e) | Event::Empty(e), XmlSink::Ways(_)) => match e.name().as_ref() {
                b"way" => {
                    in_way = true;
                    tags = WayTags::default();
                    refs.clear();
                    if matches!(event, Event::Empty(_)) {
                        // A way without children has no nodes: nothing to route.
                        in_way = false;
                    }
                }
                b"nd" if in_way => refs.push(attr_i64(e, b"ref").map_err(&err)?),
                b"tag" if in_way => {
                    let k = attr_string(e, b"k").map_err(&err)?;
                    let v = attr_string(e, b"v").map_err(&err)?;
                    tags.set(&k, &v);
                }
                _ => {}
            },
            (Event::End(e), XmlSink::Ways(ways)) if e.name().as_ref() == b"way" => {
                if in_way {
                    ways.add(&tags, refs.iter().copied());
                }
                in_way = false;
            }
            _ => {}
        }
        buf.clear();
    }
    Ok(())
}

fn attr_string(e: &BytesStart<'_>, key: &[u8]) -> Result<String, String> {
    let attr = e
        .try_get_attribute(key)
        .map_err(|x| x.to_string())?
        .ok_or_else(|| {
            format!(
                "<{}> lacks attribute {}",
                String::from_utf8_lossy(e.name().as_ref()),
                String::from_utf8_lossy(key)
            )
        })?;
    // Decode by hand rather than with `Attribute::unescape_value`, which quick-xml
    // removes when another crate in the build enables its `encoding` feature.
    let raw = std::str::from_utf8(&attr.value).map_err(|x| x.to_string())?;
    quick_xml::escape::unescape(raw)
        .map(|v| v.into_owned())
        .map_err(|x| x.to_string())
}

fn attr_i64(e: &BytesStart<'_>, key: &[u8]) -> Result<i64, String> {
    let s = attr_string(e, key)?;
    s.trim().parse().map_err(|_| {
        format!(
            "attribute {}={s:?} is not an integer",
            String::from_utf8_lossy(key)
        )
    })
}

fn attr_f64(e: &BytesStart<'_>, key: &[u8]) -> Result<f64, String> {
    let s = attr_string(e, key)?;
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            format!(
                "attribute {}={s:?} is not a number",
                String::from_utf8_lossy(key)
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Direction, HighwayClass};

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="test">
  <node id="1" lat="30.0" lon="104.0"/>
  <node id="2" lat="30.001" lon="104.0"/>
  <node id="3" lat="30.002" lon="104.0"><tag k="highway" v="traffic_signals"/></node>
  <node id="4" lat="30.002" lon="104.001"/>
  <way id="10">
    <nd ref="1"/><nd ref="2"/><nd ref="3"/>
    <tag k="highway" v="primary"/><tag k="name" v="人民路"/><tag k="oneway" v="-1"/>
  </way>
  <way id="11"><nd ref="3"/><nd ref="4"/><tag k="highway" v="footway"/></way>
  <way id="12"><nd ref="3"/><nd ref="4"/><tag k="highway" v="service"/><tag k="access" v="private"/></way>
  <way id="13"><nd ref="3"/><nd ref="4"/><nd ref="99"/><tag k="highway" v="residential"/><tag k="name" v="A &amp; B"/></way>
</osm>"#;

    #[test]
    fn xml_keeps_only_car_ways_and_their_nodes() {
        let roads = import_xml_bytes(SAMPLE.as_bytes()).unwrap();
        assert_eq!(roads.ways.len(), 2);
        let w = &roads.ways[0];
        assert_eq!(w.profile.class, HighwayClass::Primary);
        assert_eq!(w.profile.direction, Direction::Backward);
        assert_eq!(w.profile.name.as_deref(), Some("人民路"));
        assert_eq!(w.nodes, vec![0, 1, 2]);
        assert_eq!(roads.ways[1].nodes, vec![2, 3, 4]);
        assert_eq!(roads.ways[1].profile.name.as_deref(), Some("A & B"));
        assert_eq!(roads.coords.len(), 5);
        assert_eq!(roads.coords[1], [30.001, 104.0]);
        assert_eq!(roads.coords[3], [30.002, 104.001]);
        // Node 99 is referenced but absent from the file.
        assert!(roads.coords[4][0].is_nan());
    }

    #[test]
    fn xml_errors_name_the_attribute() {
        let bad = r#"<osm><way id="1"><nd ref="x"/></way></osm>"#;
        let e = import_xml_bytes(bad.as_bytes()).unwrap_err();
        assert!(e.to_string().contains("ref=\"x\""), "{e}");
        let none = r#"<osm><node id="1" lat="1" lon="1"/></osm>"#;
        assert!(matches!(
            import_xml_bytes(none.as_bytes()),
            Err(ImportError::NoRoads { .. })
        ));
    }

    #[test]
    fn sniffing() {
        assert_eq!(OsmFormat::sniff(b"\xEF\xBB\xBF  <?xml"), OsmFormat::Xml);
        assert_eq!(OsmFormat::sniff(b"\0\0\0\x0d\n\tOSMHeader"), OsmFormat::Pbf);
    }
}
