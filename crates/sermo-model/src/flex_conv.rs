//! The CNN blocks' convolutions as im2col + one batched matrix product, forward and backward,
//! for the flex CPU backend (feature `cpu-kernels`).
//!
//! flex runs a 2-d convolution as a 3-d one: a channels-last copy of the input and a tiled
//! im2col per call, and burn's generic backward (a transposed convolution for the input's
//! gradient, another convolution for the weight's). For the paper's 3×3 convolutions that cost
//! 25 ms (conv1, 1 → 16 channels at 40 × 282) and 46 ms (conv2, 16 → 32 at 20 × 141) per CNN
//! block and training step, forward and backward, against ≈ 4 ms of arithmetic for conv2
//! (docs/benchmarks.md). Here every sample's input is unrolled once into
//! `columns = [channels_in · kh · kw, height · width]` (row `(c, i, j)` is channel `c` shifted by
//! the kernel offset `(i, j)`, zero where it leaves the plane), so
//! - the output is `weight [c_out, c_in·kh·kw] × columns`, already channel-major (NCHW);
//! - the weight's gradient is `Σ_samples output_grad × columnsᵀ`;
//! - the input's gradient is the columns' gradient `weightᵀ × output_grad` folded back (each row
//!   added onto its shifted plane).
//!
//! The products are flex's own batched matmul (the `gemm` crate, strided and broadcast operands
//! without copies). Only stride 1, dilation 1, one group, symmetric zero padding and a bias:
//! [`forward`] hands every other convolution, and every other device, to burn's `conv2d`.

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::flex::FlexTensor;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Shape, Tensor, TensorData};
use rayon::prelude::*;

use crate::flex_batch_norm::{runs_here, values};

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

/// The sizes of one convolution.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    batch: usize,
    c_in: usize,
    c_out: usize,
    /// Input height and width.
    in_hw: [usize; 2],
    /// Kernel height and width.
    kernel: [usize; 2],
    padding: [usize; 2],
    /// Output height and width.
    out_hw: [usize; 2],
}

impl Geometry {
    fn of(x: &FlexTensor, weight: &FlexTensor, padding: [usize; 2]) -> Self {
        let (xs, ws) = (x.layout().shape(), weight.layout().shape());
        let in_hw = [xs[2], xs[3]];
        let kernel = [ws[2], ws[3]];
        let out = |axis: usize| (in_hw[axis] + 2 * padding[axis] + 1).saturating_sub(kernel[axis]);
        Self {
            batch: xs[0],
            c_in: xs[1],
            c_out: ws[0],
            in_hw,
            kernel,
            padding,
            out_hw: [out(0), out(1)],
        }
    }

    /// Rows of the unrolled input: `c_in · kh · kw`.
    fn rows(&self) -> usize {
        self.c_in * self.kernel[0] * self.kernel[1]
    }

    fn in_plane(&self) -> usize {
        self.in_hw[0] * self.in_hw[1]
    }

    fn out_plane(&self) -> usize {
        self.out_hw[0] * self.out_hw[1]
    }

    /// For kernel offset `i` on `axis`: the output positions whose input position
    /// `o + i − pad` lies inside the plane, and that input position for the first of them.
    fn overlap(&self, axis: usize, i: usize) -> (std::ops::Range<usize>, usize) {
        let pad = self.padding[axis];
        let first = pad.saturating_sub(i);
        let last = (self.in_hw[axis] + pad)
            .saturating_sub(i)
            .min(self.out_hw[axis]);
        (first..last.max(first), (first + i).saturating_sub(pad))
    }
}

/// The unrolled input, `[batch, c_in·kh·kw, h_out·w_out]` (see the module doc).
fn unroll(x: &[f32], g: Geometry) -> Vec<f32> {
    let (rows, out_plane, in_plane) = (g.rows(), g.out_plane(), g.in_plane());
    let [kh, kw] = g.kernel;
    let [_, in_w] = g.in_hw;
    let [_, out_w] = g.out_hw;
    let mut columns = vec![0.0f32; g.batch * rows * out_plane];
    // One chunk per (sample, input channel): its kh·kw rows.
    columns
        .par_chunks_mut((kh * kw * out_plane).max(1))
        .enumerate()
        .for_each(|(plane, rows)| {
            let src = &x[plane * in_plane..(plane + 1) * in_plane];
            for (offset, row) in rows.chunks_exact_mut(out_plane.max(1)).enumerate() {
                let (i, j) = (offset / kw, offset % kw);
                let (ys, y0) = g.overlap(0, i);
                let (xs, x0) = g.overlap(1, j);
                for (dy, oy) in ys.enumerate() {
                    let from = (y0 + dy) * in_w + x0;
                    row[oy * out_w + xs.start..oy * out_w + xs.end]
                        .copy_from_slice(&src[from..from + xs.len()]);
                }
            }
        });
    columns
}

