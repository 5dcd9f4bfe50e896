//! `sermo train` and `sermo eval`: the paper's recipe, resumable, with named protocols.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{ModuleOptimizer, SgdConfig};
use burn::tensor::Device;
use burn_store::burn_pack::Bytes;
use burn_store::{BurnpackStore, ModuleSnapshot};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sermo_data::{
    CacheSpec, Example, FeatureCache, FreshAugment, Index, MapBatcher, MapDataset, MapItem,
    Protocol, Split, TrainAudio, default_cache_root, write_atomic,
};
use sermo_dsp::Features;
use sermo_dsp::{Align, AugmentConfig, AugmentPolicy, FeatureConfig};
use sermo_model::dropout::HostMasks;
use sermo_model::{
    Accuracy, Artifact, ArtifactMeta, Classifier, EMOTIONS, Provenance, Scaler, SermoNet,
    SermoNetConfig,
};

use crate::backend::Backend;
use crate::metrics::Scores;
use crate::plots;
use crate::step;

/// Which protocol to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    /// Stratified 80/10/10 over clips; noisy copies in every split (as published).
    Paper,
    /// k-fold by actor: test speakers never heard in training; evaluation on clean clips.
    Actor,
}

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

/// Where the features come from: a RAVDESS directory or an exported/installed feature cache.
#[derive(clap::Args, Debug, Clone)]
pub struct DataArgs {
    /// RAVDESS speech directory (searched recursively for `03-01-EE-II-SS-RR-AA.wav`).
    #[arg(long, required_unless_present = "cache")]
    pub data: Option<PathBuf>,
    /// A feature cache instead of --data: a directory written by `sermo cache export`, or an
    /// installed cache directory (with manifest.json).
    #[arg(long, conflicts_with = "data")]
    pub cache: Option<PathBuf>,
    /// Where feature caches live. Default: $XDG_CACHE_HOME/sermo/features (~/.cache/sermo/features).
    #[arg(long, env = "SERMO_CACHE_DIR")]
    pub cache_root: Option<PathBuf>,
    /// Stop at the first file that is not a decodable RAVDESS speech clip (default: list and skip).
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
    #[arg(long, value_enum, default_value = "paper")]
    pub protocol: ProtocolName,
    /// Fold tested under `actor` (0-based).
    #[arg(long, default_value_t = 0)]
    pub fold: usize,
    /// Folds under `actor` (must divide 24). Default: 6 (4 actors each).
    #[arg(long, default_value_t = 6)]
    pub folds: usize,
    /// Explicit test actors under `actor`, e.g. `1,2,3,4` (overrides --fold).
    #[arg(long, value_delimiter = ',')]
    pub test_actors: Option<Vec<u8>>,
}

impl ProtocolArgs {
    pub fn protocol(&self) -> Protocol {
        match self.protocol {
            ProtocolName::Paper => Protocol::Paper,
            ProtocolName::Actor => Protocol::Actor {
                folds: self.folds,
                fold: self.fold,
                test_actors: self.test_actors.clone(),
            },
        }
    }
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
    /// Label smoothing: the training targets put 1 − ε on the true emotion and ε / 8 on each
    /// (0: one-hot, the paper). Validation and test losses stay plain cross-entropy.
    #[arg(long, default_value_t = 0.0, value_name = "ε")]
    pub label_smoothing: f32,
}

/// How the learning rate moves over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// The same rate every epoch (the paper).
    #[default]
    Constant,
    /// Half a cosine from the rate at epoch 1 towards 0 after the last epoch.
    Cosine,
}

impl LrSchedule {
    fn is_constant(&self) -> bool {
        *self == LrSchedule::Constant
    }

    /// The rate for `epoch` (1-based) of `epochs`, from the base rate `lr`.
    pub fn at(self, lr: f64, epoch: usize, epochs: usize) -> f64 {
        match self {
            LrSchedule::Constant => lr,
            LrSchedule::Cosine => {
                let progress = (epoch.saturating_sub(1)) as f64 / epochs.max(1) as f64;
                0.5 * lr * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
            }
        }
    }
}

