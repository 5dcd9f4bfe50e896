//! The paper's network in burn, the model artifact and the [`Classifier`].
//!
//! This crate chooses no backend: the trainer and the wasm package pick the device (flex on the
//! CPU, wgpu/vulkan/webgpu on GPUs) and hand it in.
//!
//! - [`SermoNetConfig`] / [`SermoNet`]: two parallel CNN blocks and a max-pooled Transformer
//!   encoder over a 40×282 MFCC map, concatenated into one linear layer (8 logits).
//! - [`Artifact`]: one safetensors file with weights, feature scaler, labels, feature and model
//!   configs, and provenance; [`Artifact::average`] averages the weights of one run's epochs.
//! - [`Classifier`]: audio in, label and probabilities out — the one path every front end, the
//!   evaluation commands and validation during training use; [`Prediction`] is the one result
//!   type (serialised the same by the CLI's `--json` and the npm package).
//! - [`model_input`]: raw maps → standardised network input; [`argmax`]: logits → class.
//! - feature `train`: the loss of a batch ([`train::BatchOutput`]) and
//!   [`check_training_device`] (does a device sum what training needs).
//! - feature `pytorch`: [`import_state_dict`] for `torch.save(state_dict)` files.

mod artifact;
mod average;
mod batch_norm;
mod classifier;
mod config;
#[cfg(feature = "train")]
mod device_check;
pub mod dropout;
mod encoder;
mod error;
#[cfg(feature = "cpu-kernels")]
mod flex;
mod input;
mod model;
mod scaler;
mod seal;

#[cfg(feature = "pytorch")]
mod import;
#[cfg(feature = "train")]
pub mod train;

pub use artifact::{
    Accuracy, Artifact, ArtifactMeta, EMOTIONS, FORMAT, FORMAT_VERSION, META_KEY, Precision,
    Provenance, StoredTensor,
};
pub use batch_norm::BatchNorm;
pub use classifier::{Classifier, Moment, Prediction, Timings};
pub use config::SermoNetConfig;
#[cfg(feature = "train")]
pub use device_check::{check_training_device, values_per_channel};
pub use encoder::{EncoderLayer, SelfAttention, TransformerEncoder};
pub use error::ModelError;
#[cfg(feature = "pytorch")]
pub use import::import_state_dict;
pub use input::{argmax, cross_entropy, model_input};
pub use model::{ConvBlock, SermoNet, convolve};
pub use scaler::Scaler;
pub use seal::{SHA256_KEY, Seal};
