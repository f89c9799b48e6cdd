//! Spike detection on counts against a seasonal baseline.
//!
//! # Statistic
//!
//! Counts arrive in buckets (the engine uses one hour per H3 cell and event
//! kind; [`detect_spikes`] takes any bucketed series). Each bucket belongs to a
//! seasonal slot (hour-of-week: 168 slots). Per slot we keep an exponentially
//! weighted mean `m_s` of past counts (weight `w`; the first `1/w`
//! observations are a plain running mean) and `n_s`, the number of
//! observations. The expected count is the seasonal mean shrunk towards the
//! series' overall mean `g` with a pseudo-weight `1/n_s` that fades as the
//! slot's history grows (it matters in the first weeks only), and floored:
//!
//! ```text
//! λ = max(floor, (n_eff·m_s + g/n_s) / (n_eff + 1/n_s)),   n_eff = min(n_s, 1/w)
//! ```
//!
//! A bucket with count `c` is a spike when
//! `P(X ≥ c | X ~ Poisson(λ)) ≤ alpha` **and** `c ≥ min_count` **and**
//! `c ≥ min_ratio·λ`, once the slot has at least `min_history` observations.
//! The last two guards keep over-dispersed real-world series (counts vary more
//! than Poisson) from firing on small absolute wobbles. The engine fires as
//! soon as the running count of the current bucket reaches the threshold
//! `k* = min{k : k passes all three tests}`, so a spike is reported within the
//! hour it happens. A bucket updates its slot with `min(c, k*)` (winsorised),
//! so a spike does not inflate the baseline that judges the next one.

use thiserror::Error;

/// Tunables of the spike statistic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeParams {
    /// Poisson upper-tail probability at or below which a count is a spike.
    pub alpha: f64,
    /// Smallest count that can ever be a spike.
    pub min_count: u32,
    /// A spike must be at least this multiple of the expected count.
    pub min_ratio: f64,
    /// Observations a slot needs before it can judge (warm-up).
    pub min_history: u32,
    /// EWMA weight of the newest observation of a slot.
    pub weight: f64,
    /// Lower bound of the expected count, so an empty history is not "zero".
    pub floor: f64,
}

