//! BatchNorm's training forward and backward as two passes each over the activation, for the
//! flex CPU backend (feature `cpu-kernels`).
//!
//! flex has no kernels of its own for `batch_norm_train` and its backward; it runs burn's
//! generic composition of tensor operations: about 25 passes over the activation for forward
//! and backward together, four of them transposed copies. For the first BatchNorm of a CNN
//! block (`[16, 16, 40, 282]`, 11.5 MB) that was 39 ms of a 479 ms training step, twice
//! (docs/benchmarks.md, session 20). Here the forward is one pass for each channel's mean and
//! variance and one writing `x · scale + shift`; the backward one pass for each channel's
//! `Σ g` and `Σ g · (x − mean)` and one writing the input gradient. Reached through burn's
//! backend extension (`backend_extension`), with the autodiff node written here the way
//! burn-autodiff writes its own `batch_norm_train`: the same inputs checkpointed, the same
//! gradients, so training is unchanged but for float rounding (the gradient parity test,
//! tests/sgd_parity.rs, holds both ways).
//!
//! Only flex runs it: calling an extension on a backend it does not list panics, so
//! [`batch_norm_train`] checks the device and hands every other one to burn's operation.

use std::borrow::Cow;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, DispatchDevice, Flex, backend_extension};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

/// BatchNorm in training mode: the batch's statistics normalise the input.
#[backend_extension(Flex, Autodiff)]
pub trait TrainBatchNorm: Backend {
    /// `x` is `[batch, channels, ...]`, `gamma` and `beta` `[channels]`. Returns the output,
    /// and each channel's mean and biased variance (what the running statistics follow).
    fn train_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of [`TrainBatchNorm::train_batch_norm`] for `x`, `gamma` and `beta`, given the
    /// output's gradient and the statistics the forward returned.
    fn train_batch_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// The output, the batch's mean and biased variance per channel; on the flex device (plain or
/// autodiff) with f32 values from the two-pass kernels here, anywhere else from burn's
/// `batch_norm_train`.
pub fn batch_norm_train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let on_flex = matches!(
        x.device().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    );
    if !on_flex || x.dtype() != DType::F32 {
        return crate::batch_norm::burn_batch_norm_train(x, gamma, beta, epsilon);
    }
    let (output, mean, variance) = <Dispatch as TrainBatchNorm>::train_batch_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    (
        Tensor::from_dispatch(output),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// `t`'s f32 values in row-major order (copied only when `t` is not contiguous).
fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(values) => Cow::Borrowed(values),
        None => Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| unreachable!("batch norm kernels take f32 tensors only")),
        ),
    }
}

