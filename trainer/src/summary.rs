//! Scores on the terminal: accuracy and macro recall overall and per corpus, recall per class,
//! and each corpus's confusion matrix (what report.json holds, readable at a glance).

use std::fmt::Write;

use crate::metrics::{CorpusScores, Scores};
use crate::plots::confusion_table;

/// One line of figures: accuracy, macro recall, macro F1 and what they rest on.
fn headline(scores: &Scores) -> String {
    format!(
        "accuracy {:.2} %, macro recall {:.3}, macro F1 {:.3} ({} examples)",
        100.0 * scores.accuracy,
        scores.macro_recall,
        scores.macro_f1,
        scores.examples
    )
}

/// Recall per class, `–` for a class with no example.
fn recalls(scores: &Scores) -> String {
    scores
        .per_class
        .iter()
        .map(|c| {
            if c.support == 0 {
                format!("{} –", c.label)
            } else {
                format!("{} {:.2}", c.label, c.recall)
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `title`'s figures overall, then per corpus with its confusion matrix (rows: true class,
/// normalised).
pub fn scores_text(title: &str, scores: &Scores, corpora: &[CorpusScores]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title}: {}", headline(scores));
    let _ = writeln!(out, "  recall per class: {}", recalls(scores));
    let labels: Vec<String> = scores.per_class.iter().map(|c| c.label.clone()).collect();
    for corpus in corpora {
        let _ = writeln!(
            out,
            "  {} ({} speaker{}): {}",
            corpus.corpus,
            corpus.speakers,
            if corpus.speakers == 1 { "" } else { "s" },
            headline(&corpus.scores)
        );
        if corpora.len() > 1 {
            let _ = writeln!(out, "    recall per class: {}", recalls(&corpus.scores));
        }
        for line in confusion_table(&labels, &corpus.scores.confusion_normalised).lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_each_corpus_and_marks_absent_classes() {
        let labels: Vec<String> = ["neutral", "calm"].iter().map(|s| s.to_string()).collect();
        let scores = Scores::new(&labels, &[0, 0, 1], &[0, 1, 1]);
        let nemo = CorpusScores {
            corpus: "nemo".into(),
            speakers: 2,
            scores: Scores::new(&labels, &[0, 0], &[0, 1]),
        };
        let ravdess = CorpusScores {
            corpus: "ravdess".into(),
            speakers: 1,
            scores: Scores::new(&labels, &[1], &[1]),
        };
        let text = scores_text("test", &scores, &[nemo, ravdess]);
        assert!(text.starts_with("test: accuracy 66.67 %"), "{text}");
        assert!(text.contains("nemo (2 speakers): accuracy 50.00 %, macro recall 0.500"));
        assert!(text.contains("neutral 0.50, calm –"), "{text}");
    }
}
