//! [`FeatureConfig`]: every parameter between a decoded clip and its MFCC matrix.

use serde::{Deserialize, Serialize};

use crate::error::DspError;

/// How frames are centred at the edges of the signal (librosa `pad_mode`).
///
/// With `center=True`, librosa pads `n_fft / 2` samples on both sides before framing, so that
/// frame `t` is centred on sample `t * hop_length`. The pad values decide the first and last
/// frames only.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Mirror the signal without repeating the edge sample (`numpy.pad(mode="reflect")`).
    /// librosa 0.8's default, which is what the paper's code ran. Default.
    #[default]
    Reflect,
    /// Pad with zeros (`numpy.pad(mode="constant")`): librosa ≥ 0.10's default.
    /// Differs from `Reflect` by about 8.5e-4 relative on a typical clip.
    Constant,
}

/// Where the analysis window starts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Align {
    /// `offset_s` after the clip's start, whatever it holds: the paper (RAVDESS clips open with
    /// about half a second of silence). Default.
    #[default]
    Fixed,
    /// [`crate::window::PRE_ROLL_S`] before the speech onset that
    /// [`crate::window::speech_onset`] detects (energy-based voice activity); at `offset_s` when
    /// it finds no clear speech. For recordings that do not start like RAVDESS's: a microphone,
    /// a clip cut elsewhere.
    Speech,
}

impl Align {
    fn is_fixed(&self) -> bool {
        *self == Align::Fixed
    }
}

/// The feature pipeline's parameters: the paper's window and `librosa.feature.mfcc` arguments.
///
/// `Default` is the paper: 48 kHz, skip 0.5 s, keep 3 s, 40 MFCC over 282 frames.
/// The struct is `#[serde(default)]`, so a JSON object missing fields (written by an older
/// version, or by hand) loads with the paper's value for each missing field.
///
/// Call [`FeatureConfig::validate`] on configs that come from users; [`crate::Mfcc::new`] and
/// [`crate::FeatureExtractor::new`] do so themselves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureConfig {
    /// Rate, in Hz, every clip is resampled to before windowing and analysis.
    /// Default: 48000 (librosa `sr`; RAVDESS is recorded at 48 kHz).
    pub sample_rate: u32,
    /// Seconds skipped at the start of the clip (RAVDESS clips open with silence).
    /// Default: 0.5 (librosa.load `offset`). Only used when `window` is true.
    pub offset_s: f32,
    /// Seconds kept after `offset_s`; shorter clips are zero-padded at the end to exactly this
    /// length. Default: 3.0 (librosa.load `duration`). Only used when `window` is true.
    pub duration_s: f32,
    /// Apply the paper's fixed window (`offset_s`, `duration_s`, zero-pad). When false the whole
    /// clip is analysed as it is, and the number of frames follows its length. Default: true.
    pub window: bool,
    /// Number of cepstral coefficients kept (rows of the output). Default: 40 (librosa `n_mfcc`).
    pub n_mfcc: usize,
    /// FFT length in samples; the spectrum has `n_fft / 2 + 1` bins.
    /// Default: 1024 (librosa `n_fft`).
    pub n_fft: usize,
    /// Length in samples of the periodic Hamming window, zero-padded (centred) to `n_fft`.
    /// Default: 512 (librosa `win_length`).
    pub win_length: usize,
    /// Samples between frame centres. Default: 512 (librosa `hop_length`).
    pub hop_length: usize,
    /// Number of Slaney mel bands the power spectrum is summed into.
    /// Default: 128 (librosa `n_mels`).
    pub n_mels: usize,
    /// Lowest mel band edge, in Hz. Default: 0.0 (librosa `fmin`).
    pub fmin: f32,
    /// Highest mel band edge, in Hz; `None` means `sample_rate / 2`.
    /// Default: None, i.e. 24000 Hz at 48 kHz (librosa `fmax`).
    pub fmax: Option<f32>,
    /// How frames are centred at the signal's edges. Default: reflect (librosa `pad_mode`).
    pub pad_mode: PadMode,
    /// Dynamic range, in dB, kept below the loudest mel bin of the whole clip; `None` keeps all.
    /// Default: Some(80.0) (librosa `power_to_db(top_db=)`).
    pub top_db: Option<f32>,
    /// Floor applied to mel power before the logarithm, so silence maps to a finite
    /// `10·log10(amin)` dB. Default: 1e-10 (librosa `power_to_db(amin=)`).
    pub amin: f32,
    /// Power that maps to 0 dB. Default: 1.0 (librosa `power_to_db(ref=)`).
    pub ref_power: f32,
    /// Where the window starts (when `window` is true): fixed at `offset_s`, or at the detected
    /// speech onset. Default: fixed (the paper). Left out of the JSON when fixed, so configs and
    /// feature-cache keys written before this option existed stay as they were.
    #[serde(skip_serializing_if = "Align::is_fixed")]
    pub align: Align,
    /// Per-utterance cepstral mean and variance normalisation: each coefficient's row is moved
    /// to mean 0 and scaled to variance 1 over the clip's frames (before the model's global
    /// scaler), which removes a fixed channel's colouring and the recording level. Default:
    /// false (the paper). Left out of the JSON when false, as `align`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cmvn: bool,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self {
            sample_rate: 48_000,
            offset_s: 0.5,
            duration_s: 3.0,
            window: true,
            n_mfcc: 40,
            n_fft: 1024,
            win_length: 512,
            hop_length: 512,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            pad_mode: PadMode::Reflect,
            top_db: Some(80.0),
            amin: 1e-10,
            ref_power: 1.0,
            align: Align::Fixed,
            cmvn: false,
        }
    }
}

