//! The files of a cache: hashes, atomic writes, the default root, and each clip's seed.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::DataError;

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn sha256_file(path: &Path) -> Result<(String, u64), DataError> {
    let mut file = fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hex(&hasher.finalize()), total))
}

/// A seed for one clip drawn from a run seed and the clip's id: independent of clip order and
/// thread scheduling. The noisy copies use it; so do the robustness report's shifts.
pub fn clip_seed(seed: u64, id: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(id.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The default cache root: `$XDG_CACHE_HOME/sermo/features` (or the platform's equivalent).
pub fn default_cache_root() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("sermo")
        .join("features")
}

/// Writes `bytes` to `path` atomically (temporary file + rename), so a crash never leaves a
/// half-written file under the final name.
///
/// Each call writes its own temporary file (named for the process and a per-process counter):
/// two trainings that build the same feature cache at once, as paired runs on one machine do,
/// would otherwise write into one temporary file, and the second rename finds it gone.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    ));
    let written = fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .map_err(|e| DataError::io(&tmp, e))
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| DataError::io(path, e)));
    if written.is_err() {
        let _ = fs::remove_file(&tmp); // best effort: the error says what failed
    }
    written
}

pub(crate) fn to_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

pub(crate) fn from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
