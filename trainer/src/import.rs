//! `sermo import` (PyTorch state_dict → artifact), `sermo init` (fresh, untrained artifact),
//! `sermo convert` (f32 ↔ f16 weights) and `sermo average` (the mean of one run's epochs).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sermo_data::write_atomic;
use sermo_model::{
    Artifact, ArtifactMeta, ModelError, Precision, Provenance, Scaler, SermoNetConfig,
    import_state_dict,
};

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

pub fn run_import(args: &ImportArgs) -> Result<()> {
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
        command: Some(crate::train::command_line()),
        ..Provenance::default()
    };
    let artifact = Artifact::from_model(&model, ArtifactMeta::paper(provenance), scaler)?;
    write_artifact(&args.output, &artifact, "")
}

/// `sermo init`.
#[derive(clap::Args, Debug, Clone)]
pub struct InitArgs {
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output artifact.
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub features: crate::train::FeatureOptions,
}

/// Writes a freshly initialised network (identity scaler) marked as an untrained placeholder:
/// for testing pipelines end to end before a trained model exists.
pub fn run_init(args: &InitArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    device.seed(args.seed);
    let model = SermoNetConfig::paper().init(&device);
    let mut meta = ArtifactMeta::paper(Provenance {
        name: format!("untrained placeholder (seed {})", args.seed),
        trained: false,
        data: "none: freshly initialised weights".into(),
        seed: Some(args.seed),
        command: Some(crate::train::command_line()),
        notes: Some(
            "Predictions of this model are meaningless; it exists to exercise the pipeline.".into(),
        ),
        ..Provenance::default()
    });
    meta.features = args.features.config();
    let len = meta.features.n_mfcc * meta.features.n_frames();
    let artifact = Artifact::from_model(&model, meta, Scaler::identity(len))?;
    write_artifact(&args.output, &artifact, ", untrained")
}

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
pub fn run_convert(args: &ConvertArgs) -> Result<()> {
    let mut artifact = crate::models::load(Some(&args.model))?;
    if let Some(name) = &args.name {
        artifact.meta.provenance.name = name.clone();
    }
    if let Some(notes) = &args.notes {
        artifact.meta.provenance.notes = Some(notes.clone());
    }
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    write_artifact_as(&args.output, &artifact, precision, "")
}

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
pub fn run_average(args: &AverageArgs) -> Result<()> {
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
    provenance.command = Some(crate::train::command_line());
    provenance.notes = Some(args.notes.clone().unwrap_or_else(|| {
        format!(
            "mean of the weights of {} models of {} (epochs {})",
            models.len(),
            first.name,
            epochs.join(", ")
        )
    }));
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    write_artifact_as(
        &args.output,
        &artifact,
        precision,
        &format!(", the mean of {} models", models.len()),
    )
}

/// Writes an artifact atomically and says so, with its parameter count and `note`.
fn write_artifact(path: &Path, artifact: &Artifact, note: &str) -> Result<()> {
    write_artifact_as(path, artifact, Precision::F32, note)
}

fn write_artifact_as(
    path: &Path,
    artifact: &Artifact,
    precision: Precision,
    note: &str,
) -> Result<()> {
    let bytes = artifact.to_bytes_as(precision)?;
    write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {} ({} parameters, {precision:?} weights, {} bytes{note})",
        path.display(),
        artifact.num_params(),
        bytes.len()
    );
    Ok(())
}