impl FeatureConfig {
    /// Samples in the analysis window: `round(duration_s · sample_rate)`; 144000 by default.
    pub fn n_samples(&self) -> usize {
        seconds_to_samples(self.duration_s, self.sample_rate)
    }

    /// Samples skipped at the start: `round(offset_s · sample_rate)`; 24000 by default.
    pub fn offset_samples(&self) -> usize {
        seconds_to_samples(self.offset_s, self.sample_rate)
    }

    /// Frames of the MFCC matrix for a windowed clip: `1 + n_samples / hop_length`
    /// (centred frames); 282 by default. With `window = false` use
    /// [`crate::Mfcc::n_frames`] on the clip's length instead.
    pub fn n_frames(&self) -> usize {
        1 + self.n_samples() / self.hop_length.max(1)
    }

    /// The upper mel edge actually used: `fmax`, or half the sample rate.
    pub fn fmax_hz(&self) -> f64 {
        match self.fmax {
            Some(f) => f64::from(f),
            None => f64::from(self.sample_rate) / 2.0,
        }
    }

    /// Rejects parameters that cannot produce a meaningful MFCC (zero sizes, a window longer
    /// than the FFT, more coefficients than mel bands, inverted or out-of-range band edges…).
    pub fn validate(&self) -> Result<(), DspError> {
        let bad = |field: &'static str, reason: String| Err(DspError::Config { field, reason });
        if self.sample_rate == 0 {
            return bad("sample_rate", "must be > 0".into());
        }
        if self.window {
            if !(self.offset_s.is_finite() && self.offset_s >= 0.0) {
                return bad(
                    "offset_s",
                    format!("must be finite and >= 0, got {}", self.offset_s),
                );
            }
            if !(self.duration_s.is_finite() && self.duration_s > 0.0) {
                return bad(
                    "duration_s",
                    format!("must be finite and > 0, got {}", self.duration_s),
                );
            }
            if self.n_samples() == 0 {
                return bad("duration_s", "is shorter than one sample".into());
            }
            let max = crate::audio::MAX_DURATION_S;
            if self.offset_s + self.duration_s > max {
                return bad("duration_s", format!("offset + duration exceeds {max} s"));
            }
        }
        if self.n_fft == 0 {
            return bad("n_fft", "must be > 0".into());
        }
        if self.n_fft > 1 << 20 {
            return bad(
                "n_fft",
                format!("{} is absurdly large (limit 2^20)", self.n_fft),
            );
        }
        if self.win_length == 0 {
            return bad("win_length", "must be > 0".into());
        }
        if self.win_length > self.n_fft {
            return bad(
                "win_length",
                format!("{} exceeds n_fft {}", self.win_length, self.n_fft),
            );
        }
        if self.hop_length == 0 {
            return bad("hop_length", "must be > 0".into());
        }
        if self.n_mels == 0 {
            return bad("n_mels", "must be > 0".into());
        }
        if self.n_mels > 4096 {
            return bad(
                "n_mels",
                format!("{} is absurdly large (limit 4096)", self.n_mels),
            );
        }
        if self.n_mfcc == 0 {
            return bad("n_mfcc", "must be > 0".into());
        }
        if self.n_mfcc > self.n_mels {
            return bad(
                "n_mfcc",
                format!("{} exceeds n_mels {}", self.n_mfcc, self.n_mels),
            );
        }
        if !(self.fmin.is_finite() && self.fmin >= 0.0) {
            return bad(
                "fmin",
                format!("must be finite and >= 0, got {}", self.fmin),
            );
        }
        let fmax = self.fmax_hz();
        let nyquist = f64::from(self.sample_rate) / 2.0;
        if !(fmax.is_finite() && fmax > f64::from(self.fmin)) {
            return bad(
                "fmax",
                format!("{fmax} Hz must exceed fmin {} Hz", self.fmin),
            );
        }
        if fmax > nyquist {
            return bad(
                "fmax",
                format!("{fmax} Hz exceeds the Nyquist frequency {nyquist} Hz"),
            );
        }
        if let Some(top) = self.top_db
            && !(top.is_finite() && top >= 0.0)
        {
            return bad("top_db", format!("must be finite and >= 0, got {top}"));
        }
        if !(self.amin.is_finite() && self.amin > 0.0) {
            return bad("amin", format!("must be finite and > 0, got {}", self.amin));
        }
        if !(self.ref_power.is_finite() && self.ref_power > 0.0) {
            return bad(
                "ref_power",
                format!("must be finite and > 0, got {}", self.ref_power),
            );
        }
        Ok(())
    }
}

