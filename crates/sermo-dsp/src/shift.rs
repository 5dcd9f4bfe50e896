//! Channel shifts: what a microphone, a room, a phone line or a recording's timing does to a
//! clip, reproducibly from a seed.
//!
//! The robustness report (`sermo robustness`) scores a model on clean held-out clips and on each
//! shift; training can draw the same shifts as augmentation. Every shift works on the decoded
//! clip at its own rate, before the analysis window is cut, as a recording would reach the
//! feature pipeline.
//!
//! Choices, each a convention the report states:
//! - levels are measured over the whole clip (as the paper's AWGN does), silences included;
//! - a gain that drives samples past full scale clips them at ±1, as an ADC would;
//! - reverberation keeps the clip's RMS, so it changes the room and not the level;
//! - speech-shaped noise follows a smooth fit of the long-term average speech spectrum
//!   (Byrne et al., 1994): flat to 500 Hz, falling ~9 dB per octave above it, rolled off below
//!   100 Hz.

use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};
use realfft::RealFftPlanner;
use realfft::num_complex::Complex;
use serde::{Deserialize, Serialize};

use crate::config::seconds_to_samples;
use crate::error::DspError;
use crate::resample::resample;

/// The spectrum of additive noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoiseKind {
    /// Flat spectrum (the paper's augmentation).
    White,
    /// Shaped like the long-term average spectrum of speech (babble-like, without words).
    Speech,
}

/// One channel shift.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shift {
    /// Scale by `db` decibels, clipping at full scale.
    Gain {
        /// Gain in dB (negative: quieter).
        db: f32,
    },
    /// Pass through a channel sampled at `rate_hz` (down and back up with [`resample`]):
    /// 16000 for wide-band VoIP, 8000 for the telephone band.
    BandLimit {
        /// The channel's sample rate, Hz.
        rate_hz: u32,
    },
    /// Add noise at `snr_db` (clip power over noise power).
    Noise {
        /// White or speech-shaped.
        noise: NoiseKind,
        /// Signal-to-noise ratio, dB.
        snr_db: f32,
    },
    /// Convolve with a seeded exponential-decay room response of reverberation time `rt60_s`
    /// (direct path plus a Gaussian tail of equal energy: 0 dB direct-to-reverberant ratio).
    Reverb {
        /// Time for the tail to decay by 60 dB, seconds.
        rt60_s: f32,
    },
    /// Move the clip's start by a random amount drawn uniformly in `[min_s, max_s]`: a positive
    /// amount prepends silence (speech starts later than the window expects), a negative one cuts
    /// the start away (speech starts earlier).
    Onset {
        /// Lowest shift, seconds.
        min_s: f32,
        /// Highest shift, seconds.
        max_s: f32,
    },
    /// Keep only the first `seconds` of the clip (a short recording).
    Truncate {
        /// Length kept, seconds.
        seconds: f32,
    },
    /// Play the clip `factor` times faster (pitch and tempo together, as a tape would):
    /// resampled from `factor · rate` to `rate`.
    Speed {
        /// Speed factor, e.g. 0.9 or 1.1.
        factor: f32,
    },
}

impl Shift {
    /// The shifts of the robustness report, in its order: gain −20 … +10 dB, 16 and 8 kHz
    /// channels, white and speech-shaped noise at 20/10/5 dB, RT60 0.2/0.5/0.8 s, a random onset
    /// in −0.5 … +1.0 s, and clips cut to 2.0 and 1.5 s.
    pub fn report_set() -> Vec<Shift> {
        let mut all = vec![
            Shift::Gain { db: -20.0 },
            Shift::Gain { db: -10.0 },
            Shift::Gain { db: 6.0 },
            Shift::Gain { db: 10.0 },
            Shift::BandLimit { rate_hz: 16_000 },
            Shift::BandLimit { rate_hz: 8_000 },
        ];
        for noise in [NoiseKind::White, NoiseKind::Speech] {
            for snr_db in [20.0, 10.0, 5.0] {
                all.push(Shift::Noise { noise, snr_db });
            }
        }
        for rt60_s in [0.2, 0.5, 0.8] {
            all.push(Shift::Reverb { rt60_s });
        }
        all.push(Shift::Onset {
            min_s: -0.5,
            max_s: 1.0,
        });
        all.push(Shift::Truncate { seconds: 2.0 });
        all.push(Shift::Truncate { seconds: 1.5 });
        all
    }

