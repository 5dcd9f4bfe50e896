//! `sermo train`: the paper's recipe, resumable, with named protocols.
//!
//! A run is its directory: config.json (what defines it), split.json, the newest checkpoint
//! (`checkpoints/`), every epoch's weights (`epochs/`), the best epoch's (best.safetensors) and,
//! at the end, model.safetensors, report.json, curves.png and confusion.png (and, when the test
//! holds several corpora, confusion-CORPUS.png for each: `final_test.rs`). Every random draw
//! is seeded from the run's seed and the epoch, so a run killed and resumed gives the history an
//! uninterrupted run gives.

mod final_test;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::data::dataset::Dataset;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sermo_data::{
    Example, FeatureCache, MapBatcher, MapDataset, MapItem, Split, TrainAudio, corpus_credit,
    write_atomic,
};
use sermo_model::dropout::HostMasks;
use sermo_model::{Accuracy, Artifact, ArtifactMeta, Classifier, Provenance, Scaler, SermoNet};

use crate::args::{TrainArgs, command_line};
use crate::checkpoint::{
    TrainState, epoch_artifact, latest_checkpoint, load_checkpoint, save_checkpoint,
};
use crate::config::TrainConfig;
use crate::data::{fit_scaler, load_cache, training_examples};
use crate::eval::evaluate;
use crate::metrics::Scores;
use crate::report::{EpochRecord, write_json};
use crate::schedule::Rates;
use crate::step;

/// Trains (or resumes) the run in `--out`, then tests its best epoch once.
///
/// Each epoch's examples (the cached maps in the epoch's order and, with `--fresh`, newly
/// augmented copies) are prepared on a second thread while the epoch before trains: they depend
/// only on the seed and the epoch, so the run is the same as preparing them in turn.
pub fn run(args: &TrainArgs) -> Result<()> {
    let (config, mut rates) = run_config(args)?;
    let run = Run::setup(args, config)?;
    let (mut model, mut optim, mut state) = run.start()?;
    rates.skip(state.epochs_done);
    let epochs = state.epochs_done + 1..=run.config.epochs;
    let run = &run;
    std::thread::scope(|scope| -> Result<()> {
        let prepare = |epoch: usize| scope.spawn(move || run.epoch_items(epoch));
        let mut next = epochs.clone().next().map(prepare);
        for epoch in epochs.clone() {
            let started = Instant::now();
            let items = next
                .take()
                .context("no examples prepared for the epoch")?
                .join()
                .map_err(|_| {
                    anyhow::anyhow!("preparing the examples of epoch {epoch} panicked")
                })??;
            let waited = started.elapsed().as_secs_f64();
            if epochs.contains(&(epoch + 1)) {
                next = Some(prepare(epoch + 1));
            }
            let (trained, mut progress) =
                run.train_epoch(epoch, rates.next_epoch(), items, model, &mut optim)?;
            progress.data_seconds = waited;
            model = trained;
            let eval_model = model.valid();
            let record = run.validate(&eval_model, epoch, progress, started)?;
            run.snapshot(&eval_model, record, &mut state)?;
            save_checkpoint(&run.args.out, &model, &optim, &state)?;
        }
        Ok(())
    })?;
    run.final_test(&state)
}

/// The run's config: read back from config.json on `--resume`, else made from the flags; then
/// `--epochs` applied, checked, and written (back) to config.json. With it, the run's learning
/// rates (made here so that a rate the schedule cannot take stops the run before any work).
fn run_config(args: &TrainArgs) -> Result<(TrainConfig, Rates)> {
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
        TrainConfig::new_run(args)
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
    let rates = config
        .lr_schedule
        .rates(config.optimizer.lr, config.epochs)?;
    write_json(&config_path, &config)?;
    Ok((config, rates))
}

