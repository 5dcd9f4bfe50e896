//! The command-line arguments several commands share (where the data comes from, which protocol
//! and split, the feature options of a new model), `sermo train`'s, which make a run's config,
//! and the command line itself for provenance.

use std::path::PathBuf;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use sermo_data::{Example, LabelMap, LabelSet, Protocol, ProtocolKind, ProtocolOptions, Split};
use sermo_dsp::{Align, FeatureConfig};

use crate::backend::Backend;
use crate::schedule::LrSchedule;

/// Where the analysis window starts (`--align`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AlignArg {
    /// 0.5 s after the clip's start (the paper).
    Fixed,
    /// Just before the speech onset found by energy-based voice activity detection.
    Speech,
}

/// The feature options beyond the paper, for a new model (`train`, `init`).
#[derive(clap::Args, Debug, Clone)]
pub struct FeatureOptions {
    /// Where the 3 s analysis window starts: `fixed` 0.5 s into the clip (the paper) or at the
    /// detected speech onset. Recorded in the model artifact: predict, the npm package and the
    /// page cut their windows the same way.
    #[arg(long, value_enum, default_value = "fixed")]
    pub align: AlignArg,
    /// Per-utterance cepstral mean and variance normalisation of every map (recorded in the
    /// artifact, applied everywhere the model runs).
    #[arg(long)]
    pub cmvn: bool,
}

impl FeatureOptions {
    /// The paper's feature config with these options.
    pub fn config(&self) -> FeatureConfig {
        FeatureConfig {
            align: match self.align {
                AlignArg::Fixed => Align::Fixed,
                AlignArg::Speech => Align::Speech,
            },
            cmvn: self.cmvn,
            ..FeatureConfig::default()
        }
    }
}

/// Where the clips come from (`--data`, as often as needed) and how their labels map onto
/// sermo's (`--label-map`).
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// A corpus: a RAVDESS folder (searched recursively, symbolic links followed, for
    /// `03-01-EE-II-SS-RR-AA.wav`), an nEMO folder (with data.tsv and samples/), or a manifest
    /// (.tsv or .csv with the columns path, label, speaker and optionally corpus). Give it once
    /// per corpus; every clip keeps its corpus and speaker.
    #[arg(long, value_name = "DIR|MANIFEST")]
    pub data: Vec<PathBuf>,
    /// Manifests' label names mapped onto sermo's, e.g. `ang=angry,hap=happy,neu=neutral` (`skip`
    /// leaves a label's clips out). sermo's names and the usual synonyms (anger, fear,
    /// happiness, sadness, surprise, disgusted) need no mapping.
    #[arg(long, value_name = "RAW=NAME,…")]
    pub label_map: Option<LabelMap>,
}

impl SourceArgs {
    /// The label map (empty when not given).
    pub fn label_map(&self) -> LabelMap {
        self.label_map.clone().unwrap_or_default()
    }
}

/// Where the features come from: the corpora, or an exported/installed feature cache.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    #[command(flatten)]
    pub sources: SourceArgs,
    /// A feature cache instead of --data: a directory written by `sermo cache export`, or an
    /// installed cache directory (with manifest.json).
    #[arg(long, conflicts_with = "data", required_unless_present = "data")]
    pub cache: Option<PathBuf>,
    /// Where feature caches live. Default: $XDG_CACHE_HOME/sermo/features (~/.cache/sermo/features).
    #[arg(long, env = "SERMO_CACHE_DIR")]
    pub cache_root: Option<PathBuf>,
    /// Stop at the first file that is skipped (not a RAVDESS speech clip, a label mapped to skip)
    /// or cannot be decoded (default: list and skip).
    #[arg(long)]
    pub strict: bool,
    /// Noisy (AWGN) copies per clip. Default: 3 (the paper quadruples the data).
    #[arg(long, default_value_t = 3)]
    pub copies: usize,
    /// Lowest SNR drawn for a clip's noise, dB (inclusive). Default: 15.
    #[arg(long, default_value_t = 15)]
    pub snr_low: i32,
    /// Highest SNR, dB (exclusive). Default: 30.
    #[arg(long, default_value_t = 30)]
    pub snr_high: i32,
}

/// Which split of a protocol to score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitName {
    /// Validation: for choosing settings (as often as needed).
    Valid,
    /// Test: touched once per reported variant.
    Test,
}

