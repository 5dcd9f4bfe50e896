//! End to end on a synthetic RAVDESS-shaped dataset: train → report → eval → predict, a run
//! killed with SIGKILL and resumed to the same result, the robust options and the robustness
//! report, data-parallel shards, averaged epochs, and the error paths users hit.
//!
//! The tests share one synthetic corpus, one feature cache and one trained run (each made once,
//! by whichever test needs it first), and otherwise run side by side: every `sermo train` here
//! runs on one thread (`RAYON_NUM_THREADS=1`), so two tests training at once use both cores of
//! a two-core machine instead of fighting over them (a run this small leaves a second rayon
//! thread mostly idle).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{ok, sermo};

/// The synthetic corpus (6 actors, 2 s clips), its feature cache and the runs, under cargo's
/// temporary directory for integration tests (emptied when the corpus is made).
struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("train_e2e");
        if root.exists() {
            std::fs::remove_dir_all(&root).unwrap();
        }
        std::fs::create_dir_all(&root).unwrap();
        ok(sermo()
            .args(["synth", "--actors", "6", "--seconds", "2", "-o"])
            .arg(root.join("data"))
            .output()
            .unwrap());
        Self { root }
    }

    fn train(&self, run: &str, extra: &[&str]) -> Command {
        let mut cmd = sermo();
        cmd.env("RAYON_NUM_THREADS", "1")
            .arg("train")
            .arg("--data")
            .arg(self.root.join("data"))
            .arg("--cache-root")
            .arg(self.root.join("cache"))
            .arg("--out")
            .arg(self.root.join(run))
            .args(["--copies", "1", "--seed", "7", "--batch-size", "16"])
            .args(extra);
        cmd
    }
}

/// The corpus every test here uses, made by the first test that asks.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::new)
}

/// The 3-epoch run of the paper's protocol that several tests inspect, trained once.
fn trained_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let fx = fixture();
        ok(fx.train("run", &["--epochs", "3"]).output().unwrap());
        fx.root.join("run")
    })
}

fn report(run: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(run.join("report.json")).unwrap()).unwrap()
}

