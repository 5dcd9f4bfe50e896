//! The end of a run: its best epoch tested once, and what that writes.

use anyhow::{Context, Result};
use sermo_data::write_atomic;
use sermo_model::{Accuracy, Artifact, Classifier};

use super::Run;
use crate::args::command_line;
use crate::checkpoint::TrainState;
use crate::eval::evaluate;
use crate::metrics::{Scores, per_corpus};
use crate::plots;
use crate::report::TrainReport;
use crate::report::write_json;
use crate::summary::scores_text;

impl Run<'_> {
    /// Tests the best epoch, once: model.safetensors (with its test accuracy, and each test
    /// corpus's when there are several), report.json (overall and per corpus), curves.png and
    /// confusion.png (and confusion-CORPUS.png per test corpus when there are several), with the
    /// scores on the terminal.
    pub(super) fn final_test(&self, state: &TrainState) -> Result<()> {
        let (args, config, out) = (self.args, &self.config, &self.args.out);
        let best_path = &self.best_path;
        let bytes =
            std::fs::read(best_path).with_context(|| format!("reading {}", best_path.display()))?;
        let mut artifact =
            Artifact::from_bytes(&bytes).with_context(|| best_path.display().to_string())?;
        let best = Classifier::new(&artifact, &self.device)?;
        let (_, vt, vp) = evaluate(&best, &self.valid_set)?;
        let (_, tt, tp) = evaluate(&best, &self.test_set)?;
        let valid = Scores::new(&self.labels, &vt, &vp);
        let test = Scores::new(&self.labels, &tt, &tp);
        let valid_corpora = per_corpus(&self.cache, &self.split.valid, &self.labels, &vt, &vp);
        let test_corpora = per_corpus(&self.cache, &self.split.test, &self.labels, &tt, &tp);
        artifact.meta.provenance.epochs = Some(state.epochs_done);
        artifact.meta.provenance.accuracies.push(Accuracy {
            protocol: config.protocol.to_string(),
            split: "test".into(),
            accuracy: test.accuracy,
            examples: test.examples,
        });
        if test_corpora.len() > 1 {
            for corpus in &test_corpora {
                artifact.meta.provenance.accuracies.push(Accuracy {
                    protocol: format!("{} on {}", config.protocol, corpus.corpus),
                    split: "test".into(),
                    accuracy: corpus.scores.accuracy,
                    examples: corpus.scores.examples,
                });
            }
        }
        let model_path = out.join("model.safetensors");
        write_atomic(&model_path, &artifact.to_bytes()?)?;
        let seconds: f64 = state.history.iter().map(|r| r.seconds).sum();
        let report = TrainReport {
            protocol: config.protocol.to_string(),
            seed: config.seed,
            backend: if args.devices == [0] {
                args.backend.name().into()
            } else {
                format!("{} on devices {:?}", args.backend.name(), args.devices)
            },
            command: command_line(),
            config: config.clone(),
            cache_key: self.cache.manifest.key.clone(),
            split_sizes: [
                self.split.train.len(),
                self.split.valid.len(),
                self.split.test.len(),
            ],
            test_actors: self.split.test_actors.clone(),
            valid_actors: self.split.valid_actors.clone(),
            test_speakers: self.split.test_speakers.clone(),
            valid_speakers: self.split.valid_speakers.clone(),
            labels: self.labels.clone(),
            history: state.history.clone(),
            best_epoch: state.best_epoch,
            valid,
            test,
            valid_corpora,
            test_corpora,
            seconds_per_epoch: seconds / state.history.len().max(1) as f64,
        };
        write_json(&out.join("report.json"), &report)?;
        plots::curves(&out.join("curves.png"), &report.history)?;
        let title = format!("{} test, best epoch {}", report.protocol, report.best_epoch);
        plots::confusion(
            &out.join("confusion.png"),
            &self.labels,
            &report.test.confusion_normalised,
            &title,
        )?;
        if report.test_corpora.len() > 1 {
            for corpus in &report.test_corpora {
                plots::confusion(
                    &out.join(format!("confusion-{}.png", corpus.corpus)),
                    &self.labels,
                    &corpus.scores.confusion_normalised,
                    &format!("{title}: {}", corpus.corpus),
                )?;
            }
        }
        eprint!(
            "{}",
            scores_text("validation", &report.valid, &report.valid_corpora)
        );
        eprint!(
            "{}",
            scores_text("test", &report.test, &report.test_corpora)
        );
        eprintln!(
            "test accuracy {:.2} % (macro recall {:.3}, macro F1 {:.3}) at best valid epoch {} — {}",
            100.0 * report.test.accuracy,
            report.test.macro_recall,
            report.test.macro_f1,
            state.best_epoch,
            out.display()
        );
        Ok(())
    }
}