impl SplitName {
    /// `valid` or `test`, as on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SplitName::Valid => "valid",
            SplitName::Test => "test",
        }
    }

    /// The examples of this split.
    pub fn of(self, split: &Split) -> &[Example] {
        match self {
            SplitName::Valid => &split.valid,
            SplitName::Test => &split.test,
        }
    }
}

/// Protocol selection.
#[derive(clap::Args, Debug, Clone)]
pub struct ProtocolArgs {
    /// Evaluation protocol.
    #[arg(long, default_value = "paper", value_parser = protocol_names())]
    pub protocol: ProtocolKind,
    /// Fold tested under `actor` and `speaker`; the block of speakers validated on under
    /// `corpus` (0-based).
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// Folds under `actor` (must divide 24), `speaker` (every corpus needs at least this many
    /// speakers) and `corpus` (validation blocks). Default: 6 (4 RAVDESS actors each).
    #[arg(long, default_value_t = 6)]
    pub folds: usize,
    /// Explicit test actors under `actor`, e.g. `1,2,3,4` (overrides --fold).
    #[arg(long, value_delimiter = ',')]
    pub test_actors: Option<Vec<u8>>,
    /// The corpus tested under `corpus` (`ravdess`, `nemo`, a manifest's corpus), never
    /// trained on.
    #[arg(long, value_name = "NAME")]
    pub test_corpus: Option<String>,
}

impl ProtocolArgs {
    /// The protocol these arguments name, with its parameters.
    pub fn protocol(&self) -> Protocol {
        self.protocol.protocol(&ProtocolOptions {
            folds: self.folds,
            fold: self.fold,
            test_actors: self.test_actors.clone(),
            test_corpus: self.test_corpus.clone(),
        })
    }
}

/// `--protocol`'s values and their help, from sermo-data's list of protocols: a new protocol
/// needs no change here.
fn protocol_names() -> impl TypedValueParser<Value = ProtocolKind> {
    PossibleValuesParser::new(
        ProtocolKind::ALL.map(|kind| PossibleValue::new(kind.name()).help(kind.help())),
    )
    .try_map(|name| name.parse::<ProtocolKind>())
}

/// `sermo train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Run directory: checkpoints, report.json, plots and the model artifact go here.
    #[arg(long)]
    pub out: PathBuf,
    /// Epochs. Default: 200.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Batch size. Default: 16.
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    /// SGD learning rate. Default: 0.01.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// SGD momentum (dampening 0, as PyTorch). Default: 0.9.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// L2 weight decay. Default: 1e-4.
    #[arg(long, default_value_t = 1e-4)]
    pub weight_decay: f32,
    /// Seed of the split, the noise, the initial weights, dropout and shuffling. Default: 0.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Devices of --backend to train on, e.g. `0,1` for two GPUs: data parallel, each batch split
    /// between them and the gradients summed on the first (see the README). Default: 0.
    #[arg(long, value_delimiter = ',', default_value = "0")]
    pub devices: Vec<usize>,
    /// Continue the run in --out from its last checkpoint, with its saved configuration
    /// (only --epochs, --backend and --devices may change).
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub features: FeatureOptions,
    /// Train on the clean maps plus K augmented copies of each training clip drawn afresh every
    /// epoch (speed, reverberation, white or speech-shaped noise, 16/8 kHz channel, gain, onset,
    /// short clips, then time and coefficient masks) instead of the fixed noisy copies. The
    /// fixed copies stay in validation and test where the protocol has them. Needs --data.
    #[arg(long, value_name = "K")]
    pub fresh: Option<usize>,
    /// Learning rate over the run: `constant` (the paper) or `cosine` (from --lr at the first
    /// epoch down towards 0 at the last of --epochs; resuming with other --epochs reshapes it).
    #[arg(long, value_enum, default_value = "constant")]
    pub lr_schedule: LrSchedule,
    /// Label smoothing: the training targets put 1 − ε on the true emotion and ε / K on each
    /// of the K classes (0: one-hot, the paper). Validation and test losses stay plain
    /// cross-entropy.
    #[arg(long, default_value_t = 0.0, value_name = "ε")]
    pub label_smoothing: f32,
    /// The classes the model learns: `8` (RAVDESS's: neutral, calm, happy, sad, angry, fearful,
    /// disgust, surprised) or `7` (calm merged into neutral: calm exists only in RAVDESS).
    /// Recorded in the artifact, whose labels the CLI, the npm package and the page show.
    #[arg(long, default_value = "8", value_name = "8|7")]
    pub labels: LabelSet,
}

/// The command line as typed, recorded in reports and artifacts' provenance.
pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}