/// The input's gradient from the unrolled input's: every row added back onto its shifted
/// plane (the transpose of [`unroll`]).
fn fold(columns: &[f32], g: Geometry) -> Vec<f32> {
    let (out_plane, in_plane) = (g.out_plane(), g.in_plane());
    let [kh, kw] = g.kernel;
    let [_, in_w] = g.in_hw;
    let [_, out_w] = g.out_hw;
    let mut x_grad = vec![0.0f32; g.batch * g.c_in * in_plane];
    x_grad
        .par_chunks_mut(in_plane.max(1))
        .zip(columns.par_chunks((kh * kw * out_plane).max(1)))
        .for_each(|(dst, rows)| {
            for (offset, row) in rows.chunks_exact(out_plane.max(1)).enumerate() {
                let (i, j) = (offset / kw, offset % kw);
                let (ys, y0) = g.overlap(0, i);
                let (xs, x0) = g.overlap(1, j);
                for (dy, oy) in ys.enumerate() {
                    let to = (y0 + dy) * in_w + x0;
                    let src = &row[oy * out_w + xs.start..oy * out_w + xs.end];
                    for (d, &s) in dst[to..to + xs.len()].iter_mut().zip(src) {
                        *d += s;
                    }
                }
            }
        });
    x_grad
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

impl UnrolledConv2d for Flex {
    fn unrolled_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        padding: [usize; 2],
    ) -> FlexTensor {
        let g = Geometry::of(&x, &weight, padding);
        let columns = tensor(
            unroll(&values(&x), g),
            vec![g.batch, g.rows(), g.out_plane()],
        );
        let weight = Flex::float_reshape(weight, Shape::new([1, g.c_out, g.rows()]));
        let output = Flex::float_matmul(weight, columns);
        let output = Flex::float_add(
            output,
            Flex::float_reshape(bias, Shape::new([1, g.c_out, 1])),
        );
        let [out_h, out_w] = g.out_hw;
        Flex::float_reshape(output, Shape::new([g.batch, g.c_out, out_h, out_w]))
    }

    fn unrolled_conv2d_backward(
        x: FlexTensor,
        weight: FlexTensor,
        padding: [usize; 2],
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let g = Geometry::of(&x, &weight, padding);
        let weight_shape = weight.layout().shape().clone();
        let x_shape = x.layout().shape().clone();
        let columns = tensor(
            unroll(&values(&x), g),
            vec![g.batch, g.rows(), g.out_plane()],
        );
        let output_grad =
            Flex::float_reshape(output_grad, Shape::new([g.batch, g.c_out, g.out_plane()]));
        // Σ over samples of output_grad × columnsᵀ.
        let weight_grad =
            Flex::float_matmul(output_grad.clone(), Flex::float_swap_dims(columns, 1, 2));
        let weight_grad = Flex::float_reshape(Flex::float_sum_dim(weight_grad, 0), weight_shape);
        let bias_grad = Flex::float_sum_dim(Flex::float_sum_dim(output_grad.clone(), 2), 0);
        let bias_grad = Flex::float_reshape(bias_grad, Shape::new([g.c_out]));
        // weightᵀ × output_grad, folded back onto the input.
        let weight_t = Flex::float_swap_dims(
            Flex::float_reshape(weight, Shape::new([1, g.c_out, g.rows()])),
            1,
            2,
        );
        let columns_grad = Flex::float_matmul(weight_t, output_grad);
        let x_grad = fold(&values(&columns_grad), g);
        (
            FlexTensor::from_data(TensorData::new(x_grad, x_shape)),
            weight_grad,
            bias_grad,
        )
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
    use burn::tensor::Device;

    use super::*;

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Largest |a − b| relative to the largest |b|.
    fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }

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
            for (what, a, b) in [
                (
                    "x",
                    values(x1.grad(&g1).unwrap()),
                    values(x2.grad(&g2).unwrap()),
                ),
                (
                    "weight",
                    values(conv.weight.grad(&g1).unwrap()),
                    values(conv.weight.grad(&g2).unwrap()),
                ),
                (
                    "bias",
                    values(bias.grad(&g1).unwrap()),
                    values(bias.grad(&g2).unwrap()),
                ),
            ] {
                let gap = relative_gap(&a, &b);
                assert!(gap < 1e-5, "{shape:?} {padding:?}: {what} gradient {gap}");
            }
        }
    }
}
