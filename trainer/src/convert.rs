//! `sermo convert`: a model artifact rewritten with f16 weights (half the size) or back to f32,
//! optionally renamed or annotated.

use std::path::PathBuf;

use anyhow::Result;

use crate::models;

/// `sermo convert`.
#[derive(clap::Args, Debug)]
pub struct ConvertArgs {
    /// Model to read: `default` or `paper` for a shipped one, else a .safetensors artifact.
    pub model: PathBuf,
    /// Output artifact.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Store the network's weights as f16 (half the file; widened to f32 when loaded).
    #[arg(long)]
    pub f16: bool,
    /// New provenance name (e.g. the name it ships under).
    #[arg(long)]
    pub name: Option<String>,
    /// New provenance notes (what the model is, for `sermo info`).
    #[arg(long)]
    pub notes: Option<String>,
}

/// Rewrites an artifact, with f16 or f32 weights and optionally a new name or notes.
pub fn run(args: &ConvertArgs) -> Result<()> {
    let mut artifact = models::load(Some(&args.model))?;
    if let Some(name) = &args.name {
        artifact.meta.provenance.name = name.clone();
    }
    if let Some(notes) = &args.notes {
        artifact.meta.provenance.notes = Some(notes.clone());
    }
    models::write(&args.output, &artifact, args.f16, "")
}
