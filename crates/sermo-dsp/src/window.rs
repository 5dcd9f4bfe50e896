//! The analysis window: skip 0.5 s (or start just before the detected speech), keep 3 s,
//! zero-pad.

use crate::config::{Align, FeatureConfig, seconds_to_samples};

/// Lead-in kept before a detected speech onset under [`Align::Speech`], seconds: the first
/// syllable's rise stays whole, and about as much precedes it as RAVDESS's fixed 0.5 s skip
/// leaves before its speakers' first word.
pub const PRE_ROLL_S: f32 = 0.25;

/// Energy frames of the voice-activity detector: 20 ms long, every 10 ms.
const FRAME_S: f32 = 0.02;
const HOP_S: f32 = 0.01;
/// Frames in a row that must pass the threshold: one click or breath does not start speech.
const RUN: usize = 3;

/// The first sample of speech in `samples` (at `sample_rate`), found from frame energies, or
/// `None` when there is no clear speech (a dynamic range under 10 dB, or nothing above
/// −60 dBFS).
///
/// A frame is loud when its energy is within 30 dB of the loudest frame *and* above the halfway
/// point (in dB) between the quiet floor (the 10th percentile frame) and the loudest frame; the
/// onset is the start of the first run of three loud frames. The halfway rule keeps the
/// detector above a noise floor; the 30 dB rule keeps quiet speech after a silent lead-in.
pub fn speech_onset(samples: &[f32], sample_rate: u32) -> Option<usize> {
    let frame = seconds_to_samples(FRAME_S, sample_rate).max(1);
    let hop = seconds_to_samples(HOP_S, sample_rate).max(1);
    if samples.len() < frame {
        return None;
    }
    let db: Vec<f32> = (0..=(samples.len() - frame) / hop)
        .map(|i| {
            let f = &samples[i * hop..i * hop + frame];
            let power = f.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / frame as f64;
            (10.0 * (power + 1e-12).log10()) as f32
        })
        .collect();
    let peak = db.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sorted = db.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    if peak < -60.0 || peak - floor < 10.0 {
        return None;
    }
    let threshold = (floor + 0.5 * (peak - floor)).max(peak - 30.0);
    let mut run = 0;
    for (i, &d) in db.iter().enumerate() {
        run = if d >= threshold { run + 1 } else { 0 };
        if run == RUN {
            return Some((i + 1 - RUN) * hop);
        }
    }
    None
}

/// Where the window starts in `samples` (at `sample_rate`, which may differ from
/// `cfg.sample_rate`): `offset_s`, or under [`Align::Speech`] [`PRE_ROLL_S`] before the speech
/// onset (at `offset_s` when none is found). Never past the end.
pub fn window_start(samples: &[f32], sample_rate: u32, cfg: &FeatureConfig) -> usize {
    let fixed = seconds_to_samples(cfg.offset_s, sample_rate);
    let start = match cfg.align {
        Align::Fixed => fixed,
        Align::Speech => speech_onset(samples, sample_rate).map_or(fixed, |onset| {
            onset.saturating_sub(seconds_to_samples(PRE_ROLL_S, sample_rate))
        }),
    };
    start.min(samples.len())
}

/// Cuts the analysis window out of a clip already at `cfg.sample_rate`.
///
/// Starts at [`window_start`], keeps at most `cfg.n_samples()` samples, and zero-pads at the
/// end to exactly `cfg.n_samples()` (144000 by default), as the paper's code does with
/// `librosa.load(offset=0.5, duration=3)` followed by `signal[:len(X)] = X` into zeros.
/// A clip shorter than the offset yields all zeros. With `cfg.window == false` the clip is
/// returned whole and unpadded.
pub fn take_window(samples: &[f32], cfg: &FeatureConfig) -> Vec<f32> {
    if !cfg.window {
        return samples.to_vec();
    }
    let n = cfg.n_samples();
    let start = window_start(samples, cfg.sample_rate, cfg);
    let end = start.saturating_add(n).min(samples.len());
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(&samples[start..end]);
    out.resize(n, 0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let cfg = FeatureConfig::default();
        for len in [0, 100, 24_000, 24_001, 100_000, 168_000, 500_000] {
            let x: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let w = take_window(&x, &cfg);
            assert_eq!(w.len(), 144_000, "len {len}");
            if len > 24_000 {
                assert_eq!(w[0], 24_000.0);
                let kept = (len - 24_000).min(144_000);
                assert_eq!(w[kept - 1], (24_000 + kept - 1) as f32);
                assert!(w[kept..].iter().all(|&v| v == 0.0));
            } else {
                assert!(w.iter().all(|&v| v == 0.0));
            }
        }
        let no = FeatureConfig {
            window: false,
            ..Default::default()
        };
        assert_eq!(take_window(&[1.0, 2.0, 3.0], &no), vec![1.0, 2.0, 3.0]);
    }

    /// A tone burst of `len_s` seconds starting at `at_s`, in a clip of `total_s` seconds, over
    /// noise `noise` (amplitude).
    fn burst(at_s: f32, len_s: f32, total_s: f32, noise: f32) -> Vec<f32> {
        let sr = 48_000.0;
        (0..(total_s * sr) as usize)
            .map(|i| {
                let t = i as f32 / sr;
                let n = noise * ((i as f32 * 12.9898).sin() * 43_758.547).fract();
                let s = if t >= at_s && t < at_s + len_s {
                    0.3 * (t * 2.0 * std::f32::consts::PI * 180.0).sin()
                } else {
                    0.0
                };
                s + n
            })
            .collect()
    }

    #[test]
    fn onset_found_in_silence_and_in_noise() {
        for (noise, what) in [
            (0.0, "silence"),
            (1e-4, "quiet room"),
            (0.05, "10 dB noise"),
        ] {
            for at in [0.3f32, 0.8, 1.7] {
                let x = burst(at, 1.0, 4.0, noise);
                let onset = speech_onset(&x, 48_000).unwrap_or_else(|| panic!("{what} {at}"));
                let got = onset as f32 / 48_000.0;
                assert!(
                    (got - at).abs() < 0.03,
                    "{what}: onset at {at} s found at {got} s"
                );
            }
        }
        assert_eq!(speech_onset(&[0.0; 48_000], 48_000), None);
        assert_eq!(speech_onset(&burst(0.0, 0.0, 1.0, 0.05), 48_000), None);
        assert_eq!(speech_onset(&[0.1; 10], 48_000), None);
    }

    #[test]
    fn speech_alignment_starts_before_the_onset() {
        let cfg = FeatureConfig {
            align: Align::Speech,
            ..Default::default()
        };
        let x = burst(1.2, 1.0, 4.0, 0.0);
        let start = window_start(&x, 48_000, &cfg);
        let expected = ((1.2 - PRE_ROLL_S) * 48_000.0) as usize;
        assert!(start.abs_diff(expected) < 1500, "{start} vs {expected}");
        let w = take_window(&x, &cfg);
        assert_eq!(w.len(), 144_000);
        // Speech now begins PRE_ROLL_S into the window, as the window starts 0.25 s before.
        let first = w.iter().position(|v| v.abs() > 1e-3).unwrap_or(0);
        assert!((first as f32 / 48_000.0 - PRE_ROLL_S).abs() < 0.03);
        // No speech: the fixed offset.
        assert_eq!(window_start(&[0.0; 96_000], 48_000, &cfg), 24_000);
        // Onset near the start: the window starts at 0.
        assert_eq!(window_start(&burst(0.1, 1.0, 2.0, 0.0), 48_000, &cfg), 0);
    }
}
