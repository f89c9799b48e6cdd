//! Demo-life simulator core: a deterministic generator of 110 calls with a
//! realistic daily rhythm (quiet at 4 am, busiest in the evening), a type mix
//! that shifts with the hour (noise at night, traffic in rush hours), caller
//! descriptions drawn from the labelled corpus, and locations from a
//! caller-supplied sampler. The server drives it with its clock.
//!
//! Calls are generated per minute bucket from a seed derived from (seed,
//! minute), so the calls in a period are the same however the server slices its
//! clock ticks.

use pingan_core::{LatLng, Timestamp};

use crate::classify::LabelledCall;
use crate::diversion::splitmix64;
use crate::incident::Channel;
use crate::taxonomy::Priority;

/// Small deterministic random source (SplitMix64) handed to samplers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRng {
    state: u64,
}

impl SimRng {
    pub fn new(seed: u64) -> SimRng {
        SimRng { state: seed }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n`; `n` must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Where calls come from: the server supplies one backed by its demo city
/// (population-weighted addresses, hotspots).
pub trait LocationSampler {
    fn sample(&mut self, rng: &mut SimRng) -> LatLng;
}

/// Uniform points in a box; handy for tests and an empty city.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxSampler {
    pub min: LatLng,
    pub max: LatLng,
}

impl LocationSampler for BoxSampler {
    fn sample(&mut self, rng: &mut SimRng) -> LatLng {
        let lat = self.min.lat() + (self.max.lat() - self.min.lat()) * rng.next_f64();
        let lng = self.min.lng() + (self.max.lng() - self.min.lng()) * rng.next_f64();
        LatLng::new(lat, lng).expect("a point inside a valid box is valid")
    }
}

/// Relative call volume by local hour, 0–23: a trough around 4 am, a rise
/// through the morning and the peak from 18 to 22 h, as 110 centres report.
pub const DEFAULT_HOURLY_WEIGHTS: [f64; 24] = [
    3.0, 2.4, 1.8, 1.4, 1.2, 1.4, 2.0, 3.0, 4.0, 4.4, 4.6, 4.6, 4.4, 4.2, 4.4, 4.6, 4.8, 5.2, 5.6,
    6.0, 6.2, 6.0, 5.0, 4.0,
];

/// Generator settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    /// Mean calls per day over the whole city.
    pub calls_per_day: f64,
    /// Local time zone as minutes east of UTC (China: 480).
    pub utc_offset_min: i32,
    pub hourly_weights: [f64; 24],
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            calls_per_day: 1_500.0,
            utc_offset_min: 480,
            hourly_weights: DEFAULT_HOURLY_WEIGHTS,
        }
    }
}

/// Errors configuring the generator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("calls_per_day must be finite and between 0 and 1,000,000")]
    BadRate,
    #[error("hourly_weights must be finite, non-negative and not all zero")]
    BadWeights,
    #[error("the description corpus is empty")]
    EmptyCorpus,
}

/// One generated call.
#[derive(Debug, Clone, PartialEq)]
pub struct SimCall {
    pub at: Timestamp,
    pub channel: Channel,
    pub caller_phone: String,
    pub description: String,
    pub point: LatLng,
    /// The type and priority the description was labelled with (ground truth
    /// for the demo; the server still runs the classifier).
    pub true_type: String,
    pub true_priority: Priority,
}

/// Multiplier of a type's share by local hour.
fn hour_factor(type_code: &str, hour: u32) -> f64 {
    let root = type_code.split('.').next().unwrap_or(type_code);
    let night = matches!(hour, 21..=23 | 0..=2);
    let rush = matches!(hour, 7..=9 | 17..=19);
    let evening = matches!(hour, 18..=23);
    match root {
        "noise" if night => 2.5,
        "noise" => 0.5,
        "traffic" if rush => 1.8,
        "traffic" if hour < 6 => 0.4,
        "public_order" if evening || hour < 3 => 1.8,
        "dispute" if evening => 1.4,
        "non_police" if (8..=17).contains(&hour) => 1.4,
        "missing_person" if (16..=21).contains(&hour) => 1.5,
        _ => 1.0,
    }
}

/// Deterministic call generator.
#[derive(Debug, Clone)]
pub struct CallGenerator {
    config: SimConfig,
    corpus: Vec<LabelledCall>,
    /// Per local hour: cumulative row weights for drawing a description.
    cumulative: Vec<Vec<f64>>,
}

impl CallGenerator {
    pub fn new(config: SimConfig, corpus: Vec<LabelledCall>) -> Result<CallGenerator, SimError> {
        if !config.calls_per_day.is_finite() || !(0.0..=1_000_000.0).contains(&config.calls_per_day)
        {
            return Err(SimError::BadRate);
        }
        let w = &config.hourly_weights;
        if w.iter().any(|x| !x.is_finite() || *x < 0.0) || w.iter().sum::<f64>() <= 0.0 {
            return Err(SimError::BadWeights);
        }
        if corpus.is_empty() {
            return Err(SimError::EmptyCorpus);
        }
        let cumulative = (0..24)
            .map(|h| {
                let mut acc = 0.0;
                corpus
                    .iter()
                    .map(|c| {
                        acc += hour_factor(&c.type_code, h);
                        acc
                    })
                    .collect()
            })
            .collect();
        Ok(CallGenerator {
            config,
            corpus,
            cumulative,
        })
    }

    /// Expected calls per minute at local hour `hour`.
    pub fn rate_per_minute(&self, hour: u32) -> f64 {
        let w = &self.config.hourly_weights;
        let total: f64 = w.iter().sum();
        self.config.calls_per_day * (w[hour as usize % 24] / total) / 60.0
    }

    fn local_hour(&self, at: Timestamp) -> u32 {
        at.plus_secs(i64::from(self.config.utc_offset_min) * 60)
            .to_civil_utc()
            .3
    }

    /// All calls with `from <= at < to`, in time order.
    pub fn calls_between(
        &self,
        from: Timestamp,
        to: Timestamp,
        sampler: &mut dyn LocationSampler,
    ) -> Vec<SimCall> {
        let mut out = Vec::new();
        if to <= from {
            return out;
        }
        let first_min = from.millis().div_euclid(60_000);
        let last_min = (to.millis() - 1).div_euclid(60_000);
        for minute in first_min..=last_min {
            let start = Timestamp::from_millis(minute * 60_000);
            let mut rng = SimRng::new(splitmix64(self.config.seed ^ splitmix64(minute as u64)));
            let hour = self.local_hour(start);
            let n = poisson(self.rate_per_minute(hour), &mut rng);
            let mut calls: Vec<SimCall> = (0..n)
                .map(|_| self.one_call(start, hour, &mut rng, sampler))
                .collect();
            calls.sort_by_key(|c| c.at);
            out.extend(calls.into_iter().filter(|c| c.at >= from && c.at < to));
        }
        out
    }

    fn one_call(
        &self,
        minute_start: Timestamp,
        hour: u32,
        rng: &mut SimRng,
        sampler: &mut dyn LocationSampler,
    ) -> SimCall {
        let at = minute_start.plus_millis(rng.below(60_000) as i64);
        let cum = &self.cumulative[hour as usize];
        let x = rng.next_f64() * cum.last().copied().unwrap_or(0.0);
        let i = cum.partition_point(|c| *c <= x).min(self.corpus.len() - 1);
        let row = &self.corpus[i];
        let channel = match rng.below(100) {
            0..=84 => Channel::Tel110,
            85..=91 => Channel::Hotline12345,
            92..=95 => Channel::App,
            96..=97 => Channel::Sms,
            _ => Channel::Partner,
        };
        // Mobile numbers in 13x–19x ranges; fictitious subscriber part.
        let caller_phone = format!("1{}{:09}", 3 + rng.below(7), rng.below(1_000_000_000));
        let point = sampler.sample(rng);
        SimCall {
            at,
            channel,
            caller_phone,
            description: row.text.clone(),
            point,
            true_type: row.type_code.clone(),
            true_priority: row.priority,
        }
    }
}

/// Knuth's Poisson sampler; fine for the small per-minute means used here.
fn poisson(lambda: f64, rng: &mut SimRng) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let l = (-lambda).exp();
    let mut k = 0u32;
    let mut p = 1.0;
    loop {
        p *= rng.next_f64();
        if p <= l || k >= 10_000 {
            return k;
        }
        k += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::{BUILTIN_CORPUS, parse_corpus};
    use crate::taxonomy::Taxonomy;

    fn generator(calls_per_day: f64) -> CallGenerator {
        let corpus = parse_corpus(BUILTIN_CORPUS, &Taxonomy::builtin()).unwrap();
        CallGenerator::new(
            SimConfig {
                calls_per_day,
                ..SimConfig::default()
            },
            corpus,
        )
        .unwrap()
    }

    fn sampler() -> BoxSampler {
        BoxSampler {
            min: LatLng::new(30.55, 104.0).unwrap(),
            max: LatLng::new(30.70, 104.15).unwrap(),
        }
    }

    #[test]
    fn deterministic_and_independent_of_slicing() {
        let g = generator(3000.0);
        let from = Timestamp::from_civil_utc(2026, 11, 24, 0, 0, 0);
        let to = from.plus_secs(3 * 3600);
        let whole = g.calls_between(from, to, &mut sampler());
        let mut sliced = Vec::new();
        let mut t = from;
        while t < to {
            let next = t.plus_millis(7_777).min(to);
            sliced.extend(g.calls_between(t, next, &mut sampler()));
            t = next;
        }
        assert!(!whole.is_empty());
        assert_eq!(whole.len(), sliced.len());
        for (a, b) in whole.iter().zip(&sliced) {
            assert_eq!((a.at, &a.description), (b.at, &b.description));
        }
        assert!(whole.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(
            whole
                .iter()
                .all(|c| c.at >= from && c.at < to && c.caller_phone.len() == 11)
        );
    }

    #[test]
    fn daily_rhythm_and_volume() {
        let g = generator(2000.0);
        // Beijing midnight = 16:00 UTC the day before.
        let day = Timestamp::from_civil_utc(2026, 11, 23, 16, 0, 0);
        let mut per_hour = [0usize; 24];
        let mut noise_night = 0;
        let mut noise_day = 0;
        let mut total = 0;
        for d in 0..7 {
            let from = day.plus_secs(d * 86_400);
            for c in g.calls_between(from, from.plus_secs(86_400), &mut sampler()) {
                let h = g.local_hour(c.at) as usize;
                per_hour[h] += 1;
                total += 1;
                if c.true_type == "noise" {
                    if matches!(h, 21..=23 | 0..=2) {
                        noise_night += 1;
                    } else if (9..=14).contains(&h) {
                        noise_day += 1;
                    }
                }
            }
        }
        let mean = total as f64 / 7.0;
        assert!((mean - 2000.0).abs() < 100.0, "mean/day {mean}");
        assert!(per_hour[20] > 4 * per_hour[4], "{per_hour:?}");
        assert!(per_hour[4] == *per_hour.iter().min().unwrap());
        assert!(noise_night > 2 * noise_day, "{noise_night} vs {noise_day}");
    }

    #[test]
    fn rejects_bad_config() {
        let corpus = parse_corpus(BUILTIN_CORPUS, &Taxonomy::builtin()).unwrap();
        let bad = SimConfig {
            hourly_weights: [0.0; 24],
            ..SimConfig::default()
        };
        assert_eq!(
            CallGenerator::new(bad, corpus.clone()).unwrap_err(),
            SimError::BadWeights
        );
        let bad = SimConfig {
            calls_per_day: f64::NAN,
            ..SimConfig::default()
        };
        assert_eq!(
            CallGenerator::new(bad, corpus).unwrap_err(),
            SimError::BadRate
        );
        assert_eq!(
            CallGenerator::new(SimConfig::default(), vec![]).unwrap_err(),
            SimError::EmptyCorpus
        );
    }
}
