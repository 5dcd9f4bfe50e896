//! One training step's gradients, on one device or split over several (data parallel).
//!
//! With several devices (`sermo train --devices 0,1,…`) a batch of `n` examples is cut into
//! contiguous shards, one per device. Each device runs a copy of the model (burn's
//! `Module::fork`) on its shard, with the shard's mean loss weighted by `n_i / n`, so that the
//! sum of the shards' gradients, moved to the first device, is the gradient of the whole
//! batch's mean loss. The optimizer then steps once, on the first device.
//!
//! This is burn-train's "optimizer on the main device" strategy, written into sermo's own loop
//! so that checkpoints, per-epoch seeds and resuming stay as they are. As with PyTorch's
//! `DataParallel`, BatchNorm normalises each shard with that shard's own statistics, and only
//! the first device's running statistics are kept.
//!
//! The shards are launched one after the other from this thread and read back only when all
//! are launched: GPU backends queue the work asynchronously, so the devices run concurrently,
//! and the order of random draws (dropout) stays deterministic.

use anyhow::{Result, anyhow};
use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Tensor};
use sermo_data::{MapBatcher, MapItem};
use sermo_model::{SermoNet, argmax};

/// What one step gives back to the training loop.
pub struct StepOutcome {
    /// Gradients of the batch's mean loss, on the first device.
    pub grads: GradientsParams,
    /// Mean loss over the batch.
    pub loss: f32,
    /// Examples whose arg-max logit is the target.
    pub correct: usize,
}

/// Forward and backward passes for `items` (one batch) over `devices` (autodiff devices; the
/// model lives on the first), with the targets smoothed by `smoothing` when given.
///
/// # Errors
/// When `devices` is empty or a value cannot be read back from a device.
pub fn gradients(
    model: &SermoNet,
    items: Vec<MapItem>,
    batcher: &MapBatcher,
    devices: &[Device],
    smoothing: Option<f32>,
) -> Result<StepOutcome> {
    let main = devices
        .first()
        .ok_or_else(|| anyhow!("no training device"))?;
    if devices.len() == 1 || items.len() < 2 {
        // The plain step: exactly the operations of an unsharded run.
        let output = model.forward_smoothed(batcher.batch(&items, main)?, smoothing);
        let grads = GradientsParams::from_grads(output.loss.backward(), model);
        return Ok(StepOutcome {
            grads,
            loss: scalar(output.loss)?,
            correct: correct(output.logits, &items)?,
        });
    }

    let n = items.len();
    let shards = devices.len().min(n);
    let mut items = items.into_iter();
    let mut accumulator = GradientsAccumulator::new();
    let mut pending = Vec::with_capacity(shards);
    // Gradients live on the backend under autodiff.
    let grads_device = main.clone().inner();
    for (i, device) in devices.iter().take(shards).enumerate() {
        // Sizes differ by at most one: the first `n % shards` shards take one more.
        let size = n / shards + usize::from(i < n % shards);
        let shard: Vec<MapItem> = items.by_ref().take(size).collect();
        let replica = if i == 0 {
            model.clone()
        } else {
            model.clone().fork(device)
        };
        let output = replica.forward_smoothed(batcher.batch(&shard, device)?, smoothing);
        let weighted_loss = output.loss * (size as f64 / n as f64);
        let grads = GradientsParams::from_grads(weighted_loss.backward(), &replica)
            .to_device(&grads_device, model);
        accumulator.accumulate(model, grads);
        pending.push((weighted_loss, output.logits, shard));
    }
    let mut loss = 0f32;
    let mut hits = 0;
    for (weighted_loss, logits, shard) in pending {
        loss += scalar(weighted_loss)?;
        hits += correct(logits, &shard)?;
    }
    Ok(StepOutcome {
        grads: accumulator.grads(),
        loss,
        correct: hits,
    })
}

/// How many of `items` the arg-max of `logits` (`[B, classes]`) gets right: read back and
/// compared with [`argmax`], the rule every prediction follows.
fn correct(logits: Tensor<2>, items: &[MapItem]) -> Result<usize> {
    let [_, classes] = logits.dims();
    let values: Vec<f32> = logits
        .try_into_data()
        .map_err(|e| anyhow!("reading the logits from the device: {e:?}"))?
        .try_to_vec()
        .map_err(|e| anyhow!("reading the logits: {e:?}"))?;
    Ok(values
        .chunks(classes.max(1))
        .zip(items)
        .filter(|(row, item)| argmax(row) == item.label)
        .count())
}

fn scalar(loss: Tensor<1>) -> Result<f32> {
    loss.try_into_scalar::<f32>()
        .map_err(|e| anyhow!("reading the loss from the device: {e:?}"))
}
