//! The one feature extractor: audio in, the raw MFCC map of its analysis window out.
//!
//! Every site that turns audio into features — the classifier (CLI and browser), the feature
//! cache, fresh augmentation, `sermo features`, the robustness report — goes through
//! [`FeatureExtractor`], so a clip gives the same map wherever it is computed. It plans once
//! (FFT, window, filterbank, DCT) and is then reused for any number of clips.

use crate::{Audio, DspError, FeatureConfig, Mfcc, resample, take_window, window_start};

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
        if audio.sample_rate == cfg.sample_rate {
            return Ok(take_window(&audio.samples, cfg));
        }
        if audio.sample_rate == 0 {
            return Err(DspError::Resample {
                from_hz: 0,
                to_hz: cfg.sample_rate,
                reason: "sample rates must be > 0".into(),
            });
        }
        let native = FeatureConfig {
            sample_rate: audio.sample_rate,
            ..cfg.clone()
        };
        let start = window_start(&audio.samples, audio.sample_rate, cfg);
        let end = start
            .saturating_add(native.n_samples())
            .min(audio.samples.len());
        let mut x = resample(
            &audio.samples[start..end],
            audio.sample_rate,
            cfg.sample_rate,
        )?;
        x.resize(cfg.n_samples(), 0.0);
        Ok(x)
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
}