    /// A short stable name, e.g. `gain-20dB`, `band-8kHz`, `speech-noise-10dB`, `reverb-0.5s`,
    /// `onset-0.5..1s`, `short-1.5s`; the report's keys and the CLI's `--shifts` values.
    pub fn name(&self) -> String {
        match *self {
            Shift::Gain { db } => format!("gain{db:+}dB"),
            Shift::BandLimit { rate_hz } => format!("band-{}kHz", rate_hz as f32 / 1000.0),
            Shift::Noise { noise, snr_db } => {
                let kind = match noise {
                    NoiseKind::White => "white",
                    NoiseKind::Speech => "speech",
                };
                format!("{kind}-noise-{snr_db}dB")
            }
            Shift::Reverb { rt60_s } => format!("reverb-{rt60_s}s"),
            Shift::Onset { min_s, max_s } => format!("onset{min_s:+}..{max_s:+}s"),
            Shift::Truncate { seconds } => format!("short-{seconds}s"),
            Shift::Speed { factor } => format!("speed-x{factor}"),
        }
    }

    /// Applies the shift to a mono clip at `sample_rate`, drawing what is random from `rng`.
    ///
    /// # Errors
    /// [`DspError::Config`] for a parameter out of range (a non-finite gain, a zero channel
    /// rate, a negative RT60…), [`DspError::Resample`] from the band-limit's resampler.
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate: u32,
        rng: &mut impl Rng,
    ) -> Result<Vec<f32>, DspError> {
        let bad = |field: &'static str, reason: String| Err(DspError::Config { field, reason });
        let seconds = |s: f32| seconds_to_samples(s, sample_rate);
        match *self {
            Shift::Gain { db } => {
                if !db.is_finite() {
                    return bad("gain", format!("{db} dB is not finite"));
                }
                let k = 10f32.powf(db / 20.0);
                Ok(samples.iter().map(|&s| (s * k).clamp(-1.0, 1.0)).collect())
            }
            Shift::BandLimit { rate_hz } => {
                if rate_hz == 0 {
                    return bad("band_limit", "the channel rate must be > 0".into());
                }
                let narrow = resample(samples, sample_rate, rate_hz)?;
                let mut back = resample(&narrow, rate_hz, sample_rate)?;
                back.resize(samples.len(), 0.0);
                Ok(back)
            }
            Shift::Noise { noise, snr_db } => {
                if !snr_db.is_finite() {
                    return bad("snr_db", format!("{snr_db} dB is not finite"));
                }
                let n = match noise {
                    NoiseKind::White => gaussian(samples.len(), rng),
                    NoiseKind::Speech => speech_shaped(samples.len(), sample_rate, rng),
                };
                Ok(add_at_snr(samples, &n, snr_db))
            }
            Shift::Reverb { rt60_s } => {
                if !(rt60_s.is_finite() && rt60_s > 0.0 && rt60_s <= 10.0) {
                    return bad("rt60_s", format!("must be in (0, 10] s, got {rt60_s}"));
                }
                let ir = room_response(rt60_s, sample_rate, rng);
                let mut wet = convolve(samples, &ir);
                wet.truncate(samples.len());
                let (dry, out) = (rms(samples), rms(&wet));
                let k = if out > 0.0 { dry / out } else { 0.0 };
                Ok(wet.iter().map(|&s| (f64::from(s) * k) as f32).collect())
            }
            Shift::Onset { min_s, max_s } => {
                if !(min_s.is_finite() && max_s.is_finite() && min_s <= max_s) {
                    return bad(
                        "onset",
                        format!("needs finite min ≤ max, got {min_s}..{max_s}"),
                    );
                }
                let by = if max_s > min_s {
                    rng.random_range(min_s..=max_s)
                } else {
                    min_s
                };
                if by >= 0.0 {
                    let mut out = vec![0.0; seconds(by)];
                    out.extend_from_slice(samples);
                    Ok(out)
                } else {
                    Ok(samples[seconds(-by).min(samples.len())..].to_vec())
                }
            }
            Shift::Truncate { seconds: s } => {
                if !(s.is_finite() && s >= 0.0) {
                    return bad("truncate", format!("must be finite and >= 0, got {s}"));
                }
                Ok(samples[..seconds(s).min(samples.len())].to_vec())
            }
            Shift::Speed { factor } => {
                if !(factor.is_finite() && (0.5..=2.0).contains(&factor)) {
                    return bad("speed", format!("factor must be in 0.5–2, got {factor}"));
                }
                let from = (f64::from(sample_rate) * f64::from(factor)).round() as u32;
                resample(samples, from, sample_rate)
            }
        }
    }
}

