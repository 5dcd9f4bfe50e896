//! The flex implementation of [`UnrolledConv2d`]: unrolling, folding back, and the products.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use rayon::prelude::*;

use super::conv::UnrolledConv2d;
use super::{tensor, values};

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

/// How many threads one product may use.
#[derive(Clone, Copy)]
struct Threads(gemm::Parallelism);

impl Threads {
    /// One per product when the batch can keep the pool busy, else the whole pool.
    fn for_batch(batch: usize) -> Self {
        if batch < rayon::current_num_threads() {
            Self(gemm::Parallelism::Rayon(0))
        } else {
            Self(gemm::Parallelism::None)
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

/// `dst = a × b`, or `dst += a × b` when `accumulate` (`dst` row-major, `a.rows × b.cols`).
/// The callers run one product per sample, samples in parallel; `threads` lets one product use
/// the cores the samples leave idle (a batch smaller than the thread pool: one clip at
/// inference).
fn matmul(dst: &mut [f32], a: Matrix<'_>, b: Matrix<'_>, accumulate: bool, threads: Threads) {
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
            threads.0,
        );
    }
}

/// The element-wise sum of consecutive `len`-value slots, slot by slot in order.
fn sum_slots<T: Copy + Default + std::ops::AddAssign>(slots: &[T], len: usize) -> Vec<T> {
    let mut sum = vec![T::default(); len];
    for slot in slots.chunks_exact(len.max(1)) {
        sum.iter_mut().zip(slot).for_each(|(s, &v)| *s += v);
    }
    sum
}

impl UnrolledConv2d for Flex {
    fn unrolled_conv2d(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        padding: [usize; 2],
    ) -> FlexTensor {
        let g = Geometry::of(&x, &weight, padding);
        let threads = Threads::for_batch(g.batch);
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
                    matmul(out, weight, columns, true, threads);
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
        let threads = Threads::for_batch(g.batch);
        let (x_shape, weight_shape) = (
            x.layout().shape().to_vec(),
            weight.layout().shape().to_vec(),
        );
        let (x, weight, grad) = (values(&x), values(&weight), values(&output_grad));
        let weight = Matrix::row_major(&weight, g.c_out, g.rows());
        let (in_len, out_len) = (g.c_in * g.in_plane(), g.c_out * g.out_plane());
        let unrolled = g.rows() * g.out_plane();
        let weight_len = g.c_out * g.rows();
        // Each sample's weight and bias gradients in a slot of its own, summed afterwards in
        // sample order: the same bits whatever the threads and rayon's scheduling (a sum per
        // worker would depend on which samples each worker took).
        let mut x_grad = vec![0.0f32; g.batch * in_len];
        let mut weight_grads = vec![0.0f32; g.batch * weight_len];
        let mut bias_grads = vec![0.0f64; g.batch * g.c_out];
        x_grad
            .par_chunks_mut(in_len.max(1))
            .zip(weight_grads.par_chunks_mut(weight_len.max(1)))
            .zip(bias_grads.par_chunks_mut(g.c_out.max(1)))
            .zip(
                x.par_chunks(in_len.max(1))
                    .zip(grad.par_chunks(out_len.max(1))),
            )
            .for_each_init(
                || (vec![0.0f32; unrolled], vec![0.0f32; unrolled]),
                |(columns, columns_grad), (((x_grad, weight_grad), bias_grad), (x, grad))| {
                    unroll(x, &g, columns);
                    let grad_m = Matrix::row_major(grad, g.c_out, g.out_plane());
                    let columns = Matrix::row_major(columns, g.rows(), g.out_plane());
                    // ∂weight = output_grad × columnsᵀ; ∂columns = weightᵀ × output_grad.
                    matmul(weight_grad, grad_m, columns.transposed(), false, threads);
                    matmul(columns_grad, weight.transposed(), grad_m, false, threads);
                    fold(columns_grad, &g, x_grad);
                    let planes = grad.chunks_exact(g.out_plane().max(1));
                    for (sum, plane) in bias_grad.iter_mut().zip(planes) {
                        *sum = plane.iter().map(|&v| f64::from(v)).sum::<f64>();
                    }
                },
            );
        let weight_grad = sum_slots(&weight_grads, weight_len);
        let bias_grad: Vec<f32> = sum_slots(&bias_grads, g.c_out)
            .into_iter()
            .map(|v| v as f32)
            .collect();
        (
            tensor(x_grad, x_shape),
            tensor(weight_grad, weight_shape),
            tensor(bias_grad, vec![g.c_out]),
        )
    }
}
