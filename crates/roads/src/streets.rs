//! Named streets: lookup by (fuzzy) name for the geocoding fallback, and one
//! representative point per street for placing synthetic addresses.
//!
//! A street is every routable segment sharing a display name (`name:zh` when
//! tagged, else `name`), in graph order, which follows the ways' node order.

use std::collections::HashMap;

use pingan_core::LatLng;

use crate::graph::{RoadGraph, haversine};
use crate::profile::HighwayClass;

/// One named street.
#[derive(Debug, Clone, PartialEq)]
pub struct Street {
    /// Display name (`name:zh` when present, else `name`).
    pub name: String,
    /// The other tagged name (`name` when `name:zh` is the display name).
    pub alt_name: Option<String>,
    /// Most important road class among its segments.
    pub class: HighwayClass,
    pub length_m: f64,
    /// The point half-way along the street's segments (always on the street).
    pub point: LatLng,
    /// `(a, b, length_m)` pieces as `[lat, lng]`, in chain order.
    pieces: Vec<([f64; 2], [f64; 2], f64)>,
}

impl Street {
    /// The point at `fraction` (0..=1) of the street's length along its pieces.
    pub fn point_along(&self, fraction: f64) -> LatLng {
        let goal = self.length_m * fraction.clamp(0.0, 1.0);
        let mut walked = 0.0;
        for &(a, b, len) in &self.pieces {
            if walked + len >= goal && len > 0.0 {
                let t = ((goal - walked) / len).clamp(0.0, 1.0);
                return LatLng::new(a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
                    .expect("interpolation between valid coordinates is valid");
            }
            walked += len;
        }
        let (_, b, _) = self.pieces.last().expect("a street has at least one piece");
        LatLng::new(b[0], b[1]).expect("graph coordinates are valid")
    }
}

/// A lookup result.
#[derive(Debug, Clone, PartialEq)]
pub struct StreetMatch {
    /// Index into [`StreetIndex::streets`].
    pub street: usize,
    pub name: String,
    pub point: LatLng,
    /// 1.0 exact; ~0.8–0.9 the name contains the query; ~0.7–0.9 the query
    /// contains the name (an address); below 0.6 character-bigram similarity.
    pub score: f64,
}

/// Every named street of a graph.
#[derive(Debug, Clone, Default)]
pub struct StreetIndex {
    streets: Vec<Street>,
    by_key: HashMap<String, usize>,
}

impl StreetIndex {
    pub(crate) fn build(graph: &RoadGraph) -> StreetIndex {
        let mut streets: Vec<Street> = Vec::new();
        let mut by_name: HashMap<String, usize> = HashMap::new();
        let coords = graph.coords();
        for s in graph.segments() {
            let way = graph.way(s);
            let Some(name) = way.display_name() else {
                continue;
            };
            let idx = *by_name.entry(name.to_owned()).or_insert_with(|| {
                let alt = if way.name_zh.is_some() {
                    way.name.clone()
                } else {
                    None
                };
                streets.push(Street {
                    name: name.to_owned(),
                    alt_name: alt.filter(|a| a != name),
                    class: way.class,
                    length_m: 0.0,
                    point: LatLng::new(0.0, 0.0).expect("origin is valid"),
                    pieces: Vec::new(),
                });
                streets.len() - 1
            });
            let st = &mut streets[idx];
            st.class = st.class.min(way.class);
            let (a, b) = (coords[s.a as usize], coords[s.b as usize]);
            st.pieces.push((a, b, haversine(a, b)));
            st.length_m += s.length_m;
        }
        for st in &mut streets {
            st.length_m = st.pieces.iter().map(|p| p.2).sum();
            st.point = st.point_along(0.5);
        }
        let mut by_key = HashMap::new();
        for (i, st) in streets.iter().enumerate() {
            by_key.entry(normalize(&st.name)).or_insert(i);
            if let Some(alt) = &st.alt_name {
                by_key.entry(normalize(alt)).or_insert(i);
            }
        }
        StreetIndex { streets, by_key }
    }

