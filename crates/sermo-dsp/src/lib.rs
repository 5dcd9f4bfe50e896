#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod audio;
pub mod augment;
pub mod config;
pub mod error;
pub mod mfcc;
pub mod resample;
pub mod window;

pub use audio::{Audio, decode, decode_file};
pub use augment::{
    AugmentConfig, AugmentPolicy, NoiseKind, Shift, add_awgn, mask_map, noisy_copies,
};
pub use config::{Align, FeatureConfig, PadMode};
pub use error::DspError;
pub use mfcc::Mfcc;
pub use resample::resample;
pub use window::{speech_onset, take_window, window_start};

/// The paper's input: resample to `cfg.sample_rate`, cut the window (when `cfg.window`),
/// compute the MFCC.
///
/// Returns row-major `[n_mfcc, n_frames]`: 40 × 282 = 11280 values for the defaults.
/// This builds an [`Mfcc`] per call; to process many clips, call [`waveform`] and keep one
/// [`Mfcc`] per thread instead.
///
/// # Errors
/// [`DspError::Config`] for an invalid `cfg`, [`DspError::Resample`] for a zero sample rate.
pub fn features(audio: &Audio, cfg: &FeatureConfig) -> Result<Vec<f32>, DspError> {
    let mut mfcc = Mfcc::new(cfg)?;
    let x = waveform(audio, cfg)?;
    mfcc.compute_vec(&x)
}

/// The waveform the MFCC is computed from: `audio` at `cfg.sample_rate`, cut by the paper's
/// window (when `cfg.window`). The training pipeline adds noise ([`add_awgn`]) between this and
/// [`Mfcc::compute`].
///
/// At the analysis rate this is [`take_window`]. At any other rate the window is cut first, at
/// the clip's own rate, and only then resampled and zero-padded: that is what the paper's
/// `librosa.load(sr=48000, offset=0.5, duration=3)` does, so the window's edges line up with
/// librosa's (resampling the whole clip first would shift where the filter's edge effects fall).
/// With `cfg.window == false` the whole clip is resampled.
///
/// # Errors
/// [`DspError::Config`] for an invalid `cfg`, [`DspError::Resample`] for a zero sample rate.
pub fn waveform(audio: &Audio, cfg: &FeatureConfig) -> Result<Vec<f32>, DspError> {
    cfg.validate()?;
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
    let len = audio.samples.len();
    let start = window_start(&audio.samples, audio.sample_rate, cfg);
    let end = start.saturating_add(native.n_samples()).min(len);
    let mut x = resample(
        &audio.samples[start..end],
        audio.sample_rate,
        cfg.sample_rate,
    )?;
    x.resize(cfg.n_samples(), 0.0);
    Ok(x)
}
