//! `sermo synth`: a small synthetic RAVDESS-shaped dataset, for trying the pipeline (and testing
//! it) without RAVDESS.

use std::path::PathBuf;

use anyhow::{Context, Result};
use sermo_data::synthetic::{SyntheticSpec, write_dataset};

/// `sermo synth`.
#[derive(clap::Args, Debug)]
pub struct SynthArgs {
    /// Output directory (Actor_XX/ folders are created in it).
    #[arg(short, long)]
    output: PathBuf,
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

/// Writes the clips and says how many.
pub fn run(args: &SynthArgs) -> Result<()> {
    let spec = SyntheticSpec {
        actors: args.actors,
        seconds: args.seconds,
        seed: args.seed,
        ..Default::default()
    };
    let n = write_dataset(&args.output, &spec, args.strong)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!("wrote {n} synthetic clips to {}", args.output.display());
    Ok(())
}
