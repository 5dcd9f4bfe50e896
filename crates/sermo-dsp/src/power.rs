//! Step 3 of the MFCC chain ([`crate::mfcc`]): `|rfft(frame)|²`, bit for bit what realfft's
//! forward transform followed by `re² + im²` gives, but faster.
//!
//! realfft computes a real FFT of even length `n` as a complex FFT of `n / 2` points over the
//! samples taken in pairs (`z[i] = x[2i] + i·x[2i+1]`), then untangles the two half-spectra
//! with one twiddle per pair of bins `(j, n/2 − j)` (its "post-processing"). That loop is
//! scalar in realfft and cost as much as the complex FFT itself. Here the complex FFT is run
//! directly (the same rustfft plan realfft would make, [`sermo_fft::forward_complex_f32`]) and
//! the post-processing is redone with realfft's twiddles and realfft's exact sequence of f32
//! operations per bin, fused with the squared magnitude: the same bits, in a loop that needs
//! no complex output written back. Odd lengths (a complex FFT of all `n` points in realfft)
//! still go through realfft.

use std::sync::Arc;

use sermo_fft::{Complex, Fft, RealToComplex};

use crate::error::DspError;

/// A planned power spectrum of `n`-sample frames (`n / 2 + 1` bins) with its buffers.
#[derive(Clone)]
pub(crate) enum PowerSpectrum {
    /// Even `n`: the packed complex FFT of `n / 2` points and realfft's post-processing.
    Packed {
        fft: Arc<dyn Fft<f32>>,
        /// realfft's twiddles, `0.5 · e^{−2πij/n}` for `j = 1 ..`, in f32.
        twiddles: Vec<Complex<f32>>,
        /// The frame as `n / 2` complex pairs (rustfft may overwrite it).
        packed: Vec<Complex<f32>>,
        spectrum: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
    },
    /// Odd `n`: realfft as is.
    Real {
        fft: Arc<dyn RealToComplex<f32>>,
        /// Input copy (realfft uses its input as scratch).
        input: Vec<f32>,
        spectrum: Vec<Complex<f32>>,
        scratch: Vec<Complex<f32>>,
    },
}

impl PowerSpectrum {
    /// Plans the transform for frames of `n` samples.
    pub(crate) fn new(n: usize) -> Self {
        if n.is_multiple_of(2) {
            let fft = sermo_fft::forward_complex_f32(n / 2);
            let zero = Complex::new(0.0, 0.0);
            Self::Packed {
                twiddles: realfft_twiddles(n),
                packed: vec![zero; n / 2],
                spectrum: vec![zero; n / 2],
                scratch: vec![zero; fft.get_outofplace_scratch_len()],
                fft,
            }
        } else {
            let fft = sermo_fft::forward_f32(n);
            Self::Real {
                input: fft.make_input_vec(),
                spectrum: fft.make_output_vec(),
                scratch: fft.make_scratch_vec(),
                fft,
            }
        }
    }

    /// Inlined into [`crate::Mfcc`]'s per-instruction-set copies.
    #[inline(always)]
    /// Writes `|rfft(frame)|²` (`frame.len() / 2 + 1` values) into `power`.
    pub(crate) fn compute(&mut self, frame: &[f32], power: &mut [f32]) -> Result<(), DspError> {
        match self {
            Self::Packed {
                fft,
                twiddles,
                packed,
                spectrum,
                scratch,
            } => {
                for (z, pair) in packed.iter_mut().zip(frame.chunks_exact(2)) {
                    *z = Complex::new(pair[0], pair[1]);
                }
                fft.process_outofplace_with_scratch(packed, spectrum, scratch);
                untangle_power(spectrum, twiddles, power);
            }
            Self::Real {
                fft,
                input,
                spectrum,
                scratch,
            } => {
                input.copy_from_slice(frame);
                fft.process_with_scratch(input, spectrum, scratch)
                    .map_err(|e| DspError::Fft(e.to_string()))?;
                for (p, c) in power.iter_mut().zip(spectrum.iter()) {
                    *p = norm_sqr(c.re, c.im);
                }
            }
        }
        Ok(())
    }
}

/// realfft's `RealToComplexEven` twiddles for length `n`: `compute_twiddle(j, n) · 0.5` for
/// `j = 1 .. ⌈n / 4⌉` (the angle and its cosine and sine in f64, rounded to f32; the halving
/// is exact).
fn realfft_twiddles(n: usize) -> Vec<Complex<f32>> {
    let count = n.div_ceil(4);
    let step = -2.0 * std::f64::consts::PI / n as f64;
    (1..count)
        .map(|j| {
            let angle = step * j as f64;
            Complex::new(angle.cos() as f32 * 0.5, angle.sin() as f32 * 0.5)
        })
        .collect()
}

