//! The demo city's street network: a plausible Chinese city of about 15 × 15 km,
//! generated deterministically from a seed and written as OSM XML, so it reaches
//! the router through the same importer as any real extract.
//!
//! Layout (local metres around the centre): a 1 km grid of primary/secondary
//! arterials whose central lines split into 东/西 and 南/北 sections; a 250 m grid
//! of tertiary and residential streets between them, some blocks carrying one-way
//! couplets; an inner (一环路, ~5 km across) and an outer (二环路, ~13 km across)
//! ring; eight radial 大道; a grade-separated expressway with two carriageways;
//! service spurs into blocks (some private, which the car profile refuses); and a
//! pedestrian street. Every crossing of at-grade roads becomes a shared node.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;

use pingan_core::{BBox, LatLng};

use crate::RoadsError;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DemoCityConfig {
    pub seed: u64,
    pub center: LatLng,
    /// Side of the square city in metres.
    pub size_m: f64,
}

impl Default for DemoCityConfig {
    fn default() -> Self {
        DemoCityConfig {
            seed: 2026,
            center: LatLng::new(30.66, 104.06).expect("constant is a valid coordinate"),
            size_m: 15_000.0,
        }
    }
}

impl DemoCityConfig {
    /// The square the city covers.
    pub fn bbox(&self) -> BBox {
        let h = self.size_m / 2.0;
        let lo = self.center.offset_m(-h, -h);
        let hi = self.center.offset_m(h, h);
        BBox {
            min_lat: lo.lat(),
            min_lng: lo.lng(),
            max_lat: hi.lat(),
            max_lng: hi.lng(),
        }
    }
}

/// A generated city: its OSM XML and extent.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoCity {
    pub xml: String,
    pub bbox: BBox,
    pub nodes: usize,
    pub ways: usize,
    /// Every street name written, in generation order.
    pub names: Vec<String>,
}

/// Generates the city (pure; same config → byte-identical XML).
pub fn generate(config: &DemoCityConfig) -> DemoCity {
    let mut plan = Plan::new(config.seed);
    plan.lay_out(config.size_m / 2.0);
    plan.into_city(config)
}

/// Generates the city and writes it as an `.osm` file.
pub fn write_demo_city(config: &DemoCityConfig, path: &Path) -> Result<DemoCity, RoadsError> {
    let city = generate(config);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| RoadsError::Io {
            path: dir.to_owned(),
            source,
        })?;
    }
    // Written under a unique temporary name and renamed into place, so a
    // concurrent reader (another server or test thread) never sees half a file.
    let tmp = crate::cache::unique_tmp(path);
    std::fs::write(&tmp, &city.xml)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            RoadsError::Io {
                path: path.to_owned(),
                source,
            }
        })?;
    Ok(city)
}

/// Writes the demo city as `demo-city-<seed>.osm` in `data_dir` and loads it
/// through the ordinary import and cache (`data_dir/roads-cache`). The same
/// config writes the same bytes, so every start after the first is a cache hit.
pub fn load_or_build_demo(
    config: &DemoCityConfig,
    data_dir: &Path,
) -> Result<(crate::Router, DemoCity, crate::BuildReport), RoadsError> {
    let osm = data_dir.join(format!("demo-city-{}.osm", config.seed));
    let city = write_demo_city(config, &osm)?;
    let (router, report) = crate::load_or_build(&osm, &data_dir.join("roads-cache"))?;
    Ok((router, city, report))
}