#[test]
fn trains_evaluates_predicts_and_averages() {
    let fx = fixture();

    // 1. A short run clearly beats chance (12.5 %) and writes every output.
    let run = trained_run();
    for file in [
        "report.json",
        "curves.png",
        "confusion.png",
        "model.safetensors",
        "split.json",
        "config.json",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let rep = report(run);
    let test_acc = rep["test"]["accuracy"].as_f64().unwrap();
    assert!(
        test_acc > 0.4,
        "test accuracy {test_acc} is not clearly above chance"
    );
    assert_eq!(rep["protocol"], "paper");
    assert_eq!(rep["history"].as_array().unwrap().len(), 3);
    let confusion = rep["test"]["confusion_normalised"].as_array().unwrap();
    assert_eq!(confusion.len(), 8);

    // 2. eval re-scores the same test split to the same accuracy.
    let out = ok(sermo()
        .arg("eval")
        .arg("--model")
        .arg(run.join("model.safetensors"))
        .arg("--data")
        .arg(fx.root.join("data"))
        .arg("--cache-root")
        .arg(fx.root.join("cache"))
        .args(["--copies", "1", "--seed", "7", "--json"])
        .output()
        .unwrap());
    let eval: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(eval["scores"]["accuracy"].as_f64().unwrap(), test_acc);

    // 3. predict gives a label and 8 probabilities summing to 1.
    let clip = fx.root.join("data/Actor_01/03-01-05-01-01-01-01.wav");
    let out = ok(sermo()
        .arg("predict")
        .arg("--model")
        .arg(run.join("model.safetensors"))
        .arg("--json")
        .arg(&clip)
        .output()
        .unwrap());
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    let probs = line["probabilities"].as_object().unwrap();
    assert_eq!(probs.len(), 8);
    let sum: f64 = probs.values().map(|v| v.as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-4);
    assert!(line["label"].is_string());
    assert_eq!(line["logits"].as_array().unwrap().len(), 8);
    // The same shape as the npm package's ClassifyResult (one serialised Prediction).
    assert_eq!(line["probabilitiesArray"].as_array().unwrap().len(), 8);
    assert!(line["voiced"].is_boolean());

    // 4. info shows the provenance with its accuracies.
    let out = ok(sermo()
        .arg("info")
        .arg(run.join("model.safetensors"))
        .arg("--json")
        .output()
        .unwrap());
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["provenance"]["trained"], true);
    assert_eq!(
        info["provenance"]["name"], "run",
        "named after its run directory"
    );
    let accs = info["provenance"]["accuracies"].as_array().unwrap();
    assert!(
        accs.iter()
            .any(|a| a["split"] == "test" && a["protocol"] == "paper")
    );

    // 5. A fresh run into a used directory is refused (no lost work).
    let out = fx.train("run", &["--epochs", "1"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume"));

    // 6. Every epoch's weights are kept, the best of them as model.safetensors; `average`
    //    makes one model of the last epochs, which scores as any model and says what it is.
    let epoch = |n: usize| run.join(format!("epochs/epoch-{n:04}.safetensors"));
    for n in 1..=3 {
        assert!(epoch(n).is_file(), "epoch {n} weights missing");
    }
    let best = rep["best_epoch"].as_u64().unwrap() as usize;
    let best_info: Value = serde_json::from_slice(
        &ok(sermo()
            .arg("info")
            .arg("--json")
            .arg(epoch(best))
            .output()
            .unwrap())
        .stdout,
    )
    .unwrap();
    assert_eq!(best_info["provenance"]["best_epoch"], best);
    let avg = fx.root.join("avg.safetensors");
    ok(sermo()
        .arg("average")
        .args([epoch(2), epoch(3)])
        .arg("-o")
        .arg(&avg)
        .output()
        .unwrap());
    let out = ok(sermo()
        .arg("info")
        .arg("--json")
        .arg(&avg)
        .output()
        .unwrap());
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["provenance"]["name"], "run-avg2");
    assert!(
        info["provenance"]["notes"]
            .as_str()
            .unwrap()
            .contains("epochs 2, 3")
    );
    assert!(
        info["provenance"]["accuracies"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let out = ok(sermo()
        .arg("eval")
        .arg("--model")
        .arg(&avg)
        .arg("--data")
        .arg(fx.root.join("data"))
        .arg("--cache-root")
        .arg(fx.root.join("cache"))
        .args(["--copies", "1", "--seed", "7", "--split", "valid", "--json"])
        .output()
        .unwrap());
    let eval: Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = eval["scores"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.4, "the averaged model scores {acc} on validation");
}

#[test]
fn a_killed_run_resumes_to_the_same_history() {
    let fx = fixture();

    // Kill a run with SIGKILL after its first checkpoint, resume it: the same history as the
    // uninterrupted run (same seed), epoch for epoch. The uninterrupted run (shared with
    // another test) trains meanwhile.
    let uninterrupted = std::thread::spawn(trained_run);
    let mut child = fx.train("killed", &["--epochs", "2"]).spawn().unwrap();
    let first = fx.root.join("killed/checkpoints/epoch-0001/state.json");
    let started = Instant::now();
    while !first.is_file() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no checkpoint after 10 minutes"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("training ended before it could be killed: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    ok(fx
        .train("killed", &["--epochs", "2", "--resume"])
        .output()
        .unwrap());
    let resumed = report(&fx.root.join("killed"));
    let rep = report(uninterrupted.join().unwrap());
    let full = rep["history"].as_array().unwrap();
    let again = resumed["history"].as_array().unwrap();
    assert_eq!(again.len(), 2);
    for (a, b) in full.iter().zip(again) {
        for key in [
            "train_loss",
            "train_accuracy",
            "valid_loss",
            "valid_accuracy",
        ] {
            assert_eq!(
                a[key], b[key],
                "epoch {}: {key} differs after resume",
                a["epoch"]
            );
        }
    }
}

#[test]
fn robust_options_robustness_and_averaging_across_pipelines() {
    let fx = fixture();

    // The actor protocol keeps speakers apart.
    ok(fx
        .train(
            "actor",
            &["--epochs", "1", "--protocol", "actor", "--test-actors", "1"],
        )
        .output()
        .unwrap());
    let actor = report(&fx.root.join("actor"));
    assert_eq!(actor["test_actors"], serde_json::json!([1]));
    assert_eq!(actor["valid_actors"], serde_json::json!([2, 3]));

    // The robust options: speech-aligned windows, CMVN and augmentation drawn afresh each
    // epoch, recorded in the run's config and in the artifact.
    ok(fx
        .train(
            "robust",
            &[
                "--epochs",
                "1",
                "--protocol",
                "actor",
                "--test-actors",
                "1",
                "--fresh",
                "1",
                "--align",
                "speech",
                "--cmvn",
                "--lr-schedule",
                "cosine",
                "--label-smoothing",
                "0.1",
            ],
        )
        .output()
        .unwrap());
    let robust = report(&fx.root.join("robust"));
    assert_eq!(robust["config"]["fresh"]["copies"], 1);
    assert_eq!(robust["config"]["lr_schedule"], "cosine");
    assert!((robust["config"]["label_smoothing"].as_f64().unwrap() - 0.1).abs() < 1e-6);
    // The paper's recipe records neither.
    let plain = report(trained_run());
    assert!(plain["config"].get("lr_schedule").is_none());
    assert!(plain["config"].get("label_smoothing").is_none());
    assert_eq!(robust["config"]["features"]["align"], "speech");
    assert_eq!(robust["config"]["features"]["cmvn"], true);
    let out = ok(sermo()
        .arg("info")
        .arg(fx.root.join("robust/model.safetensors"))
        .arg("--json")
        .output()
        .unwrap());
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info["features"]["align"], "speech");
    assert_eq!(info["features"]["cmvn"], true);

    // The robustness report scores the held-out actor's clean clips exactly as the run's
    // test did (decoded audio through the artifact's own pipeline, windows aligned to speech
    // and CMVN included), then each shift asked for, reproducibly from its seed.
    let robustness = |out: &str, shifts: &str| {
        let mut cmd = sermo();
        cmd.arg("robustness")
            .arg("--model")
            .arg(fx.root.join("robust/model.safetensors"))
            .arg("--data")
            .arg(fx.root.join("data"))
            .args(["--protocol", "actor", "--test-actors", "1", "--seed", "7"])
            .args(["--shifts", shifts, "--out"])
            .arg(fx.root.join(out));
        cmd.output().unwrap()
    };
    ok(robustness(
        "robust",
        "white-noise-5dB,reverb-0.5s,short-1.5s",
    ));
    let read = |dir: &str| {
        serde_json::from_slice::<Value>(
            &std::fs::read(fx.root.join(dir).join("robustness.json")).unwrap(),
        )
        .unwrap()
    };
    let rob = read("robust");
    assert!(fx.root.join("robust/robustness.png").is_file());
    let conditions = rob["conditions"].as_array().unwrap();
    let names: Vec<&str> = conditions
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["clean", "white-noise-5dB", "reverb-0.5s", "short-1.5s"]
    );
    assert_eq!(
        conditions[0]["accuracy"].as_f64().unwrap(),
        robust["test"]["accuracy"].as_f64().unwrap(),
        "clean robustness accuracy differs from the run's test accuracy"
    );
    assert_eq!(rob["clips"], robust["test"]["examples"]);
    // ... and eval of the same artifact on the same split agrees with both: train, eval and
    // robustness score through one path.
    let out = ok(sermo()
        .arg("eval")
        .arg("--model")
        .arg(fx.root.join("robust/model.safetensors"))
        .arg("--data")
        .arg(fx.root.join("data"))
        .arg("--cache-root")
        .arg(fx.root.join("cache"))
        .args(["--copies", "1", "--seed", "7", "--json"])
        .args(["--protocol", "actor", "--test-actors", "1"])
        .output()
        .unwrap());
    let eval: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        eval["scores"]["accuracy"].as_f64().unwrap(),
        conditions[0]["accuracy"].as_f64().unwrap(),
        "eval and robustness (clean) differ on one artifact"
    );
    for c in conditions {
        let acc = c["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc));
    }
    ok(robustness(
        "robust-again",
        "white-noise-5dB,reverb-0.5s,short-1.5s",
    ));
    assert_eq!(read("robust-again")["conditions"], rob["conditions"]);
    let out = robustness("robust-bad", "white-noise-3dB");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown shift") && err.contains("white-noise-5dB"),
        "{err}"
    );

    // A model with another feature pipeline cannot join an average: the error names it.
    let actor_epoch = fx.root.join("actor/epochs/epoch-0001.safetensors");
    let robust_model = fx.root.join("robust/model.safetensors");
    let out = sermo()
        .arg("average")
        .args([actor_epoch, robust_model.clone()])
        .arg("-o")
        .arg(fx.root.join("mixed.safetensors"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&robust_model.display().to_string()) && err.contains("feature"),
        "{err}"
    );
    assert!(!fx.root.join("mixed.safetensors").exists());
}

