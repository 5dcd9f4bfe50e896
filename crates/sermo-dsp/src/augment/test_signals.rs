//! Signals and measurements shared by the module's unit tests.

use super::fft;
use super::noise::mean_square;

/// The rate the tests run at, Hz.
pub const SR: u32 = 48_000;

/// Tones at 220 Hz, 3.1 kHz and 9 kHz (the last above the telephone band and 16 kHz VoIP's).
pub fn speechy(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f32 / SR as f32;
            0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                + 0.1 * (2.0 * std::f32::consts::PI * 3100.0 * t).sin()
                + 0.05 * (2.0 * std::f32::consts::PI * 9000.0 * t).sin()
        })
        .collect()
}

/// Two slow sinusoids (the AWGN tests' signal).
pub fn tone(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.3 * (i as f32 * 0.05).sin() + 0.1 * (i as f32 * 0.0123).cos())
        .collect()
}

/// Measured SNR of `noisy` over `clean`, dB.
pub fn snr_db(clean: &[f32], noisy: &[f32]) -> f64 {
    let residual: Vec<f64> = clean
        .iter()
        .zip(noisy)
        .map(|(&c, &y)| f64::from(y) - f64::from(c))
        .collect();
    10.0 * (mean_square(clean) / mean_square(&residual)).log10()
}

/// Power of `x` in the band `[lo, hi)` Hz at [`SR`], by FFT.
pub fn band_power(x: &[f32], lo: f64, hi: f64) -> f64 {
    let size = x.len().next_power_of_two();
    let mut buf = vec![0f64; size];
    buf.iter_mut().zip(x).for_each(|(b, &s)| *b = f64::from(s));
    let spectrum = fft::with_plans(|plans| plans.forward(&mut buf));
    let bin = f64::from(SR) / size as f64;
    spectrum
        .iter()
        .enumerate()
        .filter(|(k, _)| (lo..hi).contains(&(*k as f64 * bin)))
        .map(|(_, c)| c.norm_sqr())
        .sum()
}
