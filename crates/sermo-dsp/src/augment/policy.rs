//! What training draws: sermo's [`AugmentPolicy`] (shifts drawn afresh for every copy, every
//! epoch) and the paper's [`AugmentConfig`] (a fixed set of AWGN copies made once, with
//! [`noisy_copies`]).
//!
//! Every draw comes from the caller's seeded RNG in a fixed order; results saved by earlier runs
//! (feature caches, run configs, resumed runs) depend on that order, so new entries are appended
//! and draw nothing while they are off (see the module docs of [`crate::augment`]).

use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::noise::add_awgn;
use super::{NoiseKind, Shift};
use crate::error::DspError;

/// Augmentation drawn afresh for every copy of every training clip in every epoch: each shift
/// is applied with its probability, its strength drawn uniformly from its range, in the order
/// a recording meets them (speaker tempo, room, noise, channel, level, timing), and then
/// SpecAugment-style masks on the feature map ([`super::mask_map`]).
///
/// `Default` is sermo's robust recipe; its ranges cover the robustness report's shifts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AugmentPolicy {
    /// Probability of a speed change, and its factor range.
    pub speed: (f32, [f32; 2]),
    /// Probability of reverberation, and its RT60 range in seconds.
    pub reverb: (f32, [f32; 2]),
    /// Probability of additive noise (white or speech-shaped, even odds), and its SNR range, dB.
    pub noise: (f32, [f32; 2]),
    /// Probability of a 16 kHz or 8 kHz channel (even odds).
    pub band_limit: f32,
    /// Probability of a gain change, and its range, dB.
    pub gain: (f32, [f32; 2]),
    /// Probability of an onset shift, and its range, seconds.
    pub onset: (f32, [f32; 2]),
    /// Probability of cutting the clip short, and the range of lengths kept, seconds.
    pub truncate: (f32, [f32; 2]),
    /// Time masks per map and the most frames each covers.
    pub time_masks: (usize, usize),
    /// Coefficient masks per map and the most coefficients each covers.
    pub coeff_masks: (usize, usize),
}

impl Default for AugmentPolicy {
    fn default() -> Self {
        Self {
            speed: (0.3, [0.9, 1.1]),
            reverb: (0.3, [0.1, 0.9]),
            noise: (0.7, [3.0, 30.0]),
            band_limit: 0.2,
            gain: (0.5, [-20.0, 10.0]),
            onset: (0.3, [-0.5, 1.0]),
            truncate: (0.15, [1.2, 3.0]),
            time_masks: (2, 20),
            coeff_masks: (1, 4),
        }
    }
}

/// True with probability `p` (one draw, whatever `p`).
fn chance(rng: &mut impl Rng, p: f32) -> bool {
    rng.random::<f32>() < p
}

/// Uniform in `[lo, hi]` (one draw).
fn uniform(rng: &mut impl Rng, [lo, hi]: [f32; 2]) -> f32 {
    lo + (hi - lo) * rng.random::<f32>()
}

impl AugmentPolicy {
    /// Draws the shifts of one augmented copy, in the order they are to be applied.
    pub fn draw(&self, rng: &mut impl Rng) -> Vec<Shift> {
        let mut out = Vec::new();
        if chance(rng, self.speed.0) {
            out.push(Shift::Speed {
                factor: uniform(rng, self.speed.1),
            });
        }
        if chance(rng, self.reverb.0) {
            out.push(Shift::Reverb {
                rt60_s: uniform(rng, self.reverb.1).max(0.05),
            });
        }
        if chance(rng, self.noise.0) {
            let noise = if chance(rng, 0.5) {
                NoiseKind::White
            } else {
                NoiseKind::Speech
            };
            out.push(Shift::Noise {
                noise,
                snr_db: uniform(rng, self.noise.1),
            });
        }
        if chance(rng, self.band_limit) {
            let rate_hz = if chance(rng, 0.5) { 16_000 } else { 8_000 };
            out.push(Shift::BandLimit { rate_hz });
        }
        if chance(rng, self.gain.0) {
            out.push(Shift::Gain {
                db: uniform(rng, self.gain.1),
            });
        }
        if chance(rng, self.onset.0) {
            let at = uniform(rng, self.onset.1);
            out.push(Shift::Onset {
                min_s: at,
                max_s: at,
            });
        }
        if chance(rng, self.truncate.0) {
            out.push(Shift::Truncate {
                seconds: uniform(rng, self.truncate.1),
            });
        }
        out
    }

    /// Draws and applies one augmented copy of `samples` (the masks are applied later, to its
    /// feature map, from the same `rng`).
    ///
    /// # Errors
    /// As [`Shift::apply`].
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate: u32,
        rng: &mut impl Rng,
    ) -> Result<Vec<f32>, DspError> {
        let mut x = samples.to_vec();
        for shift in self.draw(rng) {
            x = shift.apply(&x, sample_rate, rng)?;
        }
        Ok(x)
    }
}

/// The paper's augmentation: `copies` AWGN copies of each training clip, made once before
/// training at one SNR per clip ([`noisy_copies`]). The training config and the feature cache key
/// include it.
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

/// Makes `k` noisy copies of `signal` at one SNR drawn uniformly from the integers in
/// `[snr_low, snr_high)` (the paper's `np.random.randint`), deterministically from `seed`:
/// the SNR is drawn first, then each copy's noise with [`add_awgn`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::augment::test_signals::{SR, snr_db, speechy, tone};

    fn rng(seed: u64) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(seed)
    }

    #[test]
    fn policy_draws_vary_and_stay_in_range() {
        let policy = AugmentPolicy::default();
        let mut r = rng(11);
        let draws: Vec<Vec<Shift>> = (0..400).map(|_| policy.draw(&mut r)).collect();
        let count = |f: &dyn Fn(&Shift) -> bool| draws.iter().filter(|d| d.iter().any(f)).count();
        let noise = count(&|s| matches!(s, Shift::Noise { .. }));
        assert!((230..330).contains(&noise), "noise in {noise} of 400");
        assert!(count(&|s| matches!(s, Shift::Reverb { .. })) > 60);
        assert!(count(&|s| matches!(s, Shift::BandLimit { rate_hz: 8000 })) > 10);
        for s in draws.iter().flatten() {
            match *s {
                Shift::Gain { db } => assert!((-20.0..=10.0).contains(&db)),
                Shift::Noise { snr_db, .. } => assert!((3.0..=30.0).contains(&snr_db)),
                Shift::Speed { factor } => assert!((0.9..=1.1).contains(&factor)),
                _ => {}
            }
        }
        let x = speechy(SR as usize);
        let a = policy.apply(&x, SR, &mut rng(5)).unwrap();
        let b = policy.apply(&x, SR, &mut rng(5)).unwrap();
        assert_eq!(a, b);
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
}