/// `re² + im²`, evaluated as `Complex::norm_sqr` and the old `c.re * c.re + c.im * c.im`.
#[inline(always)]
fn norm_sqr(re: f32, im: f32) -> f32 {
    re * re + im * im
}

/// The powers of bins `j` and `h − j` from `a = z[j]`, `b = z[h − j]` and twiddle `w`.
#[inline(always)]
fn untangle_pair(a: Complex<f32>, b: Complex<f32>, w: Complex<f32>) -> (f32, f32) {
    let (sum_re, sum_im) = (a.re + b.re, a.im + b.im);
    let (diff_re, diff_im) = (a.re - b.re, a.im - b.im);
    let half_sum_re = 0.5 * sum_re;
    let half_diff_im = 0.5 * diff_im;
    let twiddled_re = sum_im * w.re + diff_re * w.im;
    let twiddled_im = sum_im * w.im - diff_re * w.re;
    (
        norm_sqr(half_sum_re + twiddled_re, half_diff_im + twiddled_im),
        norm_sqr(half_sum_re - twiddled_re, twiddled_im - half_diff_im),
    )
}

/// realfft's post-processing of the packed spectrum `z` (`h = z.len()` points), fused with the
/// squared magnitude: `power[j]` for `j = 0 ..= h`. Each bin's arithmetic is realfft's, in
/// realfft's order (`RealToComplexEven::process_with_scratch`), so the values are identical.
#[inline(always)]
fn untangle_power(z: &[Complex<f32>], twiddles: &[Complex<f32>], power: &mut [f32]) {
    let h = z.len();
    let n = twiddles.len();
    let (Some(&z0), true) = (z.first(), power.len() == h + 1) else {
        return;
    };
    // Bins 0 and h: sum and difference of the first value's parts, imaginary part 0.
    power[0] = norm_sqr(z0.re + z0.im, 0.0);
    power[h] = norm_sqr(z0.re - z0.im, 0.0);
    // The pairs (j, h − j), j = 1 ..= n, each from z[j], z[h − j] and twiddle j.
    let (lo_out, rest) = power[1..].split_at_mut(n);
    let rest_len = rest.len();
    let hi_out = &mut rest[rest_len - 1 - n..rest_len - 1];
    let lo_in = &z[1..=n];
    let hi_in = &z[h - n..h];
    // In blocks of BLOCK pairs, parts split into arrays first (struct of arrays, the high
    // half reversed) so that the arithmetic is plain lane-wise code the compiler vectorises;
    // then the rest one by one.
    const BLOCK: usize = 16;
    let mut lo_out = lo_out.chunks_exact_mut(BLOCK);
    let mut hi_out = hi_out.rchunks_exact_mut(BLOCK);
    let mut lo_in = lo_in.chunks_exact(BLOCK);
    let mut hi_in = hi_in.rchunks_exact(BLOCK);
    let mut tw = twiddles.chunks_exact(BLOCK);
    for ((p_lo, p_hi), ((a, b), w)) in (&mut lo_out)
        .zip(&mut hi_out)
        .zip((&mut lo_in).zip(&mut hi_in).zip(&mut tw))
    {
        let a_re: [f32; BLOCK] = std::array::from_fn(|i| a[i].re);
        let a_im: [f32; BLOCK] = std::array::from_fn(|i| a[i].im);
        let b_re: [f32; BLOCK] = std::array::from_fn(|i| b[BLOCK - 1 - i].re);
        let b_im: [f32; BLOCK] = std::array::from_fn(|i| b[BLOCK - 1 - i].im);
        let w_re: [f32; BLOCK] = std::array::from_fn(|i| w[i].re);
        let w_im: [f32; BLOCK] = std::array::from_fn(|i| w[i].im);
        let mut lo = [0.0; BLOCK];
        let mut hi = [0.0; BLOCK];
        for i in 0..BLOCK {
            (lo[i], hi[i]) = untangle_pair(
                Complex::new(a_re[i], a_im[i]),
                Complex::new(b_re[i], b_im[i]),
                Complex::new(w_re[i], w_im[i]),
            );
        }
        p_lo.copy_from_slice(&lo);
        for (p, &v) in p_hi.iter_mut().rev().zip(&hi) {
            *p = v;
        }
    }
    let pairs = lo_out
        .into_remainder()
        .iter_mut()
        .zip(hi_out.into_remainder().iter_mut().rev());
    let inputs = lo_in.remainder().iter().zip(hi_in.remainder().iter().rev());
    for ((p_lo, p_hi), ((&a, &b), &w)) in pairs.zip(inputs.zip(tw.remainder())) {
        (*p_lo, *p_hi) = untangle_pair(a, b, w);
    }
    // For even h the middle bin has no partner: realfft only negates its imaginary part.
    if h.is_multiple_of(2) && h >= 2 {
        let c = z[h / 2];
        power[h / 2] = norm_sqr(c.re, -c.im);
    }
}