/// SplitMix64: tiny, and its output is fixed forever (unlike library RNGs that
/// may change streams between versions), so a seed always gives the same city.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const ROOTS: &[&str] = &[
    "和平",
    "胜利",
    "文化",
    "新华",
    "光明",
    "青年",
    "东风",
    "红旗",
    "团结",
    "友谊",
    "幸福",
    "建国",
    "复兴",
    "振兴",
    "民主",
    "工农",
    "育才",
    "学府",
    "科技",
    "创业",
    "滨江",
    "锦江",
    "府南",
    "春熙",
    "青羊",
    "武侯",
    "玉林",
    "紫荆",
    "芳草",
    "百花",
    "桂花",
    "梧桐",
    "银杏",
    "玉带",
    "星辉",
    "龙腾",
    "凤凰",
    "白云",
    "清水",
    "石羊",
    "双林",
    "八宝",
    "九里",
    "长顺",
    "东城",
    "西城",
    "南城",
    "北城",
    "新南",
    "新光",
    "高升",
    "大石",
    "小关",
    "黄河",
    "长江",
    "珠江",
    "泰山",
    "华山",
    "嵩山",
    "衡山",
    "庐山",
    "黄山",
    "峨眉",
    "青城",
    "岷江",
    "沱江",
    "嘉陵",
    "锦华",
    "锦绣",
    "锦城",
    "文星",
    "文昌",
    "文庙",
    "书院",
    "学道",
    "状元",
    "太平",
    "永安",
    "永丰",
    "永兴",
    "长寿",
    "长乐",
    "安康",
    "安顺",
    "顺城",
    "广福",
    "福兴",
    "兴隆",
    "盛世",
    "繁荣",
    "昌盛",
    "和美",
    "和顺",
    "祥和",
    "瑞祥",
    "吉祥",
    "如意",
    "翠微",
    "碧云",
    "青云",
    "紫薇",
    "丁香",
    "海棠",
    "芙蓉",
    "荷花",
    "兰花",
    "梅林",
    "竹林",
    "松林",
    "枫林",
    "柳荫",
    "桃源",
    "杏林",
    "槐树",
    "朝阳",
    "东升",
    "晨光",
    "晓月",
    "星河",
    "银河",
    "金河",
    "玉河",
    "清江",
    "望江",
    "临江",
    "沿江",
    "滨河",
    "北站",
    "南站",
    "工业",
    "钢铁",
    "纺织",
    "机电",
    "电子",
    "红星",
    "黎明",
    "新村",
    "花园",
    "公园",
    "体育",
    "商业",
    "仓储",
    "建材",
    "五一",
    "七一",
    "八一",
    "三友",
    "四方",
    "五福",
    "六合",
    "万福",
    "千禧",
    "百川",
    "东湖",
    "西湖",
    "南湖",
    "北湖",
    "城隍",
    "鼓楼",
    "钟楼",
    "东门",
    "西门",
    "南门",
    "北门",
    "草市",
    "盐市",
    "米市",
    "骡马",
    "荔枝",
    "龙泉",
    "凤鸣",
    "鹤鸣",
    "雁塔",
    "金鱼",
    "银杏园",
];

const RADIAL_ROOTS: &[&str] = &[
    "天府", "蜀都", "金沙", "成华", "龙潭", "双流", "温江", "新都",
];

/// Crossing points per `(way, segment)`: parameter along the segment and point.
type Splits = HashMap<(usize, usize), Vec<(f64, [f64; 2])>>;

struct PlanWay {
    pts: Vec<[f64; 2]>,
    tags: Vec<(&'static str, String)>,
    /// False for the elevated expressway: it meets nothing between its ends.
    at_grade: bool,
}

struct Plan {
    rng: Rng,
    ways: Vec<PlanWay>,
    roots: Vec<&'static str>,
    next_root: usize,
    used: HashSet<String>,
    names: Vec<String>,
}

impl Plan {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let mut roots: Vec<&'static str> = ROOTS.to_vec();
        // Fisher–Yates, so each seed names its streets differently.
        for i in (1..roots.len()).rev() {
            roots.swap(i, rng.below(i + 1));
        }
        Plan {
            rng,
            ways: Vec::new(),
            roots,
            next_root: 0,
            used: HashSet::new(),
            names: Vec::new(),
        }
    }

