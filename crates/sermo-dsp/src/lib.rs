#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod audio;
pub mod augment;
pub mod config;
mod dct;
pub mod error;
pub mod extract;
mod frame;
mod mel;
pub mod mfcc;
mod power;
pub mod resample;
pub mod window;

pub use audio::{Audio, decode, decode_file};
pub use augment::{
    AugmentConfig, AugmentPolicy, NoiseKind, Shift, add_awgn, mask_map, noisy_copies,
};
pub use config::{Align, FeatureConfig, PadMode};
pub use error::DspError;
pub use extract::{FeatureExtractor, Features, Span, VOICE_FLOOR_DBFS, is_voiced, timeline_spans};
pub use mfcc::Mfcc;
pub use resample::resample;
pub use window::{speech_onset, take_window, window_start};
