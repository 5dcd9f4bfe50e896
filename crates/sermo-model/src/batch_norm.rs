//! BatchNorm as PyTorch trains it.
//!
//! burn's `BatchNorm` moves its running variance towards the batch's *biased* variance (divided
//! by n, the values per channel in the batch); PyTorch's `BatchNorm2d`, which the paper's code
//! ran, uses the unbiased one (divided by n − 1). For the third convolution of a CNN block n is
//! batch × 5 × 35, so at batch 16 every update of that layer's running variance came out
//! 3.6e-4 (1/2799) too small, and at batch 4 the gradient parity test against PyTorch
//! (tests/sgd_parity.rs) failed on it. Everything else — the normalisation with the batch's
//! biased variance while training, the running statistics at inference, the gradients — is
//! burn's computation (on flex with feature `cpu-kernels`, the same computation in fewer
//! passes: `flex_batch_norm`), and the fields are burn's names, so artifacts and PyTorch
//! imports load as before.

use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::BatchNormConfig;
use burn::tensor::module::batch_norm;
use burn::tensor::{Device, Tensor};

/// Batch normalisation over the channels (axis 1) of `[batch, channels, ...]`, with PyTorch's
/// running-variance update. The type is named like burn's so that PyTorch imports rename
/// `weight`/`bias` to `gamma`/`beta` for it too.
#[derive(Module, Debug)]
pub struct BatchNorm {
    /// Scale.
    pub gamma: Param<Tensor<1>>,
    /// Shift.
    pub beta: Param<Tensor<1>>,
    /// Whether the layer trains (with an autodiff device) or uses its running statistics.
    pub training: Param<Flag>,
    /// Running mean of the channels.
    pub running_mean: RunningState<Tensor<1>>,
    /// Running unbiased variance of the channels.
    pub running_var: RunningState<Tensor<1>>,
    /// Weight of a batch in the running statistics (PyTorch's and burn's default, 0.1).
    pub momentum: f64,
    /// Added to the variance before the square root (1e-5).
    pub epsilon: f64,
}

impl BatchNorm {
    /// A fresh layer for `channels` (scale 1, shift 0, running mean 0 and variance 1).
    pub fn new(channels: usize, device: &Device) -> Self {
        let burn::nn::BatchNorm {
            gamma,
            beta,
            training,
            running_mean,
            running_var,
            momentum,
            epsilon,
        } = BatchNormConfig::new(channels).init(device);
        Self {
            gamma,
            beta,
            training,
            running_mean,
            running_var,
            momentum,
            epsilon,
        }
    }

    /// # Shapes
    /// - input: `[batch, channels, ...]`
    /// - output: the same
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let device = input.device();
        if !(device.is_autodiff() && self.training.is_enabled()) {
            return batch_norm(
                input,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let shape = input.shape();
        let n = shape.num_elements() / shape[1].max(1);
        let bessel = if n > 1 {
            n as f64 / (n - 1) as f64
        } else {
            1.0
        };
        let (output, batch_mean, batch_variance) =
            batch_norm_train(input, self.gamma.val(), self.beta.val(), self.epsilon);
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(&device);
        let var = self.running_var.value_sync().to_device(&device);
        self.running_mean
            .update((mean * (1.0 - m) + batch_mean.detach() * m).detach());
        self.running_var
            .update((var * (1.0 - m) + batch_variance.detach() * (m * bessel)).detach());
        output
    }
}

#[cfg(not(feature = "cpu-kernels"))]
use self::burn_batch_norm_train as batch_norm_train;
/// The training forward: output, batch mean and biased batch variance per channel. With
/// feature `cpu-kernels`, flex devices run sermo's two-pass kernels (`flex_batch_norm`), which
/// hand every other device to [`burn_batch_norm_train`].
#[cfg(feature = "cpu-kernels")]
use crate::flex_batch_norm::batch_norm_train;

/// burn's training forward, as (output, batch mean, biased batch variance per channel).
pub(crate) fn burn_batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let result = burn::tensor::module::batch_norm_train(x, gamma, beta, epsilon);
    (result.output, result.mean, result.variance)
}
