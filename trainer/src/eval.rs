//! `sermo eval`, and the scoring of a model on examples that training's validation and test use
//! too.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use sermo_data::{MapBatcher, MapDataset};
use sermo_model::SermoNet;

use crate::args::{DataArgs, ProtocolArgs, SplitName};
use crate::backend::Backend;
use crate::data::load_cache;
use crate::metrics::Scores;

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

/// Scores a model artifact on a split of a protocol and prints the scores.
pub fn run(args: &EvalArgs) -> Result<()> {
    let artifact = crate::models::load(Some(&args.model))?;
    let cache = Arc::new(load_cache(&args.data, &artifact.meta.features, args.seed)?);
    let protocol = args.protocol.protocol();
    let split = protocol.split(&cache.index(), cache.copies(), args.seed)?;
    let device = args.backend.device()?;
    let model = artifact.build(&device)?;
    let shape = [
        artifact.meta.features.n_mfcc,
        artifact.meta.features.n_frames(),
    ];
    let batcher = MapBatcher::new(Arc::new(artifact.scaler.clone()), shape);
    let test_set = MapDataset::new(cache, args.split.of(&split).to_vec());
    let (loss, t, p) = evaluate(&model, &test_set, &batcher, &device)?;
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

/// Scores a model (in evaluation mode) on examples, in batches of 64: the mean cross-entropy,
/// the true classes and the predicted ones, in the dataset's order.
pub fn evaluate(
    model: &SermoNet,
    dataset: &MapDataset,
    batcher: &MapBatcher,
    device: &Device,
) -> Result<(f64, Vec<usize>, Vec<usize>)> {
    let mut targets = Vec::new();
    let mut predicted = Vec::new();
    let mut loss_sum = 0f64;
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    for start in (0..dataset.len()).step_by(64) {
        let items = (start..(start + 64).min(dataset.len()))
            .map(|i| dataset.get(i))
            .collect::<Result<Vec<_>, _>>()?;
        let n = items.len();
        targets.extend(items.iter().map(|i| i.label));
        let batch = batcher.batch(items, device);
        let logits = model.forward(batch.inputs);
        let loss = loss_fn.forward(logits.clone(), batch.targets);
        loss_sum += f64::from(
            loss.try_into_scalar::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?,
        ) * n as f64;
        let best = logits
            .argmax(1)
            .try_into_data()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        predicted.extend(
            best.convert::<i64>()
                .try_to_vec::<i64>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?
                .into_iter()
                .map(|p| p as usize),
        );
    }
    Ok((loss_sum / dataset.len().max(1) as f64, targets, predicted))
}
