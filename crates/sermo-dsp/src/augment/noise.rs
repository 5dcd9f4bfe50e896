//! Additive noise: the one Gaussian generator, speech-shaped noise built on it, and the two
//! ways of adding noise at a signal-to-noise ratio (the paper's AWGN and the shifts' noise).
//!
//! Levels are measured over the whole clip, silences included (as the paper's AWGN does), and
//! on this clip's own noise draw rather than its expected power, so the SNR asked for is the SNR
//! measured. A silent or empty signal gets no noise: its power is 0.
//!
//! Speech-shaped noise follows a smooth fit of the long-term average speech spectrum
//! (Byrne et al., 1994): flat to 500 Hz, falling ~9 dB per octave above it, rolled off below
//! 100 Hz.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use sermo_fft::Complex;

use super::fft;
use crate::error::DspError;

/// The spectrum of additive noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Flat spectrum (the paper's augmentation).
    White,
    /// Shaped like the long-term average spectrum of speech (babble-like, without words).
    Speech,
}

/// `n` independent standard normal samples, in f64: the only noise generator of the module
/// (ChaCha8 streams and the ziggurat `StandardNormal` are the same on every machine, so seeded
/// noise is reproduced anywhere).
pub(crate) fn white(n: usize, rng: &mut impl Rng) -> Vec<f64> {
    (0..n).map(|_| StandardNormal.sample(&mut *rng)).collect()
}

/// Gaussian noise of length `n` filtered in the frequency domain to the speech-spectrum fit
/// ([`speech_power`]); its level is arbitrary (it is scaled when added).
///
/// Draws the next power of two ≥ `n` samples from [`white`], filters them as one block, and
/// keeps the first `n`.
pub(crate) fn speech_shaped(n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let size = n.next_power_of_two().max(2);
    let mut x = white(size, rng);
    fft::with_plans(|plans| {
        let mut spectrum = plans.forward(&mut x);
        let bin_hz = f64::from(sample_rate) / size as f64;
        for (k, c) in spectrum.iter_mut().enumerate() {
            *c *= speech_power(k as f64 * bin_hz).sqrt();
        }
        spectrum[0] = Complex::new(0.0, 0.0);
        plans.inverse(&mut spectrum, &mut x);
    });
    x.truncate(n);
    x
}

/// Power response of the speech-spectrum fit at `f` Hz: flat to 500 Hz, −9 dB/octave above,
/// −12 dB/octave below 100 Hz.
fn speech_power(f: f64) -> f64 {
    let high = 1.0 / (1.0 + (f / 500.0).powi(3));
    let low = (f / 100.0).powi(4) / (1.0 + (f / 100.0).powi(4));
    high * low
}

/// Mean of the squares, in f64; 0 for an empty slice.
pub(crate) fn mean_square<T: Copy + Into<f64>>(x: &[T]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    x.iter()
        .map(|&v| {
            let v: f64 = v.into();
            v * v
        })
        .sum::<f64>()
        / x.len() as f64
}

/// Root mean square, in f64; 0 for an empty slice.
pub(crate) fn rms<T: Copy + Into<f64>>(x: &[T]) -> f64 {
    mean_square(x).sqrt()
}

/// `signal + k·noise` (a missing noise sample counts as 0), summed in f64.
fn mix(signal: &[f32], noise: impl Iterator<Item = f64>, k: f64) -> Vec<f32> {
    signal
        .iter()
        .zip(noise.chain(std::iter::repeat(0.0)))
        .map(|(&x, v)| (f64::from(x) + k * v) as f32)
        .collect()
}

/// `signal + k·noise`, with `k` chosen so that the measured powers give `snr_db`; a silent
/// signal gets no noise. `noise` may be shorter than `signal` (the rest gets none).
///
/// `k` is computed from RMS levels, `k = rms(s) / rms(n) · 10^(−snr/20)`; [`add_awgn`] computes
/// the same gain from powers. The two agree but for the last bit, and both are kept because
/// saved results (the shifts' reports and training runs, the paper's feature cache) were made
/// with each.
pub fn add_at_snr(signal: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let (s, n) = (rms(signal), rms(noise));
    let k = if n > 0.0 {
        s / n * 10f64.powf(-f64::from(snr_db) / 20.0)
    } else {
        0.0
    };
    mix(signal, noise.iter().map(|&v| f64::from(v)), k)
}