/// `round(seconds · rate)` computed in f64, so that e.g. 0.1 s at 48 kHz is exactly 4800
/// samples whatever the binary rounding of `0.1f32`.
pub(crate) fn seconds_to_samples(seconds: f32, rate: u32) -> usize {
    let n = (f64::from(seconds) * f64::from(rate)).round();
    if n.is_finite() && n > 0.0 {
        // Saturating float-to-int cast; validate() bounds real configs far below usize::MAX.
        n as usize
    } else {
        0
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_paper() {
        let c = FeatureConfig::default();
        assert_eq!(c.n_samples(), 144_000);
        assert_eq!(c.offset_samples(), 24_000);
        assert_eq!(c.n_frames(), 282);
        assert_eq!(c.fmax_hz(), 24_000.0);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn options_at_their_default_stay_out_of_the_json() {
        // Feature-cache keys hash this JSON: runs begun before `align` and `cmvn` existed must
        // find their caches.
        let json = serde_json::to_string(&FeatureConfig::default()).unwrap_or_default();
        assert!(!json.contains("align") && !json.contains("cmvn"), "{json}");
        let robust = FeatureConfig {
            align: Align::Speech,
            cmvn: true,
            ..Default::default()
        };
        let json = serde_json::to_string(&robust).unwrap_or_default();
        assert!(json.contains(r#""align":"speech""#) && json.contains(r#""cmvn":true"#));
        let back: FeatureConfig = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, robust);
    }

    #[test]
    fn nonsense_is_rejected() {
        let cases: Vec<(&str, FeatureConfig)> = vec![
            (
                "n_fft",
                FeatureConfig {
                    n_fft: 0,
                    ..Default::default()
                },
            ),
            (
                "win_length",
                FeatureConfig {
                    win_length: 2048,
                    ..Default::default()
                },
            ),
            (
                "hop_length",
                FeatureConfig {
                    hop_length: 0,
                    ..Default::default()
                },
            ),
            (
                "n_mfcc",
                FeatureConfig {
                    n_mfcc: 129,
                    ..Default::default()
                },
            ),
            (
                "n_mels",
                FeatureConfig {
                    n_mels: 0,
                    ..Default::default()
                },
            ),
            (
                "sample_rate",
                FeatureConfig {
                    sample_rate: 0,
                    ..Default::default()
                },
            ),
            (
                "fmax",
                FeatureConfig {
                    fmax: Some(30_000.0),
                    ..Default::default()
                },
            ),
            (
                "fmax",
                FeatureConfig {
                    fmin: 500.0,
                    fmax: Some(400.0),
                    ..Default::default()
                },
            ),
            (
                "duration_s",
                FeatureConfig {
                    duration_s: 0.0,
                    ..Default::default()
                },
            ),
            (
                "offset_s",
                FeatureConfig {
                    offset_s: f32::NAN,
                    ..Default::default()
                },
            ),
            (
                "amin",
                FeatureConfig {
                    amin: 0.0,
                    ..Default::default()
                },
            ),
            (
                "top_db",
                FeatureConfig {
                    top_db: Some(-1.0),
                    ..Default::default()
                },
            ),
        ];
        for (field, cfg) in cases {
            match cfg.validate() {
                Err(DspError::Config { field: f, .. }) => assert_eq!(f, field, "{cfg:?}"),
                other => panic!("{field}: expected a config error, got {other:?}"),
            }
        }
    }
}
