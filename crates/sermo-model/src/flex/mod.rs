//! sermo's kernels for burn's flex CPU backend (feature `cpu-kernels`, on in the trainer's CPU
//! build): the CNN blocks' work, which flex otherwise runs as burn's generic compositions
//! (docs/benchmarks.md has the before/after).
//!
//! - [`batch_norm`]: BatchNorm's training forward and backward in two passes each, alone and
//!   fused with the ReLU and max-pool that follow it in every CNN stage, and that fused stage at
//!   inference;
//! - [`conv`]: the convolutions as im2col + one `gemm` product per sample.
//!
//! Each is reached through burn's backend extension (`backend_extension`), with its autodiff
//! node written here the way burn-autodiff writes its own: the same inputs checkpointed, the
//! same gradients, so training is unchanged but for float rounding (the gradient parity test,
//! tests/sgd_parity.rs, holds). Only flex runs them: calling an extension on a backend it does
//! not list panics, so every entry point checks [`runs_here`] and hands any other device to
//! burn's operation.

pub mod batch_norm;
mod batch_norm_kernels;
pub mod conv;
mod conv_kernels;

use std::borrow::Cow;

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorData};

/// Whether sermo's flex kernels take `x`: f32 values on the flex device, plain or autodiff (an
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
                .unwrap_or_else(|| unreachable!("sermo's flex kernels take f32 tensors only")),
        ),
    }
}

/// A flex tensor of `values` in `shape`.
pub(crate) fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// What the kernels' tests compare with.
#[cfg(all(test, feature = "train"))]
#[allow(clippy::unwrap_used)]
mod test_util {
    use burn::tensor::Tensor;

    /// `t`'s values.
    pub(crate) fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Largest |a − b| relative to the largest |b|.
    pub(crate) fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        let scale = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
        a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
    }
}
