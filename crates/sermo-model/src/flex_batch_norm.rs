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
use burn::backend::tensor::{FloatTensor, IntTensor};
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

    /// BatchNorm in training mode, then ReLU, then a max-pool over `pool` windows (stride
    /// `pool`, no padding, the remainder of each axis dropped): the middle of every CNN stage.
    /// `x` is `[batch, channels, height, width]`. Returns the pooled output, each pooled
    /// value's argmax (its index in its input plane, −1 where ReLU made it 0), and each
    /// channel's mean and biased variance.
    fn train_batch_norm_relu_max_pool(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        pool: [usize; 2],
    ) -> (
        FloatTensor<Self>,
        IntTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    );

    /// Gradients of [`TrainBatchNorm::train_batch_norm_relu_max_pool`] for `x`, `gamma` and
    /// `beta`, given the pooled output's gradient and what the forward returned.
    fn train_batch_norm_relu_max_pool_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        argmax: IntTensor<Self>,
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
    if !runs_here(&x) {
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

/// BatchNorm in training mode → ReLU → max-pool over `pool` windows with stride `pool` and
/// no padding, as one kernel; for tensors [`runs_here`] accepts. Returns the pooled output and
/// each channel's batch mean and biased variance.
pub fn batch_norm_relu_max_pool_train(
    x: Tensor<4>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    pool: [usize; 2],
) -> (Tensor<4>, Tensor<1>, Tensor<1>) {
    let (output, _, mean, variance) = <Dispatch as TrainBatchNorm>::train_batch_norm_relu_max_pool(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
        pool,
    );
    (
        Tensor::from_dispatch(output),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// Whether the kernels here take `x`: f32 values on the flex device, plain or autodiff (an
/// extension called on any other backend panics).
pub fn runs_here<const D: usize>(x: &Tensor<D>) -> bool {
    let on_flex = matches!(
        x.device().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    );
    on_flex && x.dtype() == DType::F32
}

/// `t`'s f32 values in row-major order (copied only when `t` is not contiguous).
pub(crate) fn values(t: &FlexTensor) -> Cow<'_, [f32]> {
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

/// Each channel's mean and biased variance, and the `(scale, shift)` that normalises it:
/// `x · scale + shift = γ·(x − mean)/√(variance + ε) + β`.
struct Statistics {
    mean: Vec<f32>,
    variance: Vec<f32>,
    scale_shift: Vec<(f32, f32)>,
}

impl Statistics {
    /// One pass over `x` (`[batch, channels, rest]`, row-major).
    fn of(
        x: &[f32],
        dims @ [_, channels, rest]: [usize; 3],
        gamma: &[f32],
        beta: &[f32],
        epsilon: f64,
    ) -> Self {
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
        let mut stats = Self {
            mean: Vec::with_capacity(channels),
            variance: Vec::with_capacity(channels),
            scale_shift: Vec::with_capacity(channels),
        };
        for (c, &(s, q)) in sums.iter().enumerate() {
            let shift = s / count;
            let m = f64::from(x[c * rest]) + shift;
            let v = (q / count - shift * shift).max(0.0);
            let scale = f64::from(gamma[c]) / (v + epsilon).sqrt();
            stats.mean.push(m as f32);
            stats.variance.push(v as f32);
            stats
                .scale_shift
                .push((scale as f32, (f64::from(beta[c]) - m * scale) as f32));
        }
        stats
    }
}

/// What the input gradient of BatchNorm needs per channel, from the channel's `Σ g` and
/// `Σ g · (x − mean)`: with x̂ = (x − mean)·σ⁻¹, ∂x = γσ⁻¹·(g − mean(g)) −
/// γσ⁻¹·mean(g·x̂)·σ⁻¹·(x − mean), ∂γ = Σ g·x̂, ∂β = Σ g.
struct GradientTerms {
    gamma_grad: Vec<f32>,
    beta_grad: Vec<f32>,
    /// `(γσ⁻¹, mean(g), −γσ⁻¹·mean(g·x̂)·σ⁻¹, mean)` per channel.
    terms: Vec<(f32, f32, f32, f32)>,
}

impl GradientTerms {
    fn of(
        sums: &[(f64, f64)],
        count: f64,
        gamma: &[f32],
        mean: &[f32],
        variance: &[f32],
        epsilon: f64,
    ) -> Self {
        let channels = sums.len();
        let mut out = Self {
            gamma_grad: Vec::with_capacity(channels),
            beta_grad: Vec::with_capacity(channels),
            terms: Vec::with_capacity(channels),
        };
        for (c, &(s, q)) in sums.iter().enumerate() {
            let inv_std = 1.0 / (f64::from(variance[c]) + epsilon).sqrt();
            let g_xhat = q * inv_std;
            out.gamma_grad.push(g_xhat as f32);
            out.beta_grad.push(s as f32);
            let a = f64::from(gamma[c]) * inv_std;
            let b = -a * (g_xhat / count) * inv_std;
            out.terms
                .push((a as f32, (s / count) as f32, b as f32, mean[c]));
        }
        out
    }

    /// The input gradient at one position of channel `c`, for output gradient `g` and input `x`.
    fn x_grad(&self, c: usize, g: f32, x: f32) -> f32 {
        let (a, mean_grad, b, m) = self.terms[c];
        a * (g - mean_grad) + b * (x - m)
    }
}

/// `[batch, channels, height, width]` of a 4-d tensor, and the pooled height and width.
fn pooled_layout(t: &FlexTensor, [ph, pw]: [usize; 2]) -> ([usize; 4], [usize; 2]) {
    let shape = t.layout().shape();
    let dims = [shape[0], shape[1], shape[2], shape[3]];
    (dims, [dims[2] / ph, dims[3] / pw])
}

/// The pooling windows of one `height × width` plane: each window's index in the pooled plane
/// and its input positions in row-major order (PyTorch's scan order, which decides ties).
fn windows(
    width: usize,
    [ph, pw]: [usize; 2],
    [out_h, out_w]: [usize; 2],
) -> impl Iterator<Item = (usize, impl Iterator<Item = usize>)> {
    (0..out_h * out_w).map(move |w| {
        let first = (w / out_w) * ph * width + (w % out_w) * pw;
        let rows = (0..ph).map(move |di| first + di * width);
        (w, rows.flat_map(move |row| row..row + pw))
    })
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
        let stats = Statistics::of(&x, dims, &gamma, &beta, epsilon);
        let mut output = vec![0.0f32; x.len()];
        output
            .par_chunks_mut(rest.max(1))
            .zip(x.par_chunks(rest.max(1)))
            .enumerate()
            .for_each(|(plane, (out, x))| {
                let (scale, shift) = stats.scale_shift[plane % channels];
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = v * scale + shift;
                }
            });
        (
            tensor(output, shape),
            tensor(stats.mean, vec![channels]),
            tensor(stats.variance, vec![channels]),
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
        let count = (x.len() / channels.max(1)) as f64;
        let terms = GradientTerms::of(&sums, count, &gamma, &mean, &variance, epsilon);
        let mut x_grad = vec![0.0f32; x.len()];
        x_grad
            .par_chunks_mut(rest.max(1))
            .zip(x.par_chunks(rest.max(1)).zip(grad.par_chunks(rest.max(1))))
            .enumerate()
            .for_each(|(plane, (out, (x, grad)))| {
                let c = plane % channels;
                for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
                    *o = terms.x_grad(c, g, v);
                }
            });
        (
            tensor(x_grad, shape),
            tensor(terms.gamma_grad, vec![channels]),
            tensor(terms.beta_grad, vec![channels]),
        )
    }

    fn train_batch_norm_relu_max_pool(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        pool: [usize; 2],
    ) -> (FlexTensor, FlexTensor, FlexTensor, FlexTensor) {
        let ([batch, channels, height, width], out_hw) = pooled_layout(&x, pool);
        let plane = height * width;
        let out_plane = out_hw[0] * out_hw[1];
        let (x, gamma, beta) = (values(&x), values(&gamma), values(&beta));
        let stats = Statistics::of(&x, [batch, channels, plane], &gamma, &beta, epsilon);
        let mut output = vec![0.0f32; batch * channels * out_plane];
        let mut argmax = vec![-1i64; output.len()];
        output
            .par_chunks_mut(out_plane.max(1))
            .zip(argmax.par_chunks_mut(out_plane.max(1)))
            .zip(x.par_chunks(plane.max(1)))
            .enumerate()
            .for_each(|(p, ((out, argmax), x))| {
                let (scale, shift) = stats.scale_shift[p % channels];
                for (w, positions) in windows(width, pool, out_hw) {
                    // The first maximum of the normalised window, as PyTorch's max-pool
                    // picks it (NaN wins); ReLU after the max is ReLU before it.
                    let mut best = (f32::NEG_INFINITY, 0);
                    for i in positions {
                        let v = x[i] * scale + shift;
                        if v > best.0 || v.is_nan() {
                            best = (v, i);
                        }
                    }
                    if best.0 > 0.0 || best.0.is_nan() {
                        out[w] = best.0;
                        argmax[w] = best.1 as i64;
                    }
                }
            });
        let pooled_shape = vec![batch, channels, out_hw[0], out_hw[1]];
        (
            tensor(output, pooled_shape.clone()),
            FlexTensor::from_data(TensorData::new(argmax, pooled_shape)),
            tensor(stats.mean, vec![channels]),
            tensor(stats.variance, vec![channels]),
        )
    }

    fn train_batch_norm_relu_max_pool_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        argmax: FlexTensor,
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let (dims @ [_, channels, plane], shape) = layout(&x);
        let out_plane = output_grad.layout().shape()[2..].iter().product::<usize>();
        let (x, grad) = (values(&x), values(&output_grad));
        let (gamma, mean, variance) = (values(&gamma), values(&mean), values(&variance));
        let argmax = argmax.to_contiguous();
        let argmax = argmax
            .as_slice::<i64>()
            .unwrap_or_else(|| unreachable!("the forward kernel writes i64 argmaxes"));
        // The input gradient is the pooled gradient at each window's argmax and 0 elsewhere:
        // its sums visit the argmaxes only.
        let sums = channel_sums(dims, |c, start| {
            let m = f64::from(mean[c]);
            let window = (start / plane) * out_plane;
            let hits = argmax[window..window + out_plane]
                .iter()
                .zip(&grad[window..window + out_plane])
                .filter(|&(&i, _)| i >= 0);
            hits.fold((0.0, 0.0), |(s, q), (&i, &g)| {
                let g = f64::from(g);
                (s + g, q + g * (f64::from(x[start + i as usize]) - m))
            })
        });
        let count = (x.len() / channels.max(1)) as f64;
        let terms = GradientTerms::of(&sums, count, &gamma, &mean, &variance, epsilon);
        let mut x_grad = vec![0.0f32; x.len()];
        x_grad
            .par_chunks_mut(plane.max(1))
            .zip(x.par_chunks(plane.max(1)))
            .zip(
                argmax
                    .par_chunks(out_plane.max(1))
                    .zip(grad.par_chunks(out_plane.max(1))),
            )
            .enumerate()
            .for_each(|(p, ((out, x), (argmax, grad)))| {
                let c = p % channels;
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = terms.x_grad(c, 0.0, v);
                }
                for (&i, &g) in argmax.iter().zip(grad) {
                    if i >= 0 {
                        out[i as usize] = terms.x_grad(c, g, x[i as usize]);
                    }
                }
            });
        (
            tensor(x_grad, shape),
            tensor(terms.gamma_grad, vec![channels]),
            tensor(terms.beta_grad, vec![channels]),
        )
    }
}