    /// Every named street, with a sample point each.
    pub fn streets(&self) -> &[Street] {
        &self.streets
    }

    /// The street with exactly this name (after normalising width, case and spaces).
    pub fn get(&self, name: &str) -> Option<&Street> {
        self.by_key.get(&normalize(name)).map(|&i| &self.streets[i])
    }

    /// Streets matching a name or an address containing a street name, best
    /// first (ties: more important road, then name), at most `limit`.
    pub fn find(&self, query: &str, limit: usize) -> Vec<StreetMatch> {
        let q = normalize(query);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let q_bigrams = bigrams(&q);
        let mut hits: Vec<StreetMatch> = Vec::new();
        for (i, st) in self.streets.iter().enumerate() {
            let score = std::iter::once(&st.name)
                .chain(st.alt_name.as_ref())
                .map(|n| match_score(&q, &q_bigrams, &normalize(n)))
                .fold(0.0, f64::max);
            if score > 0.0 {
                hits.push(StreetMatch {
                    street: i,
                    name: st.name.clone(),
                    point: st.point,
                    score,
                });
            }
        }
        hits.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(
                    self.streets[a.street]
                        .class
                        .cmp(&self.streets[b.street].class),
                )
                .then(a.name.cmp(&b.name))
        });
        hits.truncate(limit);
        hits
    }
}

/// Full-width ASCII to half-width, lower case, no whitespace or punctuation.
fn normalize(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .filter(|c| {
            !c.is_whitespace() && !c.is_ascii_punctuation() && !"·，。、（）《》“”".contains(*c)
        })
        .flat_map(char::to_lowercase)
        .collect()
}

fn bigrams(s: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = s.chars().collect();
    let mut v: Vec<(char, char)> = chars.windows(2).map(|w| (w[0], w[1])).collect();
    v.sort_unstable();
    v
}

fn match_score(q: &str, q_bigrams: &[(char, char)], name: &str) -> f64 {
    if name.is_empty() {
        return 0.0;
    }
    let (ql, nl) = (q.chars().count() as f64, name.chars().count() as f64);
    if q == name {
        return 1.0;
    }
    if name.contains(q) {
        return 0.8 + 0.1 * ql / nl;
    }
    // An address such as "人民东路12号" names the street inside it; a name of one
    // character would match almost anything.
    if nl >= 2.0 && q.contains(name) {
        return 0.7 + 0.2 * nl / ql;
    }
    let nb = bigrams(name);
    if q_bigrams.is_empty() || nb.is_empty() {
        return 0.0;
    }
    let mut common = 0usize;
    let (mut i, mut j) = (0, 0);
    while i < q_bigrams.len() && j < nb.len() {
        match q_bigrams[i].cmp(&nb[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let dice = 2.0 * common as f64 / (q_bigrams.len() + nb.len()) as f64;
    if dice >= 0.5 { 0.6 * dice } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        assert_eq!(normalize(" 人民 东路（北段）"), "人民东路北段");
        assert_eq!(normalize("ＡＢＣ Road"), "abcroad");
    }

    #[test]
    fn scores_rank_exact_then_contained() {
        let q = normalize("人民东路");
        let qb = bigrams(&q);
        assert_eq!(match_score(&q, &qb, "人民东路"), 1.0);
        let q2 = normalize("人民");
        assert!((match_score(&q2, &bigrams(&q2), "人民东路") - 0.85).abs() < 1e-12);
        let q3 = normalize("成都市人民东路12号");
        let s3 = match_score(&q3, &bigrams(&q3), "人民东路");
        assert!(s3 > 0.7 && s3 < 0.9, "{s3}");
        assert_eq!(match_score(&q, &qb, "解放路"), 0.0);
        // One different character: bigram similarity.
        let q4 = normalize("人民东街");
        let s4 = match_score(&q4, &bigrams(&q4), "人民东路");
        assert!((s4 - 0.6 * 2.0 * 2.0 / 6.0).abs() < 1e-12, "{s4}");
    }
}
