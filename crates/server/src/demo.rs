//! The demo city: streets imported from OpenStreetMap data (generated for the
//! default city, or any extract given with `--osm`), a city bureau with four
//! district bureaus and 24 stations whose areas tile the street network's extent,
//! 500+ units placed on the roads, and a user for every role. Deterministic: the
//! same seed and street data give the same city.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use pingan_core::{BBox, LatLng};
use pingan_jurisdiction::{area_to_geojson, rect_polygon};
use pingan_roads::{GeoJsonOptions, Router};
use pingan_store::{NewOrg, NewUnit, NewUser, Store};

use crate::auth;

/// The street network the server routes on and draws.
pub struct CityMap {
    pub router: Router,
    pub bbox: BBox,
    /// GeoJSON FeatureCollection of the roads, for the console's base map.
    pub roads_geojson: Arc<str>,
    pub source: PathBuf,
}

impl CityMap {
    /// Imports (or loads the cached preparation of) an OSM file.
    pub fn load(osm: &Path, cache_dir: &Path) -> anyhow::Result<CityMap> {
        let (router, report) = pingan_roads::load_or_build(osm, cache_dir)?;
        tracing::info!(source = %osm.display(), cached = report.cache_hit, prepare_ms = report.prepare_ms, nodes = router.graph().node_count(), "road network ready");
        Ok(CityMap::from_router(router, osm))
    }

    /// Wraps a prepared router (e.g. one built and timed by a benchmark).
    pub fn from_router(router: Router, source: &Path) -> CityMap {
        let geo = pingan_roads::to_geojson(router.graph(), &GeoJsonOptions::default());
        let bbox = graph_bbox(&router);
        CityMap {
            router,
            bbox,
            roads_geojson: geo.to_string().into(),
            source: source.to_path_buf(),
        }
    }
}

fn graph_bbox(router: &Router) -> BBox {
    let g = router.graph();
    let mut b = BBox {
        min_lat: 90.0,
        min_lng: 180.0,
        max_lat: -90.0,
        max_lng: -180.0,
    };
    for i in 0..g.node_count() as u32 {
        let p = g.node_position(i);
        b.min_lat = b.min_lat.min(p.lat());
        b.max_lat = b.max_lat.max(p.lat());
        b.min_lng = b.min_lng.min(p.lng());
        b.max_lng = b.max_lng.max(p.lng());
    }
    b
}

/// Demo generation settings.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub password: String,
    /// An OSM extract (PBF or XML) to use instead of the generated city.
    pub osm: Option<PathBuf>,
}

/// A small deterministic PRNG (SplitMix64), so the demo is identical across
/// platforms and dependency versions.
pub struct DemoRng(u64);

