//! A small RAVDESS-shaped dataset of synthetic "speech", for tests and demos that must not
//! depend on the real download.
//!
//! Each "emotion" is a distinct voice pattern — its own pitch, vibrato rate, loudness contour,
//! syllable rate and brightness — and each "actor" shifts the pitch and timbre a little, so the
//! classes are learnable from MFCCs but not identical across actors. Files are named and laid
//! out as RAVDESS (`Actor_XX/03-01-EE-II-SS-RR-AA.wav`), 16-bit mono, seeded.

use std::f32::consts::TAU;
use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::DataError;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    /// Actors 1..=actors. Default: 6.
    pub actors: u8,
    /// Clip length in seconds. Default: 2.0.
    pub seconds: f32,
    /// Sample rate. Default: 48 000.
    pub sample_rate: u32,
    /// Seed of the per-clip noise and jitter. Default: 0.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    fn default() -> Self {
        Self {
            actors: 6,
            seconds: 2.0,
            sample_rate: 48_000,
            seed: 0,
        }
    }
}

/// One clip's samples for emotion code `emotion` (1–8) and `actor` (1–24).
pub fn synthesize(emotion: u8, actor: u8, variant: u64, spec: &SyntheticSpec) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(
        spec.seed ^ (u64::from(emotion) << 40) ^ (u64::from(actor) << 32) ^ variant,
    );
    let e = f32::from(emotion - 1);
    let sr = spec.sample_rate as f32;
    let n = (spec.seconds * sr) as usize;
    let f0 = 110.0 + 22.0 * e + 4.0 * f32::from(actor % 5) + rng.random_range(-3.0..3.0);
    let vibrato = 2.0 + 0.9 * e;
    let syllables = 2.5 + 0.5 * e;
    let loudness = 0.08 + 0.025 * e;
    let brightness = 1.0 + 0.35 * (e % 4.0) + 0.05 * f32::from(actor % 3);
    let mut phase = 0f32;
    (0..n)
        .map(|i| {
            let t = i as f32 / sr;
            let f = f0 * (1.0 + 0.03 * (TAU * vibrato * t).sin());
            phase += TAU * f / sr;
            let envelope = (0.5 + 0.5 * (TAU * syllables * t).sin()).powf(1.5);
            let voice: f32 = (1..=6)
                .map(|h| (phase * h as f32).sin() / (h as f32).powf(2.0 / brightness))
                .sum();
            loudness * envelope * voice + 0.002 * rng.random_range(-1.0..1.0)
        })
        .collect()
}

/// Writes the dataset under `root`: every actor × 8 emotions × 2 statements × 2 repetitions at
/// normal intensity (and strong intensity for non-neutral emotions when `strong` is set).
/// Returns the number of files written.
pub fn write_dataset(root: &Path, spec: &SyntheticSpec, strong: bool) -> Result<usize, DataError> {
    let wav = hound::WavSpec {
        channels: 1,
        sample_rate: spec.sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut written = 0;
    for actor in 1..=spec.actors {
        let dir = root.join(format!("Actor_{actor:02}"));
        std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
        for emotion in 1..=8u8 {
            let intensities: &[u8] = if strong && emotion > 1 { &[1, 2] } else { &[1] };
            for &intensity in intensities {
                for statement in 1..=2u8 {
                    for repetition in 1..=2u8 {
                        let name = format!(
                            "03-01-{emotion:02}-{intensity:02}-{statement:02}-{repetition:02}-{actor:02}.wav"
                        );
                        let variant = u64::from(intensity) << 16
                            | u64::from(statement) << 8
                            | u64::from(repetition);
                        let samples = synthesize(emotion, actor, variant, spec);
                        let path = dir.join(name);
                        let io = |e: hound::Error| {
                            DataError::Dataset(format!("{}: {e}", path.display()))
                        };
                        let mut writer = hound::WavWriter::create(&path, wav).map_err(io)?;
                        for s in samples {
                            let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
                            writer.write_sample(v).map_err(io)?;
                        }
                        writer.finalize().map_err(io)?;
                        written += 1;
                    }
                }
            }
        }
    }
    Ok(written)
}