/// Augmentation drawn afresh for every copy of every training clip in every epoch: each shift
/// is applied with its probability, its strength drawn uniformly from its range, in the order
/// a recording meets them (speaker tempo, room, noise, channel, level, timing), and then
/// SpecAugment-style masks on the feature map ([`mask_map`]).
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

impl AugmentPolicy {
    /// Draws the shifts of one augmented copy, in the order they are to be applied.
    pub fn draw(&self, rng: &mut impl Rng) -> Vec<Shift> {
        fn chance(rng: &mut impl Rng, p: f32) -> bool {
            rng.random::<f32>() < p
        }
        fn uniform(rng: &mut impl Rng, [lo, hi]: [f32; 2]) -> f32 {
            lo + (hi - lo) * rng.random::<f32>()
        }
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

    /// Draws and applies one augmented copy of `samples`.
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

/// SpecAugment-style masking of a row-major `[n_rows, n_frames]` feature map: `time.0` bands of
/// up to `time.1` frames and `rows.0` bands of up to `rows.1` rows, each set to its row's mean
/// (so a masked band carries no information and no level change; 0 after the model's scaling
/// only approximately, which is the point: it must not be a value the model can key on).
pub fn mask_map(
    map: &mut [f32],
    n_rows: usize,
    time: (usize, usize),
    rows: (usize, usize),
    rng: &mut impl Rng,
) {
    if n_rows == 0 || map.is_empty() {
        return;
    }
    let n_frames = map.len() / n_rows;
    let means: Vec<f32> = map
        .chunks(n_frames)
        .map(|r| r.iter().sum::<f32>() / n_frames.max(1) as f32)
        .collect();
    for _ in 0..time.0 {
        let width = rng.random_range(0..=time.1.min(n_frames));
        let start = rng.random_range(0..=n_frames - width);
        for (row, &m) in map.chunks_mut(n_frames).zip(&means) {
            row[start..start + width].fill(m);
        }
    }
    for _ in 0..rows.0 {
        let height = rng.random_range(0..=rows.1.min(n_rows));
        let start = rng.random_range(0..=n_rows - height);
        for r in start..start + height {
            map[r * n_frames..(r + 1) * n_frames].fill(means[r]);
        }
    }
}

fn rms(x: &[f32]) -> f64 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt()
}

fn gaussian(n: usize, rng: &mut impl Rng) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let v: f64 = StandardNormal.sample(&mut *rng);
            v as f32
        })
        .collect()
}

/// `signal + k·noise`, with `k` chosen so that the measured powers give `snr_db`; a silent
/// signal gets no noise (its power is 0), as in [`crate::add_awgn`].
pub fn add_at_snr(signal: &[f32], noise: &[f32], snr_db: f32) -> Vec<f32> {
    let (s, n) = (rms(signal), rms(noise));
    let k = if n > 0.0 {
        s / n * 10f64.powf(-f64::from(snr_db) / 20.0)
    } else {
        0.0
    };
    signal
        .iter()
        .zip(noise.iter().chain(std::iter::repeat(&0.0)))
        .map(|(&x, &v)| (f64::from(x) + k * f64::from(v)) as f32)
        .collect()
}

/// Power response of the speech-spectrum fit at `f` Hz: flat to 500 Hz, −9 dB/octave above,
/// −12 dB/octave below 100 Hz.
fn speech_power(f: f64) -> f64 {
    let high = 1.0 / (1.0 + (f / 500.0).powi(3));
    let low = (f / 100.0).powi(4) / (1.0 + (f / 100.0).powi(4));
    high * low
}

