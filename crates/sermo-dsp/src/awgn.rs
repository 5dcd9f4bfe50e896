//! Additive white Gaussian noise at a target SNR: the paper's augmentation.
//!
//! The paper's `addAWGN` draws one integer SNR per clip in `[snr_low, snr_high)`, then for each
//! copy scales unit Gaussian noise so that `mean(signal²) / mean((K·noise)²) = 10^(snr/10)`,
//! using the *measured* power of that copy's noise draw (not its expected power 1).
//! This module does the same, in f64, from an explicit seed (ChaCha8 and the ziggurat
//! `StandardNormal`), so a cache built on one machine is reproduced on another.

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// The augmentation's parameters; the training config and the feature cache key include it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentConfig {
    /// Noisy copies made of each training clip, besides the clean one.
    /// Default: 3 (the paper quadruples the data).
    pub copies: usize,
    /// Lowest SNR drawn, in dB, inclusive. Default: 15 (the paper's `snr_low`).
    pub snr_low: i32,
    /// Highest SNR, in dB, exclusive (numpy `randint`). Default: 30 (the paper's `snr_high`).
    pub snr_high: i32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self {
            copies: 3,
            snr_low: 15,
            snr_high: 30,
        }
    }
}

/// Returns `signal` plus white Gaussian noise scaled to `snr_db` (signal power over noise power,
/// both measured on this signal and this noise draw).
///
/// A silent (all-zero) or empty signal is returned unchanged: its power is 0, so the noise is
/// scaled to 0, as in the paper's code.
pub fn add_awgn(signal: &[f32], snr_db: f32, rng: &mut impl Rng) -> Vec<f32> {
    if signal.is_empty() {
        return Vec::new();
    }
    let noise: Vec<f64> = (0..signal.len())
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    let s_power = mean_square(signal.iter().map(|&s| f64::from(s)));
    let n_power = mean_square(noise.iter().copied());
    let k = if n_power > 0.0 {
        (s_power / n_power * 10f64.powf(-f64::from(snr_db) / 10.0)).sqrt()
    } else {
        0.0
    };
    signal
        .iter()
        .zip(&noise)
        .map(|(&s, &n)| (f64::from(s) + k * n) as f32)
        .collect()
}

/// Makes `k` noisy copies of `signal` at one SNR drawn uniformly from the integers in
/// `[snr_low, snr_high)` (the paper's `np.random.randint`), deterministically from `seed`.
///
/// Returns the SNR in dB and the copies. When `snr_high <= snr_low` the SNR is `snr_low`.
pub fn noisy_copies(
    signal: &[f32],
    k: usize,
    snr_low: i32,
    snr_high: i32,
    seed: u64,
) -> (i32, Vec<Vec<f32>>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let snr = if snr_high > snr_low {
        rng.random_range(snr_low..snr_high)
    } else {
        snr_low
    };
    let copies = (0..k)
        .map(|_| add_awgn(signal, snr as f32, &mut rng))
        .collect();
    (snr, copies)
}

fn mean_square(x: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = x.len();
    if n == 0 {
        return 0.0;
    }
    x.map(|v| v * v).sum::<f64>() / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.0123).cos())
            .collect()
    }

    fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
        let s = mean_square(clean.iter().map(|&v| f64::from(v)));
        let n = mean_square(
            clean
                .iter()
                .zip(noisy)
                .map(|(&c, &y)| f64::from(y) - f64::from(c)),
        );
        10.0 * (s / n).log10()
    }

    #[test]
    fn measured_snr_matches_target() {
        let x = tone(48_000);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for target in [0.0f32, 15.0, 22.0, 29.0] {
            let y = add_awgn(&x, target, &mut rng);
            let got = snr_db(&x, &y);
            // Exact up to f32 rounding of the output: K uses this draw's own noise power.
            assert!(
                (got - f64::from(target)).abs() < 1e-3,
                "{target} dB: got {got}"
            );
        }
    }

    #[test]
    fn copies_are_seeded_and_differ() {
        let x = tone(10_000);
        let (snr_a, a) = noisy_copies(&x, 3, 15, 30, 42);
        let (snr_b, b) = noisy_copies(&x, 3, 15, 30, 42);
        let (_, c) = noisy_copies(&x, 3, 15, 30, 43);
        assert_eq!(snr_a, snr_b);
        assert!((15..30).contains(&snr_a));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 3);
        assert_ne!(a[0], a[1]);
        for copy in &a {
            assert!((snr_db(&x, copy) - f64::from(snr_a)).abs() < 1e-3);
        }
    }

    #[test]
    fn snr_draw_covers_the_range() {
        let x = tone(16);
        let mut seen = [false; 15];
        for seed in 0..2000 {
            let (snr, _) = noisy_copies(&x, 0, 15, 30, seed);
            seen[(snr - 15) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s), "{seen:?}");
        assert_eq!(noisy_copies(&x, 1, 20, 20, 0).0, 20);
    }

    #[test]
    fn silence_and_empty() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(add_awgn(&[], 20.0, &mut rng).is_empty());
        assert_eq!(add_awgn(&[0.0; 8], 20.0, &mut rng), vec![0.0; 8]);
    }
}
