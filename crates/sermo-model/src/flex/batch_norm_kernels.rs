//! The flex implementations of [`BatchNormKernels`]: statistics, normalisation, the fused
//! ReLU + max-pool, and the backward passes.

use burn::backend::Flex;
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;
use rayon::prelude::*;

use super::batch_norm::BatchNormKernels;
use super::{tensor, values};

/// `[batch, channels, rest]` sizes of a `[batch, channels, ...]` tensor, and its shape.
fn layout(t: &FlexTensor) -> ([usize; 3], Vec<usize>) {
    let shape: Vec<usize> = t.layout().shape().iter().copied().collect();
    let rest = shape.iter().skip(2).product();
    ([shape[0], shape[1], rest], shape)
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

/// One output pass of BatchNorm → ReLU → max-pool over `x` (`[batch, channels, height,
/// width]`): every value becomes `(x − center) · scale + shift` with its channel's
/// `(center, scale, shift)`, and each window gives its first maximum (PyTorch's max-pool rule,
/// NaN wins) after ReLU — ReLU after the max is ReLU before it. Returns the pooled values and
/// each one's position in its input plane (−1 where ReLU made it 0).
fn normalise_relu_pool(
    x: &[f32],
    [batch, channels, width]: [usize; 3],
    affine: &[(f32, f32, f32)],
    pool: [usize; 2],
    out_hw: [usize; 2],
) -> (Vec<f32>, Vec<i64>) {
    let plane = x.len() / (batch * channels).max(1);
    let out_plane = out_hw[0] * out_hw[1];
    let mut output = vec![0.0f32; batch * channels * out_plane];
    let mut argmax = vec![-1i64; output.len()];
    output
        .par_chunks_mut(out_plane.max(1))
        .zip(argmax.par_chunks_mut(out_plane.max(1)))
        .zip(x.par_chunks(plane.max(1)))
        .enumerate()
        .for_each(|(p, ((out, argmax), x))| {
            let (center, scale, shift) = affine[p % channels];
            for (w, positions) in windows(width, pool, out_hw) {
                let mut best = (f32::NEG_INFINITY, 0);
                for i in positions {
                    let v = (x[i] - center) * scale + shift;
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
    (output, argmax)
}

impl BatchNormKernels for Flex {
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
        let (x, gamma, beta) = (values(&x), values(&gamma), values(&beta));
        let stats = Statistics::of(&x, [batch, channels, plane], &gamma, &beta, epsilon);
        // x − 0 is x: the same bits as `x · scale + shift`.
        let affine: Vec<_> = stats
            .scale_shift
            .iter()
            .map(|&(a, b)| (0.0, a, b))
            .collect();
        let (output, argmax) =
            normalise_relu_pool(&x, [batch, channels, width], &affine, pool, out_hw);
        let pooled_shape = vec![batch, channels, out_hw[0], out_hw[1]];
        (
            tensor(output, pooled_shape.clone()),
            FlexTensor::from_data(TensorData::new(argmax, pooled_shape)),
            tensor(stats.mean, vec![channels]),
            tensor(stats.variance, vec![channels]),
        )
    }

    fn batch_norm_relu_max_pool(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        mean: FlexTensor,
        variance: FlexTensor,
        epsilon: f64,
        pool: [usize; 2],
    ) -> FlexTensor {
        let ([batch, channels, _, width], out_hw) = pooled_layout(&x, pool);
        let (x, gamma, beta) = (values(&x), values(&gamma), values(&beta));
        let (mean, variance) = (values(&mean), values(&variance));
        // (x − mean) · γ/√(variance + ε) + β, the order of burn's own inference BatchNorm.
        let affine: Vec<_> = (0..channels)
            .map(|c| {
                let scale = f64::from(gamma[c]) / (f64::from(variance[c]) + epsilon).sqrt();
                (mean[c], scale as f32, beta[c])
            })
            .collect();
        let (output, _) = normalise_relu_pool(&x, [batch, channels, width], &affine, pool, out_hw);
        tensor(output, vec![batch, channels, out_hw[0], out_hw[1]])
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