/// The autodiff node of both training forwards: checkpoints `x` and `gamma`, keeps the
/// statistics (and the pooled variant's argmaxes), and calls the matching backward kernel.
#[derive(Debug)]
struct TrainBatchNormBackward;

/// `x`'s and `gamma`'s checkpoints, mean, variance, ε, and the argmaxes when the op pooled.
type NodeState<B> = (
    NodeId,
    NodeId,
    FloatTensor<B>,
    FloatTensor<B>,
    f64,
    Option<IntTensor<B>>,
);

impl<B: Backend + TrainBatchNorm> Backward<B, 3> for TrainBatchNormBackward {
    type State = NodeState<B>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, gamma, mean, variance, epsilon, argmax) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x);
        let gamma = checkpointer.retrieve_node_output::<FloatTensor<B>>(gamma);
        let (x_grad, gamma_grad, beta_grad) = match argmax {
            None => B::train_batch_norm_backward(x, gamma, mean, variance, epsilon, grad),
            Some(argmax) => B::train_batch_norm_relu_max_pool_backward(
                x, gamma, mean, variance, epsilon, argmax, grad,
            ),
        };
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

/// What a forward kernel returns: output, argmaxes (pooled variant only), mean, variance.
type Forward<B> = (
    FloatTensor<B>,
    Option<IntTensor<B>>,
    FloatTensor<B>,
    FloatTensor<B>,
);

