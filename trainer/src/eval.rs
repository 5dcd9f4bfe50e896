//! `sermo eval`, and the scoring of a model on cached examples that training's validation and
//! test use too.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use burn::data::dataset::Dataset;
use sermo_data::{LabelSet, MapDataset};
use sermo_dsp::Features;
use sermo_model::Classifier;

use crate::args::{DataArgs, ProtocolArgs, SplitName};
use crate::backend::Backend;
use crate::data::load_cache;
use crate::metrics::{Scores, per_corpus};
use crate::summary::scores_text;

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

/// Scores a model artifact on a split of a protocol and prints the scores, overall and per
/// corpus. The clips' emotions are mapped onto the model's own labels (calm is neutral for a
/// 7-label model).
pub fn run(args: &EvalArgs) -> Result<()> {
    let artifact = crate::models::load(Some(&args.model))?;
    let labels = LabelSet::of_names(&artifact.meta.labels)?;
    let protocol = args.protocol.protocol();
    let (cache, _) = load_cache(
        &args.data,
        &artifact.meta.features,
        args.seed,
        Some(&protocol),
    )?;
    let cache = Arc::new(cache);
    let split = protocol.split(&cache.index(), cache.copies(), args.seed)?;
    let device = args.backend.device()?;
    let classifier = Classifier::new(&artifact, &device)?;
    let examples = args.split.of(&split).to_vec();
    let test_set = MapDataset::new(cache.clone(), examples.clone(), labels);
    let (loss, t, p) = evaluate(&classifier, &test_set)?;
    let scores = Scores::new(&artifact.meta.labels, &t, &p);
    let corpora = per_corpus(&cache, &examples, &artifact.meta.labels, &t, &p);
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
                "corpora": corpora,
            }))?
        );
    } else {
        let title = format!(
            "{} on {} {} (loss {loss:.4})",
            args.model.display(),
            protocol,
            args.split.as_str()
        );
        print!("{}", scores_text(&title, &scores, &corpora));
    }
    Ok(())
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