impl DemoRng {
    pub fn new(seed: u64) -> Self {
        DemoRng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
}

const DISTRICTS: [(&str, &str); 4] = [
    ("锦城分局", "JC"),
    ("青云分局", "QY"),
    ("金湖分局", "JH"),
    ("武兴分局", "WX"),
];
const STATION_NAMES: [&str; 24] = [
    "春熙路",
    "盐市口",
    "牛市口",
    "书院街",
    "合江亭",
    "水井坊",
    "草堂",
    "府南",
    "少城",
    "光华",
    "苏坡",
    "金沙",
    "荷花池",
    "驷马桥",
    "天回",
    "营门口",
    "抚琴",
    "西安路",
    "浆洗街",
    "玉林",
    "簇桥",
    "红牌楼",
    "跳伞塔",
    "火车南站",
];

/// How many of each unit kind a station has, with capabilities.
const STATION_UNITS: &[(&str, &str, usize, &[&str])] = &[
    (
        "patrol_car",
        "巡",
        7,
        &["patrol", "traffic", "armed", "transport"],
    ),
    ("foot_patrol", "步", 5, &["patrol"]),
    ("motorcycle", "摩", 2, &["patrol", "traffic"]),
    ("grid_worker", "网格", 4, &["first_responder", "community"]),
    ("volunteer", "志愿", 3, &["first_responder"]),
];

/// A user created for the demo.
pub struct DemoLogin {
    /// The user's id (for the audit record of the demo's creation).
    pub id: i64,
    pub username: String,
    pub role: &'static str,
    pub org: String,
}

/// Builds the demo city into an empty store. Returns the logins created.
pub async fn build_city(
    store: &Store,
    city: &CityMap,
    opts: &DemoOptions,
    now: i64,
) -> anyhow::Result<Vec<DemoLogin>> {
    let mut rng = DemoRng::new(opts.seed);
    let b = city.bbox;
    let area = |min_lat: f64, min_lng: f64, max_lat: f64, max_lng: f64| {
        Some(area_to_geojson(&geo::MultiPolygon(vec![rect_polygon(
            min_lat, min_lng, max_lat, max_lng,
        )])))
    };
    let city_org = store
        .create_org(
            &NewOrg {
                parent_id: None,
                kind: "city".into(),
                code: "510100".into(),
                name: "平安市公安局".into(),
                area: area(b.min_lat, b.min_lng, b.max_lat, b.max_lng),
            },
            now,
        )
        .await?;
    let (mid_lat, mid_lng) = ((b.min_lat + b.max_lat) / 2.0, (b.min_lng + b.max_lng) / 2.0);
    // Districts: NW, NE, SW, SE quadrants; stations: 3 rows × 2 columns in each.
    let quads = [
        (mid_lat, b.min_lng, b.max_lat, mid_lng),
        (mid_lat, mid_lng, b.max_lat, b.max_lng),
        (b.min_lat, b.min_lng, mid_lat, mid_lng),
        (b.min_lat, mid_lng, mid_lat, b.max_lng),
    ];
    let mut stations = Vec::new();
    for (d, ((dname, dcode), (a, o, c, e))) in DISTRICTS.iter().zip(quads).enumerate() {
        let district = store
            .create_org(
                &NewOrg {
                    parent_id: Some(city_org.id),
                    kind: "district".into(),
                    code: format!("510100-{dcode}"),
                    name: dname.to_string(),
                    area: area(a, o, c, e),
                },
                now,
            )
            .await?;
        for row in 0..3 {
            for col in 0..2 {
                let (la0, la1) = (
                    a + (c - a) * row as f64 / 3.0,
                    a + (c - a) * (row + 1) as f64 / 3.0,
                );
                let (lo0, lo1) = (
                    o + (e - o) * col as f64 / 2.0,
                    o + (e - o) * (col + 1) as f64 / 2.0,
                );
                let n = d * 6 + row * 2 + col;
                let st = store
                    .create_org(
                        &NewOrg {
                            parent_id: Some(district.id),
                            kind: "station".into(),
                            code: format!("510100-{dcode}-{:02}", n + 1),
                            name: format!("{}派出所", STATION_NAMES[n]),
                            area: area(la0, lo0, la1, lo1),
                        },
                        now,
                    )
                    .await?;
                stations.push((st, (la0, lo0, la1, lo1)));
            }
        }
        // Each district bureau flies three drones.
        let drones: Vec<NewUnit> = (1..=3)
            .map(|i| {
                let p = random_road_point(&mut rng, city, (a, o, c, e));
                NewUnit {
                    callsign: format!("{}无人机{i}", &dname[..dname.len() - "分局".len()]),
                    kind: "drone".into(),
                    org_id: district.id,
                    status: "available".into(),
                    capabilities: vec!["aerial".into(), "video".into()],
                    position: Some((p.lat(), p.lng())),
                }
            })
            .collect();
        store.create_units_bulk(&drones, now).await?;
    }
    let mut officers = Vec::new();
    for (st, rect) in &stations {
        let short = st.name.trim_end_matches("派出所").to_string();
        let mut units = Vec::new();
        for (kind, tag, count, caps) in STATION_UNITS {
            for i in 1..=*count {
                let p = random_road_point(&mut rng, city, *rect);
                units.push(NewUnit {
                    callsign: format!("{short}{tag}{i}"),
                    kind: kind.to_string(),
                    org_id: st.id,
                    status: "available".into(),
                    capabilities: caps.iter().map(|c| c.to_string()).collect(),
                    position: Some((p.lat(), p.lng())),
                });
            }
        }
        officers.push((st.id, st.code.clone(), format!("{short}巡1")));
        store.create_units_bulk(&units, now).await?;
    }
    // City special-duty patrol cars.
    let specials: Vec<NewUnit> = (1..=10)
        .map(|i| {
            let p = random_road_point(&mut rng, city, (b.min_lat, b.min_lng, b.max_lat, b.max_lng));
            NewUnit {
                callsign: format!("特警{i}"),
                kind: "patrol_car".into(),
                org_id: city_org.id,
                status: "available".into(),
                capabilities: vec![
                    "patrol".into(),
                    "armed".into(),
                    "tactical".into(),
                    "transport".into(),
                ],
                position: Some((p.lat(), p.lng())),
            }
        })
        .collect();
    store.create_units_bulk(&specials, now).await?;

    let hash = auth::hash_password(&opts.password).map_err(|e| anyhow::anyhow!(e.message))?;
    let mut logins = Vec::new();
    for (username, display, role) in [
        ("admin", "系统管理员", "admin"),
        ("commander", "指挥长", "commander"),
        ("dispatcher", "接警调度员", "dispatcher"),
        ("analyst", "情报分析员", "analyst"),
        ("auditor", "审计监督员", "auditor"),
    ] {
        let user = store
            .create_user(
                &NewUser {
                    username: username.into(),
                    display_name: display.into(),
                    password_hash: hash.clone(),
                    role: role.into(),
                    org_id: city_org.id,
                    unit_id: None,
                },
                now,
            )
            .await?;
        logins.push(DemoLogin {
            id: user.id,
            username: username.into(),
            role: static_role(role),
            org: city_org.name.clone(),
        });
    }
    let all_units = store.all_units().await?;
    for (i, (org_id, _code, callsign)) in officers.iter().enumerate() {
        let unit_id = all_units
            .iter()
            .find(|u| &u.callsign == callsign)
            .map(|u| u.id);
        let username = format!("officer{:02}", i + 1);
        let org = store.get_org(*org_id).await?;
        let user = store
            .create_user(
                &NewUser {
                    username: username.clone(),
                    display_name: format!("{}民警", org.name.trim_end_matches("派出所")),
                    password_hash: hash.clone(),
                    role: "station_officer".into(),
                    org_id: *org_id,
                    unit_id,
                },
                now,
            )
            .await?;
        logins.push(DemoLogin {
            id: user.id,
            username,
            role: "station_officer",
            org: org.name,
        });
    }
    store.set_meta("demo.seed", &opts.seed.to_string()).await?;
    store
        .set_meta("demo.osm", &city.source.display().to_string())
        .await?;
    Ok(logins)
}

fn static_role(r: &str) -> &'static str {
    auth::Role::parse(r)
        .map(auth::Role::as_str)
        .unwrap_or("unknown")
}