    /// A fresh name `root + suffix` not used yet (roots cycle when exhausted,
    /// combined with the next suffix variant).
    fn fresh_name(&mut self, suffixes: &[&str]) -> String {
        loop {
            let root = self.roots[self.next_root % self.roots.len()];
            let round = self.next_root / self.roots.len();
            self.next_root += 1;
            let suffix = suffixes[(self.rng.below(suffixes.len()) + round) % suffixes.len()];
            let name = format!("{root}{suffix}");
            if self.claim(&name) {
                return name;
            }
        }
    }

    fn claim(&mut self, name: &str) -> bool {
        if self.used.insert(name.to_owned()) {
            self.names.push(name.to_owned());
            true
        } else {
            false
        }
    }

    fn road(
        &mut self,
        pts: Vec<[f64; 2]>,
        highway: &str,
        name: Option<&str>,
        extra: &[(&'static str, &str)],
    ) {
        let mut tags = vec![("highway", highway.to_owned())];
        if let Some(n) = name {
            tags.push(("name", n.to_owned()));
            if matches!(highway, "trunk" | "primary") {
                tags.push(("name:zh", n.to_owned()));
            }
        }
        tags.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        self.ways.push(PlanWay {
            pts,
            tags,
            at_grade: true,
        });
    }

    fn lay_out(&mut self, h: f64) {
        self.arterials(h);
        self.minor_streets(h);
        self.rings_and_radials(h);
        self.expressway(h);
        self.pedestrian_street();
    }

    /// Arterials every kilometre; lines within 3 km of the centre are split into
    /// directional sections (人民东路 / 人民西路).
    fn arterials(&mut self, h: f64) {
        let n = (h / 1000.0).floor() as i64;
        for vertical in [true, false] {
            for k in -n..=n {
                if k.abs() * 1000 >= h as i64 {
                    continue;
                }
                let p = k as f64 * 1000.0;
                let highway = if k % 2 == 0 { "primary" } else { "secondary" };
                let root = match (vertical, k) {
                    (false, 0) => "人民".to_owned(),
                    (true, 0) => "解放".to_owned(),
                    (false, 1) => "建设".to_owned(),
                    (true, 1) => "中山".to_owned(),
                    _ => {
                        let r = self.roots[self.next_root % self.roots.len()];
                        self.next_root += 1;
                        r.to_owned()
                    }
                };
                let at = |s: f64| if vertical { [p, s] } else { [s, p] };
                let speed: &[(&'static str, &str)] = if highway == "primary" {
                    &[("maxspeed", "60")]
                } else {
                    &[]
                };
                if k.abs() <= 3 {
                    let (lo, hi) = if vertical {
                        ("南路", "北路")
                    } else {
                        ("西路", "东路")
                    };
                    let (n_lo, n_hi) = (format!("{root}{lo}"), format!("{root}{hi}"));
                    self.claim(&n_lo);
                    self.claim(&n_hi);
                    self.road(vec![at(-h), at(0.0)], highway, Some(&n_lo), speed);
                    self.road(vec![at(0.0), at(h)], highway, Some(&n_hi), speed);
                } else {
                    let name = format!(
                        "{root}{}",
                        if highway == "primary" {
                            "大道"
                        } else {
                            "路"
                        }
                    );
                    let name = if self.claim(&name) {
                        name
                    } else {
                        self.fresh_name(&["路", "大街"])
                    };
                    self.road(vec![at(-h), at(h)], highway, Some(&name), speed);
                }
            }
        }
    }

    /// Streets every 250 m between arterials, one way per kilometre piece so
    /// pieces can be missing; one-way couplets in some bands; service spurs.
    fn minor_streets(&mut self, h: f64) {
        let n = (h / 250.0).floor() as i64;
        // Kilometre band edges: the arterials plus the city edge.
        let mut cuts: Vec<f64> = vec![-h];
        let m = (h / 1000.0).floor() as i64;
        cuts.extend((-m..=m).map(|k| k as f64 * 1000.0).filter(|c| c.abs() < h));
        cuts.push(h);
        for vertical in [true, false] {
            for k in -n..=n {
                if k % 4 == 0 || (k.abs() as f64) * 250.0 >= h {
                    continue;
                }
                let p = k as f64 * 250.0;
                let tertiary = k.rem_euclid(4) == 2;
                let name = if tertiary {
                    self.fresh_name(&["路", "中路", "大街"])
                } else if vertical {
                    self.fresh_name(&["街", "巷", "北街", "南街", "路", "横街"])
                } else {
                    self.fresh_name(&["街", "巷", "东街", "西街", "路", "二巷"])
                };
                let at = |s: f64| if vertical { [p, s] } else { [s, p] };
                // Which kilometre band (across the line) this street lies in.
                let band = (p / 1000.0).floor() as i64;
                let couplet = !tertiary && (band + self.rng.below(2) as i64).rem_euclid(3) == 0;
                for w in cuts.windows(2) {
                    if !tertiary && self.rng.unit() < 0.12 {
                        continue;
                    }
                    let mut extra: Vec<(&'static str, &str)> = Vec::new();
                    if couplet {
                        // Couplet: the street at +250 runs up, the one at +750 down
                        // (tagged -1 on a way drawn upwards, as OSM allows).
                        extra.push(("oneway", if k.rem_euclid(4) == 1 { "yes" } else { "-1" }));
                    }
                    let highway = if tertiary { "tertiary" } else { "residential" };
                    self.road(vec![at(w[0]), at(w[1])], highway, Some(&name), &extra);
                    self.service_spurs(vertical, p, w[0], w[1]);
                }
            }
        }
    }

    /// Short dead-end lanes into the block beside a street piece (a residential
    /// compound's gate). A dead-end spur is two-way, so it stays routable.
    fn service_spurs(&mut self, vertical: bool, p: f64, from: f64, to: f64) {
        if self.rng.unit() >= 0.35 {
            return;
        }
        let along = from + 60.0 + self.rng.unit() * (to - from - 120.0).max(0.0);
        let side = if self.rng.unit() < 0.5 { -1.0 } else { 1.0 };
        let depth = 60.0 + self.rng.unit() * 50.0;
        let (a, b) = if vertical {
            ([p, along], [p + side * depth, along])
        } else {
            ([along, p], [along, p + side * depth])
        };
        let roll = self.rng.unit();
        let extra: &[(&'static str, &str)] = if roll < 0.25 {
            &[("access", "private")]
        } else if roll < 0.35 {
            &[("service", "parking_aisle"), ("access", "destination")]
        } else {
            &[]
        };
        self.road(vec![a, b], "service", None, extra);
    }

    fn rings_and_radials(&mut self, h: f64) {
        const STEPS: usize = 72;
        let vertex = |r: f64, j: usize| {
            // Offset by 2.5° so no vertex sits on an axis line.
            let a = (2.5 + 5.0 * j as f64).to_radians();
            [r * a.cos(), r * a.sin()]
        };
        for (r, name, highway, speed) in [
            (2500.0, "一环路", "primary", "50"),
            (6500.0, "二环路", "trunk", "80"),
        ] {
            self.claim(name);
            // Four named sections (东段 from −45° to 45°, counter-clockwise).
            for (q, section) in ["东段", "北段", "西段", "南段"].iter().enumerate() {
                let start = (STEPS - 9 + q * 18) % STEPS;
                let pts: Vec<[f64; 2]> = (0..=18).map(|i| vertex(r, (start + i) % STEPS)).collect();
                let full = format!("{name}{section}");
                self.claim(&full);
                self.road(
                    pts,
                    highway,
                    Some(&full),
                    &[("maxspeed", speed), ("ref", name)],
                );
            }
        }
        // Radials start on an inner-ring vertex (22.5° + 45°·i is vertex 4 + 9·i)
        // and run to the city edge.
        for (i, root) in RADIAL_ROOTS.iter().enumerate() {
            let j = 4 + 9 * i;
            let start = vertex(2500.0, j);
            let a = (2.5 + 5.0 * j as f64).to_radians();
            let reach = h / a.cos().abs().max(a.sin().abs());
            let end = [reach * a.cos(), reach * a.sin()];
            let name = format!("{root}大道");
            self.claim(&name);
            self.road(
                vec![start, end],
                "primary",
                Some(&name),
                &[("maxspeed", "60")],
            );
        }
    }

    /// The airport expressway: two one-way carriageways (one-way implied by
    /// `highway=motorway`) from an outer-ring vertex to the city edge, elevated.
    fn expressway(&mut self, h: f64) {
        let j = 43; // 217.5°, south-west
        let a = (2.5 + 5.0 * j as f64).to_radians();
        let start = [6500.0 * a.cos(), 6500.0 * a.sin()];
        let reach = h / a.cos().abs().max(a.sin().abs());
        let end = [reach * a.cos(), reach * a.sin()];
        let mid = |off: f64| {
            let (nx, ny) = (-a.sin(), a.cos());
            let m = [(start[0] + end[0]) / 2.0, (start[1] + end[1]) / 2.0];
            [m[0] + nx * off, m[1] + ny * off]
        };
        let name = "机场高速".to_owned();
        self.claim(&name);
        for (pts, _) in [
            (vec![start, mid(15.0), end], ()),
            (vec![end, mid(-15.0), start], ()),
        ] {
            self.ways.push(PlanWay {
                pts,
                tags: vec![
                    ("highway", "motorway".to_owned()),
                    ("name", name.clone()),
                    ("maxspeed", "100".to_owned()),
                ],
                at_grade: false,
            });
        }
    }

    fn pedestrian_street(&mut self) {
        let name = "春熙路步行街".to_owned();
        self.claim(&name);
        self.road(
            vec![[1280.0, 1125.0], [1720.0, 1125.0]],
            "pedestrian",
            Some(&name),
            &[],
        );
    }

    /// Splits every way at its crossings with other at-grade ways, merges equal
    /// points into shared nodes and renders OSM XML.
    fn into_city(mut self, config: &DemoCityConfig) -> DemoCity {
        // (way, segment index) of every at-grade segment, with its bounding box.
        let mut segs: Vec<(usize, usize, [f64; 4])> = Vec::new();
        for (wi, w) in self.ways.iter().enumerate() {
            if !w.at_grade {
                continue;
            }
            for si in 0..w.pts.len() - 1 {
                let (a, b) = (w.pts[si], w.pts[si + 1]);
                segs.push((
                    wi,
                    si,
                    [
                        a[0].min(b[0]),
                        a[1].min(b[1]),
                        a[0].max(b[0]),
                        a[1].max(b[1]),
                    ],
                ));
            }
        }
        // Split points per (way, segment): (parameter along the segment, point).
        let mut splits: Splits = HashMap::new();
        segs.sort_by(|x, y| x.2[0].total_cmp(&y.2[0]));
        for i in 0..segs.len() {
            let (wi, si, bi) = segs[i];
            for &(wj, sj, bj) in &segs[i + 1..] {
                if bj[0] > bi[2] + 0.01 {
                    break;
                }
                if wi == wj || bj[1] > bi[3] + 0.01 || bj[3] < bi[1] - 0.01 {
                    continue;
                }
                let (p0, p1) = (self.ways[wi].pts[si], self.ways[wi].pts[si + 1]);
                let (q0, q1) = (self.ways[wj].pts[sj], self.ways[wj].pts[sj + 1]);
                if let Some((t, u, x)) = intersect(p0, p1, q0, q1) {
                    splits.entry((wi, si)).or_default().push((t, x));
                    splits.entry((wj, sj)).or_default().push((u, x));
                }
            }
        }
        // Nodes keyed on a 1 cm grid so crossings found from either side merge.
        let key = |p: [f64; 2]| ((p[0] * 100.0).round() as i64, (p[1] * 100.0).round() as i64);
        let mut node_ids: HashMap<(i64, i64), usize> = HashMap::new();
        let mut nodes: Vec<[f64; 2]> = Vec::new();
        let mut way_nodes: Vec<Vec<usize>> = Vec::with_capacity(self.ways.len());
        for (wi, w) in self.ways.iter().enumerate() {
            let mut ids: Vec<usize> = Vec::new();
            for si in 0..w.pts.len() {
                let mut here = vec![(0.0, w.pts[si])];
                if si + 1 < w.pts.len() {
                    if let Some(list) = splits.get(&(wi, si)) {
                        let mut list = list.clone();
                        list.sort_by(|a, b| a.0.total_cmp(&b.0));
                        here.extend(list);
                    }
                } else {
                    here.truncate(1);
                }
                for (_, p) in here {
                    let id = *node_ids.entry(key(p)).or_insert_with(|| {
                        nodes.push(p);
                        nodes.len() - 1
                    });
                    if ids.last() != Some(&id) {
                        ids.push(id);
                    }
                }
            }
            way_nodes.push(ids);
        }
        // Shape nodes about every 50 m with a little sideways wobble, as surveyed
        // roads have: the graph gets the node density of a real extract.
        for ids in &mut way_nodes {
            let mut dense = Vec::with_capacity(ids.len() * 4);
            for w in ids.windows(2) {
                dense.push(w[0]);
                let (p, q) = (nodes[w[0]], nodes[w[1]]);
                let (dx, dy) = (q[0] - p[0], q[1] - p[1]);
                let len = (dx * dx + dy * dy).sqrt();
                let pieces = (len / 50.0).round() as usize;
                for i in 1..pieces {
                    let t = i as f64 / pieces as f64;
                    let wobble = (self.rng.unit() - 0.5) * 1.6;
                    nodes.push([
                        p[0] + t * dx - dy / len * wobble,
                        p[1] + t * dy + dx / len * wobble,
                    ]);
                    dense.push(nodes.len() - 1);
                }
            }
            dense.extend(ids.last());
            *ids = dense;
        }
        let mut xml = String::with_capacity(nodes.len() * 70 + self.ways.len() * 200);
        xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str("<osm version=\"0.6\" generator=\"pingan-roads demo city\">\n");
        let bbox = config.bbox();
        let _ = writeln!(
            xml,
            "  <bounds minlat=\"{:.7}\" minlon=\"{:.7}\" maxlat=\"{:.7}\" maxlon=\"{:.7}\"/>",
            bbox.min_lat, bbox.min_lng, bbox.max_lat, bbox.max_lng
        );
        for (i, p) in nodes.iter().enumerate() {
            let ll = config.center.offset_m(p[1], p[0]);
            let _ = writeln!(
                xml,
                "  <node id=\"{}\" version=\"1\" lat=\"{:.7}\" lon=\"{:.7}\"/>",
                i + 1,
                ll.lat(),
                ll.lng()
            );
        }
        let mut written = 0;
        for (w, ids) in self.ways.iter().zip(&way_nodes) {
            if ids.len() < 2 {
                continue;
            }
            written += 1;
            let _ = writeln!(xml, "  <way id=\"{written}\" version=\"1\">");
            for id in ids {
                let _ = writeln!(xml, "    <nd ref=\"{}\"/>", id + 1);
            }
            for (k, v) in &w.tags {
                let _ = writeln!(xml, "    <tag k=\"{k}\" v=\"{}\"/>", escape(v));
            }
            xml.push_str("  </way>\n");
        }
        xml.push_str("</osm>\n");
        DemoCity {
            xml,
            bbox,
            nodes: nodes.len(),
            ways: written,
            names: self.names,
        }
    }
}

/// Crossing of segments p0–p1 and q0–q1 (touching ends included): parameters
/// along each and the point. Parallel segments never cross here: collinear
/// pieces of one street meet only at shared end points, which merge anyway.
fn intersect(
    p0: [f64; 2],
    p1: [f64; 2],
    q0: [f64; 2],
    q1: [f64; 2],
) -> Option<(f64, f64, [f64; 2])> {
    let r = [p1[0] - p0[0], p1[1] - p0[1]];
    let s = [q1[0] - q0[0], q1[1] - q0[1]];
    let den = r[0] * s[1] - r[1] * s[0];
    if den.abs() < 1e-9 {
        return None;
    }
    let d = [q0[0] - p0[0], q0[1] - p0[1]];
    let t = (d[0] * s[1] - d[1] * s[0]) / den;
    let u = (d[0] * r[1] - d[1] * r[0]) / den;
    const EPS: f64 = 1e-9;
    if !(-EPS..=1.0 + EPS).contains(&t) || !(-EPS..=1.0 + EPS).contains(&u) {
        return None;
    }
    let (t, u) = (t.clamp(0.0, 1.0), u.clamp(0.0, 1.0));
    // Snap to an end point when the crossing is one, so T-junctions share the
    // exact coordinates of the street that ends there.
    let x = if t == 0.0 {
        p0
    } else if t == 1.0 {
        p1
    } else if u == 0.0 {
        q0
    } else if u == 1.0 {
        q1
    } else {
        [p0[0] + t * r[0], p0[1] + t * r[1]]
    };
    Some((t, u, x))
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crossing_and_touching() {
        let (t, u, x) = intersect([0.0, 0.0], [10.0, 0.0], [5.0, -5.0], [5.0, 5.0]).unwrap();
        assert_eq!((t, u, x), (0.5, 0.5, [5.0, 0.0]));
        let (t, _, x) = intersect([0.0, 0.0], [10.0, 0.0], [10.0, 0.0], [10.0, 5.0]).unwrap();
        assert_eq!((t, x), (1.0, [10.0, 0.0]));
        assert_eq!(
            intersect([0.0, 0.0], [10.0, 0.0], [0.0, 1.0], [10.0, 1.0]),
            None
        );
        assert_eq!(
            intersect([0.0, 0.0], [1.0, 0.0], [5.0, -5.0], [5.0, 5.0]),
            None
        );
    }

    #[test]
    fn same_seed_same_city_other_seed_other_names() {
        let a = generate(&DemoCityConfig::default());
        let b = generate(&DemoCityConfig::default());
        assert_eq!(a, b);
        let c = generate(&DemoCityConfig {
            seed: 7,
            ..DemoCityConfig::default()
        });
        assert_ne!(a.names, c.names);
        for must in [
            "人民东路",
            "人民西路",
            "解放北路",
            "解放南路",
            "建设东路",
            "中山北路",
            "一环路东段",
            "二环路南段",
            "天府大道",
        ] {
            assert!(a.names.iter().any(|n| n == must), "{must} missing");
        }
        let distinct: HashSet<&String> = a.names.iter().collect();
        assert_eq!(distinct.len(), a.names.len());
        assert!(a.names.len() > 120, "{}", a.names.len());
    }

    #[test]
    fn bbox_is_fifteen_km() {
        let b = DemoCityConfig::default().bbox();
        let sw = LatLng::new(b.min_lat, b.min_lng).unwrap();
        let se = LatLng::new(b.min_lat, b.max_lng).unwrap();
        let nw = LatLng::new(b.max_lat, b.min_lng).unwrap();
        assert!((sw.distance_m(&se) - 15_000.0).abs() < 20.0);
        assert!((sw.distance_m(&nw) - 15_000.0).abs() < 20.0);
    }
}
