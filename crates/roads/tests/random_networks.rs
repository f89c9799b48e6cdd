//! Randomised networks with the awkward cases real data has: parallel ways
//! between the same nodes, repeated and coincident nodes, one-way tags of every
//! spelling, closed ways, speeds in mph. The hierarchy must equal Dijkstra
//! exactly on all of them.

use std::fmt::Write as _;

use pingan_core::LatLng;
use pingan_roads::{EtaStrategy, router_from_osm_xml};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_network(rng: &mut Rng) -> String {
    let n = 30 + rng.below(60);
    let mut xml = String::from("<osm version=\"0.6\">\n");
    for id in 1..=n {
        // A few nodes share coordinates with node 1 (zero-length segments).
        let (lat, lng) = if id > 1 && rng.below(15) == 0 {
            (30.0, 104.0)
        } else {
            (30.0 + rng.unit() * 0.02, 104.0 + rng.unit() * 0.02)
        };
        let _ = writeln!(xml, "<node id=\"{id}\" lat=\"{lat:.7}\" lon=\"{lng:.7}\"/>");
    }
    let classes = [
        "primary",
        "secondary",
        "residential",
        "service",
        "motorway",
        "trunk_link",
        "footway",
    ];
    let oneways = ["", "yes", "-1", "no", "1", "true", "reversible"];
    let speeds = ["", "30", "50 km/h", "20 mph", "none"];
    for w in 1..=(n * 2) {
        let len = 2 + rng.below(5);
        let mut refs: Vec<u64> = (0..len).map(|_| 1 + rng.below(n)).collect();
        if rng.below(10) == 0 {
            refs.push(refs[0]); // closed way
        }
        let _ = write!(xml, "<way id=\"{w}\">");
        for r in &refs {
            let _ = write!(xml, "<nd ref=\"{r}\"/>");
        }
        let _ = write!(
            xml,
            "<tag k=\"highway\" v=\"{}\"/>",
            classes[rng.below(7) as usize]
        );
        let ow = oneways[rng.below(7) as usize];
        if !ow.is_empty() {
            let _ = write!(xml, "<tag k=\"oneway\" v=\"{ow}\"/>");
        }
        let sp = speeds[rng.below(5) as usize];
        if !sp.is_empty() {
            let _ = write!(xml, "<tag k=\"maxspeed\" v=\"{sp}\"/>");
        }
        if rng.below(8) == 0 {
            xml.push_str("<tag k=\"junction\" v=\"roundabout\"/>");
        }
        xml.push_str("</way>\n");
    }
    xml.push_str("</osm>\n");
    xml
}

#[test]
fn hierarchy_equals_dijkstra_on_random_networks() {
    let mut rng = Rng(1234);
    let mut networks = 0;
    for _ in 0..40 {
        let xml = random_network(&mut rng);
        let Ok(router) = router_from_osm_xml(xml.as_bytes()) else {
            continue; // everything refused or no connected component
        };
        networks += 1;
        let n = router.graph().node_count() as u64;
        for _ in 0..200 {
            let (a, b) = (rng.below(n) as u32, rng.below(n) as u32);
            assert_eq!(
                router.node_eta_ch(a, b),
                router.graph().dijkstra(a, b),
                "{a}->{b}\n{xml}"
            );
        }
        let point = |rng: &mut Rng| {
            LatLng::new(30.0 + rng.unit() * 0.02, 104.0 + rng.unit() * 0.02).unwrap()
        };
        let snaps: Vec<_> = (0..40).map(|_| router.snap(point(&mut rng))).collect();
        for pair in snaps.chunks(2) {
            let ch = router.eta(&pair[0], &pair[1]).map(|e| e.millis);
            assert_eq!(ch, router.eta_dijkstra(&pair[0], &pair[1]));
            let route = router.route(&pair[0], &pair[1]).unwrap();
            assert_eq!(Some(route.eta.millis), ch);
        }
        let target = router.snap(point(&mut rng));
        let all = router.eta_many(&snaps, &target, None);
        for (s, e) in snaps.iter().zip(&all) {
            assert_eq!(
                e.map(|e| e.millis),
                router.eta(s, &target).map(|e| e.millis)
            );
        }
        let a = router.nearest_by_eta_with(&snaps, &target, 5, EtaStrategy::ReverseDijkstra);
        let b = router.nearest_by_eta_with(&snaps, &target, 5, EtaStrategy::ChPruned);
        let ms =
            |v: &[(usize, pingan_roads::Eta)]| v.iter().map(|x| x.1.millis).collect::<Vec<_>>();
        assert_eq!(ms(&a), ms(&b));
    }
    assert!(networks >= 30, "{networks}");
}
