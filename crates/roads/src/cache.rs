//! The prepared-graph cache: graph and hierarchy in one file in a cache directory,
//! keyed by a SHA-256 of the source file's bytes (and this format's version), so
//! an edited or replaced extract is rebuilt and an unchanged one loads in
//! milliseconds.
//!
//! Encoding and decoding are pure functions over bytes; only [`load_or_build`]
//! touches the file system. The file ends with a SHA-256 of everything before it,
//! so a truncated or corrupted cache is detected and rebuilt instead of trusted.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::RoadsError;
use crate::graph::{RoadGraph, Segment, WayInfo};
use crate::profile::{Direction, HighwayClass};
use crate::router::Router;

const MAGIC: &[u8; 8] = b"PINGANRG";
/// Bump whenever the profile, the graph build or this encoding changes: it is
/// part of the cache key, so old caches are simply not found.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Error, PartialEq)]
pub enum CacheError {
    #[error("cache file is truncated at byte {0}")]
    Truncated(usize),
    #[error("cache file has bad magic bytes")]
    BadMagic,
    #[error("cache file has format version {found}, expected {expected}")]
    Version { found: u32, expected: u32 },
    #[error("cache file was built from a different source (hash mismatch)")]
    SourceMismatch,
    #[error("cache file checksum does not match its contents")]
    Checksum,
    #[error("cache file field {0} is invalid")]
    Invalid(&'static str),
}

/// What [`load_or_build`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    /// True when the graph came from the cache.
    pub cache_hit: bool,
    pub cache_file: PathBuf,
    /// Hex SHA-256 of the format version and the source file's bytes.
    pub source_hash: String,
    /// Time to import and build the graph (0 on a cache hit).
    pub import_ms: u64,
    /// Time to build the contraction hierarchy (0 on a cache hit).
    pub prepare_ms: u64,
    /// Time to read and decode the cache (0 on a miss).
    pub load_ms: u64,
    pub cache_bytes: u64,
}

/// The cache key of a source: SHA-256 over the format version and the bytes.
pub fn source_key(reader: &mut impl Read) -> std::io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    h.update(FORMAT_VERSION.to_le_bytes());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Loads the prepared graph for `source` from `cache_dir`, or imports the file,
/// prepares it and writes the cache (atomically: temp file, then rename).
pub fn load_or_build(source: &Path, cache_dir: &Path) -> Result<(Router, BuildReport), RoadsError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| RoadsError::Io { path, source }
    };
    let key = File::open(source)
        .and_then(|mut f| source_key(&mut f))
        .map_err(io(source))?;
    let hex = to_hex(&key);
    let cache_file = cache_dir.join(format!("roads-{}.bin", &hex[..16]));
    if let Ok(bytes) = std::fs::read(&cache_file) {
        let t = Instant::now();
        // Anything wrong with the file means a rebuild, never a failure.
        if let Ok(router) = decode(&bytes, &key) {
            return Ok((
                router,
                BuildReport {
                    cache_hit: true,
                    cache_file,
                    source_hash: hex,
                    import_ms: 0,
                    prepare_ms: 0,
                    load_ms: t.elapsed().as_millis() as u64,
                    cache_bytes: bytes.len() as u64,
                },
            ));
        }
    }
    let t = Instant::now();
    let graph = crate::graph_from_file(source)?;
    let import_ms = t.elapsed().as_millis() as u64;
    let t = Instant::now();
    let router = Router::new(graph);
    let prepare_ms = t.elapsed().as_millis() as u64;
    let bytes = encode(&router, &key);
    std::fs::create_dir_all(cache_dir).map_err(io(cache_dir))?;
    let tmp = unique_tmp(&cache_file);
    std::fs::write(&tmp, &bytes).map_err(io(&tmp))?;
    if let Err(e) = std::fs::rename(&tmp, &cache_file) {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(&cache_file)(e));
    }
    Ok((
        router,
        BuildReport {
            cache_hit: false,
            cache_file,
            source_hash: hex,
            import_ms,
            prepare_ms,
            load_ms: 0,
            cache_bytes: bytes.len() as u64,
        },
    ))
}