/// `[batch, channels, rest]` sizes of a `[batch, channels, ...]` tensor, and its shape.
fn layout(t: &FlexTensor) -> ([usize; 3], Vec<usize>) {
    let shape: Vec<usize> = t.layout().shape().iter().copied().collect();
    let rest = shape.iter().skip(2).product();
    ([shape[0], shape[1], rest], shape)
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// Each channel's `(Σ a(x), Σ b(x))` over every sample's plane of it, in f64 (parallel over
/// channels; a plane is contiguous in `[batch, channels, rest]`).
fn channel_sums(
    [batch, channels, rest]: [usize; 3],
    sums: impl Fn(usize, usize) -> (f64, f64) + Sync,
) -> Vec<(f64, f64)> {
    (0..channels)
        .into_par_iter()
        .map(|c| {
            (0..batch)
                .map(|b| sums(c, (b * channels + c) * rest))
                .fold((0.0, 0.0), |(s, q), (s1, q1)| (s + s1, q + q1))
        })
        .collect()
}

impl TrainBatchNorm for Flex {
    fn train_batch_norm(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (dims @ [_, channels, rest], shape) = layout(&x);
        let (x, gamma, beta) = (values(&x), values(&gamma), values(&beta));
        let count = (x.len() / channels.max(1)) as f64;
        // Sums of x − k and (x − k)², k the channel's first value: no cancellation in the
        // variance when the mean is large against the spread.
        let sums = channel_sums(dims, |c, start| {
            let k = f64::from(x[c * rest]);
            x[start..start + rest]
                .iter()
                .fold((0.0, 0.0), |(s, q), &v| {
                    let d = f64::from(v) - k;
                    (s + d, q + d * d)
                })
        });
        let mut mean = Vec::with_capacity(channels);
        let mut variance = Vec::with_capacity(channels);
        let mut scale_shift = Vec::with_capacity(channels);
        for (c, &(s, q)) in sums.iter().enumerate() {
            let shift = s / count;
            let m = f64::from(x[c * rest]) + shift;
            let v = (q / count - shift * shift).max(0.0);
            let scale = f64::from(gamma[c]) / (v + epsilon).sqrt();
            mean.push(m as f32);
            variance.push(v as f32);
            scale_shift.push((scale as f32, (f64::from(beta[c]) - m * scale) as f32));
        }
        let mut output = vec![0.0f32; x.len()];
        output
            .par_chunks_mut(rest.max(1))
            .zip(x.par_chunks(rest.max(1)))
            .enumerate()
            .for_each(|(plane, (out, x))| {
                let (scale, shift) = scale_shift[plane % channels];
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = v * scale + shift;
                }
            });
        (
            tensor(output, shape),
            tensor(mean, vec![channels]),
            tensor(variance, vec![channels]),
        )
    }

    fn train_batch_norm_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (dims @ [_, channels, rest], shape) = layout(&x);
        let (x, grad) = (values(&x), values(&output_grad));
        let (gamma, mean, variance) = (values(&gamma), values(&mean), values(&variance));
        let count = (x.len() / channels.max(1)) as f64;
        // Σ g and Σ g · (x − mean) per channel.
        let sums = channel_sums(dims, |c, start| {
            let m = f64::from(mean[c]);
            let planes = grad[start..start + rest]
                .iter()
                .zip(&x[start..start + rest]);
            planes.fold((0.0, 0.0), |(s, q), (&g, &v)| {
                let g = f64::from(g);
                (s + g, q + g * (f64::from(v) - m))
            })
        });
        // With x̂ = (x − mean)·σ⁻¹: ∂x = γσ⁻¹·(g − mean(g)) − γσ⁻¹·mean(g·x̂)·σ⁻¹·(x − mean),
        // ∂γ = Σ g·x̂, ∂β = Σ g.
        let mut gamma_grad = Vec::with_capacity(channels);
        let mut beta_grad = Vec::with_capacity(channels);
        let mut terms = Vec::with_capacity(channels);
        for (c, &(s, q)) in sums.iter().enumerate() {
            let inv_std = 1.0 / (f64::from(variance[c]) + epsilon).sqrt();
            let g_xhat = q * inv_std;
            gamma_grad.push(g_xhat as f32);
            beta_grad.push(s as f32);
            let a = f64::from(gamma[c]) * inv_std;
            let b = -a * (g_xhat / count) * inv_std;
            terms.push((a as f32, (s / count) as f32, b as f32, mean[c]));
        }
        let mut x_grad = vec![0.0f32; x.len()];
        x_grad
            .par_chunks_mut(rest.max(1))
            .zip(x.par_chunks(rest.max(1)).zip(grad.par_chunks(rest.max(1))))
            .enumerate()
            .for_each(|(plane, (out, (x, grad)))| {
                let (a, mean_grad, b, m) = terms[plane % channels];
                for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
                    *o = a * (g - mean_grad) + b * (v - m);
                }
            });
        (
            tensor(x_grad, shape),
            tensor(gamma_grad, vec![channels]),
            tensor(beta_grad, vec![channels]),
        )
    }
}

/// The autodiff node of [`TrainBatchNorm::train_batch_norm`]: checkpoints `x` and `gamma`,
/// keeps the statistics, and calls the backward kernel.
#[derive(Debug)]
struct TrainBatchNormBackward;

impl<B: Backend + TrainBatchNorm> Backward<B, 3> for TrainBatchNormBackward {
    type State = (NodeId, NodeId, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, mean, variance, epsilon) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma);
        let (x_grad, gamma_grad, beta_grad) =
            B::train_batch_norm_backward(x, gamma, mean, variance, epsilon, grad);
        for (node, grad) in [
            (node_x, x_grad),
            (node_gamma, gamma_grad),
            (node_beta, beta_grad),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: Backend + TrainBatchNorm, C: CheckpointStrategy> TrainBatchNorm for Autodiff<B, C> {
    fn train_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // The statistics leave untracked, as burn's own batch_norm_train returns them.
        let untracked = FloatTensor::<Autodiff<B>>::new;
        match TrainBatchNormBackward
            .prepare::<C>([x.node(), gamma.node(), beta.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let gamma_state = prep.checkpoint(&gamma);
                let (output, mean, variance) = B::train_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                let state = (
                    x_state,
                    gamma_state,
                    mean.clone(),
                    variance.clone(),
                    epsilon,
                );
                (
                    prep.finish(state, output),
                    untracked(mean),
                    untracked(variance),
                )
            }
            OpsKind::UnTracked(prep) => {
                let (output, mean, variance) = B::train_batch_norm(
                    x.into_primitive(),
                    gamma.into_primitive(),
                    beta.into_primitive(),
                    epsilon,
                );
                (prep.finish(output), untracked(mean), untracked(variance))
            }
        }
    }

    fn train_batch_norm_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _epsilon: f64,
        _output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("BatchNorm's backward is not differentiated again (no second derivatives)")
    }
}