#[test]
fn data_parallel_shards_on_one_cpu() {
    let fx = fixture();

    // Data parallel: device 0 listed twice runs every batch as two shards (fork, gradients
    // moved and summed, one optimizer step) on the one CPU device; it learns as well.
    ok(fx
        .train("shards", &["--epochs", "2", "--devices", "0,0"])
        .output()
        .unwrap());
    let shards = report(&fx.root.join("shards"));
    let acc = shards["test"]["accuracy"].as_f64().unwrap();
    assert!(acc > 0.4, "sharded training reached only {acc}");
    assert_eq!(shards["backend"], "cpu (flex) on devices [0, 0]");
    let out = fx
        .train("one-cpu", &["--epochs", "1", "--devices", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("one device"));
}

#[test]
fn shipped_models_by_name() {
    let info = |name: &str| -> Value {
        let out = ok(sermo().args(["info", "--json", name]).output().unwrap());
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (default, paper) = (info("default"), info("paper"));
    for model in [&default, &paper] {
        assert_eq!(model["provenance"]["trained"], true);
    }
    // The default is the robust variant (issue 11): augmentation drawn afresh each epoch,
    // trained and scored on a speaker-independent protocol, `actor` or `speaker` (its corpora,
    // window and normalisation are whichever won on validation speakers: models/MODEL_CARD.md);
    // `paper` keeps the paper's pipeline and protocol.
    let default_protocol = default["provenance"]["protocol"].as_str().unwrap();
    assert!(
        ["actor(", "speaker("]
            .iter()
            .any(|p| default_protocol.starts_with(p)),
        "{default_protocol}"
    );
    let default_command = default["provenance"]["command"].as_str().unwrap();
    assert!(default_command.contains("--fresh"), "{default_command}");
    assert!(paper["features"].get("align").is_none() && paper["features"].get("cmvn").is_none());
    assert_eq!(paper["provenance"]["protocol"], "paper");
    // Omitting the model is the default.
    let out = ok(sermo().args(["info", "--json"]).output().unwrap());
    let omitted: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(omitted["provenance"], default["provenance"]);

    let out = sermo().args(["info", "no-such-model"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-model") && err.contains("default, paper"),
        "{err}"
    );
}

#[test]
fn bad_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.wav");
    std::fs::write(&junk, b"RIFF\x10\x00\x00\x00WAVEjunk").unwrap();
    let out = sermo().arg("predict").arg(&junk).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("junk.wav"),
        "error does not name the file: {err}"
    );

    let out = sermo().arg("info").arg(&junk).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.wav"));

    // A model whose weights changed after it was written: an error naming the file, never a
    // prediction from damaged weights.
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/default.safetensors");
    let mut bytes = std::fs::read(shipped).unwrap();
    let last = bytes.len() - 100;
    bytes[last] ^= 0x40;
    let damaged = dir.path().join("damaged.safetensors");
    std::fs::write(&damaged, &bytes).unwrap();
    let clip = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/audio/speech-48000hz-pcm16-mono.wav");
    let out = sermo()
        .arg("predict")
        .arg("--model")
        .arg(&damaged)
        .arg(&clip)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("damaged.safetensors") && err.contains("damaged or was altered"),
        "{err}"
    );

    let out = sermo()
        .args(["train", "--data"])
        .arg(dir.path().join("nowhere"))
        .arg("--out")
        .arg(dir.path().join("r"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere"));

    let out = sermo()
        .args(["train", "--label-smoothing", "1.5", "--data"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("r2"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--label-smoothing must be in [0, 1)"));
}

/// `sermo info --json | head -1`: a reader that stops early ends sermo as it ends any Unix tool
/// (SIGPIPE), not with a panic. The read end is closed before sermo starts, so its first write
/// always fails.
#[cfg(unix)]
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = sermo()
        .args(["info", "--json", "paper"])
        .stdout(writer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    // SIGPIPE is 13 on Linux, macOS and the BSDs.
    assert_eq!(out.status.signal(), Some(13), "{:?}", out.status);
}