/// Runs a forward kernel of the inner backend under a [`TrainBatchNormBackward`] node (when
/// the graph tracks `x`, `gamma` or `beta`). The statistics leave untracked, as burn's own
/// `batch_norm_train` returns them.
fn tracked<B: Backend + TrainBatchNorm, C: CheckpointStrategy>(
    [x, gamma, beta]: [FloatTensor<Autodiff<B, C>>; 3],
    epsilon: f64,
    forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> Forward<B>,
) -> Forward<Autodiff<B, C>> {
    let untracked = FloatTensor::<Autodiff<B, C>>::new;
    match TrainBatchNormBackward
        .prepare::<C>([x.node(), gamma.node(), beta.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let x_state = prep.checkpoint(&x);
            let gamma_state = prep.checkpoint(&gamma);
            let (output, argmax, mean, variance) = forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
            );
            let state = (
                x_state,
                gamma_state,
                mean.clone(),
                variance.clone(),
                epsilon,
                argmax.clone(),
            );
            (
                prep.finish(state, output),
                argmax,
                untracked(mean),
                untracked(variance),
            )
        }
        OpsKind::UnTracked(prep) => {
            let (output, argmax, mean, variance) = forward(
                x.into_primitive(),
                gamma.into_primitive(),
                beta.into_primitive(),
            );
            (
                prep.finish(output),
                argmax,
                untracked(mean),
                untracked(variance),
            )
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
        let (output, _, mean, variance) =
            tracked::<B, C>([x, gamma, beta], epsilon, |x, gamma, beta| {
                let (output, mean, variance) = B::train_batch_norm(x, gamma, beta, epsilon);
                (output, None, mean, variance)
            });
        (output, mean, variance)
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

    fn train_batch_norm_relu_max_pool(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        pool: [usize; 2],
    ) -> (
        FloatTensor<Self>,
        IntTensor<Self>,
        FloatTensor<Self>,
        FloatTensor<Self>,
    ) {
        let (output, argmax, mean, variance) =
            tracked::<B, C>([x, gamma, beta], epsilon, |x, gamma, beta| {
                let (output, argmax, mean, variance) =
                    B::train_batch_norm_relu_max_pool(x, gamma, beta, epsilon, pool);
                (output, Some(argmax), mean, variance)
            });
        let argmax = argmax.unwrap_or_else(|| unreachable!("the pooled forward returns argmaxes"));
        (output, argmax, mean, variance)
    }

    fn train_batch_norm_relu_max_pool_backward(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _epsilon: f64,
        _argmax: IntTensor<Self>,
        _output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("BatchNorm's backward is not differentiated again (no second derivatives)")
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use burn::module::Param;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;
    use burn::tensor::activation::relu;

    use super::*;
    use crate::BatchNorm;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Largest |a − b| relative to the largest |b|.
    fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

    /// The fused BatchNorm → ReLU → max-pool against the three operations one by one (the
    /// BatchNorm kernel, burn's ReLU and max-pool with indices) on flex autodiff: the same
    /// output bit for bit (the same arithmetic per value, PyTorch's first maximum on ties),
    /// the same running statistics, and the same gradients but for the order of the f64 sums.
    #[test]
    fn fused_stage_matches_the_three_operations() {
        let device = Device::flex().autodiff();
        // Uneven sizes leave remainders the pool drops; values on a coarse grid make ties,
        // between zeros after ReLU and between equal positive values.
        for (shape, pool) in [([3, 4, 9, 11], 4), ([2, 3, 6, 8], 2), ([2, 2, 5, 35], 4)] {
            let count = shape.iter().product::<usize>();
            let x: Vec<f32> = (0..count)
                .map(|i| ((i * 7919 % 23) as f32 - 11.0) * 0.5 + (i % 5) as f32 * 0.25)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(x, shape), &device);
            let channels = shape[1];
            let pool = MaxPool2dConfig::new([pool, pool])
                .with_strides([pool, pool])
                .init();
            let bn = || {
                let mut bn = BatchNorm::new(channels, &device);
                let gamma: Vec<f32> = (0..channels).map(|c| 0.5 + c as f32 * 0.3).collect();
                let beta: Vec<f32> = (0..channels).map(|c| c as f32 * 0.2 - 0.3).collect();
                let param =
                    |v: Vec<f32>| Param::from_tensor(Tensor::from_data(v.as_slice(), &device));
                (bn.gamma, bn.beta) = (param(gamma), param(beta));
                bn
            };
            let (fused_bn, three_bn) = (bn(), bn());
            let (x1, x2) = (x.clone().require_grad(), x.require_grad());
            let fused = fused_bn.forward_relu_max_pool(x1.clone(), &pool);
            let three = pool.forward(relu(three_bn.forward(x2.clone())));
            assert_eq!(values(fused.clone()), values(three.clone()), "{shape:?}");
            for (a, b) in [
                (&fused_bn.running_mean, &three_bn.running_mean),
                (&fused_bn.running_var, &three_bn.running_var),
            ] {
                assert_eq!(values(a.value()), values(b.value()));
            }
            // A weighted sum, so every pooled value's gradient differs.
            let weights: Vec<f32> = (0..fused.shape().num_elements())
                .map(|i| (i as f32).sin())
                .collect();
            let weights = Tensor::<4>::from_data(TensorData::new(weights, fused.shape()), &device);
            let g1 = (fused * weights.clone()).sum().backward();
            let g2 = (three * weights).sum().backward();
            let x_gap = relative_gap(
                &values(x1.grad(&g1).unwrap()),
                &values(x2.grad(&g2).unwrap()),
            );
            assert!(x_gap < 1e-5, "{shape:?}: x gradients {x_gap}");
            for (param, (a, b)) in [
                ("gamma", (&fused_bn.gamma, &three_bn.gamma)),
                ("beta", (&fused_bn.beta, &three_bn.beta)),
            ] {
                let gap =
                    relative_gap(&values(a.grad(&g1).unwrap()), &values(b.grad(&g2).unwrap()));
                assert!(gap < 1e-5, "{shape:?}: {param} gradients {gap}");
            }
        }
    }
}
