//! End to end across corpora: a synthetic RAVDESS set and a small manifest corpus (without calm
//! and disgust, with its own label names) trained one epoch under `speaker` (7 labels, fresh
//! augmentation) and `corpus`; reports per corpus, the label set in the artifact, eval agreeing
//! with training, and the errors users hit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{ok, sermo};

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The manifest corpus's labels as it writes them, by RAVDESS emotion code.
const LABELS: [(&str, &str); 4] = [("01", "neu"), ("03", "hap"), ("04", "sad"), ("05", "ang")];
const LABEL_MAP: &str = "neu=neutral,hap=happy,ang=angry";

struct Corpora {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Corpora {
    /// `data/ravdess`: 3 synthetic actors; `data/other.tsv`: 3 more synthetic speakers (another
    /// seed) listed by a manifest, four emotions only, under their own label names.
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let data = root.join("data");
        for (out, seed) in [("ravdess", "0"), ("other-src", "5")] {
            ok(sermo()
                .args([
                    "synth",
                    "--actors",
                    "3",
                    "--seconds",
                    "1.5",
                    "--seed",
                    seed,
                    "-o",
                ])
                .arg(data.join(out))
                .output()
                .unwrap());
        }
        let mut manifest = String::from("path\tlabel\tspeaker\n");
        for actor in 1..=3 {
            for (code, label) in LABELS {
                for (statement, repetition) in [(1, 1), (1, 2), (2, 1), (2, 2)] {
                    manifest += &format!(
                        "other-src/Actor_{actor:02}/03-01-{code}-01-{statement:02}-{repetition:02}-{actor:02}.wav\t{label}\to{actor}\n"
                    );
                }
            }
        }
        std::fs::write(data.join("other.tsv"), manifest).unwrap();
        Self { _dir: dir, root }
    }

    fn with_data(&self, cmd: &mut Command) {
        cmd.arg("--data")
            .arg(self.root.join("data/ravdess"))
            .arg("--data")
            .arg(self.root.join("data/other.tsv"))
            .args(["--label-map", LABEL_MAP])
            .arg("--cache-root")
            .arg(self.root.join("cache"))
            .args(["--copies", "1", "--seed", "7"]);
    }

    fn train(&self, run: &str, extra: &[&str]) -> Output {
        let mut cmd = sermo();
        cmd.arg("train");
        self.with_data(&mut cmd);
        cmd.arg("--out")
            .arg(self.root.join(run))
            .args(["--epochs", "1"])
            .args(extra);
        cmd.output().unwrap()
    }
}

