//! The CNN blocks' convolutions as im2col + one matrix product per sample, forward and
//! backward, for the flex CPU backend (the kernels: `conv_kernels`).
//!
//! flex runs a 2-d convolution as a 3-d one: a channels-last copy of the input and a tiled
//! im2col per call, and burn's generic backward (a transposed convolution for the input's
//! gradient, another convolution for the weight's). For the paper's 3×3 convolutions that cost
//! 25 ms (conv1, 1 → 16 channels at 40 × 282) and 46 ms (conv2, 16 → 32 at 20 × 141) per CNN
//! block and training step, forward and backward, against ≈ 4 ms of arithmetic for conv2
//! (docs/benchmarks.md). Here each sample's input is unrolled into
//! `columns = [channels_in · kh · kw, height · width]` (row `(c, i, j)` is channel `c` shifted by
//! the kernel offset `(i, j)`, zero where it leaves the plane), so
//! - the output is `weight [c_out, c_in·kh·kw] × columns`, already channel-major (NCHW);
//! - the weight's gradient is `Σ_samples output_grad × columnsᵀ`;
//! - the input's gradient is the columns' gradient `weightᵀ × output_grad` folded back (each row
//!   added onto its shifted plane).
//!
//! Samples run in parallel, one single-threaded `gemm` product at a time per worker, each
//! worker reusing its unrolled buffers (1.6 MB for conv2): a first version unrolled the whole
//! batch into one tensor for flex's batched matmul, and a quarter of its time went to page
//! faults and zeroing of those fresh 26 MB buffers (perf) — it was slower than flex's own conv
//! for conv2. The input is not kept for the backward: it is unrolled again (cheaper than
//! holding every layer's columns). Only stride 1, dilation 1, one group, symmetric zero
//! padding and a bias: [`forward`] hands every other convolution, and every other device, to
//! burn's `conv2d`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::Tensor;

use super::runs_here;

/// A 2-d convolution with stride 1, dilation 1, one group and zero padding `padding` (rows,
/// columns) on both sides of each axis.
#[backend_extension(Flex, Autodiff)]
pub trait UnrolledConv2d: Backend {
    /// `x` `[batch, c_in, h, w]`, `weight` `[c_out, c_in, kh, kw]`, `bias` `[c_out]`; returns
    /// `[batch, c_out, h + 2·pad_h − kh + 1, w + 2·pad_w − kw + 1]`.
    fn unrolled_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 2],
    ) -> FloatTensor<Self>;

    /// Gradients of [`UnrolledConv2d::unrolled_conv2d`] for `x`, `weight` and `bias`.
    fn unrolled_conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        padding: [usize; 2],
        output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `conv.forward(x)`; with the unrolled kernels here when the device is flex (f32) and the
/// convolution has stride 1, dilation 1, one group, symmetric padding and a bias.
pub fn forward(conv: &Conv2d, x: Tensor<4>) -> Tensor<4> {
    let (Some(padding), Some(bias)) = (plain_padding(conv), &conv.bias) else {
        return conv.forward(x);
    };
    if !runs_here(&x) {
        return conv.forward(x);
    }
    let output = <Dispatch as UnrolledConv2d>::unrolled_conv2d(
        x.into_dispatch(),
        conv.weight.val().into_dispatch(),
        bias.val().into_dispatch(),
        padding,
    );
    Tensor::from_dispatch(output)
}

/// The padding of a convolution the kernels here run, `None` for any other.
fn plain_padding(conv: &Conv2d) -> Option<[usize; 2]> {
    let plain = conv.stride == [1, 1] && conv.dilation == [1, 1] && conv.groups == 1;
    match conv.padding {
        PaddingConfig2d::Valid if plain => Some([0, 0]),
        PaddingConfig2d::Explicit(top, left, bottom, right)
            if plain && top == bottom && left == right =>
        {
            Some([top, left])
        }
        _ => None,
    }
}

/// The autodiff node of [`UnrolledConv2d::unrolled_conv2d`]: checkpoints `x` and `weight`.
#[derive(Debug)]
struct UnrolledConv2dBackward;

impl<B: Backend + UnrolledConv2d> Backward<B, 3> for UnrolledConv2dBackward {
    type State = (NodeId, NodeId, [usize; 2]);

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, padding) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight);
        let (x_grad, weight_grad, bias_grad) =
            B::unrolled_conv2d_backward(x, weight, padding, grad);
        for (node, grad) in [
            (node_x, x_grad),
            (node_weight, weight_grad),
            (node_bias, bias_grad),
        ] {
            if let Some(node) = node {
                grads.register::<B>(node.id, grad);
            }
        }
    }
}

