//! The files of a run directory that let `sermo train --resume` go on exactly where a run
//! stopped: `checkpoints/epoch-NNNN/` (model, optimizer state, progress), newest only, and the
//! per-epoch artifacts in `epochs/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::optim::ModuleOptimizer;
use burn_store::burn_pack::Bytes;
use burn_store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};
use sermo_data::write_atomic;
use sermo_model::SermoNet;

use crate::report::EpochRecord;

/// Progress saved with every checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epochs finished: the checkpoint's epoch.
    pub epochs_done: usize,
    /// The epoch best on validation so far (its weights are the run's best.safetensors).
    pub best_epoch: usize,
    /// Its validation accuracy.
    pub best_valid_accuracy: f64,
    /// Every finished epoch's figures.
    pub history: Vec<EpochRecord>,
    /// The feature cache the run trains on: a resume must find the same.
    pub cache_key: String,
}

/// The artifact of one epoch's weights in the run's `epochs/`: `epoch-0042.safetensors`.
pub fn epoch_artifact(epochs_dir: &Path, epoch: usize) -> PathBuf {
    epochs_dir.join(format!("epoch-{epoch:04}.safetensors"))
}

fn checkpoint_dir(out: &Path, epoch: usize) -> PathBuf {
    out.join("checkpoints").join(format!("epoch-{epoch:04}"))
}

/// The newest complete checkpoint (one whose state.json exists: it is written last).
pub fn latest_checkpoint(out: &Path) -> Option<(usize, PathBuf)> {
    let dir = out.join("checkpoints");
    let mut best = None;
    for entry in std::fs::read_dir(&dir).ok()?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(n) = name
            .strip_prefix("epoch-")
            .and_then(|n| n.parse::<usize>().ok())
        else {
            continue;
        };
        if entry.path().join("state.json").is_file() && best.as_ref().is_none_or(|(b, _)| n > *b) {
            best = Some((n, entry.path()));
        }
    }
    best
}

/// Writes the checkpoint after `state.epochs_done` epochs (state.json last, so that a checkpoint
/// with one is complete) and removes the older ones.
pub fn save_checkpoint(
    out: &Path,
    model: &SermoNet,
    optim: &ModuleOptimizer,
    state: &TrainState,
) -> Result<()> {
    let dir = checkpoint_dir(out, state.epochs_done);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut store = BurnpackStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| anyhow::anyhow!("saving the model: {e}"))?;
    let bytes = store
        .get_bytes()
        .map_err(|e| anyhow::anyhow!("saving the model: {e}"))?;
    write_atomic(&dir.join("model.bpk"), &bytes)?;
    let optim_bytes = optim
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("saving the optimizer: {e:?}"))?;
    write_atomic(&dir.join("optim.bpk"), &optim_bytes)?;
    write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(state)?)?;
    // Older checkpoints are no longer needed once this one is complete.
    if let Ok(entries) = std::fs::read_dir(out.join("checkpoints")) {
        for entry in entries.flatten() {
            if entry.path() != dir {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    Ok(())
}

/// Loads a checkpoint into `model` and `optim`.
pub fn load_checkpoint(
    dir: &Path,
    model: &mut SermoNet,
    optim: ModuleOptimizer,
) -> Result<(ModuleOptimizer, TrainState)> {
    let bytes = std::fs::read(dir.join("model.bpk"))
        .with_context(|| format!("reading {}", dir.join("model.bpk").display()))?;
    let mut store = BurnpackStore::from_bytes(Some(Bytes::from_bytes_vec(bytes)));
    model
        .load_from(&mut store)
        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join("model.bpk").display()))?;
    let optim_bytes = std::fs::read(dir.join("optim.bpk"))
        .with_context(|| format!("reading {}", dir.join("optim.bpk").display()))?;
    let optim = optim
        .from_bytes(Bytes::from_bytes_vec(optim_bytes))
        .map_err(|e| anyhow::anyhow!("{}: {e:?}", dir.join("optim.bpk").display()))?;
    let state: TrainState = serde_json::from_slice(
        &std::fs::read(dir.join("state.json"))
            .with_context(|| format!("reading {}", dir.display()))?,
    )
    .with_context(|| format!("{}: state.json", dir.display()))?;
    Ok((optim, state))
}
