//! Model artifacts by name or path, and the default model compiled into the binary.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sermo_model::Artifact;

/// The default model shipped with sermo (`models/default.safetensors`, see its model card).
static DEFAULT_MODEL: &[u8] = include_bytes!("../../models/default.safetensors");

/// Loads `--model`: a path to a `.safetensors` artifact, or `default` / omitted for the shipped
/// model. Warns when the weights were never trained.
pub fn load(model: Option<&Path>) -> Result<Artifact> {
    let artifact = match model {
        None => default_model()?,
        Some(p) if p.as_os_str() == "default" => default_model()?,
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Artifact::from_bytes(&bytes).with_context(|| format!("{}", path.display()))?
        }
    };
    if !artifact.meta.provenance.trained {
        eprintln!(
            "warning: model {:?} is an UNTRAINED placeholder: its predictions are meaningless",
            artifact.meta.provenance.name
        );
    }
    Ok(artifact)
}

/// The artifact compiled into this binary.
pub fn default_model() -> Result<Artifact> {
    if DEFAULT_MODEL.is_empty() {
        bail!("this sermo was built without a default model; pass --model FILE");
    }
    Artifact::from_bytes(DEFAULT_MODEL).context("the built-in default model")
}