impl<B: Backend + UnrolledConv2d, C: CheckpointStrategy> UnrolledConv2d for Autodiff<B, C> {
    fn unrolled_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        padding: [usize; 2],
    ) -> FloatTensor<Self> {
        match UnrolledConv2dBackward
            .prepare::<C>([x.node(), weight.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), padding);
                let output = B::unrolled_conv2d(
                    x.into_primitive(),
                    weight.into_primitive(),
                    bias.into_primitive(),
                    padding,
                );
                prep.finish(state, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::unrolled_conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
                padding,
            )),
        }
    }

    fn unrolled_conv2d_backward(
        _x: FloatTensor<Self>,
        _weight: FloatTensor<Self>,
        _padding: [usize; 2],
        _output_grad: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        unreachable!("the convolution's backward is not differentiated again")
    }
}

#[cfg(all(test, feature = "train"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use burn::nn::conv::Conv2dConfig;
    use burn::tensor::{Device, TensorData};

    use super::*;
    use crate::flex::test_util::{relative_gap, values};

    /// The unrolled convolution against burn's `conv2d` on flex autodiff: outputs and the
    /// gradients of input, weight and bias, for the paper's 3×3 "same" convolutions and for
    /// other kernels and paddings (outputs smaller and larger than the input).
    #[test]
    fn unrolled_conv2d_matches_burns() {
        let device = Device::flex().autodiff();
        let cases = [
            (
                [2, 1, 6, 9],
                4,
                [3, 3],
                PaddingConfig2d::Explicit(1, 1, 1, 1),
            ),
            (
                [3, 5, 5, 7],
                6,
                [3, 3],
                PaddingConfig2d::Explicit(1, 1, 1, 1),
            ),
            ([2, 3, 4, 8], 2, [2, 3], PaddingConfig2d::Valid),
            (
                [1, 2, 3, 5],
                3,
                [3, 3],
                PaddingConfig2d::Explicit(2, 1, 2, 1),
            ),
        ];
        for (shape, c_out, kernel, padding) in cases {
            let conv = Conv2dConfig::new([shape[1], c_out], kernel)
                .with_padding(padding.clone())
                .init(&device);
            assert!(plain_padding(&conv).is_some());
            let count = shape.iter().product::<usize>();
            let x: Vec<f32> = (0..count)
                .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
                .collect();
            let x = Tensor::<4>::from_data(TensorData::new(x, shape), &device);
            let (x1, x2) = (x.clone().require_grad(), x.require_grad());
            let ours = forward(&conv, x1.clone());
            let burns = conv.forward(x2.clone());
            assert_eq!(ours.shape(), burns.shape(), "{shape:?} {padding:?}");
            let gap = relative_gap(&values(ours.clone()), &values(burns.clone()));
            assert!(gap < 1e-6, "{shape:?} {padding:?}: output {gap}");
            let weights: Vec<f32> = (0..ours.shape().num_elements())
                .map(|i| (i as f32 * 0.7).sin())
                .collect();
            let weights = Tensor::<4>::from_data(TensorData::new(weights, ours.shape()), &device);
            let g1 = (ours * weights.clone()).sum().backward();
            let g2 = (burns * weights).sum().backward();
            let bias = conv.bias.as_ref().unwrap();
            // burn sums the bias's gradient (hundreds of terms of both signs) in f32, the
            // kernel in f64: their gap is burn's rounding, up to about 1e-5 of the largest.
            for (what, a, b, tolerance) in [
                (
                    "x",
                    values(x1.grad(&g1).unwrap()),
                    values(x2.grad(&g2).unwrap()),
                    1e-5,
                ),
                (
                    "weight",
                    values(conv.weight.grad(&g1).unwrap()),
                    values(conv.weight.grad(&g2).unwrap()),
                    1e-5,
                ),
                (
                    "bias",
                    values(bias.grad(&g1).unwrap()),
                    values(bias.grad(&g2).unwrap()),
                    5e-5,
                ),
            ] {
                let gap = relative_gap(&a, &b);
                assert!(
                    gap < tolerance,
                    "{shape:?} {padding:?}: {what} gradient {gap}"
                );
            }
        }
    }

    /// The gradients do not depend on how many threads computed them (each sample's share is
    /// summed in sample order), so training runs are reproducible on any machine.
    #[test]
    fn gradients_are_the_same_bits_on_any_number_of_threads() {
        let device = Device::flex().autodiff();
        let conv = Conv2dConfig::new([3, 4], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .init(&device);
        let shape = [5, 3, 6, 9];
        let x: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| ((i * 53 % 97) as f32 / 48.0) - 1.0)
            .collect();
        let gradients = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let x = Tensor::<4>::from_data(TensorData::new(x.clone(), shape), &device)
                    .require_grad();
                let out = forward(&conv, x.clone());
                let grads = (out.clone() * out).sum().backward();
                let bias = conv.bias.as_ref().unwrap();
                [
                    values(x.grad(&grads).unwrap()),
                    values(conv.weight.grad(&grads).unwrap()),
                    values(bias.grad(&grads).unwrap()),
                ]
            })
        };
        assert_eq!(gradients(1), gradients(3));
    }
}
