//! Rooms: seeded impulse responses and FFT convolution with them.
//!
//! Reverberation keeps the clip's RMS, so it changes the room and not the level.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::fft;
use super::noise::rms;
use crate::config::seconds_to_samples;
use crate::error::DspError;

/// A room's impulse response: 1 at time 0 (the direct path), then Gaussian noise under an
/// exponential envelope that falls 60 dB in `rt60_s`, lasting `rt60_s`, scaled to the direct
/// path's energy (0 dB direct-to-reverberant ratio).
pub fn room_response(rt60_s: f32, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    let len = seconds_to_samples(rt60_s, sample_rate).max(2);
    // Amplitude falls by 10^(-3) (60 dB) over rt60 seconds.
    let decay = (1e-3f64).ln() / (f64::from(rt60_s) * f64::from(sample_rate));
    let mut tail: Vec<f64> = (1..len)
        .map(|i| {
            let g: f64 = StandardNormal.sample(&mut *rng);
            g * (decay * i as f64).exp()
        })
        .collect();
    let energy: f64 = tail.iter().map(|v| v * v).sum();
    if energy > 0.0 {
        let k = energy.sqrt().recip();
        tail.iter_mut().for_each(|v| *v *= k);
    }
    std::iter::once(1.0f32)
        .chain(tail.iter().map(|&v| v as f32))
        .collect()
}

/// Full linear convolution `x * h` (length `len(x) + len(h) − 1`) by FFT, in f64.
///
/// The transforms of each size are planned once per thread and reused.
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let out_len = x.len() + h.len() - 1;
    let size = out_len.next_power_of_two().max(2);
    let padded = |v: &[f32]| {
        let mut buf = vec![0f64; size];
        buf.iter_mut().zip(v).for_each(|(b, &s)| *b = f64::from(s));
        buf
    };
    let mut y = vec![0f64; size];
    fft::with_plans(|plans| {
        let a = plans.forward(&mut padded(x));
        let b = plans.forward(&mut padded(h));
        let mut product: Vec<_> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
        plans.inverse(&mut product, &mut y);
    });
    let scale = 1.0 / size as f64;
    y[..out_len].iter().map(|&v| (v * scale) as f32).collect()
}

/// [`crate::Shift::Reverb`]: convolves with a [`room_response`] of `rt60_s`, keeps the clip's
/// length and RMS.
pub(super) fn reverb(
    samples: &[f32],
    sample_rate: u32,
    rt60_s: f32,
    rng: &mut impl Rng,
) -> Result<Vec<f32>, DspError> {
    if !(rt60_s.is_finite() && rt60_s > 0.0 && rt60_s <= 10.0) {
        return Err(super::invalid(
            "rt60_s",
            format!("must be in (0, 10] s, got {rt60_s}"),
        ));
    }
    let ir = room_response(rt60_s, sample_rate, rng);
    let mut wet = convolve(samples, &ir);
    wet.truncate(samples.len());
    let (dry, out) = (rms(samples), rms(&wet));
    let k = if out > 0.0 { dry / out } else { 0.0 };
    Ok(wet.iter().map(|&s| (f64::from(s) * k) as f32).collect())
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::augment::test_signals::{SR, speechy};

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(11)
    }

    #[test]
    fn room_response_has_unit_tail_energy_and_decays_60_db() {
        let ir = room_response(0.5, SR, &mut rng());
        assert_eq!(ir.len(), 24_000);
        let tail: f64 = ir[1..].iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!((tail - 1.0).abs() < 1e-6);
        // Energy of the last tenth is ~54 dB below the first tenth (60 dB over the length).
        let e = |a: usize, b: usize| ir[a..b].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        let drop_db = 10.0 * (e(1, 2400) / e(21_600, 24_000)).log10();
        assert!((48.0..60.0).contains(&drop_db), "{drop_db}");
    }

    #[test]
    fn reverb_keeps_level_and_adds_a_decaying_tail() {
        let x = speechy(SR as usize);
        let y = reverb(&x, SR, 0.5, &mut rng()).unwrap();
        assert_eq!(y.len(), x.len());
        assert!((rms(&y) / rms(&x) - 1.0).abs() < 1e-4);
        // A click's response rings on after it.
        let mut click = vec![0.0f32; SR as usize];
        click[100] = 1.0;
        let wet = reverb(&click, SR, 0.5, &mut rng()).unwrap();
        assert!(rms(&wet[4900..9900]) > 0.0);
        assert!(reverb(&x, SR, -1.0, &mut rng()).is_err());
    }

    #[test]
    fn convolution_matches_the_direct_sum() {
        let x = [1.0f32, 2.0, -1.0, 0.5];
        let h = [0.5f32, -0.25, 1.0];
        let mut direct = vec![0.0f32; 6];
        for (i, a) in x.iter().enumerate() {
            for (j, b) in h.iter().enumerate() {
                direct[i + j] += a * b;
            }
        }
        // Twice: the second call reuses the first's plans and scratch.
        for _ in 0..2 {
            let y = convolve(&x, &h);
            assert_eq!(y.len(), direct.len());
            for (a, b) in y.iter().zip(&direct) {
                assert!((a - b).abs() < 1e-6, "{y:?} vs {direct:?}");
            }
        }
        assert!(convolve(&[], &h).is_empty());
    }
}
