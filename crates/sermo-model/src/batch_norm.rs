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
//! passes: `flex::batch_norm`), and the fields are burn's names, so artifacts and PyTorch
//! imports load as before.

use burn::module::{Flag, Module, Param, RunningState};
use burn::nn::BatchNormConfig;
#[cfg(feature = "cpu-kernels")]
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::activation::relu;
use burn::tensor::module::batch_norm;
use burn::tensor::{Device, Shape, Tensor};

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
        if !self.is_training(&input) {
            return batch_norm(
                input,
                self.gamma.val(),
                self.beta.val(),
                self.running_mean.value().to_device(&device),
                self.running_var.value().to_device(&device),
                self.epsilon,
            );
        }
        let values = values_per_channel(&input.shape());
        let (output, batch_mean, batch_variance) =
            batch_norm_train(input, self.gamma.val(), self.beta.val(), self.epsilon);
        self.follow(values, batch_mean, batch_variance, &device);
        output
    }

    /// BatchNorm → ReLU → max-pool: the middle of every CNN stage. On flex (feature
    /// `cpu-kernels`) one kernel does all three (`flex::batch_norm`), training or inference: one
    /// pass writing the pooled output instead of three over the full activation, and a backward
    /// that only touches each window's maximum; elsewhere burn's three operations.
    ///
    /// # Shapes
    /// - input: `[batch, channels, height, width]`
    /// - output: `[batch, channels, height / p, width / p]` for a `p × p` pool
    pub fn forward_relu_max_pool(&self, input: Tensor<4>, pool: &MaxPool2d) -> Tensor<4> {
        #[cfg(feature = "cpu-kernels")]
        if crate::flex::runs_here(&input)
            && let Some(window) = plain_window(pool)
        {
            let device = input.device();
            if self.is_training(&input) {
                let values = values_per_channel(&input.shape());
                let (output, batch_mean, batch_variance) =
                    crate::flex::batch_norm::batch_norm_relu_max_pool_train(
                        input,
                        self.gamma.val(),
                        self.beta.val(),
                        self.epsilon,
                        window,
                    );
                self.follow(values, batch_mean, batch_variance, &device);
                return output;
            }
            if !device.is_autodiff() {
                let statistics = [
                    self.gamma.val(),
                    self.beta.val(),
                    self.running_mean.value().to_device(&device),
                    self.running_var.value().to_device(&device),
                ];
                return crate::flex::batch_norm::batch_norm_relu_max_pool(
                    input,
                    statistics,
                    self.epsilon,
                    window,
                );
            }
        }
        pool.forward(relu(self.forward(input)))
    }

    /// Whether `input` is normalised with its batch's statistics (training on an autodiff
    /// device) rather than the running ones.
    fn is_training<const D: usize>(&self, input: &Tensor<D>) -> bool {
        input.device().is_autodiff() && self.training.is_enabled()
    }

    /// Moves the running statistics towards a batch's, PyTorch's way: the variance unbiased
    /// with the `values` per channel the batch had.
    fn follow(
        &self,
        values: usize,
        batch_mean: Tensor<1>,
        batch_variance: Tensor<1>,
        device: &Device,
    ) {
        let bessel = if values > 1 {
            values as f64 / (values - 1) as f64
        } else {
            1.0
        };
        let m = self.momentum;
        let mean = self.running_mean.value_sync().to_device(device);
        let var = self.running_var.value_sync().to_device(device);
        self.running_mean
            .update((mean * (1.0 - m) + batch_mean.detach() * m).detach());
        self.running_var
            .update((var * (1.0 - m) + batch_variance.detach() * (m * bessel)).detach());
    }
}

/// Values per channel of a `[batch, channels, ...]` shape.
fn values_per_channel(shape: &Shape) -> usize {
    shape.num_elements() / shape[1].max(1)
}

/// The window of a max-pool the fused kernel runs: stride equal to the window, no padding, no
/// dilation, remainders dropped (every pool of the paper's network).
#[cfg(feature = "cpu-kernels")]
fn plain_window(pool: &MaxPool2d) -> Option<[usize; 2]> {
    let unpadded = matches!(
        pool.padding,
        PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0)
    );
    (pool.stride == pool.kernel_size && pool.dilation == [1, 1] && !pool.ceil_mode && unpadded)
        .then_some(pool.kernel_size)
}

#[cfg(not(feature = "cpu-kernels"))]
use self::burn_batch_norm_train as batch_norm_train;
/// The training forward: output, batch mean and biased batch variance per channel. With
/// feature `cpu-kernels`, flex devices run sermo's two-pass kernels (`flex::batch_norm`), which
/// hand every other device to [`burn_batch_norm_train`].
#[cfg(feature = "cpu-kernels")]
use crate::flex::batch_norm::batch_norm_train;

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
