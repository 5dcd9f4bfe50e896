//! Accuracy, macro recall, per-class precision/recall/F1 and the normalised confusion matrix,
//! overall and per corpus.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sermo_data::{Example, FeatureCache};

/// Scores of a set of predictions against their targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Examples scored.
    pub examples: usize,
    /// Fraction correct.
    pub accuracy: f64,
    /// Unweighted average recall: the mean recall of the classes present in the data scored (a
    /// class with no example, such as calm in nEMO, is left out rather than counted as 0).
    /// Corpora and classes are unbalanced; this is the field's usual figure beside accuracy.
    #[serde(default)]
    pub macro_recall: f64,
    /// Mean of the per-class F1 scores of the classes present in the data scored (as macro
    /// recall; with every class present, as on RAVDESS, the mean over all classes).
    pub macro_f1: f64,
    /// Per class, in label order.
    pub per_class: Vec<ClassScores>,
    /// Counts: `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    /// Rows normalised to sum to 1 (the paper's Table 1 form); a class with no examples is a
    /// row of zeros.
    pub confusion_normalised: Vec<Vec<f64>>,
}

/// Precision, recall and F1 of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Class name.
    pub label: String,
    /// Examples of this class.
    pub support: usize,
    /// Of those predicted as this class, the fraction that are.
    pub precision: f64,
    /// Of this class, the fraction found.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

impl Scores {
    /// Scores `predicted` against `targets` (class indices below `labels.len()`).
    pub fn new(labels: &[String], targets: &[usize], predicted: &[usize]) -> Self {
        let k = labels.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (&t, &p) in targets.iter().zip(predicted) {
            if t < k && p < k {
                confusion[t][p] += 1;
            }
        }
        let examples = targets.len();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let per_class: Vec<ClassScores> = (0..k)
            .map(|i| {
                let support: usize = confusion[i].iter().sum();
                let predicted_as: usize = confusion.iter().map(|row| row[i]).sum();
                let precision = ratio(confusion[i][i], predicted_as);
                let recall = ratio(confusion[i][i], support);
                let f1 = if precision + recall == 0.0 {
                    0.0
                } else {
                    2.0 * precision * recall / (precision + recall)
                };
                ClassScores {
                    label: labels[i].clone(),
                    support,
                    precision,
                    recall,
                    f1,
                }
            })
            .collect();
        let confusion_normalised = confusion
            .iter()
            .map(|row| {
                let n: usize = row.iter().sum();
                row.iter().map(|&c| ratio(c, n)).collect()
            })
            .collect();
        let present: Vec<&ClassScores> = per_class.iter().filter(|c| c.support > 0).collect();
        let mean = |f: fn(&ClassScores) -> f64| {
            present.iter().map(|c| f(c)).sum::<f64>() / present.len().max(1) as f64
        };
        Self {
            examples,
            accuracy: ratio(correct, examples),
            macro_recall: mean(|c| c.recall),
            macro_f1: mean(|c| c.f1),
            per_class,
            confusion,
            confusion_normalised,
        }
    }
}

/// The scores of one corpus's examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorpusScores {
    /// The corpus.
    pub corpus: String,
    /// Speakers its figures rest on.
    pub speakers: usize,
    /// Its scores (per class, confusion matrix).
    pub scores: Scores,
}

/// The scores of each corpus of the scored `examples` of `cache` (in corpus name order), from
/// the targets and predictions given for them in the same order.
pub fn per_corpus(
    cache: &FeatureCache,
    examples: &[Example],
    labels: &[String],
    targets: &[usize],
    predicted: &[usize],
) -> Vec<CorpusScores> {
    type Group = (BTreeSet<String>, Vec<usize>, Vec<usize>);
    let mut groups: BTreeMap<String, Group> = BTreeMap::new();
    for ((example, &t), &p) in examples.iter().zip(targets).zip(predicted) {
        let Some(clip) = cache.clip(example.clip) else {
            continue;
        };
        let group = groups.entry(clip.corpus.clone()).or_default();
        group.0.insert(clip.speaker.clone());
        group.1.push(t);
        group.2.push(p);
    }
    groups
        .into_iter()
        .map(|(corpus, (speakers, t, p))| CorpusScores {
            corpus,
            speakers: speakers.len(),
            scores: Scores::new(labels, &t, &p),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Macro recall averages the classes present: a corpus without some classes (nEMO has no
    /// calm) is not scored as if it had missed them.
    #[test]
    fn macro_recall_counts_the_classes_present() {
        let labels: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let s = Scores::new(&labels, &[0, 0, 0, 0, 1], &[0, 0, 0, 1, 0]);
        assert_eq!(s.accuracy, 0.6);
        assert!((s.macro_recall - (0.75 + 0.0) / 2.0).abs() < 1e-12);
        let f1_a = 2.0 * 0.75 * 0.75 / 1.5;
        assert!((s.macro_f1 - f1_a / 2.0).abs() < 1e-12);
        assert_eq!(s.per_class[2].support, 0);
    }

    #[test]
    fn scores_a_small_case() {
        let labels: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let s = Scores::new(&labels, &[0, 0, 1, 1], &[0, 1, 1, 1]);
        assert_eq!(s.accuracy, 0.75);
        assert_eq!(s.confusion, vec![vec![1, 1], vec![0, 2]]);
        assert_eq!(s.confusion_normalised[0], vec![0.5, 0.5]);
        assert!((s.per_class[1].precision - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(s.per_class[0].recall, 0.5);
    }
}
