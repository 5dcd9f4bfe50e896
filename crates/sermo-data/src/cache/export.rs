//! Moving a cache between machines: parts of at most 60 MiB, each with its hash.

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::files::{from_le, hex, to_le, write_atomic};
use super::{DATA_FILE, FeatureCache, Manifest};
use crate::DataError;

/// Largest part an export writes: 60 MiB.
pub const EXPORT_PART_BYTES: usize = 60 * 1024 * 1024;

/// The manifest of an export: the cache manifest and its data parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// The cache's own manifest.
    pub cache: Manifest,
    /// `(file name, bytes, hex SHA-256)` of each part, in order.
    pub parts: Vec<(String, u64, String)>,
}

impl FeatureCache {
    /// Writes the cache to `dir` as parts of at most `part_bytes` (≤ [`EXPORT_PART_BYTES`]) and
    /// an `export.json` naming each part with its hash.
    pub fn export(&self, dir: &Path, part_bytes: usize) -> Result<ExportManifest, DataError> {
        let part_bytes = part_bytes.clamp(4, EXPORT_PART_BYTES) / 4 * 4;
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        let bytes = to_le(&self.data);
        let mut parts = Vec::new();
        for (i, chunk) in bytes.chunks(part_bytes).enumerate() {
            let name = format!("{DATA_FILE}.{i:03}");
            write_atomic(&dir.join(&name), chunk)?;
            parts.push((name, chunk.len() as u64, hex(&Sha256::digest(chunk))));
        }
        let export = ExportManifest {
            cache: self.manifest.clone(),
            parts,
        };
        let json = serde_json::to_vec_pretty(&export)
            .map_err(|e| DataError::Cache(format!("encoding export manifest: {e}")))?;
        write_atomic(&dir.join("export.json"), &json)?;
        Ok(export)
    }

    /// Reads an export written by [`FeatureCache::export`], verifying every part and the whole,
    /// and installs it under `root` (so later runs find it by key). Returns the cache.
    pub fn import(dir: &Path, root: &Path) -> Result<Self, DataError> {
        let path = dir.join("export.json");
        let text = fs::read(&path).map_err(|e| DataError::io(&path, e))?;
        let export: ExportManifest = serde_json::from_slice(&text)
            .map_err(|e| DataError::Cache(format!("{}: {e}", path.display())))?;
        let mut bytes = Vec::with_capacity(export.cache.data_bytes as usize);
        for (name, len, sha) in &export.parts {
            if name.contains('/') || name.contains('\\') || name.contains("..") {
                return Err(DataError::Cache(format!(
                    "{}: bad part name {name:?}",
                    path.display()
                )));
            }
            let part_path = dir.join(name);
            let part = fs::read(&part_path).map_err(|e| DataError::io(&part_path, e))?;
            if part.len() as u64 != *len || hex(&Sha256::digest(&part)) != *sha {
                return Err(DataError::Cache(format!(
                    "{}: part does not match its hash (corrupt or truncated)",
                    part_path.display()
                )));
            }
            bytes.extend_from_slice(&part);
        }
        if bytes.len() as u64 != export.cache.data_bytes
            || hex(&Sha256::digest(&bytes)) != export.cache.data_sha256
        {
            return Err(DataError::Cache(format!(
                "{}: reassembled data does not match the cache hash",
                dir.display()
            )));
        }
        let cache = Self::from_parts(export.cache, from_le(&bytes))?;
        cache.save(&root.join(&cache.manifest.key))?;
        Ok(cache)
    }
}