fn corpora_of(scores: &Value) -> Vec<(String, u64)> {
    scores
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["corpus"].as_str().unwrap().to_string(),
                c["speakers"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn trains_and_reports_across_corpora() {
    let fx = Corpora::new();

    // 1. `speaker`: every fold tests and validates on whole speakers of both corpora; 7 labels
    //    (calm merged into neutral) reach the network, the artifact and predict; fresh
    //    augmentation finds the manifest's files.
    ok(fx.train(
        "speaker",
        &[
            "--protocol",
            "speaker",
            "--folds",
            "3",
            "--labels",
            "7",
            "--fresh",
            "1",
        ],
    ));
    let run = fx.root.join("speaker");
    let rep = json(&run.join("report.json"));
    assert_eq!(rep["labels"].as_array().unwrap().len(), 7);
    assert_eq!(rep["config"]["labels"], 7);
    assert_eq!(rep["config"]["model"]["num_classes"], 7);
    assert_eq!(
        rep["test_speakers"],
        serde_json::json!(["other/o1", "ravdess/01"])
    );
    assert_eq!(
        rep["valid_speakers"],
        serde_json::json!(["other/o2", "ravdess/02"])
    );
    let tested = corpora_of(&rep["test_corpora"]);
    assert_eq!(
        tested,
        [("other".to_string(), 1), ("ravdess".to_string(), 1)]
    );
    assert_eq!(corpora_of(&rep["valid_corpora"]).len(), 2);
    for corpus in rep["test_corpora"].as_array().unwrap() {
        let confusion = corpus["scores"]["confusion"].as_array().unwrap();
        assert_eq!(confusion.len(), 7);
        let recall = corpus["scores"]["macro_recall"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&recall));
    }
    assert!(rep["test"]["macro_recall"].is_number());
    for png in [
        "confusion.png",
        "confusion-other.png",
        "confusion-ravdess.png",
    ] {
        assert!(run.join(png).is_file(), "{png} missing");
    }
    let info: Value = serde_json::from_slice(
        &ok(sermo()
            .args(["info", "--json"])
            .arg(run.join("model.safetensors"))
            .output()
            .unwrap())
        .stdout,
    )
    .unwrap();
    let labels: Vec<&str> = info["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "neutral",
            "happy",
            "sad",
            "angry",
            "fearful",
            "disgust",
            "surprised"
        ]
    );
    assert_eq!(info["model"]["num_classes"], 7);
    let data = info["provenance"]["data"].as_str().unwrap();
    assert!(data.contains("RAVDESS") && data.contains("other"), "{data}");
    let clip = fx
        .root
        .join("data/ravdess/Actor_01/03-01-02-01-01-01-01.wav");
    let out = ok(sermo()
        .arg("predict")
        .arg("--model")
        .arg(run.join("model.safetensors"))
        .arg("--json")
        .arg(&clip)
        .output()
        .unwrap());
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["probabilities"].as_object().unwrap().len(), 7);

    // 2. `corpus`: train and validate on RAVDESS, test on the corpus never trained on, which
    //    has no calm and no disgust; eval re-scores it to the same figures.
    ok(fx.train(
        "corpus",
        &["--protocol", "corpus", "--test-corpus", "other"],
    ));
    let run = fx.root.join("corpus");
    let rep = json(&run.join("report.json"));
    assert_eq!(corpora_of(&rep["test_corpora"]), [("other".to_string(), 3)]);
    assert_eq!(
        corpora_of(&rep["valid_corpora"]),
        [("ravdess".to_string(), 1)]
    );
    let per_class = rep["test"]["per_class"].as_array().unwrap();
    let support = |label: &str| {
        per_class.iter().find(|c| c["label"] == label).unwrap()["support"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(
        (support("calm"), support("disgust"), support("sad")),
        (0, 0, 12)
    );
    assert!(
        !run.join("confusion-other.png").exists(),
        "one test corpus: confusion.png"
    );
    let mut eval = sermo();
    eval.arg("eval")
        .arg("--model")
        .arg(run.join("model.safetensors"));
    fx.with_data(&mut eval);
    eval.args(["--protocol", "corpus", "--test-corpus", "other", "--json"]);
    let scored: Value = serde_json::from_slice(&ok(eval.output().unwrap()).stdout).unwrap();
    assert_eq!(scored["scores"]["accuracy"], rep["test"]["accuracy"]);
    assert_eq!(
        scored["scores"]["macro_recall"],
        rep["test"]["macro_recall"]
    );
    assert_eq!(scored["corpora"][0]["corpus"], "other");
    // The same 8-label model on the seven classes (calm counted as neutral), as a 7-label
    // model is scored; a 7-label model cannot be split back into 8.
    let mut eval = sermo();
    eval.arg("eval")
        .arg("--model")
        .arg(run.join("model.safetensors"));
    fx.with_data(&mut eval);
    eval.args([
        "--protocol",
        "corpus",
        "--test-corpus",
        "other",
        "--labels",
        "7",
        "--json",
    ]);
    let seven: Value = serde_json::from_slice(&ok(eval.output().unwrap()).stdout).unwrap();
    assert_eq!(seven["labels"].as_array().unwrap().len(), 7);
    assert_eq!(seven["scores"]["confusion"].as_array().unwrap().len(), 7);
    assert_eq!(seven["scores"]["per_class"][0]["label"], "neutral");
    let mut eval = sermo();
    eval.arg("eval")
        .arg("--model")
        .arg(fx.root.join("speaker/model.safetensors"));
    fx.with_data(&mut eval);
    eval.args(["--protocol", "speaker", "--folds", "3", "--labels", "8"]);
    let out = eval.output().unwrap();
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("cannot be scored on 8 labels"), "{e}");

    // 3. What users get wrong: a protocol that reads RAVDESS names on other corpora, an
    //    unknown test corpus (both refused before any feature is computed), a label the map
    //    does not cover.
    let err = |out: Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(fx.train("paper", &["--protocol", "paper"]));
    assert!(
        e.contains("other") && e.contains("--protocol speaker"),
        "{e}"
    );
    assert!(
        !e.contains("feature cache"),
        "refused only after the features: {e}"
    );
    let e = err(fx.train("nemo", &["--protocol", "corpus", "--test-corpus", "nemo"]));
    assert!(
        e.contains("\"nemo\"") && e.contains("other, ravdess"),
        "{e}"
    );
    let out = sermo()
        .arg("train")
        .arg("--data")
        .arg(fx.root.join("data/other.tsv"))
        .arg("--out")
        .arg(fx.root.join("unmapped"))
        .output()
        .unwrap();
    let e = err(out);
    assert!(
        e.contains("other.tsv:2") && e.contains("unknown label \"neu\""),
        "{e}"
    );
}
