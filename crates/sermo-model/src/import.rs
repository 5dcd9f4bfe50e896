//! Import of PyTorch `state_dict` files of the reference architecture.
//!
//! The reference uses the module names of the paper's code ancestor (Zenkov's "Parallel is All
//! You Want"): `conv2Dblock1`/`conv2Dblock2` are `nn.Sequential`s whose layers with weights sit
//! at indices 0, 1 (Conv2d, BatchNorm2d), 5, 6 and 10, 11; `transformer_encoder` is an
//! `nn.TransformerEncoder`; `fc1_linear` the head. [`SermoNet`] keeps those names where Rust
//! allows, so only the `Sequential` indices and PyTorch's `in_proj_weight`/`in_proj_bias`
//! spelling need rewriting; burn's PyTorch adapter transposes Linear weights and renames norm
//! `weight`/`bias` to `gamma`/`beta`.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;
use burn_store::{ModuleSnapshot, PytorchStore};

use crate::artifact::weight_mismatch;
use crate::{ModelError, SermoNet, SermoNetConfig};

/// `(PyTorch key pattern, burn path)` rewrites, applied in order.
const REMAPS: [(&str, &str); 7] = [
    (r"^conv2Dblock(\d)\.0\.", "conv2d_block${1}.conv1."),
    (r"^conv2Dblock(\d)\.1\.", "conv2d_block${1}.bn1."),
    (r"^conv2Dblock(\d)\.5\.", "conv2d_block${1}.conv2."),
    (r"^conv2Dblock(\d)\.6\.", "conv2d_block${1}.bn2."),
    (r"^conv2Dblock(\d)\.10\.", "conv2d_block${1}.conv3."),
    (r"^conv2Dblock(\d)\.11\.", "conv2d_block${1}.bn3."),
    (
        r"\.self_attn\.in_proj_(weight|bias)$",
        ".self_attn.in_proj.${1}",
    ),
];

/// Loads a `torch.save(model.state_dict(), path)` file of the reference architecture into a
/// network of `config` on `device`, in evaluation mode. Every network tensor must be present
/// with its shape; the only PyTorch entries left unused may be BatchNorm's
/// `num_batches_tracked` counters.
pub fn import_state_dict(
    path: &Path,
    config: &SermoNetConfig,
    device: &Device,
) -> Result<SermoNet, ModelError> {
    let fail = |reason: String| ModelError::Import {
        file: path.display().to_string(),
        reason,
    };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let mut store = PytorchStore::from_file(path)
        .map_indices_contiguous(false)
        .allow_partial(true);
    for (from, to) in REMAPS {
        store = store.with_key_remapping(from, to);
    }
    let mut model = config.init(device);
    let result = model
        .load_from(&mut store)
        .map_err(|e| fail(format!("not a readable PyTorch state_dict ({e})")))?;
    if let Some(mismatch) = weight_mismatch(&result, |name| name.ends_with("num_batches_tracked")) {
        return Err(fail(format!(
            "it does not hold the reference architecture: {mismatch}"
        )));
    }
    Ok(model.valid())
}
