//! Whether a device computes what training this network needs, checked before a run starts.
//!
//! Why: a device that sums wrongly still trains. The first `sermo train --backend wgpu`, on
//! Mesa's software Vulkan device (lavapipe/llvmpipe), reached 80 % training accuracy while its
//! BatchNorm running statistics were off by orders of magnitude, so the saved model sat at
//! chance and only the validation column said so (issue 29). The cause is the driver: llvmpipe
//! ends every shader loop after 65,535 iterations, and burn-wgpu's reduction kernel (the only
//! one of its routines that launches there) walks a whole axis in one invocation, so a sum over
//! more values comes out partial or zero. Training sums `batch × n_mfcc × n_frames` values per
//! channel (BatchNorm's statistics and their gradients, the first convolution's bias gradient):
//! 180,480 at batch 16. Real GPUs have no such limit; the check costs one small kernel there.

use burn::tensor::{Device, Tensor};

use crate::{ModelError, SermoNetConfig};

/// Fails, saying what to do instead, when `device` cannot sum the values per channel that one
/// training batch of `batch` examples needs. The message names the largest batch the device
/// does sum exactly.
pub fn check_training_device(
    config: &SermoNetConfig,
    device: &Device,
    batch: usize,
) -> Result<(), ModelError> {
    if sums_exactly(config, device, batch)? {
        return Ok(());
    }
    let mut largest = 0;
    for smaller in (1..batch).rev() {
        if sums_exactly(config, device, smaller)? {
            largest = smaller;
            break;
        }
    }
    let advice = match largest {
        0 => "Train on another device (`--backend cpu` always works).".to_string(),
        n => format!(
            "Train with `--batch-size {n}` or smaller on it, or on another device \
             (`--backend cpu` always works)."
        ),
    };
    Err(ModelError::Backend(format!(
        "this device sums long rows wrongly: a batch of {batch} needs exact sums over {} values \
         per channel, and without them BatchNorm's statistics, and so the saved model, would be \
         wrong. Mesa's software Vulkan driver (llvmpipe) does this: it stops every shader loop \
         after 65,535 iterations. {advice}",
        values_per_channel(config, batch)
    )))
}

/// Values per channel that BatchNorm sums for one batch: those of the first convolution's
/// output, the largest map of the network.
pub fn values_per_channel(config: &SermoNetConfig, batch: usize) -> usize {
    batch * config.n_mfcc * config.n_frames
}

/// Sums rows of ones as long as one batch's channels, as many rows as the first convolution
/// has channels (the layout BatchNorm reduces), and checks every sum.
fn sums_exactly(
    config: &SermoNetConfig,
    device: &Device,
    batch: usize,
) -> Result<bool, ModelError> {
    let length = values_per_channel(config, batch);
    let rows = config.conv_channels[0].max(1);
    let sums: Vec<f32> = Tensor::<2>::ones([rows, length], device)
        .sum_dim(1)
        .into_data()
        .try_to_vec()
        .map_err(|e| ModelError::Backend(format!("reading a check's result: {e:?}")))?;
    // Sums of ones are exact in f32 up to 2^24; beyond, allow rounding, never a lost block.
    let exact = length as f64;
    Ok(sums
        .iter()
        .all(|&s| (f64::from(s) - exact).abs() <= exact * 1e-6))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CPU backend sums exactly at any batch the trainer uses.
    #[test]
    fn the_cpu_backend_passes() {
        let config = SermoNetConfig::paper();
        for batch in [1, 16, 64] {
            assert!(check_training_device(&config, &Device::flex(), batch).is_ok());
        }
        assert_eq!(values_per_channel(&config, 16), 180_480);
    }
}
