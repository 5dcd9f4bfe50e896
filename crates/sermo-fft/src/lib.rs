//! The FFTs sermo-dsp runs, planned behind functions that are not generic.
//!
//! rustfft (under realfft and rubato) is generic over the sample type and picks its algorithms
//! at run time (scalar, SSE, AVX, WebAssembly SIMD), so planning a transform instantiates every
//! one of them for that type in the crate that plans it: about 40 s of optimised compilation
//! per sample type on the development machine. Planned in sermo-dsp, that was paid twice in
//! every test build (the library and its unit tests) and again after every edit of sermo-dsp.
//! Here it is paid once per build; sermo-dsp calls these functions and runs the plans through
//! realfft's trait objects.

use std::sync::Arc;

use realfft::RealFftPlanner;
pub use realfft::num_complex::Complex;
pub use realfft::{ComplexToReal, RealToComplex};
use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{FixedSync, Resampler, WindowFunction};
pub use rustfft::Fft;

/// A forward real FFT of `len` samples in f32 (the MFCC's).
pub fn forward_f32(len: usize) -> Arc<dyn RealToComplex<f32>> {
    RealFftPlanner::<f32>::new().plan_fft_forward(len)
}

/// A forward complex FFT of `len` points in f32: the transform that [`forward_f32`]`(2 · len)`
/// runs inside (realfft plans it with a fresh `rustfft::FftPlanner`, as here, so both pick the
/// same algorithm and give the same bits). The MFCC runs it directly and does realfft's
/// post-processing itself, fused with the power spectrum.
pub fn forward_complex_f32(len: usize) -> Arc<dyn Fft<f32>> {
    rustfft::FftPlanner::<f32>::new().plan_fft_forward(len)
}

/// Real FFTs in f64 of any length; each length is planned once per planner and its plan reused.
pub struct PlannerF64(RealFftPlanner<f64>);

impl PlannerF64 {
    /// A planner with no plans yet.
    pub fn new() -> Self {
        Self(RealFftPlanner::new())
    }

    /// The forward transform of `len` samples (`len / 2 + 1` bins).
    pub fn forward(&mut self, len: usize) -> Arc<dyn RealToComplex<f64>> {
        self.0.plan_fft_forward(len)
    }

    /// The inverse transform back to `len` samples.
    pub fn inverse(&mut self, len: usize) -> Arc<dyn ComplexToReal<f64>> {
        self.0.plan_fft_inverse(len)
    }
}

impl Default for PlannerF64 {
    fn default() -> Self {
        Self::new()
    }
}

/// Resamples mono `input` from `from_hz` to `to_hz` with rubato's synchronous FFT resampler
/// (`block_frames` input frames per block, `window` for its sinc filter), delay trimmed. The
/// output may be a little longer than `len · to / from`: the caller fixes the length.
///
/// # Errors
/// rubato's message when it rejects the rates, the block or the input.
pub fn resample_f64(
    input: &[f64],
    from_hz: usize,
    to_hz: usize,
    block_frames: usize,
    window: WindowFunction,
) -> Result<Vec<f64>, String> {
    let mut resampler =
        rubato::Fft::<f64>::new_custom(from_hz, to_hz, block_frames, 1, 1, window, FixedSync::Both)
            .map_err(|e| e.to_string())?;
    let adapter = InterleavedSlice::new(input, 1, input.len()).map_err(|e| e.to_string())?;
    let output = resampler
        .process_all(&adapter, input.len(), None)
        .map_err(|e| e.to_string())?;
    // Mono, so the interleaved data is the signal itself.
    Ok(output.take_data())
}
