//! The feature cache: MFCC maps of every clip and its noisy copies, computed once.
//!
//! Computing 1440 × 4 MFCC maps takes a while on two cores; every training run needs the same
//! ones. So they are computed in parallel once and stored, by default under the user's cache
//! directory (`$XDG_CACHE_HOME/sermo/features/<key>`, e.g. `~/.cache/sermo/features/…`), keyed by
//! a hash of the feature parameters, the augmentation settings and seed, and the clip list with
//! each file's content hash (and, for clips other than RAVDESS's, their corpus, speaker and
//! emotion, which their ids do not say). A run with other settings or other files gets another
//! key; a cache whose data does not match its recorded hash is rebuilt, not trusted.
//!
//! On disk a cache is `manifest.json` plus `features.f32` (little-endian f32, clip-major:
//! `[clip][copy][n_mfcc × n_frames]`, copy 0 clean). [`FeatureCache::export`] splits it into
//! parts of at most 60 MiB with their hashes (how a lent GPU machine gets its data);
//! [`FeatureCache::import`] checks and reassembles them.

mod export;
mod files;

use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sermo_dsp::{AugmentConfig, FeatureConfig, FeatureExtractor};
use sha2::{Digest, Sha256};

pub use export::{EXPORT_PART_BYTES, ExportManifest};
pub(crate) use files::sha256_file;
pub use files::{clip_seed, default_cache_root, write_atomic};
use files::{from_le, hex, to_le};

use crate::labels::{EMOTIONS, emotion_index};
use crate::{Clip, DataError, Example, Index, parse_name};

/// Cache layout version; bump when the on-disk layout changes.
const CACHE_VERSION: u32 = 1;
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
///
/// A RAVDESS clip is its id alone (its name carries emotion and actor), as in caches written
/// before other corpora existed, which therefore still open; a clip of any other corpus also
/// records its corpus, speaker and emotion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedClip {
    /// The clip's id ([`Clip::id`]).
    pub id: String,
    /// SNR (dB) of this clip's noisy copies.
    pub snr_db: i32,
    /// Corpus (clips not named by RAVDESS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corpus: Option<String>,
    /// Speaker (clips not named by RAVDESS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<String>,
    /// Emotion, one of sermo's eight names (clips not named by RAVDESS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<String>,
}

impl CachedClip {
    fn of(clip: &Clip, snr_db: i32) -> Self {
        let own = |s: &str| (!clip.named_by_ravdess()).then(|| s.to_string());
        CachedClip {
            id: clip.id.clone(),
            snr_db,
            corpus: own(&clip.corpus),
            speaker: own(&clip.speaker),
            emotion: own(clip.emotion()),
        }
    }

    /// The clip this entry describes (its path is its id: the cache holds no file).
    fn clip(&self) -> Result<Clip, DataError> {
        let bad = |e: String| DataError::Cache(format!("clip {}: {e}", self.id));
        match (&self.corpus, &self.speaker, &self.emotion) {
            (None, None, None) => {
                let name = self.id.rsplit('/').next().unwrap_or(&self.id);
                let info = parse_name(name).map_err(bad)?;
                Ok(Clip::ravdess(
                    PathBuf::from(&self.id),
                    self.id.clone(),
                    info,
                ))
            }
            (Some(corpus), Some(speaker), Some(emotion)) => Ok(Clip {
                path: PathBuf::from(&self.id),
                id: self.id.clone(),
                corpus: corpus.clone(),
                speaker: speaker.clone(),
                label: emotion_index(emotion).ok_or_else(|| {
                    bad(format!(
                        "emotion {emotion:?} is not one of {}",
                        EMOTIONS.join(", ")
                    ))
                })?,
                info: None,
                sha256: None,
            }),
            _ => Err(bad("corpus, speaker and emotion go together".into())),
        }
    }
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

/// Feature maps in memory, with what they are.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    /// What this cache holds.
    pub manifest: Manifest,
    /// The clips, in data order (paths are their ids).
    clips: Vec<Clip>,
    data: Vec<f32>,
}

impl FeatureCache {
    /// The cache key of `index` under `spec`: hashes the spec and every file's id and content
    /// (the content hash the index holds, else the file read now), and for clips not named by
    /// RAVDESS their corpus, speaker and emotion too. A RAVDESS-only index gets the key it got
    /// before other corpora existed.
    pub fn key(index: &Index, spec: &CacheSpec) -> Result<String, DataError> {
        let files: Vec<String> = index
            .clips
            .par_iter()
            .map(|c| match &c.sha256 {
                Some(h) => Ok(h.clone()),
                None => sha256_file(&c.path).map(|(h, _)| h),
            })
            .collect::<Result<_, _>>()?;
        let spec_json = serde_json::to_string(&(CACHE_VERSION, spec))
            .map_err(|e| DataError::Cache(format!("encoding spec: {e}")))?;
        let mut hasher = Sha256::new();
        hasher.update(spec_json.as_bytes());
        for (clip, h) in index.clips.iter().zip(files) {
            hasher.update(clip.id.as_bytes());
            hasher.update([0]);
            hasher.update(h.as_bytes());
            if !clip.named_by_ravdess() {
                for part in [&clip.corpus, &clip.speaker, clip.emotion()] {
                    hasher.update([1]);
                    hasher.update(part.as_bytes());
                }
            }
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

        let mut cached = Vec::new();
        let mut clips = Vec::new();
        let mut failed = Vec::new();
        let mut data = Vec::with_capacity(total * (copies + 1) * map_len);
        for (clip, result) in index.clips.iter().zip(results) {
            match result {
                Ok((snr_db, maps)) => {
                    let entry = CachedClip::of(clip, snr_db);
                    clips.push(entry.clip()?);
                    cached.push(entry);
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
                clips: cached,
                failed,
                data_sha256,
                data_bytes: bytes.len() as u64,
            },
            clips,
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
        let clips = manifest
            .clips
            .iter()
            .map(CachedClip::clip)
            .collect::<Result<_, _>>()?;
        Ok(Self {
            manifest,
            clips,
            data,
        })
    }

    /// An [`Index`] of the cached clips (paths are the ids), for splitting.
    pub fn index(&self) -> Index {
        Index {
            clips: self.clips.clone(),
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

    /// The emotion of a clip: an index into sermo's eight names ([`EMOTIONS`]; a model's
    /// class is [`crate::LabelSet::class`] of it).
    pub fn label(&self, clip: usize) -> Option<usize> {
        self.clips.get(clip).map(|c| c.label)
    }

    /// A clip's corpus, speaker and emotion.
    pub fn clip(&self, clip: usize) -> Option<&Clip> {
        self.clips.get(clip)
    }
}
