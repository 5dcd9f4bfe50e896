//! `sermo init`: a freshly initialised, untrained model artifact.

use std::path::PathBuf;

use anyhow::Result;
use sermo_data::LabelSet;
use sermo_model::{Artifact, ArtifactMeta, Provenance, Scaler, SermoNetConfig};

use crate::args::{FeatureOptions, command_line};
use crate::models;

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
    pub features: FeatureOptions,
    /// The classes: `8` (RAVDESS's) or `7` (calm merged into neutral), as `sermo train
    /// --labels`.
    #[arg(long, default_value = "8", value_name = "8|7")]
    pub labels: LabelSet,
}

/// Writes a freshly initialised network (identity scaler) marked as an untrained placeholder:
/// for testing pipelines end to end before a trained model exists.
pub fn run(args: &InitArgs) -> Result<()> {
    let device = burn::tensor::Device::flex();
    device.seed(args.seed);
    let config = SermoNetConfig::paper().with_num_classes(args.labels.len());
    let model = config.init(&device);
    let mut meta = ArtifactMeta::paper(Provenance {
        name: format!("untrained placeholder (seed {})", args.seed),
        trained: false,
        data: "none: freshly initialised weights".into(),
        seed: Some(args.seed),
        command: Some(command_line()),
        notes: Some(
            "Predictions of this model are meaningless; it exists to exercise the pipeline.".into(),
        ),
        ..Provenance::default()
    });
    meta.features = args.features.config();
    meta.model = config;
    meta.labels = args.labels.names();
    let len = meta.features.n_mfcc * meta.features.n_frames();
    let artifact = Artifact::from_model(&model, meta, Scaler::identity(len))?;
    models::write(&args.output, &artifact, false, ", untrained")
}
