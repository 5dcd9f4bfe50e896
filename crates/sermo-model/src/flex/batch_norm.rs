//! BatchNorm's training forward and backward as two passes each over the activation, alone
//! and fused with the ReLU and max-pool after it (the kernels: `batch_norm_kernels`).
//!
//! flex has no kernels of its own for `batch_norm_train` and its backward; it runs burn's
//! generic composition of tensor operations: about 25 passes over the activation for forward
//! and backward together, four of them transposed copies. For the first BatchNorm of a CNN
//! block (`[16, 16, 40, 282]`, 11.5 MB) that was 39 ms of a 479 ms training step, twice
//! (docs/benchmarks.md, session 20). Here the forward is one pass for each channel's mean and
//! variance and one writing `x · scale + shift`; the backward one pass for each channel's
//! `Σ g` and `Σ g · (x − mean)` and one writing the input gradient. The fused variant writes
//! only the pooled output (each window's maximum after ReLU, and where it was), and its
//! backward sums over those maxima only: ReLU and the pool cost no pass of their own. At
//! inference the same output pass runs with the running statistics (flex's own max-pool, scalar
//! and tracking indices even there, was ≈ 40 % of an inference in perf).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::{FloatTensor, IntTensor};
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::tensor::Tensor;

use super::runs_here;

/// BatchNorm's kernels: training (the batch's statistics normalise the input) alone and fused
/// with ReLU + max-pool, and the fused inference (running statistics).
#[backend_extension(Flex, Autodiff)]
pub trait BatchNormKernels: Backend {
    /// `x` is `[batch, channels, ...]`, `gamma` and `beta` `[channels]`. Returns the output,
    /// and each channel's mean and biased variance (what the running statistics follow).
    fn train_batch_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Gradients of [`BatchNormKernels::train_batch_norm`] for `x`, `gamma` and `beta`, given the
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

    /// BatchNorm with running statistics (inference: `mean`, `variance` per channel), then ReLU
    /// and the max-pool as in [`BatchNormKernels::train_batch_norm_relu_max_pool`]: the pooled
    /// output. Only for devices without autodiff (nothing to differentiate).
    fn batch_norm_relu_max_pool(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
        pool: [usize; 2],
    ) -> FloatTensor<Self>;

    /// Gradients of [`BatchNormKernels::train_batch_norm_relu_max_pool`] for `x`, `gamma` and
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
    let (output, mean, variance) = <Dispatch as BatchNormKernels>::train_batch_norm(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        epsilon,
    );
    from_dispatch(output, mean, variance)
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
    let (output, _, mean, variance) =
        <Dispatch as BatchNormKernels>::train_batch_norm_relu_max_pool(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            epsilon,
            pool,
        );
    from_dispatch(output, mean, variance)
}

/// A training forward's output and statistics back from the dispatch backend.
fn from_dispatch<const D: usize>(
    output: FloatTensor<Dispatch>,
    mean: FloatTensor<Dispatch>,
    variance: FloatTensor<Dispatch>,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    (
        Tensor::from_dispatch(output),
        Tensor::from_dispatch(mean),
        Tensor::from_dispatch(variance),
    )
}

/// BatchNorm with running statistics → ReLU → max-pool over `pool` windows with stride `pool`
/// and no padding, as one kernel: inference on flex without autodiff ([`runs_here`] and a
/// plain device).
pub fn batch_norm_relu_max_pool(
    x: Tensor<4>,
    [gamma, beta, mean, variance]: [Tensor<1>; 4],
    epsilon: f64,
    pool: [usize; 2],
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as BatchNormKernels>::batch_norm_relu_max_pool(
        x.into_dispatch(),
        gamma.into_dispatch(),
        beta.into_dispatch(),
        mean.into_dispatch(),
        variance.into_dispatch(),
        epsilon,
        pool,
    ))
}

/// The autodiff node of both training forwards: checkpoints `x` and `gamma`, keeps the
/// statistics (and the pooled variant's argmaxes), and calls the matching backward kernel.
#[derive(Debug)]
struct BatchNormBackward;

/// `x`'s and `gamma`'s checkpoints, mean, variance, ε, and the argmaxes when the op pooled.
type NodeState<B> = (
    NodeId,
    NodeId,
    FloatTensor<B>,
    FloatTensor<B>,
    f64,
    Option<IntTensor<B>>,
);

impl<B: Backend + BatchNormKernels> Backward<B, 3> for BatchNormBackward {
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

/// Runs a forward kernel of the inner backend under a [`BatchNormBackward`] node (when
/// the graph tracks `x`, `gamma` or `beta`). The statistics leave untracked, as burn's own
/// `batch_norm_train` returns them.
fn tracked<B: Backend + BatchNormKernels, C: CheckpointStrategy>(
    [x, gamma, beta]: [FloatTensor<Autodiff<B, C>>; 3],
    epsilon: f64,
    forward: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> Forward<B>,
) -> Forward<Autodiff<B, C>> {
    let untracked = FloatTensor::<Autodiff<B, C>>::new;
    match BatchNormBackward
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

impl<B: Backend + BatchNormKernels, C: CheckpointStrategy> BatchNormKernels for Autodiff<B, C> {
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

    fn batch_norm_relu_max_pool(
        _x: FloatTensor<Self>,
        _gamma: FloatTensor<Self>,
        _beta: FloatTensor<Self>,
        _mean: FloatTensor<Self>,
        _variance: FloatTensor<Self>,
        _epsilon: f64,
        _pool: [usize; 2],
    ) -> FloatTensor<Self> {
        unreachable!("the inference kernel is routed to devices without autodiff only")
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
    use burn::module::{Param, RunningState};
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::activation::relu;
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::BatchNorm;
    use crate::flex::test_util::{relative_gap, values};

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

    /// Inference (running statistics, no autodiff): the fused kernel against burn's BatchNorm,
    /// ReLU and max-pool, equal up to the rounding of the normalisation.
    #[test]
    fn fused_inference_matches_the_three_operations() {
        let device = Device::flex();
        for (shape, pool) in [([3, 4, 9, 11], 4), ([2, 3, 6, 8], 2)] {
            let count = shape.iter().product::<usize>();
            let x: Vec<f32> = (0..count)
                .map(|i| ((i * 7919 % 23) as f32 - 11.0) * 0.5 + (i % 5) as f32 * 0.25)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(x, shape), &device);
            let channels = shape[1];
            let per_channel = |f: fn(usize) -> f32| {
                Tensor::<1>::from_data((0..channels).map(f).collect::<Vec<_>>().as_slice(), &device)
            };
            let mut bn = BatchNorm::new(channels, &device);
            bn.gamma = Param::from_tensor(per_channel(|c| 0.5 + c as f32 * 0.3));
            bn.beta = Param::from_tensor(per_channel(|c| c as f32 * 6.0 - 10.0));
            bn.running_mean = RunningState::new(per_channel(|c| c as f32 * 0.7 - 1.0));
            bn.running_var = RunningState::new(per_channel(|c| 0.5 + c as f32));
            let pool = MaxPool2dConfig::new([pool, pool])
                .with_strides([pool, pool])
                .init();
            let fused = values(bn.forward_relu_max_pool(x.clone(), &pool));
            let three = values(pool.forward(relu(bn.forward(x))));
            let gap = relative_gap(&fused, &three);
            assert!(gap < 1e-6, "{shape:?}: {gap}");
            assert!(three.contains(&0.0) && three.iter().any(|&v| v > 0.0));
        }
    }
}
