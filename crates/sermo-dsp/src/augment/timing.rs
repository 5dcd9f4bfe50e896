//! When and how fast the speech comes: playback speed, where it starts, how long the recording
//! lasts.

use rand::{Rng, RngExt};

use crate::config::seconds_to_samples;
use crate::error::DspError;
use crate::resample::resample;

/// [`crate::Shift::Speed`]: plays the clip `factor` times faster (pitch and tempo together, as
/// a tape would) by resampling from `factor · rate` to `rate`.
pub(super) fn speed(samples: &[f32], sample_rate: u32, factor: f32) -> Result<Vec<f32>, DspError> {
    if !(factor.is_finite() && (0.5..=2.0).contains(&factor)) {
        return Err(super::invalid(
            "speed",
            format!("factor must be in 0.5–2, got {factor}"),
        ));
    }
    let from = (f64::from(sample_rate) * f64::from(factor)).round() as u32;
    resample(samples, from, sample_rate)
}

/// [`crate::Shift::Onset`]: moves the start by an amount drawn uniformly in `[min_s, max_s]`
/// (no draw when they are equal): silence prepended for a positive amount, the start cut away
/// for a negative one.
pub(super) fn onset(
    samples: &[f32],
    sample_rate: u32,
    min_s: f32,
    max_s: f32,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DspError> {
    if !(min_s.is_finite() && max_s.is_finite() && min_s <= max_s) {
        return Err(super::invalid(
            "onset",
            format!("needs finite min ≤ max, got {min_s}..{max_s}"),
        ));
    }
    let by = if max_s > min_s {
        rng.random_range(min_s..=max_s)
    } else {
        min_s
    };
    if by >= 0.0 {
        let mut out = vec![0.0; seconds_to_samples(by, sample_rate)];
        out.extend_from_slice(samples);
        Ok(out)
    } else {
        let cut = seconds_to_samples(-by, sample_rate).min(samples.len());
        Ok(samples[cut..].to_vec())
    }
}

/// [`crate::Shift::Truncate`]: keeps the first `seconds` of the clip (all of a shorter one).
pub(super) fn truncate(
    samples: &[f32],
    sample_rate: u32,
    seconds: f32,
) -> Result<Vec<f32>, DspError> {
    if !(seconds.is_finite() && seconds >= 0.0) {
        return Err(super::invalid(
            "truncate",
            format!("must be finite and >= 0, got {seconds}"),
        ));
    }
    let keep = seconds_to_samples(seconds, sample_rate).min(samples.len());
    Ok(samples[..keep].to_vec())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::augment::test_signals::{SR, band_power, speechy};

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(11)
    }

    #[test]
    fn onset_moves_the_start() {
        let x: Vec<f32> = (0..48_000).map(|i| i as f32).collect();
        let late = onset(&x, SR, 0.5, 0.5, &mut rng()).unwrap();
        assert_eq!(late.len(), 72_000);
        assert!(late[..24_000].iter().all(|&v| v == 0.0));
        assert_eq!(late[24_000], 0.0);
        assert_eq!(late[24_001], 1.0);
        let early = onset(&x, SR, -0.25, -0.25, &mut rng()).unwrap();
        assert_eq!(early[0], 12_000.0);
        let mut r = rng();
        let lengths: Vec<usize> = (0..20)
            .map(|_| onset(&x, SR, -0.5, 1.0, &mut r).unwrap().len())
            .collect();
        assert!(lengths.iter().all(|&n| (24_000..=96_000).contains(&n)));
        assert!(lengths.iter().any(|&n| n < 48_000) && lengths.iter().any(|&n| n > 48_000));
        assert!(onset(&x, SR, 1.0, 0.0, &mut rng()).is_err());
    }

    #[test]
    fn truncate_cuts() {
        let x: Vec<f32> = (0..48_000).map(|i| i as f32).collect();
        assert_eq!(truncate(&x, SR, 0.5).unwrap().len(), 24_000);
        assert_eq!(truncate(&x, SR, 5.0).unwrap().len(), 48_000);
        assert!(truncate(&x, SR, f32::INFINITY).is_err());
    }

    #[test]
    fn speed_changes_length_and_pitch() {
        let x = speechy(SR as usize);
        let fast = speed(&x, SR, 1.1).unwrap();
        assert!((fast.len() as f64 - 48_000.0 / 1.1).abs() < 2.0);
        // The 220 Hz tone moves to 242 Hz.
        assert!(band_power(&fast, 235.0, 250.0) > 10.0 * band_power(&fast, 210.0, 230.0));
        assert!(speed(&x, SR, 3.0).is_err());
    }
}
