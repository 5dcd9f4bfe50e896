//! The feature cache: MFCC maps of every clip and its noisy copies, computed once.
//!
//! Computing 1440 × 4 MFCC maps takes a while on two cores; every training run needs the same
//! ones. So they are computed in parallel once and stored, by default under the user's cache
//! directory (`$XDG_CACHE_HOME/sermo/features/<key>`, e.g. `~/.cache/sermo/features/…`), keyed by
//! a hash of the feature parameters, the augmentation settings and seed, and the clip list with
//! each file's content hash. A run with other settings or other files gets another key; a
//! cache whose data does not match its recorded hash is rebuilt, not trusted.
//!
//! On disk a cache is `manifest.json` plus `features.f32` (little-endian f32, clip-major:
//! `[clip][copy][n_mfcc × n_frames]`, copy 0 clean). [`FeatureCache::export`] splits it into
//! parts of at most 60 MiB with their hashes (how a lent GPU machine gets its data);
//! [`FeatureCache::import`] checks and reassembles them.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sermo_dsp::{AugmentConfig, FeatureConfig, FeatureExtractor};
use sha2::{Digest, Sha256};

use crate::{ClipInfo, DataError, Example, Index, parse_name};

/// Cache layout version; bump when the on-disk layout changes.
const CACHE_VERSION: u32 = 1;
/// Largest part an export writes: 60 MiB.
pub const EXPORT_PART_BYTES: usize = 60 * 1024 * 1024;
const DATA_FILE: &str = "features.f32";
const MANIFEST: &str = "manifest.json";

/// What determines a cache's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheSpec {
    /// Feature parameters.
    pub features: FeatureConfig,
    /// Noisy copies and their SNR range.
    pub augment: AugmentConfig,
    /// Seed of the noise.
    pub seed: u64,
}

/// One cached clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedClip {
    /// Path relative to the dataset root (its RAVDESS name carries emotion and actor).
    pub id: String,
    /// SNR (dB) of this clip's noisy copies.
    pub snr_db: i32,
}

/// The manifest written beside the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version.
    pub version: u32,
    /// The cache key (hex SHA-256 of spec and files).
    pub key: String,
    /// What the maps were computed with.
    pub spec: CacheSpec,
    /// Values per map (`n_mfcc × n_frames`).
    pub map_len: usize,
    /// Clips in data order.
    pub clips: Vec<CachedClip>,
    /// Clips that could not be decoded, with the reason.
    pub failed: Vec<(String, String)>,
    /// Hex SHA-256 of `features.f32`.
    pub data_sha256: String,
    /// Length of `features.f32` in bytes.
    pub data_bytes: u64,
}

/// The manifest of an export: the cache manifest and its data parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportManifest {
    /// The cache's own manifest.
    pub cache: Manifest,
    /// `(file name, bytes, hex SHA-256)` of each part, in order.
    pub parts: Vec<(String, u64, String)>,
}