fn is_zero(x: &f32) -> bool {
    *x == 0.0
}

/// Everything that defines a run; saved as `config.json` in the run directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub protocol: Protocol,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f32,
    pub augment: AugmentConfig,
    pub features: FeatureConfig,
    pub model: SermoNetConfig,
    /// Dropout masks drawn on the host (`sermo_model::dropout`: the same Bernoulli masks, far
    /// cheaper on the CPU) instead of by burn on the device. New CPU runs use it; runs begun
    /// before it existed resume with burn's masks, so they continue exactly as they began.
    #[serde(default)]
    pub host_dropout: bool,
    /// Augmentation drawn afresh every epoch (`--fresh`); none in the paper's recipe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fresh: Option<FreshAugment>,
    /// Learning-rate schedule (`--lr-schedule`); constant in the paper's recipe.
    #[serde(default, skip_serializing_if = "LrSchedule::is_constant")]
    pub lr_schedule: LrSchedule,
    /// Label smoothing ε (`--label-smoothing`); 0 in the paper's recipe.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_smoothing: f32,
}

/// One epoch's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub valid_loss: f64,
    pub valid_accuracy: f64,
    pub seconds: f64,
}

/// Progress saved with every checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    pub epochs_done: usize,
    pub best_epoch: usize,
    pub best_valid_accuracy: f64,
    pub history: Vec<EpochRecord>,
    pub cache_key: String,
}

/// The final report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub protocol: String,
    pub seed: u64,
    pub backend: String,
    pub command: String,
    pub config: TrainConfig,
    pub cache_key: String,
    pub split_sizes: [usize; 3],
    pub test_actors: Vec<u8>,
    pub valid_actors: Vec<u8>,
    pub history: Vec<EpochRecord>,
    pub best_epoch: usize,
    pub valid: Scores,
    pub test: Scores,
    pub seconds_per_epoch: f64,
}

fn labels() -> Vec<String> {
    EMOTIONS.iter().map(|s| s.to_string()).collect()
}

/// Seeds derived per epoch, so a resumed run draws exactly what an uninterrupted one would.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}

pub fn command_line() -> String {
    std::env::args().collect::<Vec<_>>().join(" ")
}

/// Loads (or builds) the feature cache the data arguments point at.
pub fn load_cache(args: &DataArgs, features: &FeatureConfig, seed: u64) -> Result<FeatureCache> {
    let root = args.cache_root.clone().unwrap_or_else(default_cache_root);
    if let Some(dir) = &args.cache {
        let cache = if dir.join("export.json").is_file() {
            FeatureCache::import(dir, &root)
        } else {
            FeatureCache::open(dir)
        }
        .with_context(|| format!("reading the feature cache {}", dir.display()))?;
        eprintln!(
            "feature cache {} ({} clips, {} noisy copies each)",
            &cache.manifest.key[..12],
            cache.len(),
            cache.copies()
        );
        return Ok(cache);
    }
    let Some(data) = &args.data else {
        bail!("give --data DIR or --cache DIR");
    };
    let index = Index::scan(data)?; // its errors name the directory or the files
    for (path, reason) in &index.rejected {
        if args.strict {
            bail!("{}: {reason}", path.display());
        }
        eprintln!("skipping {}: {reason}", path.display());
    }
    if index.clips.is_empty() {
        bail!("{}: no RAVDESS speech clips found", data.display());
    }
    eprintln!(
        "{} clips; per emotion {:?}; {} actors",
        index.clips.len(),
        index.per_emotion().values().collect::<Vec<_>>(),
        index.per_actor().len()
    );
    let spec = CacheSpec {
        features: features.clone(),
        augment: AugmentConfig {
            copies: args.copies,
            snr_low: args.snr_low,
            snr_high: args.snr_high,
        },
        seed,
    };
    let bar = ProgressBar::new(index.clips.len() as u64).with_style(
        ProgressStyle::with_template("features {bar:40} {pos}/{len} clips {elapsed}/{duration}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let cache = FeatureCache::load_or_build(&index, &spec, &root, args.strict, &|done, _| {
        bar.set_position(done as u64)
    })
    .context("building the feature cache")?;
    bar.finish_and_clear();
    for (id, reason) in &cache.manifest.failed {
        eprintln!("skipped {id}: {reason}");
    }
    eprintln!(
        "feature cache {} at {}",
        &cache.manifest.key[..12],
        root.join(&cache.manifest.key).display()
    );
    Ok(cache)
}