/// A temporary file name beside `path`, unique across processes and threads,
/// for write-then-rename.
pub(crate) fn unique_tmp(path: &Path) -> std::path::PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}

/// Serialises a prepared router (graph and hierarchy) for the given source key.
pub fn encode(router: &Router, key: &[u8; 32]) -> Vec<u8> {
    let g = router.graph();
    let mut w = Vec::with_capacity(g.byte_size() + router.ch_byte_size() / 2);
    w.extend_from_slice(MAGIC);
    put_u32(&mut w, FORMAT_VERSION);
    w.extend_from_slice(key);
    put_u32(&mut w, g.node_count() as u32);
    for c in g.coords() {
        put_f64(&mut w, c[0]);
        put_f64(&mut w, c[1]);
    }
    put_u32(&mut w, g.ways().len() as u32);
    for way in g.ways() {
        w.push(
            HighwayClass::ALL
                .iter()
                .position(|c| *c == way.class)
                .unwrap_or(0) as u8,
        );
        w.push(match way.direction {
            Direction::Both => 0,
            Direction::Forward => 1,
            Direction::Backward => 2,
        });
        put_f64(&mut w, way.speed_kmh);
        put_opt_str(&mut w, way.name.as_deref());
        put_opt_str(&mut w, way.name_zh.as_deref());
    }
    put_u32(&mut w, g.segments().len() as u32);
    for s in g.segments() {
        put_u32(&mut w, s.a);
        put_u32(&mut w, s.b);
        put_u32(&mut w, s.way);
        put_f64(&mut w, s.length_m);
        put_u32(&mut w, s.weight_ms);
    }
    let mut ch = Vec::new();
    ciborium::into_writer(router.ch(), &mut ch).expect("writing CBOR into a Vec cannot fail");
    put_u64(&mut w, ch.len() as u64);
    w.extend_from_slice(&ch);
    let sum: [u8; 32] = Sha256::digest(&w).into();
    w.extend_from_slice(&sum);
    w
}