/// Feature maps in memory, with what they are.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    /// What this cache holds.
    pub manifest: Manifest,
    /// Parsed RAVDESS names of the clips, in data order.
    pub infos: Vec<ClipInfo>,
    data: Vec<f32>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<(String, u64), DataError> {
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

fn to_le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl FeatureCache {
    /// The cache key of `index` under `spec`: hashes the spec and every file's id and content.
    pub fn key(index: &Index, spec: &CacheSpec) -> Result<String, DataError> {
        let files: Vec<(String, String)> = index
            .clips
            .par_iter()
            .map(|c| sha256_file(&c.path).map(|(h, _)| (c.id.clone(), h)))
            .collect::<Result<_, _>>()?;
        let spec_json = serde_json::to_string(&(CACHE_VERSION, spec))
            .map_err(|e| DataError::Cache(format!("encoding spec: {e}")))?;
        let mut hasher = Sha256::new();
        hasher.update(spec_json.as_bytes());
        for (id, h) in files {
            hasher.update(id.as_bytes());
            hasher.update([0]);
            hasher.update(h.as_bytes());
        }
        Ok(hex(&hasher.finalize()))
    }

    /// Loads the cache for `index` under `spec` from `root`, or computes and stores it.
    /// `progress(done, total)` is called as clips finish. Clips that fail to decode are listed
    /// in the manifest's `failed` (and left out), unless `strict`, where they stop the run.
    pub fn load_or_build(
        index: &Index,
        spec: &CacheSpec,
        root: &Path,
        strict: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Self, DataError> {
        let key = Self::key(index, spec)?;
        let dir = root.join(&key);
        if dir.join(MANIFEST).is_file() {
            match Self::open(&dir) {
                Ok(cache) if cache.manifest.key == key => return Ok(cache),
                Ok(_) | Err(_) => {} // stale or corrupt: rebuild below
            }
        }
        let cache = Self::build(index, spec, key, strict, progress)?;
        cache.save(&dir)?;
        Ok(cache)
    }

    /// Computes every clip's clean map and its noisy copies' maps, in parallel.
    pub fn build(
        index: &Index,
        spec: &CacheSpec,
        key: String,
        strict: bool,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Self, DataError> {
        spec.features
            .validate()
            .map_err(|e| DataError::Cache(format!("feature config: {e}")))?;
        let map_len = spec.features.n_mfcc * spec.features.n_frames();
        let copies = spec.augment.copies;
        let done = std::sync::atomic::AtomicUsize::new(0);
        let total = index.clips.len();
        type Computed = Result<(i32, Vec<f32>), String>;
        let results: Vec<Computed> = index
            .clips
            .par_iter()
            .map_init(
                || FeatureExtractor::new(&spec.features),
                |extractor, clip| {
                    let out = (|| {
                        let extractor = extractor.as_mut().map_err(|e| e.to_string())?;
                        let audio =
                            sermo_dsp::decode_file(&clip.path).map_err(|e| e.to_string())?;
                        let wave = extractor.window(&audio).map_err(|e| e.to_string())?;
                        let (snr, noisy) = sermo_dsp::noisy_copies(
                            &wave,
                            copies,
                            spec.augment.snr_low,
                            spec.augment.snr_high,
                            clip_seed(spec.seed, &clip.id),
                        );
                        let mut maps = vec![0f32; (copies + 1) * map_len];
                        for (signal, out) in std::iter::once(&wave)
                            .chain(noisy.iter())
                            .zip(maps.chunks_mut(map_len))
                        {
                            extractor.map_into(signal, out).map_err(|e| {
                                format!("window length differs from the feature config: {e}")
                            })?;
                        }
                        Ok((snr, maps))
                    })();
                    let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    progress(n, total);
                    out
                },
            )
            .collect();

        let mut clips = Vec::new();
        let mut infos = Vec::new();
        let mut failed = Vec::new();
        let mut data = Vec::with_capacity(total * (copies + 1) * map_len);
        for (clip, result) in index.clips.iter().zip(results) {
            match result {
                Ok((snr_db, maps)) => {
                    clips.push(CachedClip {
                        id: clip.id.clone(),
                        snr_db,
                    });
                    infos.push(clip.info);
                    data.extend_from_slice(&maps);
                }
                Err(reason) if strict => {
                    return Err(DataError::Dataset(format!(
                        "{}: {reason}",
                        clip.path.display()
                    )));
                }
                Err(reason) => failed.push((clip.id.clone(), reason)),
            }
        }
        let bytes = to_le(&data);
        let data_sha256 = hex(&Sha256::digest(&bytes));
        Ok(Self {
            manifest: Manifest {
                version: CACHE_VERSION,
                key,
                spec: spec.clone(),
                map_len,
                clips,
                failed,
                data_sha256,
                data_bytes: bytes.len() as u64,
            },
            infos,
            data,
        })
    }

    /// Writes the cache into `dir` (created if needed), data first, manifest last, each
    /// atomically: a cache without a manifest is not a cache.
    pub fn save(&self, dir: &Path) -> Result<(), DataError> {
        fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
        write_atomic(&dir.join(DATA_FILE), &to_le(&self.data))?;
        let json = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|e| DataError::Cache(format!("encoding manifest: {e}")))?;
        write_atomic(&dir.join(MANIFEST), &json)
    }

    /// Opens a cache directory, verifying the data against the manifest's size and hash.
    pub fn open(dir: &Path) -> Result<Self, DataError> {
        let manifest_path = dir.join(MANIFEST);
        let text = fs::read(&manifest_path).map_err(|e| DataError::io(&manifest_path, e))?;
        let manifest: Manifest = serde_json::from_slice(&text)
            .map_err(|e| DataError::Cache(format!("{}: {e}", manifest_path.display())))?;
        if manifest.version != CACHE_VERSION {
            return Err(DataError::Cache(format!(
                "{}: cache version {} (this build uses {CACHE_VERSION})",
                dir.display(),
                manifest.version
            )));
        }
        let data_path = dir.join(DATA_FILE);
        let bytes = fs::read(&data_path).map_err(|e| DataError::io(&data_path, e))?;
        if bytes.len() as u64 != manifest.data_bytes
            || hex(&Sha256::digest(&bytes)) != manifest.data_sha256
        {
            return Err(DataError::Cache(format!(
                "{}: data does not match its manifest (corrupt or truncated)",
                data_path.display()
            )));
        }
        Self::from_parts(manifest, from_le(&bytes))
    }

    fn from_parts(manifest: Manifest, data: Vec<f32>) -> Result<Self, DataError> {
        let per_clip = (manifest.spec.augment.copies + 1) * manifest.map_len;
        if data.len() != per_clip * manifest.clips.len() {
            return Err(DataError::Cache(format!(
                "cache holds {} values, its manifest describes {}",
                data.len(),
                per_clip * manifest.clips.len()
            )));
        }
        let infos = manifest
            .clips
            .iter()
            .map(|c| {
                let name = c.id.rsplit('/').next().unwrap_or(&c.id);
                parse_name(name).map_err(|e| DataError::Cache(format!("clip {}: {e}", c.id)))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            manifest,
            infos,
            data,
        })
    }

    /// An [`Index`] of the cached clips (paths are the ids), for splitting.
    pub fn index(&self) -> Index {
        Index {
            clips: self
                .manifest
                .clips
                .iter()
                .zip(&self.infos)
                .map(|(c, info)| crate::Clip {
                    path: PathBuf::from(&c.id),
                    id: c.id.clone(),
                    info: *info,
                })
                .collect(),
            rejected: Vec::new(),
        }
    }

    /// Noisy copies per clip.
    pub fn copies(&self) -> usize {
        self.manifest.spec.augment.copies
    }

    /// Values per map.
    pub fn map_len(&self) -> usize {
        self.manifest.map_len
    }

    /// Number of clips.
    pub fn len(&self) -> usize {
        self.manifest.clips.len()
    }

    /// Whether the cache holds no clip.
    pub fn is_empty(&self) -> bool {
        self.manifest.clips.is_empty()
    }

    /// The map of one example (`copy` 0 is the clean clip).
    pub fn map(&self, example: Example) -> Option<&[f32]> {
        if example.clip >= self.len() || example.copy > self.copies() {
            return None;
        }
        let start = (example.clip * (self.copies() + 1) + example.copy) * self.map_len();
        self.data.get(start..start + self.map_len())
    }

    /// Class index of a clip (0–7).
    pub fn label(&self, clip: usize) -> Option<usize> {
        self.infos.get(clip).map(|i| i.label())
    }

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
