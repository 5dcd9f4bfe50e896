use sermo_dsp::DspError;

/// Everything that can go wrong in sermo-model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The artifact is corrupt, truncated, of another format or version, or does not match
    /// the network it describes. The message says which.
    #[error("invalid model artifact: {0}")]
    Artifact(String),
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
