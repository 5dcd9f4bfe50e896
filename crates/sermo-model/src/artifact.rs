//! The model artifact: one safetensors file with everything inference needs.
//!
//! Why safetensors: it is an open, mmap-friendly format that Python (`safetensors`, `torch`,
//! `numpy`) and Rust read without executing code, it carries string metadata, and burn's store
//! speaks it. Layout:
//!
//! - tensors `model.<path>` — the network's weights, buffers included (BatchNorm running
//!   statistics), named by their burn module path (e.g. `model.conv2d_block1.conv1.weight`);
//! - tensors `scaler.mean` and `scaler.std` — per-position feature standardisation, `[40, 282]`;
//! - metadata key `sermo` — JSON [`ArtifactMeta`]: format name and version, label names in
//!   order, the [`FeatureConfig`], the [`SermoNetConfig`] and the [`Provenance`].
//!
//! The network's tensors are stored as f32, or as f16 ([`Precision::F16`]: half the size; they
//! are widened to f32 when read, so inference is the same f32 computation on rounded weights).
//! The scaler is always f32.
//!
//! Writing records the SHA-256 of the tensor data (everything after the header) in the `sermo`
//! metadata JSON, as its last field [`SHA256_KEY`] (one metadata key: safetensors writes its
//! metadata map in hash order, so a second key would make the header differ from write to
//! write); reading recomputes it, so a damaged or tampered file is an
//! error, never a model that quietly predicts nonsense. Files written before the hash existed
//! load as [`Seal::Missing`], which front ends report as a warning.
//!
//! Reading checks the format name and version, every tensor's presence, shape and dtype, and
//! that the scaler matches the feature shape, so a corrupt, truncated or mismatched file is an
//! error that says what is wrong, never a silently half-loaded model.

use std::collections::{BTreeMap, HashMap};

use burn::module::Module;
use burn::tensor::Device;
use burn_store::ModuleSnapshot;
use burn_store::burn_pack::{self, Bytes, DType};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};
use sermo_dsp::FeatureConfig;

use crate::seal::{SHA256_KEY, Seal, Sealed, tensor_sha256};
use crate::{ModelError, Scaler, SermoNet, SermoNetConfig};

/// The format name written into every artifact.
pub const FORMAT: &str = "sermo-model";
/// The artifact format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The metadata key that holds the JSON [`ArtifactMeta`].
pub const META_KEY: &str = "sermo";
/// The RAVDESS emotions in the dataset's code order (01 … 08), which is also the paper's
/// Table 1 order.
pub const EMOTIONS: [&str; 8] = [
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
];

/// Where a model came from and how good it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Provenance {
    /// Human-readable name: a trained run's directory (`paper-seed0`), `untrained placeholder`, …
    pub name: String,
    /// `true` once the weights were trained (or imported from trained weights).
    pub trained: bool,
    /// The training data ("RAVDESS speech, 1440 clips"), or the source of imported weights.
    pub data: String,
    /// Evaluation protocol of the training run (`paper`, `actor`, …).
    pub protocol: Option<String>,
    /// Seed of the training run.
    pub seed: Option<u64>,
    /// Epochs run.
    pub epochs: Option<usize>,
    /// Epoch (1-based) whose weights these are (best on validation).
    pub best_epoch: Option<usize>,
    /// The exact command that produced the artifact.
    pub command: Option<String>,
    /// Every recorded accuracy, each with its protocol and split.
    pub accuracies: Vec<Accuracy>,
    /// Free-form notes (licence of the data, caveats).
    pub notes: Option<String>,
}

/// One accuracy figure with the protocol and split it was measured on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accuracy {
    /// Protocol name (`paper`, `actor`, …), with the fold for k-fold protocols.
    pub protocol: String,
    /// `test` or `valid`.
    pub split: String,
    /// Fraction correct, 0–1.
    pub accuracy: f64,
    /// Number of examples scored.
    pub examples: usize,
}

/// The JSON stored under the [`META_KEY`] metadata key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`FORMAT_VERSION`] of the writer.
    pub version: u32,
    /// Class names in logit order.
    pub labels: Vec<String>,
    /// How audio becomes the network's input.
    pub features: FeatureConfig,
    /// The network's hyper-parameters.
    pub model: SermoNetConfig,
    /// Where the weights came from.
    pub provenance: Provenance,
}

impl ArtifactMeta {
    /// Metadata for the paper's network on RAVDESS labels.
    pub fn paper(provenance: Provenance) -> Self {
        Self {
            format: FORMAT.into(),
            version: FORMAT_VERSION,
            labels: EMOTIONS.iter().map(|s| s.to_string()).collect(),
            features: FeatureConfig::default(),
            model: SermoNetConfig::paper(),
            provenance,
        }
    }
}

/// How the network's tensors are stored in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// 32-bit floats, exactly as trained. Default.
    #[default]
    F32,
    /// IEEE half precision (rounded to nearest): half the file.
    F16,
}

/// A tensor as stored: shape and f32 values (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub values: Vec<f32>,
}

