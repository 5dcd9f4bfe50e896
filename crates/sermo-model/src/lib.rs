//! The paper's network in burn, the model artifact and the [`Classifier`].
//!
//! This crate chooses no backend: the trainer and the wasm package pick the device (flex on the
//! CPU, wgpu/vulkan/webgpu on GPUs) and hand it in.
//!
//! - [`SermoNetConfig`] / [`SermoNet`]: two parallel CNN blocks and a max-pooled Transformer
//!   encoder over a 40×282 MFCC map, concatenated into one linear layer (8 logits).
//! - [`Artifact`]: one safetensors file with weights, feature scaler, labels, feature and model
//!   configs, and provenance; [`Artifact::average`] averages the weights of one run's epochs.
//! - [`Classifier`]: audio in, label and probabilities out — the one path every front end uses.
//! - feature `train`: burn's `TrainStep`/`InferenceStep` for the network.
//! - feature `pytorch`: [`import_state_dict`] for `torch.save(state_dict)` files.

mod artifact;
mod average;
mod classifier;
mod config;
pub mod dropout;
mod encoder;
mod error;
mod model;
mod scaler;

#[cfg(feature = "pytorch")]
mod import;
#[cfg(feature = "train")]
pub mod train;

pub use artifact::{
    Accuracy, Artifact, ArtifactMeta, EMOTIONS, FORMAT, FORMAT_VERSION, META_KEY, Precision,
    Provenance, StoredTensor,
};
pub use classifier::{Classifier, Prediction, VOICE_FLOOR_DBFS, is_voiced};
pub use config::SermoNetConfig;
pub use encoder::{EncoderLayer, SelfAttention, TransformerEncoder};
pub use error::ModelError;
#[cfg(feature = "pytorch")]
pub use import::import_state_dict;
pub use model::{ConvBlock, SermoNet};
pub use scaler::Scaler;
