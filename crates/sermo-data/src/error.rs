use std::path::Path;

/// Everything that can go wrong in sermo-data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason: in the message, not a `source()`, so that a chain
        /// printed with `{:#}` does not say it twice.
        reason: std::io::Error,
    },
    /// The dataset directory is unusable.
    #[error("dataset: {0}")]
    Dataset(String),
    /// The feature cache is unusable.
    #[error("feature cache: {0}")]
    Cache(String),
    /// A protocol cannot split this data.
    #[error("protocol: {0}")]
    Protocol(String),
}

impl DataError {
    pub(crate) fn io(path: &Path, reason: std::io::Error) -> Self {
        DataError::Io {
            path: path.display().to_string(),
            reason,
        }
    }
}
