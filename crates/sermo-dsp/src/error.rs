//! [`DspError`]: the one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong between bytes and features.
///
/// Decoding variants carry `file`: the name given to [`crate::decode`] or the path given to
/// [`crate::decode_file`], so a message printed by a CLI or a page says which input failed and
/// why. No function of this crate panics on malformed input; it returns one of these instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DspError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {reason}", file.display())]
    Io {
        /// The path that failed.
        file: PathBuf,
        /// The operating system's reason: in the message, not a `source()`, so that a chain
        /// printed with `{:#}` does not say it twice.
        reason: std::io::Error,
    },
    /// The input holds no bytes, or no audio frames.
    #[error("{file}: empty: {reason}")]
    Empty {
        /// Name of the input.
        file: String,
        /// What was missing.
        reason: String,
    },
    /// The input is not in a container this crate reads (WAV, FLAC).
    #[error("{file}: not a WAV or FLAC file: {reason}")]
    NotAudio {
        /// Name of the input.
        file: String,
        /// The probe's reason.
        reason: String,
    },
    /// The container is recognised but its codec or a feature of it is not supported.
    #[error("{file}: unsupported audio: {reason}")]
    Unsupported {
        /// Name of the input.
        file: String,
        /// What is unsupported.
        reason: String,
    },
    /// The header or the data is inconsistent (zero sample rate, zero channels, corrupt frame…).
    #[error("{file}: malformed audio: {reason}")]
    Malformed {
        /// Name of the input.
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// The data ends before the header says it should.
    #[error("{file}: truncated: {reason}")]
    Truncated {
        /// Name of the input.
        file: String,
        /// How much was expected and found.
        reason: String,
    },
    /// The clip is longer than [`crate::audio::MAX_DURATION_S`] (or its header claims so).
    #[error("{file}: audio is {seconds:.1} s long; the limit is {max_seconds} s")]
    TooLong {
        /// Name of the input.
        file: String,
        /// Length found or claimed, in seconds.
        seconds: f64,
        /// The limit, in seconds.
        max_seconds: f32,
    },
    /// A [`crate::FeatureConfig`] field holds a value the pipeline cannot use.
    #[error("invalid feature config: {field}: {reason}")]
    Config {
        /// The offending field's name, as in the JSON.
        field: &'static str,
        /// Why it is rejected.
        reason: String,
    },
    /// Resampling between these rates is impossible or failed.
    #[error("cannot resample {from_hz} Hz to {to_hz} Hz: {reason}")]
    Resample {
        /// Input rate.
        from_hz: u32,
        /// Output rate.
        to_hz: u32,
        /// Why.
        reason: String,
    },
    /// A caller-provided buffer has the wrong length.
    #[error("{what}: expected {expected} values, got {actual}")]
    BufferSize {
        /// Which buffer.
        what: &'static str,
        /// Length required.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// A timeline cannot be made as asked (its hop, or features without fixed windows).
    #[error("timeline: {0}")]
    Timeline(String),
    /// The FFT library reported an error (only possible through an internal inconsistency).
    #[error("FFT failed: {0}")]
    Fft(String),
}