impl Default for SpikeParams {
    fn default() -> Self {
        SpikeParams {
            alpha: 1e-4,
            min_count: 5,
            min_ratio: 2.0,
            min_history: 2,
            weight: 0.25,
            floor: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpikeError {
    #[error("period must be at least 1")]
    ZeroPeriod,
    #[error("parameter {0} is out of range")]
    BadParam(&'static str),
}

impl SpikeParams {
    pub fn validate(&self) -> Result<(), SpikeError> {
        if !(self.alpha > 0.0 && self.alpha < 1.0) {
            return Err(SpikeError::BadParam("alpha"));
        }
        if !(self.weight > 0.0 && self.weight <= 1.0) {
            return Err(SpikeError::BadParam("weight"));
        }
        if !(self.floor > 0.0 && self.floor.is_finite()) {
            return Err(SpikeError::BadParam("floor"));
        }
        if !(self.min_ratio >= 0.0 && self.min_ratio.is_finite()) {
            return Err(SpikeError::BadParam("min_ratio"));
        }
        Ok(())
    }
}

/// `P(X ≥ k)` for `X ~ Poisson(lambda)`. Exact summation in log space, so it
/// neither underflows for large `lambda` nor loses small tails.
pub fn poisson_tail(k: u32, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_l = lambda.ln();
    let kf = f64::from(k);
    if kf <= lambda {
        // The tail is large; 1 − CDF(k−1) is accurate here.
        let mut log_p = -lambda;
        let mut cdf = log_p.exp();
        for i in 1..k {
            log_p += ln_l - f64::from(i).ln();
            cdf += log_p.exp();
        }
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    // log P(X = k), then sum the decreasing terms from k upwards.
    let mut log_pk = -lambda;
    for i in 1..=k {
        log_pk += ln_l - f64::from(i).ln();
    }
    let mut sum = 1.0;
    let mut term = 1.0;
    let mut i = kf;
    loop {
        i += 1.0;
        term *= lambda / i;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    (log_pk.exp() * sum).clamp(0.0, 1.0)
}

/// The smallest count that is a spike when `lambda` is expected.
pub fn spike_threshold(lambda: f64, p: &SpikeParams) -> u32 {
    let by_ratio = (p.min_ratio * lambda).ceil();
    let start = f64::from(p.min_count)
        .max(by_ratio)
        .max(lambda.floor() + 1.0);
    let mut k = if start >= f64::from(u32::MAX) {
        return u32::MAX;
    } else {
        start as u32
    };
    while poisson_tail(k, lambda) > p.alpha {
        k = k.saturating_add(1);
        if k == u32::MAX {
            break;
        }
    }
    k
}

/// Per-slot seasonal state (one value per slot of the period).
#[derive(Debug, Clone, PartialEq)]
pub struct SeasonalBaseline {
    mean: Vec<f32>,
    n: Vec<u16>,
    global_sum: f64,
    global_n: u64,
}

impl SeasonalBaseline {
    /// A baseline with `period` slots (168 for hour-of-week).
    pub fn new(period: usize) -> Result<SeasonalBaseline, SpikeError> {
        if period == 0 {
            return Err(SpikeError::ZeroPeriod);
        }
        Ok(SeasonalBaseline {
            mean: vec![0.0; period],
            n: vec![0; period],
            global_sum: 0.0,
            global_n: 0,
        })
    }

    pub fn period(&self) -> usize {
        self.mean.len()
    }

    /// Expected count for `slot`, or `None` while the slot is warming up.
    ///
    /// # Panics
    /// If `slot >= period`.
    pub fn expected(&self, slot: usize, p: &SpikeParams) -> Option<f64> {
        let n = u32::from(self.n[slot]);
        if n < p.min_history.max(1) {
            return None;
        }
        let g = if self.global_n == 0 {
            0.0
        } else {
            self.global_sum / self.global_n as f64
        };
        let n_eff = f64::from(n).min(1.0 / p.weight);
        // The pull towards the overall mean fades as the slot's own history grows.
        let prior = 1.0 / f64::from(n);
        let lambda = (n_eff * f64::from(self.mean[slot]) + prior * g) / (n_eff + prior);
        Some(lambda.max(p.floor))
    }

    /// Spike threshold and expected count for `slot`, `None` while warming up.
    pub fn threshold(&self, slot: usize, p: &SpikeParams) -> Option<(u32, f64)> {
        self.expected(slot, p)
            .map(|lambda| (spike_threshold(lambda, p), lambda))
    }

    /// Records a closed bucket's (already winsorised) count.
    ///
    /// # Panics
    /// If `slot >= period`.
    pub fn observe(&mut self, slot: usize, count: u32, p: &SpikeParams) {
        let n = self.n[slot].saturating_add(1);
        self.n[slot] = n;
        // Plain running mean until the EWMA's effective memory is reached.
        let w = p.weight.max(1.0 / f64::from(n)) as f32;
        self.mean[slot] += w * (count as f32 - self.mean[slot]);
        self.global_sum += f64::from(count);
        self.global_n += 1;
    }
}

/// One flagged bucket of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeFinding {
    pub index: usize,
    pub count: u32,
    pub expected: f64,
    pub p_value: f64,
}

/// Runs the statistic over a bucketed series (e.g. incident counts per hour,
/// with `period = 168` and `first_slot` the hour-of-week of `counts[0]`, or per
/// day with `period = 7`). Pure: the same input always gives the same findings.
pub fn detect_spikes(
    counts: &[u32],
    period: usize,
    first_slot: usize,
    p: &SpikeParams,
) -> Result<Vec<SpikeFinding>, SpikeError> {
    p.validate()?;
    let mut base = SeasonalBaseline::new(period)?;
    let mut out = Vec::new();
    for (i, &c) in counts.iter().enumerate() {
        let slot = (first_slot + i) % period;
        let mut winsor = c;
        if let Some((k, lambda)) = base.threshold(slot, p) {
            if c >= k {
                out.push(SpikeFinding {
                    index: i,
                    count: c,
                    expected: lambda,
                    p_value: poisson_tail(c, lambda),
                });
            }
            winsor = c.min(k);
        }
        base.observe(slot, winsor, p);
    }
    Ok(out)
}

/// A small deterministic generator for tests and benches (SplitMix64), so
/// synthetic data needs no `rand` and never changes between runs.
#[derive(Debug, Clone)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A Poisson draw (Knuth's method for small means, normal approximation above 30).
    pub fn poisson(&mut self, lambda: f64) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        if lambda > 30.0 {
            let u1 = self.next_f64().max(1e-300);
            let u2 = self.next_f64();
            let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
            return (lambda + z * lambda.sqrt()).round().max(0.0) as u32;
        }
        let l = (-lambda).exp();
        let mut k = 0;
        let mut prod = self.next_f64();
        while prod > l {
            k += 1;
            prod *= self.next_f64();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_tail_matches_closed_forms() {
        // P(X ≥ 1) = 1 − e^{−λ}
        assert!((poisson_tail(1, 2.0) - (1.0 - (-2.0f64).exp())).abs() < 1e-12);
        // P(X ≥ 3 | λ=1) = 1 − e^{−1}(1 + 1 + 1/2)
        let want = 1.0 - (-1.0f64).exp() * 2.5;
        assert!((poisson_tail(3, 1.0) - want).abs() < 1e-12);
        // Far tail stays positive and tiny rather than cancelling to 0.
        let t = poisson_tail(40, 2.0);
        assert!(t > 0.0 && t < 1e-25, "{t}");
        // Large means do not underflow.
        let t = poisson_tail(1000, 1000.0);
        assert!((t - 0.5).abs() < 0.02, "{t}");
    }

    #[test]
    fn threshold_respects_all_guards() {
        let p = SpikeParams::default();
        // λ = 0.5: P(X≥5) ≈ 1.7e-4 > 1e-4, so 6 (min_count 5 is not enough).
        assert_eq!(spike_threshold(0.5, &p), 6);
        // λ = 0.1: the tail passes at 4, so min_count = 5 decides.
        assert_eq!(spike_threshold(0.1, &p), 5);
        // λ = 10: P(X≥24)≈1.20e-4 > 1e-4 ≥ P(X≥25)≈4.69e-5, so 25.
        assert_eq!(spike_threshold(10.0, &p), 25);
        assert!((poisson_tail(24, 10.0) - 1.2012e-4).abs() < 1e-8);
        assert!((poisson_tail(25, 10.0) - 4.6949e-5).abs() < 1e-8);
    }

    /// Generated data: 10 weeks of hourly Poisson counts with a daily and
    /// weekly pattern, 20 spikes of `max(3λ, 10)` extra events injected after
    /// a 2-week warm-up. Measures detection
    /// and false-positive rates and asserts they are what the statistic
    /// promises.
    #[test]
    fn detects_injected_spikes_with_few_false_positives() {
        let weeks = 10;
        let n = 168 * weeks;
        let lambda_at = |i: usize| {
            let hour = i % 24;
            let day = (i / 24) % 7;
            let daily = if (8..22).contains(&hour) { 6.0 } else { 1.5 };
            if day >= 5 { daily * 1.5 } else { daily }
        };
        let (mut hits, mut injected_total, mut false_pos, mut evaluated) = (0, 0, 0, 0);
        // Ten independent series, so the rates are not one lucky draw.
        for seed in 1..=10 {
            let mut rng = SplitMix64(seed);
            let mut counts: Vec<u32> = (0..n).map(|i| rng.poisson(lambda_at(i))).collect();
            let mut injected = Vec::new();
            while injected.len() < 20 {
                let i = 2 * 168 + (rng.next_u64() % (n as u64 - 2 * 168)) as usize;
                if !injected.contains(&i) {
                    injected.push(i);
                }
            }
            for &i in &injected {
                counts[i] += (3.0 * lambda_at(i)).max(10.0).round() as u32;
            }
            let found = detect_spikes(&counts, 168, 0, &SpikeParams::default()).unwrap();
            for f in &found {
                assert!(f.p_value <= 1e-4);
                assert!(f.index >= 2 * 168, "judged during warm-up: {f:?}");
            }
            let h = found.iter().filter(|f| injected.contains(&f.index)).count();
            hits += h;
            false_pos += found.len() - h;
            injected_total += injected.len();
            evaluated += n - 2 * 168 - injected.len();
        }
        let detection = hits as f64 / injected_total as f64;
        let fp_rate = false_pos as f64 / evaluated as f64;
        println!(
            "spike test: detection {hits}/{injected_total} = {detection:.3}, \
             false positives {false_pos}/{evaluated} = {fp_rate:.5}"
        );
        assert!(detection >= 0.9, "detection {detection}");
        assert!(fp_rate <= 0.001, "false-positive rate {fp_rate}");
    }

    #[test]
    fn warm_up_suppresses_judgement() {
        let p = SpikeParams::default();
        // A huge count in the first period cannot be judged yet.
        let counts = [100, 1, 1, 1, 1, 1];
        assert_eq!(detect_spikes(&counts, 3, 0, &p).unwrap(), vec![]);
        assert_eq!(
            detect_spikes(&counts, 0, 0, &p),
            Err(SpikeError::ZeroPeriod)
        );
    }
}