/// Scores a classifier on the examples of `dataset` (cached raw maps) through
/// [`Classifier::predict`], the path `predict` and the browser take: the mean cross-entropy,
/// the targets and the predicted classes.
pub fn evaluate(
    classifier: &Classifier,
    dataset: &MapDataset,
) -> Result<(f64, Vec<usize>, Vec<usize>)> {
    let mut targets = Vec::with_capacity(dataset.len());
    let mut predicted = Vec::with_capacity(dataset.len());
    let mut loss_sum = 0f64;
    // Read from the cache a slice at a time: a large split's maps need not all be in memory.
    for start in (0..dataset.len()).step_by(256) {
        let items = (start..(start + 256).min(dataset.len()))
            .map(|i| dataset.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let labels: Vec<usize> = items.iter().map(|i| i.label).collect();
        // Cached maps keep no voicing; scoring reads the predicted class, given either way.
        let features: Vec<Features> = items
            .into_iter()
            .map(|i| Features {
                map: i.map,
                voiced: true,
            })
            .collect();
        for (p, &target) in classifier.predict(&features)?.iter().zip(&labels) {
            loss_sum += p.loss(target);
            predicted.push(p.class);
        }
        targets.extend(labels);
    }
    Ok((loss_sum / dataset.len().max(1) as f64, targets, predicted))
}

/// The artifact of one epoch's weights in the run's `epochs/`: `epoch-0042.safetensors`.
fn epoch_artifact(epochs_dir: &Path, epoch: usize) -> PathBuf {
    epochs_dir.join(format!("epoch-{epoch:04}.safetensors"))
}

fn checkpoint_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("checkpoints").join(format!("epoch-{epoch:04}"))
}

/// The newest complete checkpoint (one whose state.json exists: it is written last).
fn latest_checkpoint(out: &Path) -> Option<(usize, PathBuf)> {
    let dir = out.join("checkpoints");
    let mut best = None;
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("epoch-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if entry.path().join("state.json").is_file() && best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, entry.path()));
        }
    }
    best
}

