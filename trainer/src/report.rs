//! The reports commands write and plots draw: a training run's per-epoch figures and final
//! report.json, and `sermo robustness`'s robustness.json. Plain data, so that whoever draws or
//! reads them needs nothing of the code that makes them.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sermo_data::Protocol;
use sermo_data::write_atomic;
use sermo_dsp::Shift;

use crate::config::TrainConfig;
use crate::metrics::{CorpusScores, Scores};

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (label-smoothed where the run smooths).
    pub train_loss: f64,
    /// Fraction of training examples classified correctly while training.
    pub train_accuracy: f64,
    /// Mean cross-entropy on the validation split after the epoch.
    pub valid_loss: f64,
    /// Fraction of the validation split classified correctly after the epoch.
    pub valid_accuracy: f64,
    /// Wall-clock seconds of the epoch's training and validation.
    pub seconds: f64,
    /// Of `seconds`: waiting for the epoch's examples (maps, fresh augmented copies), which are
    /// prepared while the epoch before trains (0 in runs recorded before these were kept).
    #[serde(default)]
    pub data_seconds: f64,
    /// Of `seconds`: the forward, backward and optimizer steps.
    #[serde(default)]
    pub steps_seconds: f64,
    /// Of `seconds`: scoring the validation split.
    #[serde(default)]
    pub validation_seconds: f64,
}

/// A training run's report.json, written when the run ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainReport {
    /// The protocol as displayed (`paper`, `actor(fold 0 of 6)`).
    pub protocol: String,
    /// The run's seed.
    pub seed: u64,
    /// The backend, with its devices when not just device 0.
    pub backend: String,
    /// The command line of the run's last invocation.
    pub command: String,
    /// The run's config.json.
    pub config: TrainConfig,
    /// The feature cache trained on.
    pub cache_key: String,
    /// Examples in train, validation and test.
    pub split_sizes: [usize; 3],
    /// Actors tested (actor protocol).
    pub test_actors: Vec<u8>,
    /// Actors validated on (actor protocol).
    pub valid_actors: Vec<u8>,
    /// Speakers tested, `corpus/speaker` (speaker and corpus protocols).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test_speakers: Vec<String>,
    /// Speakers validated on, `corpus/speaker` (speaker and corpus protocols).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_speakers: Vec<String>,
    /// The model's classes, in logit order (the rows and columns of every confusion matrix).
    #[serde(default)]
    pub labels: Vec<String>,
    /// Every epoch's figures.
    pub history: Vec<EpochRecord>,
    /// The epoch best on validation: the weights in model.safetensors.
    pub best_epoch: usize,
    /// Scores of the best epoch on validation.
    pub valid: Scores,
    /// Scores of the best epoch on test.
    pub test: Scores,
    /// Scores of the best epoch on validation, per corpus.
    #[serde(default)]
    pub valid_corpora: Vec<CorpusScores>,
    /// Scores of the best epoch on test, per corpus (with its confusion matrix).
    #[serde(default)]
    pub test_corpora: Vec<CorpusScores>,
    /// Mean seconds per epoch.
    pub seconds_per_epoch: f64,
}

/// The score under one condition.
#[derive(Debug, Clone, Serialize)]
pub struct Condition {
    /// `clean` or the shift's name.
    pub name: String,
    /// The shift's parameters (`None` for clean).
    pub shift: Option<Shift>,
    /// Fraction correct.
    pub accuracy: f64,
    /// Mean per-class F1.
    pub macro_f1: f64,
    /// Accuracy minus the clean accuracy, in percentage points.
    pub delta_points: f64,
    /// Windows the classifier found no voice in (scored by their most probable class anyway).
    pub unvoiced: usize,
}

/// robustness.json (`sermo robustness`).
#[derive(Debug, Clone, Serialize)]
pub struct RobustnessReport {
    /// The artifact scored (path, or `default`).
    pub model: String,
    /// Its provenance name.
    pub model_name: String,
    /// Protocol of the test clips.
    pub protocol: Protocol,
    /// Split seed.
    pub seed: u64,
    /// `valid` or `test`.
    pub split: String,
    /// Shift seed.
    pub shift_seed: u64,
    /// Clean test clips scored under every condition.
    pub clips: usize,
    /// Actors of the split scored (actor protocol).
    pub actors: Vec<u8>,
    /// Speakers of the split scored, `corpus/speaker` (speaker and corpus protocols).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub speakers: Vec<String>,
    /// Clean first, then each shift.
    pub conditions: Vec<Condition>,
    /// The largest drop below clean, in points, and where.
    pub worst: (String, f64),
    /// The command that wrote this.
    pub command: String,
}

/// Writes `value` as pretty JSON, atomically (a killed run never leaves half a file).
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomic(path, &serde_json::to_vec_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))
}
