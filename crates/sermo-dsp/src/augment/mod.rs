//! Augmentation: what a microphone, a room, a phone line or a recording's timing does to a
//! clip, reproducibly from a seed, and the policies that draw it for training.
//!
//! Every [`Shift`] works on the decoded clip at its own rate, before the analysis window is cut,
//! as a recording would reach the feature pipeline; [`mask_map`] works on the feature map after.
//! Training draws shifts with [`AugmentPolicy`] (sermo's recipe, fresh every epoch) or makes the
//! paper's fixed AWGN copies with [`noisy_copies`] ([`AugmentConfig`]); `sermo robustness`
//! scores a model under a fixed list of shifts.
//!
//! One file per kind of change:
//!
//! | file | what | public items |
//! | --- | --- | --- |
//! | `noise.rs` | white and speech-shaped noise at an SNR; the paper's AWGN | [`NoiseKind`], [`add_awgn`], [`add_at_snr`] |
//! | `room.rs` | room impulse responses, FFT convolution | [`room_response`], [`convolve`] |
//! | `channel.rs` | gain with clipping, band-limiting (VoIP, telephone) | [`Shift::Gain`], [`Shift::BandLimit`] |
//! | `timing.rs` | speed, onset shift, short clips | [`Shift::Speed`], [`Shift::Onset`], [`Shift::Truncate`] |
//! | `masks.rs` | SpecAugment-style masks on a feature map | [`mask_map`] |
//! | `policy.rs` | what training draws | [`AugmentPolicy`], [`AugmentConfig`], [`noisy_copies`] |
//! | `fft.rs` | real FFTs planned once per size and thread (noise shaping, convolution) | — |
//!
//! All noise comes from one generator (standard normal f64 samples from the caller's RNG) and
//! all levels from one mean-square measure, so the paper's AWGN and the shifts' white noise
//! differ only in where they round (see [`add_at_snr`]).
//!
//! # Determinism
//! Every random step draws from the RNG it is given, in a fixed order: a policy draws its
//! shifts, then each shift draws what it needs as it is applied, then the masks draw theirs.
//! Feature caches, run configs and resumed runs rely on a seed giving the same samples, so a
//! change must not add, drop or reorder a draw of an existing shift or policy entry
//! (`tests/augment_golden.rs` pins a set of outputs).
//!
//! # Adding an augmentation
//! 1. One file, `augment/<kind>.rs` (or the existing file of its kind): a function
//!    `fn(samples, sample_rate, params…, rng) -> Result<Vec<f32>, DspError>` that checks its
//!    parameters (with [`DspError::Config`]) before drawing anything, and its unit tests.
//! 2. A [`Shift`] variant for it (its serde `kind` is the snake-case name; existing variants keep
//!    theirs, they are stored in run configs) and the one-line arm in [`Shift::apply`].
//! 3. One policy entry: an [`AugmentPolicy`] field whose default is off (old configs then load
//!    unchanged, `#[serde(default)]`), and its draw in [`AugmentPolicy::draw`] at the place in the
//!    recording order where it acts, guarded so that it draws nothing while off
//!    (`p > 0.0 && chance(rng, p)`): every existing seed then keeps its samples.
//!
//! If the robustness report should score it, add its conditions to the report's list in
//! `trainer/src/robustness.rs`.

mod channel;
mod fft;
mod masks;
mod noise;
mod policy;
mod room;
#[cfg(test)]
mod test_signals;
mod timing;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::DspError;

pub use masks::mask_map;
pub use noise::{NoiseKind, add_at_snr, add_awgn};
pub use policy::{AugmentConfig, AugmentPolicy, noisy_copies};
pub use room::{convolve, room_response};

/// One change to a recording, with its parameters; [`Shift::apply`] makes it.
///
/// Stored in run configs and robustness reports as `{"kind": "<snake_case name>", …fields}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shift {
    /// Scale by `db` decibels, clipping at full scale.
    Gain {
        /// Gain in dB (negative: quieter).
        db: f32,
    },
    /// Pass through a channel sampled at `rate_hz` (down and back up with
    /// [`crate::resample()`]): 16000 for wide-band VoIP, 8000 for the telephone band.
    BandLimit {
        /// The channel's sample rate, Hz.
        rate_hz: u32,
    },
    /// Add noise at `snr_db` (clip power over noise power, both measured over the whole clip).
    Noise {
        /// White or speech-shaped.
        noise: NoiseKind,
        /// Signal-to-noise ratio, dB.
        snr_db: f32,
    },
    /// Convolve with a seeded exponential-decay room response of reverberation time `rt60_s`
    /// (direct path plus a Gaussian tail of equal energy: 0 dB direct-to-reverberant ratio),
    /// keeping the clip's RMS.
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
    /// Applies the shift to a mono clip at `sample_rate`, drawing what is random from `rng`.
    ///
    /// # Errors
    /// [`DspError::Config`] for a parameter out of range (a non-finite gain, a zero channel
    /// rate, a negative RT60…), [`DspError::Resample`] from the resampler (band limit, speed).
    pub fn apply(
        &self,
        samples: &[f32],
        sample_rate: u32,
        rng: &mut impl Rng,
    ) -> Result<Vec<f32>, DspError> {
        match *self {
            Shift::Gain { db } => channel::gain(samples, db),
            Shift::BandLimit { rate_hz } => channel::band_limit(samples, sample_rate, rate_hz),
            Shift::Noise { noise, snr_db } => {
                noise::add_noise(samples, sample_rate, noise, snr_db, rng)
            }
            Shift::Reverb { rt60_s } => room::reverb(samples, sample_rate, rt60_s, rng),
            Shift::Onset { min_s, max_s } => timing::onset(samples, sample_rate, min_s, max_s, rng),
            Shift::Truncate { seconds } => timing::truncate(samples, sample_rate, seconds),
            Shift::Speed { factor } => timing::speed(samples, sample_rate, factor),
        }
    }
}

/// The error of a shift parameter out of range.
fn invalid(field: &'static str, reason: String) -> DspError {
    DspError::Config { field, reason }
}