fn save_checkpoint(
    out: &Path,
    model: &SermoNet,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> Result<()> {
    let dir = checkpoint_dir(out, state.epochs_done);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("saving the model: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("saving the model: {e}"))?;
    write_atomic(&dir.join("model.bpk"), &bytes)?;
    let optim_bytes = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("saving the optimizer: {e:?}"))?;
    write_atomic(&dir.join("optim.bpk"), &optim_bytes)?;
    write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(state)?)?;
    // Older checkpoints are no longer needed once this one is complete.
    if let Ok(entries) = std::fs::read_dir(out.join("checkpoints")) {
        for entry in entries.flatten() {
            if entry.path() != dir {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

fn load_checkpoint(
    dir: &Path,
    model: &mut SermoNet,
    optim: ModuleOptimizer,
) -> Result<(ModuleOptimizer, TrainState)> {
    let bytes = std::fs::read(dir.join("model.bpk"))
        .with_context(|| format!("reading {}", dir.join("model.bpk").display()))?;
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("model.bpk").display()))?;
    let optim_bytes = std::fs::read(dir.join("optim.bpk"))
        .with_context(|| format!("reading {}", dir.join("optim.bpk").display()))?;
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(optim_bytes))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", dir.join("optim.bpk").display()))?;
    let state: TrainState = serde_json::from_slice(
        &std::fs::read(dir.join("state.json"))
            .with_context(|| format!("reading {}", dir.display()))?,
    )
    .with_context(|| format!("{}: state.json", dir.display()))?;
    Ok((optim, state))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    write_atomic(path, &serde_json::to_vec_pretty(value)?)
        .with_context(|| format!("writing {}", path.display()))
}

fn fit_scaler(cache: &FeatureCache, train: &[Example]) -> Result<Scaler> {
    let rows = train
        .iter()
        .map(|e| {
            cache
                .map(*e)
                .context("training example missing from the cache")
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Scaler::fit(rows, cache.map_len())?)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let config_path = out.join("config.json");
    let mut config = if args.resume {
        let text = std::fs::read(&config_path).with_context(|| {
            format!(
                "--resume: {} has no config.json (nothing to resume)",
                out.display()
            )
        })?;
        serde_json::from_slice::<TrainConfig>(&text)
            .with_context(|| format!("reading {}", config_path.display()))?
    } else {
        if latest_checkpoint(out).is_some() {
            bail!(
                "{} already holds a run; pass --resume to continue it, or choose another --out",
                out.display()
            );
        }
        TrainConfig {
            protocol: args.protocol.protocol(),
            seed: args.seed,
            epochs: 200,
            batch_size: args.batch_size,
            lr: args.lr,
            momentum: args.momentum,
            dampening: 0.0,
            weight_decay: args.weight_decay,
            augment: AugmentConfig {
                copies: args.data.copies,
                snr_low: args.data.snr_low,
                snr_high: args.data.snr_high,
            },
            features: args.features.config(),
            model: SermoNetConfig::paper(),
            host_dropout: args.backend == Backend::Cpu,
            fresh: args.fresh.map(|copies| FreshAugment {
                copies,
                policy: AugmentPolicy::default(),
            }),
            lr_schedule: args.lr_schedule,
            label_smoothing: args.label_smoothing,
        }
    };
    if let Some(epochs) = args.epochs {
        config.epochs = epochs;
    }
    if config.batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    if !(0.0..1.0).contains(&config.label_smoothing) {
        bail!(
            "--label-smoothing must be in [0, 1), got {}",
            config.label_smoothing
        );
    }
    write_json(&config_path, &config)?;

    let mut data_args = args.data.clone();
    data_args.copies = config.augment.copies;
    data_args.snr_low = config.augment.snr_low;
    data_args.snr_high = config.augment.snr_high;
    let cache = Arc::new(load_cache(&data_args, &config.features, config.seed)?);
    let index = cache.index();
    let split: Split = config.protocol.split(&index, cache.copies(), config.seed)?;
    eprintln!(
        "protocol {}: {} train, {} valid, {} test examples{}",
        config.protocol,
        split.train.len(),
        split.valid.len(),
        split.test.len(),
        if split.test_actors.is_empty() {
            String::new()
        } else {
            format!(
                "; test actors {:?}, valid actors {:?}",
                split.test_actors, split.valid_actors
            )
        }
    );
    write_json(&out.join("split.json"), &split)?;
    // Fresh augmentation trains on the clean maps and augments the decoded audio every epoch.
    let train_examples: Vec<Example> = if config.fresh.is_some() {
        split
            .train
            .iter()
            .filter(|e| e.copy == 0)
            .copied()
            .collect()
    } else {
        split.train.clone()
    };
    let fresh_audio = match &config.fresh {
        None => None,
        Some(fresh) => {
            let Some(root) = &args.data.data else {
                bail!("--fresh augments the audio: give --data DIR (a feature cache has none)");
            };
            let clips: Vec<usize> = train_examples.iter().map(|e| e.clip).collect();
            let audio = TrainAudio::load(&index, root, &clips)?;
            eprintln!(
                "fresh augmentation: {} clips in memory, {} new copies each per epoch",
                audio.len(),
                fresh.copies
            );
            Some((fresh, audio))
        }
    };
    let scaler = Arc::new(fit_scaler(&cache, &train_examples)?);
    let shape = [config.features.n_mfcc, config.features.n_frames()];
    let batcher = MapBatcher::new(scaler.clone(), shape);
    let valid_set = MapDataset::new(cache.clone(), split.valid.clone());
    let test_set = MapDataset::new(cache.clone(), split.test.clone());

    let devices = args.backend.devices(&args.devices)?;
    let device = devices[0].clone();
    let ad_devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
    let ad_device = ad_devices[0].clone();
    if devices.len() > 1 {
        eprintln!(
            "data parallel over {} devices: {:?}; each batch of {} is split between them",
            devices.len(),
            args.devices,
            config.batch_size
        );
    }
    let sgd = SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new()
                .with_momentum(config.momentum)
                .with_dampening(config.dampening),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(config.weight_decay)));
    ad_device.seed(config.seed);
    let mut model = config.model.init(&ad_device);
    let mut optim = sgd.init();
    let mut state = TrainState {
        cache_key: cache.manifest.key.clone(),
        ..TrainState::default()
    };
    // Host-drawn dropout masks (CPU runs): one explicit stream, reseeded every epoch.
    let host_masks = config.host_dropout.then(|| HostMasks::new(config.seed));
    model = model.with_host_masks(host_masks.clone());
    if args.resume {
        if let Some((epoch, dir)) = latest_checkpoint(out) {
            let (o, s) = load_checkpoint(&dir, &mut model, optim)?;
            optim = o;
            state = s;
            if state.cache_key != cache.manifest.key {
                bail!(
                    "the run was trained on feature cache {} but the data now gives {}: \
                     resume with the same data",
                    state.cache_key,
                    cache.manifest.key
                );
            }
            eprintln!(
                "resuming after epoch {epoch} (best valid {:.2} % at epoch {})",
                100.0 * state.best_valid_accuracy,
                state.best_epoch
            );
        } else {
            eprintln!(
                "no checkpoint in {} yet: starting at epoch 1",
                out.display()
            );
        }
    }

    let labels = labels();
    let best_path = out.join("best.safetensors");
    // The run is named after its directory, which is what tells runs of one protocol and seed
    // apart (robustness charts and `sermo info` show it); `<protocol>-seed<seed>` if it has none.
    let run_name = out
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
        .unwrap_or_else(|| format!("{}-seed{}", config.protocol.slug(), config.seed));
    // The metadata of the weights after `epoch`, with their validation accuracy.
    let meta_for = |epoch: usize, valid_accuracy: f64| {
        let mut meta = ArtifactMeta::paper(Provenance {
            name: run_name.clone(),
            trained: true,
            data: "RAVDESS speech (Livingstone & Russo 2018), CC BY-NC-SA 4.0".into(),
            protocol: Some(config.protocol.to_string()),
            seed: Some(config.seed),
            epochs: Some(epoch),
            best_epoch: Some(epoch),
            command: Some(command_line()),
            accuracies: vec![Accuracy {
                protocol: config.protocol.to_string(),
                split: "valid".into(),
                accuracy: valid_accuracy,
                examples: split.valid.len(),
            }],
            notes: None,
        });
        meta.features = config.features.clone();
        meta.model = config.model.clone();
        meta
    };

    let smoothing = (config.label_smoothing > 0.0).then_some(config.label_smoothing);
    let epochs_dir = out.join("epochs");
    std::fs::create_dir_all(&epochs_dir)
        .with_context(|| format!("creating {}", epochs_dir.display()))?;
    for epoch in state.epochs_done + 1..=config.epochs {
        let started = Instant::now();
        let seed = epoch_seed(config.seed, epoch);
        for (i, d) in ad_devices.iter().enumerate() {
            d.seed(seed.wrapping_add(i as u64));
        }
        if let Some(masks) = &host_masks {
            masks.reseed(seed);
        }
        let mut shuffle = ChaCha8Rng::seed_from_u64(seed);
        let mut order = train_examples.clone();
        order.shuffle(&mut shuffle);
        let order = MapDataset::new(cache.clone(), order);
        let mut items: Vec<MapItem> = (0..order.len())
            .map(|i| order.get(i))
            .collect::<Result<_, _>>()?;
        if let Some((fresh, audio)) = &fresh_audio {
            items.extend(audio.epoch(fresh, &config.features, seed)?);
            items.shuffle(&mut shuffle);
        }
        let steps = items.len().div_ceil(config.batch_size);
        let lr = config.lr_schedule.at(config.lr, epoch, config.epochs);
        let bar = ProgressBar::new(steps as u64).with_style(
            ProgressStyle::with_template(&format!(
                "epoch {epoch}/{} {{bar:30}} {{pos}}/{{len}} {{msg}} {{elapsed}}<{{eta}}",
                config.epochs
            ))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0usize, 0usize);
        // Batches are taken from the epoch's items, not copied out of them.
        let mut items = items.into_iter();
        for step in 0..steps {
            let batch: Vec<MapItem> = items.by_ref().take(config.batch_size).collect();
            let n = batch.len();
            let outcome = step::gradients(&model, batch, &batcher, &ad_devices, smoothing)?;
            if !outcome.loss.is_finite() {
                bail!(
                    "training diverged at epoch {epoch}, step {step}: loss is {}",
                    outcome.loss
                );
            }
            loss_sum += f64::from(outcome.loss) * n as f64;
            correct += outcome.correct;
            seen += n;
            model = optim.step(lr, model, outcome.grads);
            bar.inc(1);
            bar.set_message(format!("loss {:.3}", loss_sum / seen as f64));
        }
        bar.finish_and_clear();

        let eval_model = model.valid();
        let meta = meta_for(epoch, 0.0);
        let validator =
            Classifier::from_parts(eval_model.clone(), meta, (*scaler).clone(), &device)?;
        let (valid_loss, targets, predicted) = evaluate(&validator, &valid_set)?;
        let valid_accuracy = Scores::new(&labels, &targets, &predicted).accuracy;
        let record = EpochRecord {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            train_accuracy: correct as f64 / seen.max(1) as f64,
            valid_loss,
            valid_accuracy,
            seconds: started.elapsed().as_secs_f64(),
        };
        state.epochs_done = epoch;
        // Every epoch's weights are kept (about 1 MB each), for `sermo average` over the end of
        // a run and for scoring any epoch later; the best on validation is also best.safetensors.
        let artifact = Artifact::from_model(
            &eval_model,
            meta_for(epoch, valid_accuracy),
            (*scaler).clone(),
        )?;
        let bytes = artifact.to_bytes()?;
        let epoch_path = epoch_artifact(&epochs_dir, epoch);
        write_atomic(&epoch_path, &bytes)
            .with_context(|| format!("writing {}", epoch_path.display()))?;
        if valid_accuracy > state.best_valid_accuracy || state.best_epoch == 0 {
            state.best_epoch = epoch;
            state.best_valid_accuracy = valid_accuracy;
            write_atomic(&best_path, &bytes)
                .with_context(|| format!("writing {}", best_path.display()))?;
        }
        eprintln!(
            "epoch {epoch:>3}/{}  train loss {:.4} acc {:5.2} %  valid loss {:.4} acc {:5.2} %  best {:5.2} % (epoch {})  {:.1} s",
            config.epochs,
            record.train_loss,
            100.0 * record.train_accuracy,
            record.valid_loss,
            100.0 * record.valid_accuracy,
            100.0 * state.best_valid_accuracy,
            state.best_epoch,
            record.seconds
        );
        state.history.push(record);
        save_checkpoint(out, &model, &optim, &state)?;
    }

    // Test the best epoch, once.
    let bytes =
        std::fs::read(&best_path).with_context(|| format!("reading {}", best_path.display()))?;
    let mut artifact =
        Artifact::from_bytes(&bytes).with_context(|| best_path.display().to_string())?;
    let best = Classifier::new(&artifact, &device)?;
    let (_, vt, vp) = evaluate(&best, &valid_set)?;
    let (_, tt, tp) = evaluate(&best, &test_set)?;
    let valid = Scores::new(&labels, &vt, &vp);
    let test = Scores::new(&labels, &tt, &tp);
    artifact.meta.provenance.epochs = Some(state.epochs_done);
    artifact.meta.provenance.accuracies.push(Accuracy {
        protocol: config.protocol.to_string(),
        split: "test".into(),
        accuracy: test.accuracy,
        examples: test.examples,
    });
    let model_path = out.join("model.safetensors");
    write_atomic(&model_path, &artifact.to_bytes()?)?;
    let seconds: f64 = state.history.iter().map(|r| r.seconds).sum();
    let report = Report {
        protocol: config.protocol.to_string(),
        seed: config.seed,
        backend: if args.devices == [0] {
            args.backend.name().into()
        } else {
            format!("{} on devices {:?}", args.backend.name(), args.devices)
        },
        command: command_line(),
        config: config.clone(),
        cache_key: cache.manifest.key.clone(),
        split_sizes: [split.train.len(), split.valid.len(), split.test.len()],
        test_actors: split.test_actors.clone(),
        valid_actors: split.valid_actors.clone(),
        history: state.history.clone(),
        best_epoch: state.best_epoch,
        valid,
        test: test.clone(),
        seconds_per_epoch: seconds / state.history.len().max(1) as f64,
    };
    write_json(&out.join("report.json"), &report)?;
    plots::curves(&out.join("curves.png"), &report.history)?;
    plots::confusion(
        &out.join("confusion.png"),
        &labels,
        &test.confusion_normalised,
        &format!("{} test, best epoch {}", report.protocol, report.best_epoch),
    )?;
    eprintln!(
        "test accuracy {:.2} % (macro F1 {:.3}) at best valid epoch {} — {}",
        100.0 * test.accuracy,
        test.macro_f1,
        state.best_epoch,
        out.display()
    );
    Ok(())
}

