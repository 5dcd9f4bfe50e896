use sermo_dsp::DspError;

/// Everything that can go wrong in sermo-model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The artifact is corrupt, truncated, of another format or version, or does not match
    /// the network it describes. The message says which.
    #[error("invalid model artifact: {0}")]
    Artifact(String),
    /// Artifacts that cannot be averaged: `index` (0-based, in the order given) differs from
    /// the first.
    #[error("model {index} cannot be averaged with the first: {reason}")]
    Average {
        /// Which artifact differs.
        index: usize,
        /// How it differs.
        reason: String,
    },
    /// Inputs of the wrong size.
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// Audio could not be turned into features.
    #[error(transparent)]
    Dsp(#[from] DspError),
    /// The backend failed (device lost, read-back failed, …).
    #[error("backend error: {0}")]
    Backend(String),
    /// A PyTorch `state_dict` could not be imported.
    #[error("cannot import {file}: {reason}")]
    Import {
        /// The file being imported.
        file: String,
        /// Why it failed.
        reason: String,
    },
}
