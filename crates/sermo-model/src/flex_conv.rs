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
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, Dispatch, Flex, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::{Tensor, TensorData};
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

/// Unrolls one sample `x` (`[c_in, h, w]`) into `columns` (`[c_in·kh·kw, h_out·w_out]`): row
/// `(c, i, j)` is channel `c` shifted by the kernel offset `(i, j)`, zero where it leaves the
/// plane.
fn unroll(x: &[f32], g: &Geometry, columns: &mut [f32]) {
    let [kh, kw] = g.kernel;
    let [_, in_w] = g.in_hw;
    let [_, out_w] = g.out_hw;
    columns.fill(0.0);
    let rows = columns.chunks_exact_mut(g.out_plane().max(1));
    for (r, row) in rows.enumerate() {
        let (c, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
        let src = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
        let (ys, y0) = g.overlap(0, i);
        let (xs, x0) = g.overlap(1, j);
        for (dy, oy) in ys.enumerate() {
            let from = (y0 + dy) * in_w + x0;
            row[oy * out_w + xs.start..oy * out_w + xs.end]
                .copy_from_slice(&src[from..from + xs.len()]);
        }
    }
}

/// The transpose of [`unroll`]: one sample's input gradient `x_grad` (`[c_in, h, w]`) from
/// its unrolled input's gradient, every row added back onto its shifted plane.
fn fold(columns: &[f32], g: &Geometry, x_grad: &mut [f32]) {
    let [kh, kw] = g.kernel;
    let [_, in_w] = g.in_hw;
    let [_, out_w] = g.out_hw;
    x_grad.fill(0.0);
    for (r, row) in columns.chunks_exact(g.out_plane().max(1)).enumerate() {
        let (c, i, j) = (r / (kh * kw), r / kw % kh, r % kw);
        let dst = &mut x_grad[c * g.in_plane()..(c + 1) * g.in_plane()];
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
}

/// A matrix inside a slice: element `(i, j)` at `i · row_stride + j · col_stride`.
#[derive(Clone, Copy)]
struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// Whether every element lies inside `data`.
    fn fits(&self) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
                < self.data.len()
    }
}

/// `dst = a × b`, or `dst += a × b` when `accumulate` (`dst` row-major, `a.rows × b.cols`), on
/// this thread: the callers run one product per sample, samples in parallel.
fn matmul(dst: &mut [f32], a: Matrix<'_>, b: Matrix<'_>, accumulate: bool) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        b.rows == k && dst.len() == m * n && a.fits() && b.fits(),
        "matmul: {m}×{k} by {}×{n} into {} values",
        b.rows,
        dst.len()
    );
    if k == 0 {
        if !accumulate {
            dst.fill(0.0);
        }
        return;
    }
    // SAFETY: the assert keeps every element gemm touches, `i · row_stride + j · col_stride`
    // for `i < rows`, `j < cols`, inside its slice; `dst` is borrowed mutably, so it aliases
    // neither operand. gemm computes `dst = 1 · dst + 1 · a·b`, reading `dst` only when
    // `accumulate`.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0f32,
            1.0f32,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// What one worker of the backward keeps across its samples: the unrolled input and its
/// gradient (reused), and its sums of the weight's and the bias's gradients.
struct BackwardWorker {
    columns: Vec<f32>,
    columns_grad: Vec<f32>,
    weight_grad: Vec<f32>,
    bias_grad: Vec<f64>,
}

impl UnrolledConv2d for Flex {
    fn unrolled_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        padding: [usize; 2],
    ) -> FlexTensor {
        let g = Geometry::of(&x, &weight, padding);
        let (x, weight, bias) = (values(&x), values(&weight), values(&bias));
        let weight = Matrix::row_major(&weight, g.c_out, g.rows());
        let (in_len, out_len) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
        let mut output = vec![0.0f32; g.batch * out_len];
        output
            .par_chunks_mut(out_len.max(1))
            .zip(x.par_chunks(in_len.max(1)))
            .for_each_init(
                || vec![0.0f32; g.rows() * g.out_plane()],
                |columns, (out, x)| {
                    unroll(x, &g, columns);
                    // Each output channel starts at its bias; the product adds onto it.
                    for (plane, &b) in out.chunks_exact_mut(g.out_plane().max(1)).zip(&*bias) {
                        plane.fill(b);
                    }
                    let columns = Matrix::row_major(columns, g.rows(), g.out_plane());
                    matmul(out, weight, columns, true);
                },
            );
        let [out_h, out_w] = g.out_hw;
        tensor(output, vec![g.batch, g.c_out, out_h, out_w])
    }

    fn unrolled_conv2d_backward(
        x: FlexTensor,
        weight: FlexTensor,
        padding: [usize; 2],
        output_grad: FlexTensor,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let g = Geometry::of(&x, &weight, padding);
        let (x_shape, weight_shape) = (
            x.layout().shape().to_vec(),
            weight.layout().shape().to_vec(),
        );
        let (x, weight, grad) = (values(&x), values(&weight), values(&output_grad));
        let weight = Matrix::row_major(&weight, g.c_out, g.rows());
        let (in_len, out_len) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
        let unrolled = g.rows() * g.out_plane();
        let mut x_grad = vec![0.0f32; g.batch * in_len];
        let worker = || BackwardWorker {
            columns: vec![0.0; unrolled],
            columns_grad: vec![0.0; unrolled],
            weight_grad: vec![0.0; g.c_out * g.rows()],
            bias_grad: vec![0.0; g.c_out],
        };
        let sums = x_grad
            .par_chunks_mut(in_len.max(1))
            .zip(
                x.par_chunks(in_len.max(1))
                    .zip(grad.par_chunks(out_len.max(1))),
            )
            .fold(worker, |mut w, (x_grad, (x, grad))| {
                unroll(x, &g, &mut w.columns);
                let grad_m = Matrix::row_major(grad, g.c_out, g.out_plane());
                let columns = Matrix::row_major(&w.columns, g.rows(), g.out_plane());
                // ∂weight += output_grad × columnsᵀ; ∂columns = weightᵀ × output_grad.
                matmul(&mut w.weight_grad, grad_m, columns.transposed(), true);
                matmul(&mut w.columns_grad, weight.transposed(), grad_m, false);
                fold(&w.columns_grad, &g, x_grad);
                for (sum, plane) in w
                    .bias_grad
                    .iter_mut()
                    .zip(grad.chunks_exact(g.out_plane().max(1)))
                {
                    *sum += plane.iter().map(|&v| f64::from(v)).sum::<f64>();
                }
                w
            })
            .map(|w| (w.weight_grad, w.bias_grad))
            .reduce(
                || (vec![0.0; g.c_out * g.rows()], vec![0.0; g.c_out]),
                |(mut wa, mut ba), (wb, bb)| {
                    wa.iter_mut().zip(&wb).for_each(|(a, b)| *a += b);
                    ba.iter_mut().zip(&bb).for_each(|(a, b)| *a += b);
                    (wa, ba)
                },
            );
        let (weight_grad, bias_grad) = sums;
        let bias_grad = bias_grad.iter().map(|&v| v as f32).collect();
        (
            tensor(x_grad, x_shape),
            tensor(weight_grad, weight_shape),
            tensor(bias_grad, vec![g.c_out]),
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
}