/// A point on a road inside `rect` (min_lat, min_lng, max_lat, max_lng); falls back
/// to the rectangle's centre snapped to the network if no road is near.
pub(crate) fn random_road_point(
    rng: &mut DemoRng,
    city: &CityMap,
    rect: (f64, f64, f64, f64),
) -> LatLng {
    let (a, o, c, e) = rect;
    for _ in 0..20 {
        let lat = a + (c - a) * rng.unit();
        let lng = o + (e - o) * rng.unit();
        let Ok(p) = LatLng::new(lat, lng) else {
            continue;
        };
        if let Some(s) = city.router.snap_within(p, 300.0) {
            let q = s.point();
            if q.lat() >= a && q.lat() <= c && q.lng() >= o && q.lng() <= e {
                return q;
            }
        }
    }
    let centre = LatLng::new((a + c) / 2.0, (o + e) / 2.0).unwrap_or_else(|_| city.bbox.center());
    city.router.snap(centre).point()
}

/// The generated default city's OSM file in `data_dir` (written if missing).
pub fn default_osm(data_dir: &Path, seed: u64) -> anyhow::Result<PathBuf> {
    let path = data_dir.join("demo-city.osm");
    if !path.exists() {
        let cfg = pingan_roads::DemoCityConfig {
            seed,
            ..Default::default()
        };
        pingan_roads::demo::write_demo_city(&cfg, &path)?;
    }
    Ok(path)
}