/// Gaussian noise of length `n`, filtered in the frequency domain to [`speech_power`].
fn speech_shaped(n: usize, sample_rate: u32, rng: &mut impl Rng) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    let size = n.next_power_of_two().max(2);
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let mut x: Vec<f64> = (0..size)
        .map(|_| StandardNormal.sample(&mut *rng))
        .collect();
    let mut spectrum = forward.make_output_vec();
    // Lengths come from the plans themselves, so the transforms cannot fail.
    let _ = forward.process(&mut x, &mut spectrum);
    let bin_hz = f64::from(sample_rate) / size as f64;
    for (k, c) in spectrum.iter_mut().enumerate() {
        *c *= speech_power(k as f64 * bin_hz).sqrt();
    }
    spectrum[0] = Complex::new(0.0, 0.0);
    if let Some(last) = spectrum.last_mut() {
        last.im = 0.0;
    }
    let _ = inverse.process(&mut spectrum, &mut x);
    x.truncate(n);
    x.iter().map(|&v| v as f32).collect()
}

/// A room's impulse response: 1 at time 0 (the direct path), then Gaussian noise under an
/// exponential envelope that falls 60 dB in `rt60_s`, lasting `rt60_s`, scaled to the direct
/// path's energy.
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
pub fn convolve(x: &[f32], h: &[f32]) -> Vec<f32> {
    if x.is_empty() || h.is_empty() {
        return Vec::new();
    }
    let out_len = x.len() + h.len() - 1;
    let size = out_len.next_power_of_two().max(2);
    let mut planner = RealFftPlanner::<f64>::new();
    let forward = planner.plan_fft_forward(size);
    let inverse = planner.plan_fft_inverse(size);
    let spectrum_of = |v: &[f32]| {
        let mut buf = vec![0f64; size];
        buf.iter_mut().zip(v).for_each(|(b, &s)| *b = f64::from(s));
        let mut out = forward.make_output_vec();
        let _ = forward.process(&mut buf, &mut out);
        out
    };
    let (a, b) = (spectrum_of(x), spectrum_of(h));
    let mut product: Vec<Complex<f64>> = a.iter().zip(&b).map(|(p, q)| p * q).collect();
    // The DC and Nyquist bins of a real signal's product are real up to rounding.
    product[0].im = 0.0;
    if let Some(last) = product.last_mut() {
        last.im = 0.0;
    }
    let mut y = vec![0f64; size];
    let _ = inverse.process(&mut product, &mut y);
    let scale = 1.0 / size as f64;
    y[..out_len].iter().map(|&v| (v * scale) as f32).collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    const SR: u32 = 48_000;

    fn speechy(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / SR as f32;
                0.2 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                    + 0.1 * (2.0 * std::f32::consts::PI * 3100.0 * t).sin()
                    + 0.05 * (2.0 * std::f32::consts::PI * 9000.0 * t).sin()
            })
            .collect()
    }

    /// Power of `x` in the band `[lo, hi)` Hz, by FFT.
    fn band_power(x: &[f32], lo: f64, hi: f64) -> f64 {
        let size = x.len().next_power_of_two();
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(size);
        let mut buf = vec![0f64; size];
        buf.iter_mut().zip(x).for_each(|(b, &s)| *b = f64::from(s));
        let mut out = fft.make_output_vec();
        fft.process(&mut buf, &mut out).unwrap();
        let bin = f64::from(SR) / size as f64;
        out.iter()
            .enumerate()
            .filter(|(k, _)| (lo..hi).contains(&(*k as f64 * bin)))
            .map(|(_, c)| c.norm_sqr())
            .sum()
    }

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(11)
    }

    #[test]
    fn gain_scales_and_clips() {
        let x = vec![0.05f32, -0.5, 0.2];
        let y = Shift::Gain { db: -20.0 }.apply(&x, SR, &mut rng()).unwrap();
        for (a, b) in x.iter().zip(&y) {
            assert!((a * 0.1 - b).abs() < 1e-7);
        }
        let y = Shift::Gain { db: 10.0 }.apply(&x, SR, &mut rng()).unwrap();
        assert!((y[0] - 0.05 * 10f32.sqrt()).abs() < 1e-6);
        assert_eq!(y[1], -1.0);
        assert!((y[2] - 0.2 * 10f32.sqrt()).abs() < 1e-6);
        assert!(
            Shift::Gain { db: f32::NAN }
                .apply(&x, SR, &mut rng())
                .is_err()
        );
    }

    #[test]
    fn band_limit_removes_what_the_channel_cannot_carry() {
        let x = speechy(SR as usize);
        for (rate, cut) in [(16_000u32, 8000.0), (8_000, 4000.0)] {
            let y = Shift::BandLimit { rate_hz: rate }
                .apply(&x, SR, &mut rng())
                .unwrap();
            assert_eq!(y.len(), x.len());
            // The 9 kHz tone is gone, the 220 Hz and 3.1 kHz tones pass.
            assert!(band_power(&y, cut, 24_000.0) < 1e-3 * band_power(&x, cut, 24_000.0));
            let keep = |v: &[f32]| band_power(v, 100.0, 3500.0);
            assert!((keep(&y) / keep(&x) - 1.0).abs() < 0.05, "{rate}");
        }
    }

    #[test]
    fn noise_lands_at_the_snr_asked_for() {
        let x = speechy(SR as usize);
        for noise in [NoiseKind::White, NoiseKind::Speech] {
            for snr_db in [20.0f32, 10.0, 5.0] {
                let y = Shift::Noise { noise, snr_db }
                    .apply(&x, SR, &mut rng())
                    .unwrap();
                let residual: Vec<f32> = y.iter().zip(&x).map(|(a, b)| a - b).collect();
                let got = 20.0 * (rms(&x) / rms(&residual)).log10();
                assert!((got - f64::from(snr_db)).abs() < 1e-3, "{noise:?} {got}");
            }
        }
        let silent = vec![0.0f32; 100];
        let y = Shift::Noise {
            noise: NoiseKind::White,
            snr_db: 5.0,
        }
        .apply(&silent, SR, &mut rng())
        .unwrap();
        assert_eq!(y, silent);
    }

    #[test]
    fn speech_shaped_noise_falls_with_frequency() {
        let n = speech_shaped(1 << 18, SR, &mut rng());
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

    #[test]
    fn reverb_keeps_level_and_adds_a_decaying_tail() {
        let mut click = vec![0.0f32; SR as usize];
        click[100] = 1.0;
        let ir = room_response(0.5, SR, &mut rng());
        assert_eq!(ir.len(), 24_000);
        let tail: f64 = ir[1..].iter().map(|&v| f64::from(v).powi(2)).sum();
        assert!((tail - 1.0).abs() < 1e-6);
        // Energy of the last tenth is ~54 dB below the first tenth (60 dB over the length).
        let e = |a: usize, b: usize| ir[a..b].iter().map(|&v| f64::from(v).powi(2)).sum::<f64>();
        let drop_db = 10.0 * (e(1, 2400) / e(21_600, 24_000)).log10();
        assert!((48.0..60.0).contains(&drop_db), "{drop_db}");

        let x = speechy(SR as usize);
        let y = Shift::Reverb { rt60_s: 0.5 }
            .apply(&x, SR, &mut rng())
            .unwrap();
        assert_eq!(y.len(), x.len());
        assert!((rms(&y) / rms(&x) - 1.0).abs() < 1e-4);
        // The click's response rings on after it.
        let wet = Shift::Reverb { rt60_s: 0.5 }
            .apply(&click, SR, &mut rng())
            .unwrap();
        assert!(rms(&wet[4900..9900]) > 0.0);
    }

    #[test]
    fn convolution_matches_the_direct_sum() {
        let x = [1.0f32, 2.0, -1.0, 0.5];
        let h = [0.5f32, -0.25, 1.0];
        let y = convolve(&x, &h);
        let mut direct = vec![0.0f32; 6];
        for (i, a) in x.iter().enumerate() {
            for (j, b) in h.iter().enumerate() {
                direct[i + j] += a * b;
            }
        }
        for (a, b) in y.iter().zip(&direct) {
            assert!((a - b).abs() < 1e-6, "{y:?} vs {direct:?}");
        }
        assert!(convolve(&[], &h).is_empty());
    }

    #[test]
    fn onset_and_truncate_move_and_cut() {
        let x: Vec<f32> = (0..48_000).map(|i| i as f32).collect();
        let late = Shift::Onset {
            min_s: 0.5,
            max_s: 0.5,
        }
        .apply(&x, SR, &mut rng())
        .unwrap();
        assert_eq!(late.len(), 72_000);
        assert!(late[..24_000].iter().all(|&v| v == 0.0));
        assert_eq!(late[24_000], 0.0);
        assert_eq!(late[24_001], 1.0);
        let early = Shift::Onset {
            min_s: -0.25,
            max_s: -0.25,
        }
        .apply(&x, SR, &mut rng())
        .unwrap();
        assert_eq!(early[0], 12_000.0);
        let random = Shift::Onset {
            min_s: -0.5,
            max_s: 1.0,
        };
        let mut r = rng();
        let lengths: Vec<usize> = (0..20)
            .map(|_| random.apply(&x, SR, &mut r).unwrap().len())
            .collect();
        assert!(lengths.iter().all(|&n| (24_000..=96_000).contains(&n)));
        assert!(lengths.iter().any(|&n| n < 48_000) && lengths.iter().any(|&n| n > 48_000));
        let short = Shift::Truncate { seconds: 0.5 }
            .apply(&x, SR, &mut rng())
            .unwrap();
        assert_eq!(short.len(), 24_000);
        assert_eq!(
            Shift::Truncate { seconds: 5.0 }
                .apply(&x, SR, &mut rng())
                .unwrap()
                .len(),
            48_000
        );
    }

    #[test]
    fn speed_changes_length_and_pitch() {
        let x = speechy(SR as usize);
        let fast = Shift::Speed { factor: 1.1 }
            .apply(&x, SR, &mut rng())
            .unwrap();
        assert!((fast.len() as f64 - 48_000.0 / 1.1).abs() < 2.0);
        // The 220 Hz tone moves to 242 Hz.
        assert!(band_power(&fast, 235.0, 250.0) > 10.0 * band_power(&fast, 210.0, 230.0));
        assert!(
            Shift::Speed { factor: 3.0 }
                .apply(&x, SR, &mut rng())
                .is_err()
        );
    }

    #[test]
    fn policy_draws_vary_and_stay_in_range() {
        let policy = AugmentPolicy::default();
        let mut r = rng();
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
        let a = policy
            .apply(&x, SR, &mut ChaCha8Rng::seed_from_u64(5))
            .unwrap();
        let b = policy
            .apply(&x, SR, &mut ChaCha8Rng::seed_from_u64(5))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn masks_fill_bands_with_row_means() {
        let (rows, frames) = (8usize, 50usize);
        let map: Vec<f32> = (0..rows * frames)
            .map(|i| (i % 7) as f32 + (i / frames) as f32)
            .collect();
        let mut masked = map.clone();
        mask_map(&mut masked, rows, (2, 10), (1, 3), &mut rng());
        let changed = masked.iter().zip(&map).filter(|(a, b)| a != b).count();
        assert!(changed > 0 && changed < map.len() / 2, "{changed}");
        for (r, (row, orig)) in masked.chunks(frames).zip(map.chunks(frames)).enumerate() {
            let mean = orig.iter().sum::<f32>() / frames as f32;
            for (a, b) in row.iter().zip(orig) {
                assert!(a == b || (a - mean).abs() < 1e-5, "row {r}");
            }
        }
    }

    #[test]
    fn names_are_distinct() {
        let names: Vec<String> = Shift::report_set().iter().map(Shift::name).collect();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(names.contains(&"gain-20dB".to_string()), "{names:?}");
        assert!(names.contains(&"band-8kHz".to_string()), "{names:?}");
        assert!(
            names.contains(&"speech-noise-10dB".to_string()),
            "{names:?}"
        );
    }
}
