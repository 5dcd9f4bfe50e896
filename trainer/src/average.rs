//! `sermo average`: the element-wise mean of the weights of several artifacts of one run.

use std::path::PathBuf;

use anyhow::Result;
use sermo_model::{Artifact, ModelError};

use crate::args::command_line;

/// `sermo average`.
#[derive(clap::Args, Debug)]
pub struct AverageArgs {
    /// Artifacts of one run to average, e.g. its last epochs:
    /// `runs/R/epochs/epoch-01{01..20}.safetensors`.
    #[arg(required = true, num_args = 1..)]
    pub models: Vec<PathBuf>,
    /// Output artifact.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Provenance name. Default: the first model's name with `-avg<N>`.
    #[arg(long)]
    pub name: Option<String>,
    /// Provenance notes. Default: which epochs were averaged.
    #[arg(long)]
    pub notes: Option<String>,
    /// Store the network's weights as f16.
    #[arg(long)]
    pub f16: bool,
}

/// Writes the element-wise mean of several artifacts of one run (see [`Artifact::average`]).
/// Its accuracies are not known until it is scored: `sermo eval --split valid` next.
pub fn run(args: &AverageArgs) -> Result<()> {
    let models = args
        .models
        .iter()
        .map(|p| crate::models::load(Some(p)))
        .collect::<Result<Vec<_>>>()?;
    let mut artifact = Artifact::average(&models).map_err(|e| match e {
        ModelError::Average { index, reason } => anyhow::anyhow!(
            "cannot average {} with {}: {reason}",
            args.models[index].display(),
            args.models[0].display()
        ),
        other => other.into(),
    })?;
    let first = &models[0].meta.provenance;
    let epochs: Vec<String> = models
        .iter()
        .map(|m| {
            m.meta
                .provenance
                .best_epoch
                .map_or_else(|| "?".to_string(), |e| e.to_string())
        })
        .collect();
    let provenance = &mut artifact.meta.provenance;
    provenance.name = args
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-avg{}", first.name, models.len()));
    provenance.epochs = models.iter().filter_map(|m| m.meta.provenance.epochs).max();
    provenance.command = Some(command_line());
    provenance.notes = Some(args.notes.clone().unwrap_or_else(|| {
        format!(
            "mean of the weights of {} models of {} (epochs {})",
            models.len(),
            first.name,
            epochs.join(", ")
        )
    }));
    crate::models::write(
        &args.output,
        &artifact,
        args.f16,
        &format!(", the mean of {} models", models.len()),
    )
}
