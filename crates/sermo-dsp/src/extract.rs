//! The one feature extractor: audio in, the raw MFCC map of its analysis window out.
//!
//! Every site that turns audio into features — the classifier (CLI and browser), the feature
//! cache, fresh augmentation, `sermo features`, the robustness report — goes through
//! [`FeatureExtractor`], so a clip gives the same map wherever it is computed. It plans once
//! (FFT, window, filterbank, DCT) and is then reused for any number of clips.

use crate::config::seconds_to_samples;
use crate::{Audio, DspError, FeatureConfig, Mfcc, resample, window_start};

/// Windows whose loudest 20 ms frame is quieter than this (dB relative to full scale) hold no
/// voice: a label for silence or room hum would be noise, so front ends give none.
pub const VOICE_FLOOR_DBFS: f32 = -50.0;

/// Whether `samples` (at `sample_rate`) have a 20 ms frame louder than [`VOICE_FLOOR_DBFS`].
pub fn is_voiced(samples: &[f32], sample_rate: u32) -> bool {
    let frame = (sample_rate as usize / 50).max(1);
    let floor = 10f32.powf(VOICE_FLOOR_DBFS / 20.0);
    samples.chunks(frame).any(|c| {
        let power = c.iter().map(|x| x * x).sum::<f32>() / c.len() as f32;
        power.sqrt() > floor
    })
}

/// The features of one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct Features {
    /// The raw (unscaled) MFCC map, row-major `[n_mfcc, n_frames]`: 40 × 282 for the paper.
    pub map: Vec<f32>,
    /// Whether the analysis window holds voice ([`is_voiced`]).
    pub voiced: bool,
}

/// Audio → analysis window → MFCC map, with the plans made once.
///
/// ```
/// use sermo_dsp::{Audio, FeatureConfig, FeatureExtractor};
/// let cfg = FeatureConfig::default();
/// let mut extractor = FeatureExtractor::new(&cfg)?;
/// let tone: Vec<f32> = (0..96_000).map(|i| (i as f32 * 0.05).sin() * 0.3).collect();
/// let features = extractor.extract(&Audio::new(tone, 48_000))?;
/// assert_eq!(features.map.len(), extractor.map_len());
/// assert!(features.voiced);
/// # Ok::<(), sermo_dsp::DspError>(())
/// ```
#[derive(Debug, Clone)]
pub struct FeatureExtractor {
    mfcc: Mfcc,
}

impl FeatureExtractor {
    /// Plans the extraction for `cfg`.
    ///
    /// # Errors
    /// [`DspError::Config`] for an invalid `cfg`.
    pub fn new(cfg: &FeatureConfig) -> Result<Self, DspError> {
        cfg.validate()?;
        Ok(Self {
            mfcc: Mfcc::new(cfg)?,
        })
    }

    /// The feature parameters.
    pub fn config(&self) -> &FeatureConfig {
        self.mfcc.config()
    }

    /// Values in one map of a windowed clip: `n_mfcc × n_frames` (11280 for the paper).
    pub fn map_len(&self) -> usize {
        let cfg = self.config();
        cfg.n_mfcc * cfg.n_frames()
    }

    /// The samples the MFCC is computed from: `audio` at the analysis rate, cut to the analysis
    /// window (when `cfg.window`). Augmentation that works on the analysed signal (the paper's
    /// AWGN) goes between this and [`FeatureExtractor::map`].
    ///
    /// At the analysis rate this is [`take_window`]. At any other rate the window is cut first,
    /// at the clip's own rate, and only then resampled and zero-padded: that is what the paper's
    /// `librosa.load(sr=48000, offset=0.5, duration=3)` does, so the window's edges line up with
    /// librosa's (resampling the whole clip first would shift where the filter's edge effects
    /// fall). With `cfg.window == false` the whole clip is resampled.
    ///
    /// # Errors
    /// [`DspError::Resample`] for a zero sample rate.
    pub fn window(&self, audio: &Audio) -> Result<Vec<f32>, DspError> {
        let cfg = self.config();
        if !cfg.window {
            return resample(&audio.samples, audio.sample_rate, cfg.sample_rate);
        }
        check_rate(audio.sample_rate, cfg.sample_rate)?;
        let start = window_start(&audio.samples, audio.sample_rate, cfg);
        self.cut(audio, start)
    }