/// A decoded artifact: metadata, scaler and the network's weights as plain data, independent of
/// any device. [`Artifact::build`] puts the network on a device.
#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    /// Metadata (labels, configs, provenance).
    pub meta: ArtifactMeta,
    /// Feature standardisation.
    pub scaler: Scaler,
    /// Network tensors by module path (without the `model.` prefix).
    pub weights: BTreeMap<String, StoredTensor>,
}

/// What went wrong when weights were applied to a network — missing and unexpected tensors
/// (except those `ignore` accepts) and per-tensor errors — or `None` when everything fit.
pub(crate) fn weight_mismatch(
    result: &burn_store::ApplyResult,
    ignore: impl Fn(&str) -> bool,
) -> Option<String> {
    let unused: Vec<&String> = result.unused.iter().filter(|n| !ignore(n)).collect();
    if result.missing.is_empty() && unused.is_empty() && result.errors.is_empty() {
        return None;
    }
    let missing: Vec<&String> = result.missing.iter().map(|(n, _)| n).take(6).collect();
    let errors: Vec<String> = result
        .errors
        .iter()
        .take(3)
        .map(|e| e.to_string())
        .collect();
    Some(format!(
        "{} missing {missing:?}, {} unexpected {:?}, errors {errors:?}",
        result.missing.len(),
        unused.len(),
        &unused[..unused.len().min(6)],
    ))
}

fn bad(reason: impl Into<String>) -> ModelError {
    ModelError::Artifact(reason.into())
}

fn le_f32(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn le_f16(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
        .collect()
}

fn f16_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
        .collect()
}