/// Restores a router from [`encode`]'s bytes, checking magic, version, source
/// key, checksum and every index.
pub fn decode(bytes: &[u8], key: &[u8; 32]) -> Result<Router, CacheError> {
    if bytes.len() < 32 {
        return Err(CacheError::Truncated(bytes.len()));
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    let mut r = Reader { buf: body, pos: 0 };
    if r.take(8)? != MAGIC {
        return Err(CacheError::BadMagic);
    }
    let version = r.u32()?;
    if version != FORMAT_VERSION {
        return Err(CacheError::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    if r.take(32)? != key {
        return Err(CacheError::SourceMismatch);
    }
    let expected: [u8; 32] = Sha256::digest(body).into();
    if expected.as_slice() != sum {
        return Err(CacheError::Checksum);
    }
    let n = r.u32()? as usize;
    let mut coords = Vec::with_capacity(n.min(body.len() / 16));
    for _ in 0..n {
        let c = [r.f64()?, r.f64()?];
        if pingan_core::LatLng::new(c[0], c[1]).is_err() {
            return Err(CacheError::Invalid("node coordinates"));
        }
        coords.push(c);
    }
    let n_ways = r.u32()? as usize;
    let mut ways = Vec::with_capacity(n_ways.min(body.len()));
    for _ in 0..n_ways {
        let class = *HighwayClass::ALL
            .get(r.u8()? as usize)
            .ok_or(CacheError::Invalid("way class"))?;
        let direction = match r.u8()? {
            0 => Direction::Both,
            1 => Direction::Forward,
            2 => Direction::Backward,
            _ => return Err(CacheError::Invalid("way direction")),
        };
        let speed_kmh = r.f64()?;
        let name = r.opt_str()?;
        let name_zh = r.opt_str()?;
        ways.push(WayInfo {
            name,
            name_zh,
            class,
            direction,
            speed_kmh,
        });
    }
    let n_segments = r.u32()? as usize;
    let mut segments = Vec::with_capacity(n_segments.min(body.len() / 24));
    for _ in 0..n_segments {
        let s = Segment {
            a: r.u32()?,
            b: r.u32()?,
            way: r.u32()?,
            length_m: r.f64()?,
            weight_ms: r.u32()?,
        };
        if s.a as usize >= n || s.b as usize >= n || s.way as usize >= n_ways || s.weight_ms == 0 {
            return Err(CacheError::Invalid("segment"));
        }
        segments.push(s);
    }
    if segments.is_empty() {
        return Err(CacheError::Invalid("segment count"));
    }
    let ch_len = r.u64()? as usize;
    let ch_bytes = r.take(ch_len)?;
    let ch: fast_paths::FastGraph = ciborium::from_reader(ch_bytes)
        .map_err(|_| CacheError::Invalid("contraction hierarchy"))?;
    if ch.get_num_nodes() != n {
        return Err(CacheError::Invalid("contraction hierarchy node count"));
    }
    let graph = RoadGraph::from_parts(coords, ways, segments);
    Ok(Router::from_prepared(graph, ch))
}

fn put_u32(w: &mut Vec<u8>, v: u32) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(w: &mut Vec<u8>, v: u64) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_f64(w: &mut Vec<u8>, v: f64) {
    w.extend_from_slice(&v.to_le_bytes());
}

fn put_opt_str(w: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => put_u32(w, u32::MAX),
        Some(s) => {
            put_u32(w, s.len() as u32);
            w.extend_from_slice(s.as_bytes());
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CacheError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(CacheError::Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, CacheError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, CacheError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, CacheError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn f64(&mut self) -> Result<f64, CacheError> {
        Ok(f64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }

    fn opt_str(&mut self) -> Result<Option<String>, CacheError> {
        let len = self.u32()?;
        if len == u32::MAX {
            return Ok(None);
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| CacheError::Invalid("way name"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<osm version="0.6">
      <node id="1" lat="30.000" lon="104.000"/><node id="2" lat="30.001" lon="104.000"/>
      <node id="3" lat="30.001" lon="104.001"/>
      <way id="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="1"/>
        <tag k="highway" v="residential"/><tag k="name" v="环形路"/><tag k="oneway" v="yes"/></way>
    </osm>"#;

    #[test]
    fn round_trip_and_every_kind_of_damage() {
        let router = crate::router_from_osm_xml(XML.as_bytes()).unwrap();
        let key = [3u8; 32];
        let bytes = encode(&router, &key);
        let back = decode(&bytes, &key).unwrap();
        assert_eq!(back.graph().stats(), router.graph().stats());
        assert_eq!(back.graph().segments(), router.graph().segments());
        assert_eq!(back.graph().ways(), router.graph().ways());
        for (a, b) in [(0, 1), (1, 0), (2, 1)] {
            assert_eq!(back.node_eta_ch(a, b), router.node_eta_ch(a, b));
        }
        assert!(matches!(
            decode(&bytes, &[4u8; 32]),
            Err(CacheError::SourceMismatch)
        ));
        for cut in [0, 10, 44, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut], &key).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[60] ^= 1;
        assert!(matches!(decode(&flipped, &key), Err(CacheError::Checksum)));
        let mut old = bytes.clone();
        old[8] = 0;
        assert!(matches!(
            decode(&old, &key),
            Err(CacheError::Version { found: 0, .. })
        ));
        let mut magic = bytes;
        magic[0] = b'X';
        assert!(matches!(decode(&magic, &key), Err(CacheError::BadMagic)));
    }

    #[test]
    fn key_depends_on_content() {
        let a = source_key(&mut &b"abc"[..]).unwrap();
        let b = source_key(&mut &b"abd"[..]).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, source_key(&mut &b"abc"[..]).unwrap());
        assert_eq!(to_hex(&[0x00, 0xAB, 0x10]), "00ab10");
    }
}