/// What a run holds from its setup to its end: the data, the devices and where it writes.
struct Run<'a> {
    args: &'a TrainArgs,
    config: TrainConfig,
    cache: Arc<FeatureCache>,
    split: Split,
    /// The training examples: all of the split's, or its clean maps under fresh augmentation.
    train_examples: Vec<Example>,
    /// The decoded training clips that fresh augmentation draws from each epoch.
    fresh_audio: Option<TrainAudio>,
    scaler: Arc<Scaler>,
    batcher: MapBatcher,
    valid_set: MapDataset,
    test_set: MapDataset,
    /// Where validation, testing and the optimizer step run: the first of `--devices`.
    device: Device,
    /// Every device of `--devices`, with autodiff.
    ad_devices: Vec<Device>,
    /// Host-drawn dropout masks (CPU runs): one explicit stream, reseeded every epoch.
    host_masks: Option<HostMasks>,
    /// The classes learnt (the run's label set), in logit order.
    labels: Vec<String>,
    /// The corpora trained on, with their credits and licences (the artifact's provenance).
    data: String,
    /// Named after its directory, which is what tells runs of one protocol and seed apart
    /// (robustness charts and `sermo info` show it); `<protocol>-seed<seed>` if it has none.
    name: String,
    smoothing: Option<f32>,
    epochs_dir: PathBuf,
    best_path: PathBuf,
}

/// One epoch's training figures.
struct Progress {
    loss: f64,
    accuracy: f64,
    /// Seconds the epoch waited for its examples (prepared while the epoch before trained).
    data_seconds: f64,
    /// Seconds of forward, backward and optimizer steps.
    steps_seconds: f64,
}