    /// The window of `cfg.duration_s` starting at sample `start` of `audio` (at its own rate),
    /// at the analysis rate: cut first, then resampled and zero-padded, as
    /// [`FeatureExtractor::window`] explains.
    fn cut(&self, audio: &Audio, start: usize) -> Result<Vec<f32>, DspError> {
        let cfg = self.config();
        let native = seconds_to_samples(cfg.duration_s, audio.sample_rate);
        let start = start.min(audio.samples.len());
        let end = start.saturating_add(native).min(audio.samples.len());
        let mut x = if audio.sample_rate == cfg.sample_rate {
            audio.samples[start..end].to_vec()
        } else {
            resample(
                &audio.samples[start..end],
                audio.sample_rate,
                cfg.sample_rate,
            )?
        };
        x.resize(cfg.n_samples(), 0.0);
        Ok(x)
    }

    /// The features of the window of `audio` that starts `start_s` seconds in: one window of
    /// a timeline ([`timeline_spans`] says where they lie). Cut, resampled and padded as
    /// [`FeatureExtractor::window`] does, but starting where the caller says instead of at the
    /// clip's onset.
    ///
    /// # Errors
    /// [`DspError::Timeline`] when the features are not computed over fixed windows
    /// (`cfg.window == false`); [`DspError::Resample`] for a zero sample rate.
    pub fn extract_at(&mut self, audio: &Audio, start_s: f64) -> Result<Features, DspError> {
        let cfg = self.config();
        if !cfg.window {
            return Err(DspError::Timeline(
                "it needs fixed-length windows (the features' `window` option)".into(),
            ));
        }
        check_rate(audio.sample_rate, cfg.sample_rate)?;
        let start = (start_s.max(0.0) * f64::from(audio.sample_rate)).round() as usize;
        let window = self.cut(audio, start)?;
        Ok(Features {
            voiced: is_voiced(&window, self.config().sample_rate),
            map: self.map(&window)?,
        })
    }

    /// The raw MFCC map of a window from [`FeatureExtractor::window`] (or of any signal at the
    /// analysis rate), written into `out`, which must hold `n_mfcc × n_frames(window.len())`
    /// values.
    ///
    /// # Errors
    /// [`DspError::BufferSize`] when `out` has the wrong length.
    pub fn map_into(&mut self, window: &[f32], out: &mut [f32]) -> Result<(), DspError> {
        self.mfcc.compute(window, out)
    }

    /// As [`FeatureExtractor::map_into`], into a new `Vec`.
    ///
    /// # Errors
    /// As [`FeatureExtractor::map_into`].
    pub fn map(&mut self, window: &[f32]) -> Result<Vec<f32>, DspError> {
        self.mfcc.compute_vec(window)
    }

    /// The features of a clip: its window's raw map and whether the window holds voice.
    ///
    /// # Errors
    /// As [`FeatureExtractor::window`].
    pub fn extract(&mut self, audio: &Audio) -> Result<Features, DspError> {
        let window = self.window(audio)?;
        Ok(Features {
            voiced: is_voiced(&window, self.config().sample_rate),
            map: self.map(&window)?,
        })
    }
}

/// Where one window of a timeline lies in its recording, in seconds: the windows of
/// [`timeline_spans`], whose features [`FeatureExtractor::extract_at`] computes.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Span {
    /// First second of the window.
    #[serde(rename = "start")]
    pub start_s: f64,
    /// Last second of the window that holds audio: the window's end, or the recording's end
    /// for a recording shorter than one window (the rest of that window is padding).
    #[serde(rename = "end")]
    pub end_s: f64,
}

/// The windows of a timeline over `len` samples at `sample_rate`: one every `hop_s` seconds
/// from 0 while a whole window of `window_s` fits, then one more ending at the recording's end
/// when the last left a tail uncovered, so that every second is in some window. A recording
/// shorter than one window gets one window at 0.
///
/// # Errors
/// [`DspError::Timeline`] when `hop_s` is not a positive number of seconds or is shorter than one
/// sample.
pub fn timeline_spans(
    len: usize,
    sample_rate: u32,
    window_s: f64,
    hop_s: f64,
) -> Result<Vec<Span>, DspError> {
    let rate = f64::from(sample_rate);
    if !(hop_s.is_finite() && hop_s * rate >= 1.0) {
        return Err(DspError::Timeline(format!(
            "the hop must be a positive number of seconds, at least one sample (got {hop_s})"
        )));
    }
    let duration = len as f64 / rate;
    if duration <= window_s {
        return Ok(vec![Span {
            start_s: 0.0,
            end_s: duration,
        }]);
    }
    let span = |start_s: f64| Span {
        start_s,
        end_s: start_s + window_s,
    };
    // Window k starts at k·hop: computed from k, so that no rounding accumulates.
    let mut spans: Vec<Span> = (0..)
        .map(|k| k as f64 * hop_s)
        .take_while(|start| start + window_s <= duration + 1e-9)
        .map(span)
        .collect();
    if spans
        .last()
        .is_some_and(|last| last.end_s < duration - 0.5 / rate)
    {
        spans.push(span(duration - window_s));
    }
    Ok(spans)
}