/// The mapping of each synthetic departmental source (the same TOML files an
/// administrator would register for those exports).
fn source_mapping(kind: pingan_synth::SourceKind) -> anyhow::Result<&'static str> {
    pingan_fusion::mapping::example_mapping(kind.name())
        .ok_or_else(|| anyhow::anyhow!("no example mapping for {}", kind.name()))
}

/// What [`populate_people`] loaded.
#[derive(Debug, Clone, Default)]
pub struct PopulationReport {
    pub people: u64,
    pub records_read: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// Generates `people` synthetic residents on the city's streets (pingan-synth,
/// deterministic from `seed`) and imports their records from the five
/// departmental sources through the same registry and ingest pipeline as a real
/// import, so they are resolved into entities and searchable.
pub async fn populate_people(
    state: &crate::AppState,
    seed: u64,
    people: u64,
) -> anyhow::Result<PopulationReport> {
    let mut report = PopulationReport {
        people,
        ..Default::default()
    };
    if people == 0 {
        return Ok(report);
    }
    let city = state
        .city()
        .ok_or_else(|| anyhow::anyhow!("the demo population needs the city's streets"))?;
    let streets: Vec<pingan_synth::StreetRef> = city
        .router
        .streets()
        .streets()
        .iter()
        .map(|s| pingan_synth::StreetRef::new(s.name.clone(), s.point))
        .collect();
    // 510104 is a real Chengdu district code (锦江区); plates of Chengdu are 川A.
    let synth = pingan_synth::SynthCity::new(pingan_synth::SynthConfig::new(
        seed, people, "510104", "川A", streets,
    ))?;
    // Standard addresses, houses, residents and vehicles first, so the records
    // imported next are geocoded (and placed in a jurisdiction) when indexed.
    state.fusion.set_streets(
        city.router
            .streets()
            .streets()
            .iter()
            .map(|s| (s.name.clone(), s.point)),
    );
    state
        .fusion
        .load_registries(&crate::fusion::synth_registries(&synth))
        .await
        .map_err(|e| anyhow::anyhow!("loading the demo registries: {e}"))?;
    for kind in pingan_synth::SourceKind::ALL {
        let mapping = source_mapping(kind)?;
        let source = state
            .fusion
            .add_source(mapping)
            .await
            .map_err(|e| anyhow::anyhow!("registering {}: {e:?}", kind.name()))?;
        let mut csv = String::with_capacity(1 << 20);
        csv.push_str(kind.csv_header());
        csv.push('\n');
        for r in synth.records(kind) {
            csv.push_str(&r.to_source_csv_row());
            csv.push('\n');
        }
        let req = crate::fusion::ImportRequest::new(pingan_fusion::read::FileFormat::Csv);
        let file = format!("demo-{}.csv", kind.name());
        let r = state
            .fusion
            .import_bytes(&source.name, &file, csv.into_bytes(), req)
            .await
            .map_err(|e| anyhow::anyhow!("importing {file}: {e:?}"))?;
        report.records_read += r.counts.read;
        report.accepted += r.counts.accepted;
        report.rejected += r.counts.rejected;
    }
    Ok(report)
}