/// `sermo eval`.
#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// Model: `default` or `paper` for a shipped one, else a .safetensors artifact.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub protocol: ProtocolArgs,
    /// Seed of the split (and of the noisy copies): use the run's seed to re-score its test set.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Split to score.
    #[arg(long, value_enum, default_value = "test")]
    pub split: SplitName,
    /// Compute backend.
    #[arg(long, value_enum, default_value = "cpu")]
    pub backend: Backend,
    /// Print the scores as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn eval(args: &EvalArgs) -> Result<()> {
    let artifact = crate::models::load(Some(&args.model))?;
    let cache = Arc::new(load_cache(&args.data, &artifact.meta.features, args.seed)?);
    let protocol = args.protocol.protocol();
    let split = protocol.split(&cache.index(), cache.copies(), args.seed)?;
    let device = args.backend.device()?;
    let classifier = Classifier::new(&artifact, &device)?;
    let test_set = MapDataset::new(cache, args.split.of(&split).to_vec());
    let (loss, t, p) = evaluate(&classifier, &test_set)?;
    let scores = Scores::new(&artifact.meta.labels, &t, &p);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model.display().to_string(),
                "protocol": protocol.to_string(),
                "split": args.split.as_str(),
                "seed": args.seed,
                "loss": loss,
                "scores": scores,
            }))?
        );
    } else {
        println!(
            "{} on {} {} ({} examples): accuracy {:.2} %, macro F1 {:.3}, loss {:.4}",
            args.model.display(),
            protocol,
            args.split.as_str(),
            scores.examples,
            100.0 * scores.accuracy,
            scores.macro_f1,
            loss
        );
        print!(
            "{}",
            crate::plots::confusion_table(&artifact.meta.labels, &scores.confusion_normalised)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    #[test]
    fn cosine_schedule_falls_from_the_base_rate_towards_zero() {
        let (lr, epochs) = (0.01, 100);
        assert_eq!(LrSchedule::Constant.at(lr, 77, epochs), lr);
        let rates: Vec<f64> = (1..=epochs)
            .map(|e| LrSchedule::Cosine.at(lr, e, epochs))
            .collect();
        assert!((rates[0] - lr).abs() < 1e-15);
        assert!((rates[50] - lr / 2.0).abs() < 1e-12, "{}", rates[50]);
        assert!(rates.windows(2).all(|w| w[1] < w[0]));
        let last = rates[epochs - 1];
        assert!(last > 0.0 && last < lr * 1e-3, "{last}");
    }
}
