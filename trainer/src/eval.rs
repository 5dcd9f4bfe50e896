//! `sermo eval`, and the scoring of a model on cached examples that training's validation and
//! test use too.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use burn::data::dataset::Dataset;
use sermo_data::{LabelSet, MapDataset};
use sermo_dsp::Features;
use sermo_model::{Classifier, argmax, cross_entropy};

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
    /// The classes to score on: `7` scores an 8-label model with calm counted as neutral (its
    /// two probabilities summed), to compare it with a 7-label model. Default: the model's own.
    #[arg(long, value_name = "8|7")]
    pub labels: Option<LabelSet>,
}

/// Scores a model artifact on a split of a protocol and prints the scores, overall and per
/// corpus. The clips' emotions are mapped onto the scored labels (calm is neutral for 7).
pub fn run(args: &EvalArgs) -> Result<()> {
    let artifact = crate::models::load(Some(&args.model))?;
    let own = LabelSet::of_names(&artifact.meta.labels)?;
    let labels = args.labels.unwrap_or(own);
    labels.classes_from(own)?; // refused before any feature is computed
    let names = labels.names();
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
    let scores = Scores::new(&names, &t, &p);
    let corpora = per_corpus(&cache, &examples, &names, &t, &p);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model.display().to_string(),
                "protocol": protocol.to_string(),
                "split": args.split.as_str(),
                "seed": args.seed,
                "labels": names,
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
/// the targets and the predicted classes, in the dataset's label set (an 8-label model's
/// outputs merged where the dataset's classes are 7).
pub fn evaluate(
    classifier: &Classifier,
    dataset: &MapDataset,
) -> Result<(f64, Vec<usize>, Vec<usize>)> {
    let classes = dataset
        .labels()
        .classes_from(LabelSet::of_names(classifier.labels())?)?;
    let merge = classes.iter().enumerate().any(|(c, &k)| c != k);
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
            if merge {
                let logits = merged_logits(&p.logits, &classes, dataset.labels().len());
                loss_sum += cross_entropy(&logits, target);
                predicted.push(argmax(&logits));
            } else {
                loss_sum += p.loss(target);
                predicted.push(p.class);
            }
        }
        targets.extend(labels);
    }
    Ok((loss_sum / dataset.len().max(1) as f64, targets, predicted))
}

/// A model's logits as logits of `n` scored classes (`classes[c]`: the scored class of the
/// model's class c): each is the log-sum-exp of the logits merged into it, so its softmax is
/// the sum of their probabilities.
fn merged_logits(logits: &[f32], classes: &[usize], n: usize) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sums = vec![0f64; n];
    for (&logit, &k) in logits.iter().zip(classes) {
        sums[k] += f64::from(logit - max).exp();
    }
    sums.iter()
        .map(|&sum| (f64::from(max) + sum.ln()) as f32)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn softmax(logits: &[f32]) -> Vec<f64> {
        let e: Vec<f64> = logits.iter().map(|&v| f64::from(v).exp()).collect();
        let total: f64 = e.iter().sum();
        e.iter().map(|v| v / total).collect()
    }

    #[test]
    fn merged_logits_sum_the_merged_probabilities() {
        let logits = [2.0, 1.5, -0.5, 0.3, 3.1, -2.0, 0.0, 1.0];
        let classes = LabelSet::Seven.classes_from(LabelSet::Eight).unwrap();
        let merged = merged_logits(&logits, &classes, 7);
        let (p8, p7) = (softmax(&logits), softmax(&merged));
        assert!((p7[0] - (p8[0] + p8[1])).abs() < 1e-6, "{p7:?} vs {p8:?}");
        for k in 1..7 {
            assert!((p7[k] - p8[k + 1]).abs() < 1e-6, "{p7:?} vs {p8:?}");
        }
        // neutral 2.0 and calm 1.5 together (2.47) stay below angry (3.1, class 3 of the 7)…
        assert_eq!(argmax(&merged), 3);
        // …but neutral 1.0 and calm 2.9 together (3.04) overtake angry's 3.0.
        let calm_wins = [1.0, 2.9, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0];
        assert_eq!(argmax(&calm_wins), 4);
        assert_eq!(argmax(&merged_logits(&calm_wins, &classes, 7)), 0);
    }
}
