//! `sermo import`: a PyTorch state_dict of the reference architecture (and optionally the scaler
//! it was trained with) into a model artifact.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sermo_model::{Artifact, ArtifactMeta, Provenance, Scaler, SermoNetConfig, import_state_dict};

use crate::args::command_line;
use crate::models;

/// `sermo import`.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// `torch.save(model.state_dict(), path)` file of the reference architecture.
    pub state_dict: PathBuf,
    /// `.npz` with arrays `mean` and `std` (or scikit-learn's `mean_` and `scale_`), 40×282
    /// values each: the feature scaler the weights were trained with. Default: identity.
    #[arg(long)]
    pub scaler: Option<PathBuf>,
    /// Name recorded in the artifact's provenance.
    #[arg(long, default_value = "imported from PyTorch")]
    pub name: String,
    /// Mark the weights as trained (they came from a real training run).
    #[arg(long)]
    pub trained: bool,
    /// Output artifact.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Imports the state_dict, with its scaler, as an artifact of the paper's pipeline.
pub fn run(args: &ImportArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let config = SermoNetConfig::paper();
    let model = import_state_dict(&args.state_dict, &config, &device)?;
    let meta = ArtifactMeta::paper(Provenance::default());
    let len = meta.features.n_mfcc * meta.features.n_frames();
    let scaler = match &args.scaler {
        None => Scaler::identity(len),
        Some(path) => {
            let arrays = crate::npy::read_npz(path, &["mean", "std"])
                .or_else(|_| crate::npy::read_npz(path, &["mean_", "scale_"]))
                .with_context(|| {
                    format!("{}: needs arrays mean/std or mean_/scale_", path.display())
                })?;
            let [mean, std]: [Vec<f32>; 2] = arrays
                .try_into()
                .map_err(|_| anyhow::anyhow!("{}: expected two arrays", path.display()))?;
            if mean.len() != len || std.len() != len {
                bail!(
                    "{}: scaler arrays have {}/{} values, the features have {len}",
                    path.display(),
                    mean.len(),
                    std.len()
                );
            }
            Scaler { mean, std }
        }
    };
    let provenance = Provenance {
        name: args.name.clone(),
        trained: args.trained,
        data: format!("PyTorch state_dict {}", args.state_dict.display()),
        command: Some(command_line()),
        ..Provenance::default()
    };
    let artifact = Artifact::from_model(&model, ArtifactMeta::paper(provenance), scaler)?;
    models::write(&args.output, &artifact, false, "")
}