/// Returns `signal` plus white Gaussian noise scaled to `snr_db` (signal power over noise power,
/// both measured on this signal and this noise draw): the paper's `addAWGN`.
///
/// As in the paper's code the gain is computed on powers, `K = sqrt(P_s / P_n · 10^(−snr/10))`,
/// and the noise is added at full f64 precision (the shifts' noise is rounded to f32 samples
/// first, see [`add_at_snr`]). A silent or empty signal is returned unchanged.
pub fn add_awgn(signal: &[f32], snr_db: f32, rng: &mut impl Rng) -> Vec<f32> {
    if signal.is_empty() {
        return Vec::new();
    }
    let noise = white(signal.len(), rng);
    let (s_power, n_power) = (mean_square(signal), mean_square(&noise));
    let k = if n_power > 0.0 {
        (s_power / n_power * 10f64.powf(-f64::from(snr_db) / 10.0)).sqrt()
    } else {
        0.0
    };
    mix(signal, noise.into_iter(), k)
}

/// [`crate::Shift::Noise`]: white or speech-shaped noise at `snr_db`, drawn as f32 samples (as
/// a recorded noise would be) and added with [`add_at_snr`].
pub(super) fn add_noise(
    samples: &[f32],
    sample_rate: u32,
    kind: NoiseKind,
    snr_db: f32,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DspError> {
    if !snr_db.is_finite() {
        return Err(super::invalid(
            "snr_db",
            format!("{snr_db} dB is not finite"),
        ));
    }
    let n = samples.len();
    let noise = match kind {
        NoiseKind::White => white(n, rng),
        NoiseKind::Speech => speech_shaped(n, sample_rate, rng),
    };
    let noise: Vec<f32> = noise.iter().map(|&v| v as f32).collect();
    Ok(add_at_snr(samples, &noise, snr_db))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::augment::test_signals::{SR, band_power, snr_db, speechy, tone};

    #[test]
    fn awgn_lands_at_the_snr_asked_for() {
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
    fn awgn_leaves_silence_and_empty_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(add_awgn(&[], 20.0, &mut rng).is_empty());
        assert_eq!(add_awgn(&[0.0; 8], 20.0, &mut rng), vec![0.0; 8]);
    }

    #[test]
    fn shift_noise_lands_at_the_snr_asked_for() {
        let x = speechy(SR as usize);
        for kind in [NoiseKind::White, NoiseKind::Speech] {
            for target in [20.0f32, 10.0, 5.0] {
                let mut rng = ChaCha8Rng::seed_from_u64(11);
                let y = add_noise(&x, SR, kind, target, &mut rng).unwrap();
                let got = snr_db(&x, &y);
                assert!((got - f64::from(target)).abs() < 1e-3, "{kind:?} {got}");
            }
        }
        let silent = vec![0.0f32; 100];
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let y = add_noise(&silent, SR, NoiseKind::White, 5.0, &mut rng).unwrap();
        assert_eq!(y, silent);
        assert!(add_noise(&silent, SR, NoiseKind::White, f32::NAN, &mut rng).is_err());
    }

    #[test]
    fn shorter_noise_leaves_the_rest_clean() {
        let y = add_at_snr(&[0.5, -0.5, 0.25], &[1.0], 0.0);
        assert_ne!(y[0], 0.5);
        assert_eq!(&y[1..], &[-0.5, 0.25]);
    }

    #[test]
    fn speech_shaped_noise_falls_with_frequency() {
        let n: Vec<f32> = speech_shaped(1 << 18, SR, &mut ChaCha8Rng::seed_from_u64(11))
            .iter()
            .map(|&v| v as f32)
            .collect();
        // Per-Hz density: an octave above 1 kHz is ~9 dB (×8) weaker than 250–500 Hz.
        let density = |lo: f64, hi: f64| band_power(&n, lo, hi) / (hi - lo);
        let (mid, high) = (density(250.0, 500.0), density(2000.0, 4000.0));
        let octaves = 3.0;
        let slope_db = 10.0 * (high / mid).log10() / octaves;
        assert!(
            (-10.0..-5.0).contains(&slope_db),
            "slope {slope_db} dB/octave"
        );
        assert!(density(20.0, 50.0) < 0.1 * mid);
    }
}
