//! `sermo`: speech emotion recognition after An & Ruan (2021) — features, training,
//! evaluation, prediction, import and inspection of models.

mod backend;
mod cache;
mod features;
mod import;
mod info;
mod metrics;
mod models;
mod npy;
mod plots;
mod predict;
mod robustness;
mod step;
mod train;

use clap::{Parser, Subcommand};

/// Speech emotion recognition: MFCC → two parallel CNNs + Transformer encoder → 8 emotions.
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
    /// Train the paper's network on RAVDESS (resumable; writes report, plots and artifact).
    Train(train::TrainArgs),
    /// Score a model artifact on a protocol's test split.
    Eval(train::EvalArgs),
    /// Classify audio files: label and the 8 probabilities per file.
    Predict(predict::PredictArgs),
    /// Score a model on held-out clips, clean and under each channel shift (gain, band limit,
    /// noise, reverberation, onset, short clips): JSON and a PNG chart.
    Robustness(robustness::RobustnessArgs),
    /// Import a PyTorch state_dict of the reference architecture into a model artifact.
    Import(import::ImportArgs),
    /// Write a freshly initialised (untrained) model artifact.
    Init(import::InitArgs),
    /// Rewrite a model artifact with f16 weights (half the size) or back to f32.
    Convert(import::ConvertArgs),
    /// Average the weights of several artifacts of one run (e.g. its last epochs) into one.
    Average(import::AverageArgs),
    /// Show what a model artifact holds (the default model when none is given).
    Info(info::InfoArgs),
    /// Write a small synthetic RAVDESS-shaped dataset (for trying the pipeline without RAVDESS).
    Synth(SynthArgs),
    /// Export or import a feature cache (to move prepared data between machines).
    #[command(subcommand)]
    Cache(cache::CacheCommand),
}

/// `sermo synth`.
#[derive(clap::Args, Debug)]
struct SynthArgs {
    /// Output directory (Actor_XX/ folders are created in it).
    #[arg(short, long)]
    output: std::path::PathBuf,
    /// Number of actors (1–24).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u8).range(1..=24))]
    actors: u8,
    /// Clip length in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f32,
    /// Also write strong-intensity clips (doubles the non-neutral clips).
    #[arg(long)]
    strong: bool,
    /// Seed of the per-clip jitter and noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn synth(args: &SynthArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let spec = sermo_data::synthetic::SyntheticSpec {
        actors: args.actors,
        seconds: args.seconds,
        seed: args.seed,
        ..Default::default()
    };
    let n = sermo_data::synthetic::write_dataset(&args.output, &spec, args.strong)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("wrote {n} synthetic clips to {}", args.output.display());
    Ok(())
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
        Command::Train(a) => train::run(a),
        Command::Eval(a) => train::eval(a),
        Command::Predict(a) => predict::run(a),
        Command::Robustness(a) => robustness::run(a),
        Command::Import(a) => import::run_import(a),
        Command::Init(a) => import::run_init(a),
        Command::Convert(a) => import::run_convert(a),
        Command::Average(a) => import::run_average(a),
        Command::Info(a) => info::run(a),
        Command::Cache(c) => cache::run(c),
        Command::Synth(a) => synth(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
