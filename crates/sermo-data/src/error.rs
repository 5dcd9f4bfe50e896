use std::path::Path;

/// Everything that can go wrong in sermo-data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The reason.
        source: std::io::Error,
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
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.display().to_string(),
            source,
        }
    }
}
