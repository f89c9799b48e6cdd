//! The generator's randomness: a SplitMix64 stream, stateless hashing to derive an
//! independent stream per entity, keyed Feistel permutations (bijections on
//! `0..n`, which make identifiers unique without remembering the ones already
//! issued) and weighted tables.
//!
//! Everything is hand-written on purpose: the output must stay byte-identical for
//! a seed across versions, which a general-purpose RNG crate does not promise for
//! its distributions.

/// SplitMix64's output function: a fast, well-mixed 64-bit hash.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of a seed, a domain tag and an index: the seed of one entity's stream.
pub(crate) fn key(seed: u64, domain: u64, index: u64) -> u64 {
    mix64(mix64(seed ^ domain.wrapping_mul(0xD6E8_FEB8_6659_FD93)) ^ index)
}

/// A SplitMix64 stream.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The stream for entity `index` of kind `domain`.
    pub(crate) fn for_entity(seed: u64, domain: u64, index: u64) -> Rng {
        Rng::new(key(seed, domain, index))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; `n` = 0 gives 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Uniform in `[0, 1)` with 53 bits.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A keyed pseudo-random permutation of `0..n` (balanced Feistel network with cycle
/// walking). `apply` is a bijection, so distinct inputs give distinct outputs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Permutation {
    n: u64,
    half_bits: u32,
    key: u64,
}

impl Permutation {
    pub(crate) fn new(n: u64, key: u64) -> Permutation {
        let bits = 64 - n.saturating_sub(1).leading_zeros();
        let half_bits = bits.div_ceil(2).max(1);
        Permutation { n, half_bits, key }
    }

    fn round(&self, x: u64, r: u64) -> u64 {
        mix64(x ^ self.key ^ r.wrapping_mul(0xA076_1D64_78BD_642F)) & ((1u64 << self.half_bits) - 1)
    }

    fn encrypt(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for round in 0..4 {
            let t = l ^ self.round(r, round);
            l = r;
            r = t;
        }
        (l << self.half_bits) | r
    }

    /// The image of `x` (`x < n`).
    pub(crate) fn apply(&self, x: u64) -> u64 {
        debug_assert!(x < self.n);
        // The Feistel domain is a power of four ≥ n, at most 4n: cycle walking
        // terminates after a few steps on average, and always, because the walk
        // stays on x's cycle, which contains x itself (< n).
        let mut y = self.encrypt(x);
        while y >= self.n {
            y = self.encrypt(y);
        }
        y
    }
}

/// Cumulative integer weights for sampling an index.
#[derive(Debug, Clone)]
pub(crate) struct Weighted {
    cumulative: Vec<u64>,
}

impl Weighted {
    pub(crate) fn new(weights: impl IntoIterator<Item = u64>) -> Weighted {
        let mut total = 0;
        let cumulative = weights
            .into_iter()
            .map(|w| {
                total += w;
                total
            })
            .collect();
        Weighted { cumulative }
    }

    pub(crate) fn total(&self) -> u64 {
        self.cumulative.last().copied().unwrap_or(0)
    }

    /// The index whose weight interval contains `x` (`x < total`), and `x`'s offset
    /// inside that interval.
    pub(crate) fn locate(&self, x: u64) -> (usize, u64) {
        let i = self.cumulative.partition_point(|&c| c <= x);
        let start = if i == 0 { 0 } else { self.cumulative[i - 1] };
        (i, x - start)
    }

    pub(crate) fn weight(&self, i: usize) -> u64 {
        self.cumulative[i] - if i == 0 { 0 } else { self.cumulative[i - 1] }
    }

    pub(crate) fn sample(&self, rng: &mut Rng) -> usize {
        self.locate(rng.below(self.total())).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection() {
        for n in [1u64, 2, 3, 7, 100, 1000, 4097] {
            let p = Permutation::new(n, 42);
            let mut seen = vec![false; n as usize];
            for x in 0..n {
                let y = p.apply(x);
                assert!(y < n);
                assert!(!seen[y as usize], "n={n} collision at {y}");
                seen[y as usize] = true;
            }
        }
    }

    #[test]
    fn weighted_locate() {
        let w = Weighted::new([2, 0, 3]);
        assert_eq!(w.total(), 5);
        assert_eq!(w.locate(0), (0, 0));
        assert_eq!(w.locate(1), (0, 1));
        assert_eq!(w.locate(2), (2, 0));
        assert_eq!(w.locate(4), (2, 2));
        assert_eq!(w.weight(2), 3);
    }

    #[test]
    fn stream_is_fixed() {
        // Pinned values: changing them changes every generated city.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix64(0), 0xE220_A839_7B1D_CDAF);
        let mut r = Rng::new(7);
        let mean = (0..10_000).map(|_| r.below(10)).sum::<u64>() as f64 / 10_000.0;
        assert!((mean - 4.5).abs() < 0.1, "{mean}");
    }
}
