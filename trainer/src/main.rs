//! `sermo`: speech emotion recognition after An & Ruan (2021) — features, training,
//! evaluation, prediction, import and inspection of models.
//!
//! One file per command, plus what they share:
//!
//! | file | holds |
//! | --- | --- |
//! | `main.rs` | the command tree and its dispatch |
//! | `args.rs` | the arguments commands share (data, protocol, split, feature options), `sermo train`'s, the command line for provenance |
//! | `config.rs` | a run's config.json, `TrainConfig` (model, optimiser, schedule, seed, data) |
//! | `schedule.rs` | the learning rate over a run, from burn's schedulers |
//! | `data.rs` | the corpora behind `--data` (one index), the feature cache behind `--data`/`--cache`; a run's training examples, fresh-augmentation audio and scaler |
//! | `training.rs` | `sermo train`: setup, one epoch, validation, the epoch's snapshot; `training/final_test.rs`: the final test and what it writes |
//! | `step.rs` | one training step's gradients, on one device or data parallel |
//! | `checkpoint.rs` | checkpoints for `--resume` and per-epoch artifact paths |
//! | `eval.rs` | `sermo eval`, and `evaluate`, the scoring training uses too |
//! | `report.rs` | report.json and robustness.json, as plots read them |
//! | `metrics.rs` | accuracy, macro recall, F1 and the confusion matrix, overall and per corpus |
//! | `summary.rs` | those scores on the terminal |
//! | `plots.rs` | PNG curves, confusion matrices and robustness charts |
//! | `robustness.rs` | `sermo robustness` |
//! | `features.rs` | `sermo features` |
//! | `predict.rs` | `sermo predict` |
//! | `import.rs`, `init.rs`, `convert.rs`, `average.rs` | `sermo import`, `init`, `convert`, `average` |
//! | `models.rs` | artifacts by name or path, the shipped models, writing artifacts |
//! | `info.rs` | `sermo info` |
//! | `cache.rs` | `sermo cache export`/`import` |
//! | `synth.rs` | `sermo synth` |
//! | `backend.rs` | the burn device of `--backend` |
//! | `npy.rs` | NumPy `.npy`/`.npz` reading and writing |

mod args;
mod average;
mod backend;
mod cache;
mod checkpoint;
mod config;
mod convert;
mod data;
mod eval;
mod features;
mod import;
mod info;
mod init;
mod metrics;
mod models;
mod npy;
mod plots;
mod predict;
mod report;
mod robustness;
mod schedule;
mod step;
mod summary;
mod synth;
mod timeline;
mod training;

use clap::{Parser, Subcommand};

/// Speech emotion recognition: MFCC → two parallel CNNs + Transformer encoder → emotions.
#[derive(Parser, Debug)]
#[command(version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write the MFCC feature matrix (40×282 by default) of audio files as .npy.
    Features(features::FeaturesArgs),
    /// Train the paper's network on RAVDESS, nEMO or any corpus in a manifest (resumable; writes
    /// report, plots and artifact).
    Train(args::TrainArgs),
    /// Score a model artifact on a protocol's test split.
    Eval(eval::EvalArgs),
    /// Classify audio files: label and the probability of each of the model's labels per file.
    Predict(predict::PredictArgs),
    /// Score a model on held-out clips, clean and under each channel shift (gain, band limit,
    /// noise, reverberation, onset, short clips): JSON and a PNG chart.
    Robustness(robustness::RobustnessArgs),
    /// Import a PyTorch state_dict of the reference architecture into a model artifact.
    Import(import::ImportArgs),
    /// Write a freshly initialised (untrained) model artifact.
    Init(init::InitArgs),
    /// Rewrite a model artifact with f16 weights (half the size) or back to f32.
    Convert(convert::ConvertArgs),
    /// Average the weights of several artifacts of one run (e.g. its last epochs) into one.
    Average(average::AverageArgs),
    /// Show what a model artifact holds (the default model when none is given).
    Info(info::InfoArgs),
    /// Write a small synthetic RAVDESS-shaped dataset (for trying the pipeline without RAVDESS).
    Synth(synth::SynthArgs),
    /// Export or import a feature cache (to move prepared data between machines).
    #[command(subcommand)]
    Cache(cache::CacheCommand),
}

/// Lets a closed stdout end the process as it ends any Unix tool (`sermo info --json | head`).
/// Rust ignores SIGPIPE, so without this every `println!` after the reader has gone panics.
fn default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in `main`, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> std::process::ExitCode {
    default_sigpipe();
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Features(a) => features::run(a),
        Command::Train(a) => training::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Robustness(a) => robustness::run(a),
        Command::Import(a) => import::run(a),
        Command::Init(a) => init::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Average(a) => average::run(a),
        Command::Info(a) => info::run(a),
        Command::Cache(c) => cache::run(c),
        Command::Synth(a) => synth::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