impl<'a> Run<'a> {
    /// Loads the data, splits it by the protocol (split.json), fits the scaler on the training
    /// examples and opens the devices.
    fn setup(args: &'a TrainArgs, config: TrainConfig) -> Result<Self> {
        let out = &args.out;
        let devices =
            args.backend
                .training_devices(&args.devices, &config.model, config.batch_size)?;
        let mut data_args = args.data.clone();
        data_args.copies = config.augment.copies;
        data_args.snr_low = config.augment.snr_low;
        data_args.snr_high = config.augment.snr_high;
        let (cache, sources) = load_cache(
            &data_args,
            &config.features,
            config.seed,
            Some(&config.protocol),
        )?;
        let cache = Arc::new(cache);
        let index = cache.index();
        let split: Split = config.protocol.split(&index, cache.copies(), config.seed)?;
        let held_out = if !split.test_actors.is_empty() {
            format!(
                "; test actors {:?}, valid actors {:?}",
                split.test_actors, split.valid_actors
            )
        } else if !split.test_speakers.is_empty() {
            format!(
                "; test speakers {}, valid speakers {}",
                split.test_speakers.join(" "),
                split.valid_speakers.join(" ")
            )
        } else {
            String::new()
        };
        eprintln!(
            "protocol {}: {} train, {} valid, {} test examples{held_out}",
            config.protocol,
            split.train.len(),
            split.valid.len(),
            split.test.len(),
        );
        write_json(&out.join("split.json"), &split)?;
        let (train_examples, fresh_audio) = training_examples(
            &split,
            &cache,
            config.fresh.as_ref(),
            sources.as_ref(),
            config.labels,
        )?;
        let scaler = Arc::new(fit_scaler(&cache, &train_examples)?);
        let shape = [config.features.n_mfcc, config.features.n_frames()];
        let batcher = MapBatcher::new(scaler.clone(), shape);
        let valid_set = MapDataset::new(cache.clone(), split.valid.clone(), config.labels);
        let test_set = MapDataset::new(cache.clone(), split.test.clone(), config.labels);
        let trained: std::collections::BTreeSet<&str> = split
            .train
            .iter()
            .filter_map(|e| cache.clip(e.clip))
            .map(|c| c.corpus.as_str())
            .collect();
        let data = trained
            .into_iter()
            .map(corpus_credit)
            .collect::<Vec<_>>()
            .join("; ");

        let device = devices[0].clone();
        let ad_devices: Vec<Device> = devices.iter().map(|d| d.clone().autodiff()).collect();
        if devices.len() > 1 {
            eprintln!(
                "data parallel over {} devices: {:?}; each batch of {} is split between them",
                devices.len(),
                args.devices,
                config.batch_size
            );
        }
        let name = out
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned))
            .unwrap_or_else(|| format!("{}-seed{}", config.protocol.slug(), config.seed));
        let labels = config.labels.names();
        let epochs_dir = out.join("epochs");
        std::fs::create_dir_all(&epochs_dir)
            .with_context(|| format!("creating {}", epochs_dir.display()))?;
        Ok(Run {
            args,
            smoothing: (config.label_smoothing > 0.0).then_some(config.label_smoothing),
            host_masks: config.host_dropout.then(|| HostMasks::new(config.seed)),
            config,
            cache,
            split,
            train_examples,
            fresh_audio,
            scaler,
            batcher,
            valid_set,
            test_set,
            device,
            ad_devices,
            labels,
            data,
            name,
            epochs_dir,
            best_path: out.join("best.safetensors"),
        })
    }

    /// The seeded initial model and a fresh optimizer, or, with `--resume`, both as the newest
    /// checkpoint left them, with the run's progress.
    fn start(&self) -> Result<(SermoNet, ModuleOptimizer, TrainState)> {
        let config = &self.config;
        let ad_device = &self.ad_devices[0];
        ad_device.seed(config.seed);
        let mut model = config.model.init(ad_device);
        let mut optim = config.optimizer.sgd().init();
        let mut state = TrainState {
            cache_key: self.cache.manifest.key.clone(),
            ..TrainState::default()
        };
        model = model.with_host_masks(self.host_masks.clone());
        if !self.args.resume {
            return Ok((model, optim, state));
        }
        let out = &self.args.out;
        if let Some((epoch, dir)) = latest_checkpoint(out) {
            (optim, state) = load_checkpoint(&dir, &mut model, optim)?;
            if state.cache_key != self.cache.manifest.key {
                bail!(
                    "the run was trained on feature cache {} but the data now gives {}: \
                     resume with the same data",
                    state.cache_key,
                    self.cache.manifest.key
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
        Ok((model, optim, state))
    }

    /// The examples of `epoch` in the order it trains on them: the cached maps shuffled by the
    /// epoch's seed, with, under `--fresh`, the epoch's newly augmented copies shuffled in.
    fn epoch_items(&self, epoch: usize) -> Result<Vec<MapItem>> {
        let config = &self.config;
        let seed = epoch_seed(config.seed, epoch);
        let mut shuffle = ChaCha8Rng::seed_from_u64(seed);
        let mut order = self.train_examples.clone();
        order.shuffle(&mut shuffle);
        let order = MapDataset::new(self.cache.clone(), order, config.labels);
        let mut items: Vec<MapItem> = (0..order.len())
            .map(|i| order.get(i))
            .collect::<Result<_, _>>()?;
        if let (Some(fresh), Some(audio)) = (&config.fresh, &self.fresh_audio) {
            items.extend(audio.epoch(fresh, &config.features, seed)?);
            items.shuffle(&mut shuffle);
        }
        Ok(items)
    }

    /// One pass over the epoch's `items` (from [`Self::epoch_items`]), one optimizer step per
    /// batch at the rate `lr`.
    fn train_epoch(
        &self,
        epoch: usize,
        lr: f64,
        items: Vec<MapItem>,
        mut model: SermoNet,
        optim: &mut ModuleOptimizer,
    ) -> Result<(SermoNet, Progress)> {
        let config = &self.config;
        let started = Instant::now();
        let seed = epoch_seed(config.seed, epoch);
        for (i, d) in self.ad_devices.iter().enumerate() {
            d.seed(seed.wrapping_add(i as u64));
        }
        if let Some(masks) = &self.host_masks {
            masks.reseed(seed);
        }
        let steps = items.len().div_ceil(config.batch_size);
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
            let outcome = step::gradients(
                &model,
                batch,
                &self.batcher,
                &self.ad_devices,
                self.smoothing,
            )?;
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
        let progress = Progress {
            loss: loss_sum / seen.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
            data_seconds: 0.0,
            steps_seconds: started.elapsed().as_secs_f64(),
        };
        Ok((model, progress))
    }

    /// The epoch's figures, with the model (in evaluation mode) scored on validation.
    fn validate(
        &self,
        eval_model: &SermoNet,
        epoch: usize,
        progress: Progress,
        started: Instant,
    ) -> Result<EpochRecord> {
        // Labels and configs only: this metadata (accuracy 0, to be measured) is never written.
        let validator = Classifier::from_parts(
            eval_model.clone(),
            self.meta(epoch, 0.0),
            (*self.scaler).clone(),
            &self.device,
        )?;
        let validation_started = Instant::now();
        let (valid_loss, targets, predicted) = evaluate(&validator, &self.valid_set)?;
        Ok(EpochRecord {
            epoch,
            train_loss: progress.loss,
            train_accuracy: progress.accuracy,
            valid_loss,
            valid_accuracy: Scores::new(&self.labels, &targets, &predicted).accuracy,
            seconds: started.elapsed().as_secs_f64(),
            data_seconds: progress.data_seconds,
            steps_seconds: progress.steps_seconds,
            validation_seconds: validation_started.elapsed().as_secs_f64(),
        })
    }

    /// Keeps the epoch: its weights in `epochs/` (about 1 MB each, for `sermo average` over the
    /// end of a run and for scoring any epoch later), as best.safetensors too when validation
    /// is the best yet, its line on the terminal, its record in the run's history.
    fn snapshot(
        &self,
        eval_model: &SermoNet,
        record: EpochRecord,
        state: &mut TrainState,
    ) -> Result<()> {
        let epoch = record.epoch;
        state.epochs_done = epoch;
        let artifact = Artifact::from_model(
            eval_model,
            self.meta(epoch, record.valid_accuracy),
            (*self.scaler).clone(),
        )?;
        let bytes = artifact.to_bytes()?;
        let epoch_path = epoch_artifact(&self.epochs_dir, epoch);
        write_atomic(&epoch_path, &bytes)
            .with_context(|| format!("writing {}", epoch_path.display()))?;
        if record.valid_accuracy > state.best_valid_accuracy || state.best_epoch == 0 {
            state.best_epoch = epoch;
            state.best_valid_accuracy = record.valid_accuracy;
            write_atomic(&self.best_path, &bytes)
                .with_context(|| format!("writing {}", self.best_path.display()))?;
        }
        eprintln!(
            "epoch {epoch:>3}/{}  train loss {:.4} acc {:5.2} %  valid loss {:.4} acc {:5.2} %  best {:5.2} % (epoch {})  {:.1} s (data {:.1}, steps {:.1}, validation {:.1})",
            self.config.epochs,
            record.train_loss,
            100.0 * record.train_accuracy,
            record.valid_loss,
            100.0 * record.valid_accuracy,
            100.0 * state.best_valid_accuracy,
            state.best_epoch,
            record.seconds,
            record.data_seconds,
            record.steps_seconds,
            record.validation_seconds
        );
        state.history.push(record);
        Ok(())
    }

    /// The metadata of the weights after `epoch`, with their validation accuracy.
    fn meta(&self, epoch: usize, valid_accuracy: f64) -> ArtifactMeta {
        let config = &self.config;
        let mut meta = ArtifactMeta::paper(Provenance {
            name: self.name.clone(),
            trained: true,
            data: self.data.clone(),
            protocol: Some(config.protocol.to_string()),
            seed: Some(config.seed),
            epochs: Some(epoch),
            best_epoch: Some(epoch),
            command: Some(command_line()),
            accuracies: vec![Accuracy {
                protocol: config.protocol.to_string(),
                split: "valid".into(),
                accuracy: valid_accuracy,
                examples: self.split.valid.len(),
            }],
            notes: None,
        });
        meta.features = config.features.clone();
        meta.model = config.model.clone();
        meta.labels = self.labels.clone();
        meta
    }
}

/// Seeds derived per epoch, so a resumed run draws exactly what an uninterrupted one would.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (epoch as u64).wrapping_mul(0xD1B5_4A32_D192_ED03)
}
