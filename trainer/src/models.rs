//! Model artifacts by name or path, the models compiled into the binary, and writing artifacts.
//!
//! sermo ships two models (their cards are in `models/MODEL_CARD.md`):
//! - `default`: the model for real users, trained for speakers, microphones and rooms it never
//!   heard (issue 11's robust variant); used when `--model` is omitted;
//! - `paper`: the faithful reproduction of the paper's recipe, for researchers.

use std::path::Path;

use anyhow::{Context, Result, bail};
use sermo_data::write_atomic;
use sermo_model::{Artifact, Precision, Seal};

/// The shipped models by name, as `--model NAME` selects them.
static SHIPPED: &[(&str, &[u8])] = &[
    (
        "default",
        include_bytes!("../../models/default.safetensors"),
    ),
    ("paper", include_bytes!("../../models/paper.safetensors")),
];

/// The names `--model` accepts besides a path.
pub fn shipped_names() -> Vec<&'static str> {
    SHIPPED.iter().map(|(name, _)| *name).collect()
}

/// Loads `--model`: a shipped model's name (`default`, `paper`), a path to a `.safetensors`
/// artifact, or nothing for `default`. A file that happens to be called like a shipped model is
/// reached with a path such as `./paper`. Warns when the weights were never trained.
pub fn load(model: Option<&Path>) -> Result<Artifact> {
    let artifact = match model {
        None => shipped("default")?,
        Some(path) => match path.to_str().filter(|s| shipped_names().contains(s)) {
            Some(name) => shipped(name)?,
            None => {
                let bytes = std::fs::read(path).with_context(|| {
                    format!(
                        "reading {} (shipped models: {})",
                        path.display(),
                        shipped_names().join(", ")
                    )
                })?;
                let (artifact, seal) =
                    Artifact::read(&bytes).with_context(|| format!("{}", path.display()))?;
                if seal == Seal::Missing {
                    eprintln!(
                        "warning: {} records no SHA-256 of its weights (written before sermo \
                         recorded one): damage to its bytes cannot be detected; rewrite it with \
                         `sermo convert` to add one",
                        path.display()
                    );
                }
                artifact
            }
        },
    };
    if !artifact.meta.provenance.trained {
        eprintln!(
            "warning: model {:?} is an UNTRAINED placeholder: its predictions are meaningless",
            artifact.meta.provenance.name
        );
    }
    Ok(artifact)
}

/// The shipped model called `name`.
pub fn shipped(name: &str) -> Result<Artifact> {
    let Some((_, bytes)) = SHIPPED.iter().find(|(n, _)| *n == name) else {
        bail!(
            "no shipped model is called {name:?} (shipped: {})",
            shipped_names().join(", ")
        );
    };
    Artifact::from_bytes(bytes).with_context(|| format!("the shipped model {name:?}"))
}

/// Writes an artifact atomically, with f16 weights if `f16` (else f32), and says so with its
/// parameter count and `note`.
pub fn write(path: &Path, artifact: &Artifact, f16: bool, note: &str) -> Result<()> {
    let precision = if f16 { Precision::F16 } else { Precision::F32 };
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