/// A window is cut at the clip's own rate: that rate must be a rate.
fn check_rate(from_hz: u32, to_hz: u32) -> Result<(), DspError> {
    if from_hz == 0 {
        return Err(DspError::Resample {
            from_hz,
            to_hz,
            reason: "sample rates must be > 0".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn silence_is_unvoiced_and_speech_level_is_voiced() {
        let mut extractor = FeatureExtractor::new(&FeatureConfig::default()).unwrap();
        let silence = extractor.extract(&Audio::new(vec![0.0; 48_000], 48_000));
        assert!(!silence.unwrap().voiced);
        let tone: Vec<f32> = (0..120_000)
            .map(|i| (i as f32 * 0.05).sin() * 0.1)
            .collect();
        let features = extractor.extract(&Audio::new(tone, 48_000)).unwrap();
        assert!(features.voiced);
        assert_eq!(features.map.len(), 40 * 282);
    }

    #[test]
    fn extract_is_window_then_map() {
        let cfg = FeatureConfig::default();
        let mut extractor = FeatureExtractor::new(&cfg).unwrap();
        let noise: Vec<f32> = (0..100_000u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) >> 16) as f32 / 65_536.0) - 0.5)
            .collect();
        let audio = Audio::new(noise, 44_100);
        let window = extractor.window(&audio).unwrap();
        assert_eq!(window.len(), cfg.n_samples());
        let map = extractor.map(&window).unwrap();
        assert_eq!(extractor.extract(&audio).unwrap().map, map);
    }

    #[test]
    fn invalid_configs_and_rates_are_errors() {
        let bad = FeatureConfig {
            n_mfcc: 0,
            ..FeatureConfig::default()
        };
        assert!(FeatureExtractor::new(&bad).is_err());
        let extractor = FeatureExtractor::new(&FeatureConfig::default()).unwrap();
        assert!(extractor.window(&Audio::new(vec![0.1; 10], 0)).is_err());
    }

    #[test]
    fn timeline_windows_cover_the_recording() {
        let starts = |seconds: f64, hop: f64| -> Vec<(f64, f64)> {
            let len = (seconds * 48_000.0).round() as usize;
            timeline_spans(len, 48_000, 3.0, hop)
                .unwrap()
                .iter()
                .map(|s| (s.start_s, s.end_s))
                .collect()
        };
        let exact = starts(10.0, 0.5);
        assert_eq!(exact.len(), 15);
        assert_eq!(exact[14], (7.0, 10.0));
        // A tail the hop leaves uncovered gets a window ending at the end.
        let tail = starts(10.2, 0.5);
        assert_eq!(tail.len(), 16);
        let (start, end) = tail[15];
        assert!((start - 7.2).abs() < 1e-9 && (end - 10.2).abs() < 1e-9);
        // Shorter than one window: one, as long as the recording.
        assert_eq!(starts(2.0, 0.5), vec![(0.0, 2.0)]);
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-9] {
            assert!(
                timeline_spans(48_000, 48_000, 3.0, bad).is_err(),
                "hop {bad}"
            );
        }
    }

    /// A timeline window is the analysis window moved: at the fixed window's own start (0.5 s)
    /// it gives exactly the features `extract` gives, at the analysis rate and at another.
    #[test]
    fn a_timeline_window_at_the_fixed_offset_is_the_analysis_window() {
        let mut extractor = FeatureExtractor::new(&FeatureConfig::default()).unwrap();
        for rate in [48_000u32, 44_100] {
            let noise: Vec<f32> = (0..(rate as usize * 6))
                .map(|i| {
                    (((i as u32).wrapping_mul(2_654_435_761) >> 16) as f32 / 65_536.0 - 0.5) * 0.2
                })
                .collect();
            let audio = Audio::new(noise, rate);
            let spans = timeline_spans(audio.samples.len(), rate, 3.0, 0.5).unwrap();
            assert_eq!(spans.len(), 7, "{rate} Hz: 0, 0.5, …, 3 s");
            assert_eq!(spans[1].start_s, 0.5);
            assert_eq!(
                extractor.extract_at(&audio, spans[1].start_s).unwrap(),
                extractor.extract(&audio).unwrap(),
                "{rate} Hz"
            );
        }
        let whole = FeatureConfig {
            window: false,
            ..FeatureConfig::default()
        };
        let mut unwindowed = FeatureExtractor::new(&whole).unwrap();
        let err = unwindowed
            .extract_at(&Audio::new(vec![0.0; 48_000], 48_000), 0.5)
            .unwrap_err();
        assert!(err.to_string().contains("fixed-length windows"), "{err}");
    }
}
