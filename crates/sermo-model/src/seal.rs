//! The seal of an artifact: the SHA-256 of its tensor data, recorded when it is written and
//! checked on every load, so a damaged or altered file is an error, not a model that quietly
//! predicts nonsense.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{ArtifactMeta, ModelError};

/// The metadata key that holds the hex SHA-256 of the file's tensor data.
pub const SHA256_KEY: &str = "tensors_sha256";

/// The `sermo` metadata JSON as written: the metadata, then the tensor data's hash.
#[derive(Serialize)]
pub(crate) struct Sealed<'a> {
    #[serde(flatten)]
    pub meta: &'a ArtifactMeta,
    pub tensors_sha256: &'a str,
}

/// Whether a loaded artifact's tensor data was checked against its recorded hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seal {
    /// The file records the SHA-256 of its tensor data (the hex string), and the data matches.
    Verified(String),
    /// The file records no hash (written before sermo recorded one): its bytes could not be
    /// checked.
    Missing,
}

/// Hex SHA-256 of the tensor data of safetensors `bytes`: everything after the 8-byte header
/// length and the header.
pub(crate) fn tensor_sha256(bytes: &[u8]) -> Result<String, ModelError> {
    let header_len = bytes
        .get(..8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| {
            ModelError::Artifact("not a readable safetensors file (no header length)".into())
        })?;
    let data = 8usize
        .checked_add(header_len)
        .and_then(|start| bytes.get(start..))
        .ok_or_else(|| {
            ModelError::Artifact("not a readable safetensors file (header past the end)".into())
        })?;
    Ok(Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