fn f32_from_le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl Artifact {
    /// Captures a network's weights (buffers included) with its metadata and scaler.
    pub fn from_model(
        model: &SermoNet,
        meta: ArtifactMeta,
        scaler: Scaler,
    ) -> Result<Self, ModelError> {
        let mut weights = BTreeMap::new();
        for tensor in model.collect(None, None, false) {
            let (name, dtype, shape, _, bytes) = tensor
                .into_parts()
                .map_err(|e| ModelError::Backend(format!("reading weights: {e}")))?;
            let values = match dtype {
                DType::F32 => f32_from_le(&bytes),
                other => {
                    return Err(ModelError::Backend(format!(
                        "weight {name} has dtype {other:?}; only f32 models are stored"
                    )));
                }
            };
            weights.insert(
                name,
                StoredTensor {
                    shape: shape.iter().copied().collect(),
                    values,
                },
            );
        }
        let artifact = Self {
            meta,
            scaler,
            weights,
        };
        artifact.check()?;
        Ok(artifact)
    }

    /// Builds the network on `device` in evaluation mode (BatchNorm running statistics, no
    /// dropout). Fails if a weight is missing, unexpected or of the wrong shape.
    pub fn build(&self, device: &Device) -> Result<SermoNet, ModelError> {
        let mut model = self.meta.model.init(device);
        let tensors = self
            .weights
            .iter()
            .map(|(name, t)| {
                burn_pack::Tensor::new(
                    name.clone(),
                    DType::F32,
                    t.shape.clone(),
                    None,
                    Bytes::from_bytes_vec(le_f32(&t.values)),
                )
            })
            .collect();
        let result = model.apply(tensors, None, None, false);
        if let Some(mismatch) = weight_mismatch(&result, |_| false) {
            return Err(bad(format!("weights do not fit the network: {mismatch}")));
        }
        Ok(model.valid())
    }

    /// Consistency of the parts with each other.
    pub(crate) fn check(&self) -> Result<(), ModelError> {
        let meta = &self.meta;
        if meta.format != FORMAT {
            return Err(bad(format!(
                "format is {:?}, expected {FORMAT:?}",
                meta.format
            )));
        }
        if meta.version != FORMAT_VERSION {
            return Err(bad(format!(
                "format version {} is not supported (this build reads version {FORMAT_VERSION})",
                meta.version
            )));
        }
        meta.features
            .validate()
            .map_err(|e| bad(format!("feature config: {e}")))?;
        meta.model
            .check()
            .map_err(|e| bad(format!("model config: {e}")))?;
        if meta.labels.len() != meta.model.num_classes {
            return Err(bad(format!(
                "{} labels for a network with {} classes",
                meta.labels.len(),
                meta.model.num_classes
            )));
        }
        let want = [meta.features.n_mfcc, meta.features.n_frames()];
        let have = [meta.model.n_mfcc, meta.model.n_frames];
        if want != have {
            return Err(bad(format!(
                "features are {}×{} but the network expects {}×{}",
                want[0], want[1], have[0], have[1]
            )));
        }
        self.scaler.check(want[0] * want[1])?;
        Ok(())
    }

    /// Serialises to safetensors bytes, the network's tensors in f32.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ModelError> {
        self.to_bytes_as(Precision::F32)
    }

    /// Serialises to safetensors bytes, the network's tensors in `precision`.
    pub fn to_bytes_as(&self, precision: Precision) -> Result<Vec<u8>, ModelError> {
        self.check()?;
        let mut buffers: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, t) in &self.weights {
            let (dtype, bytes) = match precision {
                Precision::F32 => (Dtype::F32, le_f32(&t.values)),
                Precision::F16 => (Dtype::F16, le_f16(&t.values)),
            };
            buffers.push((format!("model.{name}"), dtype, t.shape.clone(), bytes));
        }
        let shape = vec![self.meta.features.n_mfcc, self.meta.features.n_frames()];
        buffers.push((
            "scaler.mean".into(),
            Dtype::F32,
            shape.clone(),
            le_f32(&self.scaler.mean),
        ));
        buffers.push((
            "scaler.std".into(),
            Dtype::F32,
            shape,
            le_f32(&self.scaler.std),
        ));
        let views = buffers
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes).map(|v| (name.as_str(), v))
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(format!("building tensor views: {e}")))?;
        let metadata = |json: serde_json::Result<String>| {
            json.map_err(|e| bad(format!("encoding metadata: {e}")))
                .map(|json| Some(HashMap::from([(META_KEY.to_string(), json)])))
        };
        // The tensor data does not depend on the metadata: write once to hash it, then again
        // with the hash recorded.
        let unsealed =
            safetensors::serialize(views.clone(), metadata(serde_json::to_string(&self.meta))?)
                .map_err(|e| bad(format!("writing safetensors: {e}")))?;
        let hash = tensor_sha256(&unsealed)?;
        let sealed = Sealed {
            meta: &self.meta,
            tensors_sha256: &hash,
        };
        safetensors::serialize(views, metadata(serde_json::to_string(&sealed))?)
            .map_err(|e| bad(format!("writing safetensors: {e}")))
    }

    /// Parses safetensors bytes written by [`Artifact::to_bytes`], checking the recorded hash
    /// of the tensor data when there is one (see [`Artifact::read`] to learn whether there was).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ModelError> {
        Self::read(bytes).map(|(artifact, _)| artifact)
    }

    /// As [`Artifact::from_bytes`], also saying whether the tensor data was verified
    /// ([`Seal::Verified`]) or the file records no hash ([`Seal::Missing`]).
    ///
    /// # Errors
    /// [`ModelError::Artifact`] for an unreadable or inconsistent file, and for tensor data
    /// whose SHA-256 differs from the recorded one (a damaged or altered file).
    pub fn read(bytes: &[u8]) -> Result<(Self, Seal), ModelError> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a readable safetensors file ({e})")))?;
        let json = header
            .metadata()
            .as_ref()
            .and_then(|m| m.get(META_KEY))
            .ok_or_else(|| bad(format!("no {META_KEY:?} metadata: not a sermo model")))?;
        let mut probe: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("metadata is not JSON ({e})")))?;
        let recorded = probe
            .as_object_mut()
            .and_then(|o| o.remove(SHA256_KEY))
            .and_then(|v| v.as_str().map(str::to_owned));
        let seal = match recorded {
            None => Seal::Missing,
            Some(recorded) => {
                let actual = tensor_sha256(bytes)?;
                if !actual.eq_ignore_ascii_case(&recorded) {
                    return Err(bad(format!(
                        "the tensor data is damaged or was altered: its SHA-256 is {actual}, \
                         the file records {recorded}"
                    )));
                }
                Seal::Verified(actual)
            }
        };
        if probe.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(bad(format!("metadata format is not {FORMAT:?}")));
        }
        if let Some(v) = probe.get("version").and_then(|v| v.as_u64())
            && v != u64::from(FORMAT_VERSION)
        {
            return Err(bad(format!(
                "format version {v} is not supported (this build reads version {FORMAT_VERSION})"
            )));
        }
        let meta: ArtifactMeta = serde_json::from_value(probe)
            .map_err(|e| bad(format!("metadata does not describe a sermo model ({e})")))?;

        let mut weights = BTreeMap::new();
        let mut mean = None;
        let mut std = None;
        for (name, view) in st.tensors() {
            let is_weight = name.starts_with("model.");
            let values = match view.dtype() {
                Dtype::F32 => f32_from_le(view.data()),
                Dtype::F16 if is_weight => f16_from_le(view.data()),
                other => {
                    let allowed = if is_weight { "F32 or F16" } else { "F32" };
                    return Err(bad(format!(
                        "tensor {name} is {other:?}, expected {allowed}"
                    )));
                }
            };
            if let Some(path) = name.strip_prefix("model.") {
                let shape = view.shape().to_vec();
                weights.insert(path.to_string(), StoredTensor { shape, values });
            } else if name == "scaler.mean" {
                mean = Some(values);
            } else if name == "scaler.std" {
                std = Some(values);
            } else {
                return Err(bad(format!("unexpected tensor {name}")));
            }
        }
        let scaler = Scaler {
            mean: mean.ok_or_else(|| bad("tensor scaler.mean is missing"))?,
            std: std.ok_or_else(|| bad("tensor scaler.std is missing"))?,
        };
        let artifact = Self {
            meta,
            scaler,
            weights,
        };
        artifact.check()?;
        Ok((artifact, seal))
    }

    /// Number of trainable parameters (BatchNorm running statistics excluded).
    pub fn num_params(&self) -> usize {
        self.weights
            .iter()
            .filter(|(name, _)| !name.contains("running_"))
            .map(|(_, t)| t.values.len())
            .sum()
    }
}
