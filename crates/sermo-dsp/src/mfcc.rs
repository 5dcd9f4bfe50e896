//! MFCC exactly as `librosa.feature.mfcc` computes them (librosa 0.11).
//!
//! The chain, with librosa's names:
//! 1. **frames** — `stft(center=True)`: the signal is padded by `n_fft / 2` on both sides
//!    (`pad_mode` reflect or constant) and frame `t` starts at `t · hop_length` of the padded
//!    signal, so it is centred on sample `t · hop_length`; there are `1 + len / hop_length`.
//! 2. **window** — a periodic Hamming window of `win_length` (`scipy.signal.get_window(
//!    "hamming", win_length, fftbins=True)`), zero-padded to `n_fft` *centred*
//!    (`util.pad_center`): with the defaults only the middle 512 of the 1024 FFT inputs are
//!    non-zero.
//! 3. **power spectrum** — `|rfft|²`, `n_fft / 2 + 1` bins, unnormalised (numpy's `rfft`).
//! 4. **mel** — `filters.mel(htk=False, norm="slaney")`: triangles on the Slaney mel scale
//!    (linear below 1 kHz, logarithmic above) with area normalisation `2 / (f[i+2] − f[i])`.
//! 5. **dB** — `power_to_db`: `10·log10(max(amin, S)) − 10·log10(max(amin, ref))`, then values
//!    more than `top_db` below the maximum *of the whole matrix* are raised to that floor.
//! 6. **DCT** — `scipy.fftpack.dct(type=2, norm="ortho")` over the mel axis; the first `n_mfcc`
//!    rows are kept.
//!
//! # Precision
//! The window, the filterbank and the DCT matrix are computed in f64. The per-frame work
//! (windowing, FFT, power, mel sums, dB) runs in f32 like librosa's own float32 pipeline, and
//! the DCT accumulates in f64: that is where f32 rounding showed (the 128-term sums of dB
//! values around −50 lose the small coefficients' digits; f32 accumulation measured 1e-6
//! relative against librosa, f64 2e-7). Computing the mel sums or the logarithm in f64 changed
//! nothing measurable. Result against librosa (float64 reference): ≈ 2e-7 relative, the size
//! of librosa's own float32-vs-float64 difference (`tests/librosa_parity.rs`).
//!
//! # Speed, and why the bits do not depend on it
//! The output is bit for bit what the plain loops give (one frame at a time, realfft, one
//! `10·log10` per value, one f64 multiply-then-add per DCT term in band order); the speed
//! comes from doing the same operations in another arrangement:
//! - the power spectrum redoes realfft's post-processing fused with `|·|²` and vectorised
//!   (module `power`);
//! - from the mel sums on, `LANES` (8) frames run side by side, one frame per SIMD lane, so
//!   each frame's sums keep their order;
//! - the DCT works on register tiles of a few output rows × `LANES` frames;
//! - on x86-64 the whole chain is compiled three times (baseline, AVX2, AVX-512) and the
//!   widest the CPU has is picked at run time (`Simd`); Rust never fuses a multiply and an
//!   add, so all three give the same bits (a test checks it).
//!
//! The logarithm (`f32::log10`, the platform's libm) is left as it is: with the rest made fast
//! it is about a third of the time, but a faster one would change the bits.
//!
//! # Allocation
//! [`Mfcc::new`] plans the FFT and builds the window, the sparse filterbank and the DCT matrix
//! once. [`Mfcc::compute`] reuses its scratch buffers: nothing is allocated per frame, and
//! nothing at all once the buffers have grown to the longest input seen.

use std::fmt;

use crate::config::FeatureConfig;
use crate::dct::{dct_ortho_matrix, dct_tile, dct_tiles};
use crate::error::DspError;
use crate::frame::{hamming_periodic, to_f32, window_frame};
use crate::mel::MelBank;
use crate::power::PowerSpectrum;

/// Frames processed side by side from the mel sums on: each lane of a `[_; LANES]` is one
/// frame, so the per-frame sums keep their order and still share SIMD instructions.
pub(crate) const LANES: usize = 8;

/// The instruction set [`Mfcc::compute`] is compiled for, chosen at run time. The code is the
/// same portable Rust in every case (so are the bits: Rust never fuses a multiply and an add,
/// and vectorising keeps each sum's order); wider registers just let the compiler do 4 or 8
/// f64 operations per instruction instead of 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Simd {
    /// The target's baseline (SSE2 on x86-64, SIMD128 or scalar on wasm32).
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Simd {
    /// DCT output rows per register tile: `rows × LANES` f64 sums fill about half the
    /// registers while the kernel walks the mel axis once.
    fn dct_rows(self) -> usize {
        match self {
            Self::Baseline => 2,
            #[cfg(target_arch = "x86_64")]
            Self::Avx2 => 4,
            #[cfg(target_arch = "x86_64")]
            Self::Avx512 => 8,
        }
    }

    fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Self::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Self::Avx2;
            }
        }
        Self::Baseline
    }
}

/// A reusable MFCC extractor for one [`FeatureConfig`].
///
/// Build it once per thread and call [`Mfcc::compute`] for every clip. It is `Send + Sync`
/// and `Clone` (clones share the FFT plan).
#[derive(Clone)]
pub struct Mfcc {
    cfg: FeatureConfig,
    simd: Simd,
    spectrum: PowerSpectrum,
    /// The Hamming window (`win_length` values, without the zero padding).
    window: Vec<f32>,
    /// Where the window starts inside the `n_fft` frame: `(n_fft − win_length) / 2`.
    win_offset: usize,
    mel: MelBank,
    /// DCT-II (orthonormal) matrix by tiles of `R = simd.dct_rows()` rows, mel band by mel
    /// band: `dct[(tile · n_mels + m) · R + r]` is `D[tile · R + r][m]` (zero past `n_mfcc`),
    /// so a tile's coefficients for one band are adjacent.
    dct: Vec<f64>,
    /// `10·log10(max(amin, ref_power))`, subtracted from every value.
    ref_db: f32,
    // Scratch, reused across frames and calls.
    /// One windowed frame; the zero padding around the window is written once, here.
    frame: Vec<f32>,
    /// One frame's power spectrum.
    power: Vec<f32>,
    /// The power spectra of a block of [`LANES`] frames, `[bin][lane]`.
    power_lanes: Vec<[f32; LANES]>,
    /// dB values in f64 by blocks of [`LANES`] frames: `db[block · n_mels + m][lane]`.
    db: Vec<[f64; LANES]>,
    /// The f64 cepstra `[n_mfcc, n_frames]`, kept only for `cmvn`.
    cepstra: Vec<f64>,
}

impl fmt::Debug for Mfcc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mfcc")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Mfcc {
    /// Plans the FFT and precomputes the window, mel filterbank and DCT for `cfg`.
    ///
    /// Only the analysis fields of `cfg` matter here (`sample_rate`, `n_fft`, `win_length`,
    /// `hop_length`, `n_mels`, `n_mfcc`, `fmin`, `fmax`, `pad_mode`, `top_db`, `amin`,
    /// `ref_power`); the window fields are used by [`crate::take_window`].
    ///
    /// # Errors
    /// [`DspError::Config`] when `cfg` fails [`FeatureConfig::validate`].
    pub fn new(cfg: &FeatureConfig) -> Result<Self, DspError> {
        Self::with_simd(cfg, Simd::detect())
    }

    /// [`Mfcc::new`] for a given instruction set (the tests compare them all).
    fn with_simd(cfg: &FeatureConfig, simd: Simd) -> Result<Self, DspError> {
        cfg.validate()?;
        let n_fft = cfg.n_fft;
        let n_bins = n_fft / 2 + 1;
        let mel = MelBank::slaney(
            f64::from(cfg.sample_rate),
            n_fft,
            cfg.n_mels,
            f64::from(cfg.fmin),
            cfg.fmax_hz(),
        );
        Ok(Self {
            simd,
            spectrum: PowerSpectrum::new(n_fft),
            window: to_f32(&hamming_periodic(cfg.win_length)),
            win_offset: (n_fft - cfg.win_length) / 2,
            dct: dct_tiles(
                &dct_ortho_matrix(cfg.n_mfcc, cfg.n_mels),
                cfg.n_mels,
                simd.dct_rows(),
            ),
            ref_db: (10.0 * f64::from(cfg.amin).max(f64::from(cfg.ref_power)).log10()) as f32,
            frame: vec![0.0; n_fft],
            power: vec![0.0; n_bins],
            power_lanes: vec![[0.0; LANES]; n_bins],
            db: Vec::new(),
            cepstra: Vec::new(),
            mel,
            cfg: cfg.clone(),
        })
    }

    /// The configuration this extractor was built for.
    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// Rows of the output: `n_mfcc`.
    pub fn n_mfcc(&self) -> usize {
        self.cfg.n_mfcc
    }

    /// Frames (columns) computed for a signal of `len` samples: `1 + len / hop_length`,
    /// librosa's count with `center=True`.
    pub fn n_frames(&self, len: usize) -> usize {
        1 + len / self.cfg.hop_length
    }

    /// Computes the MFCC of `samples` (already at `cfg.sample_rate`) into `out`, row-major
    /// `[n_mfcc, n_frames(samples.len())]`: `out[k * n_frames + t]` is coefficient `k` of
    /// frame `t`, the layout of librosa's `(n_mfcc, t)` array.
    ///
    /// An empty input is treated as silence (one frame of zeros).
    ///
    /// # Errors
    /// [`DspError::BufferSize`] when `out.len() != n_mfcc · n_frames(samples.len())`.
    pub fn compute(&mut self, samples: &[f32], out: &mut [f32]) -> Result<(), DspError> {
        let n_frames = self.n_frames(samples.len());
        let expected = self.cfg.n_mfcc * n_frames;
        if out.len() != expected {
            return Err(DspError::BufferSize {
                what: "MFCC output",
                expected,
                actual: out.len(),
            });
        }
        match self.simd {
            // SAFETY: `Simd::detect` found the instruction set on this CPU.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.compute_avx512(samples, n_frames, out) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.compute_avx2(samples, n_frames, out) },
            Simd::Baseline => self.compute_body::<2>(samples, n_frames, out),
        }
    }

    /// [`Mfcc::compute_body`] compiled for AVX-512 (8 f64 per register, 32 registers).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn compute_avx512(
        &mut self,
        samples: &[f32],
        n_frames: usize,
        out: &mut [f32],
    ) -> Result<(), DspError> {
        self.compute_body::<8>(samples, n_frames, out)
    }

    /// [`Mfcc::compute_body`] compiled for AVX2 (4 f64 per register, 16 registers).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn compute_avx2(
        &mut self,
        samples: &[f32],
        n_frames: usize,
        out: &mut [f32],
    ) -> Result<(), DspError> {
        self.compute_body::<4>(samples, n_frames, out)
    }

    /// The whole chain, `R` DCT rows per register tile. Inlined (as is everything it calls
    /// in the hot loops) into each instruction set's caller, so it is compiled for it.
    #[inline(always)]
    fn compute_body<const R: usize>(
        &mut self,
        samples: &[f32],
        n_frames: usize,
        out: &mut [f32],
    ) -> Result<(), DspError> {
        let max = self.mel_db(samples, n_frames)?;
        if let Some(top_db) = self.cfg.top_db {
            // power_to_db's floor, relative to the maximum of the whole matrix.
            let floor = f64::from(max - top_db);
            for v in self.db.iter_mut().flatten() {
                *v = v.max(floor);
            }
        }
        self.dct::<R>(n_frames, out);
        Ok(())
    }

    /// Convenience: [`Mfcc::compute`] into a new `Vec`.
    pub fn compute_vec(&mut self, samples: &[f32]) -> Result<Vec<f32>, DspError> {
        let mut out = vec![0.0; self.cfg.n_mfcc * self.n_frames(samples.len())];
        self.compute(samples, &mut out)?;
        Ok(out)
    }

    /// Steps 1–5 without the `top_db` floor: fills `self.db` with every frame's mel band
    /// energies in dB and returns their maximum.
    #[inline(always)]
    fn mel_db(&mut self, samples: &[f32], n_frames: usize) -> Result<f32, DspError> {
        let n_mels = self.cfg.n_mels;
        let (amin, ref_db) = (self.cfg.amin, self.ref_db);
        self.db
            .resize(n_frames.div_ceil(LANES) * n_mels, [0.0; LANES]);
        let mut max = f32::NEG_INFINITY;
        for (block, db) in self.db.chunks_exact_mut(n_mels).enumerate() {
            let t0 = block * LANES;
            // The last block may be partial: its spare lanes hold earlier frames' (finite)
            // values, are computed along and never read back.
            let lanes = LANES.min(n_frames - t0);
            for lane in 0..lanes {
                window_frame(
                    &self.cfg,
                    &self.window,
                    self.win_offset,
                    samples,
                    t0 + lane,
                    &mut self.frame,
                );
                self.spectrum.compute(&self.frame, &mut self.power)?;
                for (dst, &p) in self.power_lanes.iter_mut().zip(&self.power) {
                    dst[lane] = p;
                }
            }
            let mut block_max = [f32::NEG_INFINITY; LANES];
            self.mel.apply_lanes(&self.power_lanes, |m, energies| {
                let v = power_to_db(energies, amin, ref_db);
                for ((d, &v), mx) in db[m].iter_mut().zip(&v).zip(&mut block_max) {
                    *d = f64::from(v);
                    *mx = mx.max(v);
                }
            });
            max = block_max[..lanes].iter().fold(max, |a, &b| a.max(b));
        }
        Ok(max)
    }

    /// Step 6: `out = D · dB`, by register tiles of [`DCT_ROWS`] rows × [`LANES`] frames, each
    /// sum accumulated in f64 over the mel bands in ascending order (the order of a plain
    /// row-times-column loop, so the same bits).
    #[inline(always)]
    fn dct<const R: usize>(&mut self, n_frames: usize, out: &mut [f32]) {
        let n_mels = self.cfg.n_mels;
        let n_mfcc = self.cfg.n_mfcc;
        let cmvn = self.cfg.cmvn;
        if cmvn {
            self.cepstra.resize(n_mfcc * n_frames, 0.0);
        }
        for (block, x) in self.db.chunks_exact(n_mels).enumerate() {
            let t0 = block * LANES;
            let lanes = LANES.min(n_frames - t0);
            let (coef_rows, _) = self.dct.as_chunks::<R>();
            for (tile, coef) in coef_rows.chunks_exact(n_mels).enumerate() {
                let sums = dct_tile(coef, x);
                for (k, row) in (tile * R..n_mfcc).zip(&sums) {
                    let at = k * n_frames + t0;
                    if cmvn {
                        self.cepstra[at..at + lanes].copy_from_slice(&row[..lanes]);
                    } else {
                        for (o, &v) in out[at..at + lanes].iter_mut().zip(row) {
                            *o = v as f32;
                        }
                    }
                }
            }
        }
        if cmvn {
            for (dst, row) in out
                .chunks_exact_mut(n_frames)
                .zip(self.cepstra.chunks_exact_mut(n_frames))
            {
                normalise(row);
                for (o, &v) in dst.iter_mut().zip(row.iter()) {
                    *o = v as f32;
                }
            }
        }
    }
}

/// `10·log10(max(amin, e)) − ref_db` for every lane, librosa's `power_to_db` before the
/// `top_db` floor.
#[inline(always)]
fn power_to_db<const L: usize>(energies: &[f32; L], amin: f32, ref_db: f32) -> [f32; L] {
    energies.map(|e| 10.0 * e.max(amin).log10() - ref_db)
}

/// Cepstral mean and variance normalisation of one coefficient's row: mean 0, variance 1
/// (population variance); a constant row becomes zeros.
fn normalise(row: &mut [f64]) {
    if row.is_empty() {
        return;
    }
    let n = row.len() as f64;
    let mean = row.iter().sum::<f64>() / n;
    let var = row.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    let scale = if var > 1e-12 { var.sqrt().recip() } else { 0.0 };
    row.iter_mut().for_each(|v| *v = (*v - mean) * scale);
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::config::PadMode;
    use crate::mel::{hz_to_mel, mel_to_hz};

    #[test]
    fn cmvn_rows_have_zero_mean_and_unit_variance() {
        let x: Vec<f32> = (0..48_000)
            .map(|i| 0.3 * (i as f32 * 0.031).sin() * (1.0 + (i as f32 * 1e-4).sin()))
            .collect();
        let plain = FeatureConfig {
            window: false,
            ..Default::default()
        };
        let cmvn = FeatureConfig {
            cmvn: true,
            ..plain.clone()
        };
        let a = Mfcc::new(&plain).unwrap().compute_vec(&x).unwrap();
        let b = Mfcc::new(&cmvn).unwrap().compute_vec(&x).unwrap();
        let frames = a.len() / 40;
        for (k, (ra, rb)) in a.chunks(frames).zip(b.chunks(frames)).enumerate() {
            let mean = |r: &[f32]| r.iter().map(|&v| f64::from(v)).sum::<f64>() / frames as f64;
            let (ma, mb) = (mean(ra), mean(rb));
            let var = rb.iter().map(|&v| (f64::from(v) - mb).powi(2)).sum::<f64>() / frames as f64;
            assert!(
                mb.abs() < 1e-5 && (var - 1.0).abs() < 1e-4,
                "row {k}: {mb} {var}"
            );
            // The same row up to an affine map: b = (a − mean) / std.
            let sa = (ra.iter().map(|&v| (f64::from(v) - ma).powi(2)).sum::<f64>() / frames as f64)
                .sqrt();
            for (&va, &vb) in ra.iter().zip(rb) {
                assert!(((f64::from(va) - ma) / sa - f64::from(vb)).abs() < 1e-3);
            }
        }
        // Level does not matter any more (up to the top_db floor, which scales with it).
        let quiet: Vec<f32> = x.iter().map(|v| v * 0.1).collect();
        let c = Mfcc::new(&cmvn).unwrap().compute_vec(&quiet).unwrap();
        for (u, v) in b.iter().zip(&c) {
            assert!((u - v).abs() < 1e-3, "{u} {v}");
        }
    }

    #[test]
    fn mel_scale_round_trips() {
        for f in [0.0, 100.0, 999.0, 1000.0, 1001.0, 8000.0, 24_000.0] {
            assert!((mel_to_hz(hz_to_mel(f)) - f).abs() < 1e-9 * f.max(1.0));
        }
        // Known values of the Slaney scale.
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(500.0) - 7.5).abs() < 1e-12);
    }

    /// Every instruction set this CPU has gives the baseline's bits, for each DCT tiling and
    /// a partial last block of frames.
    #[test]
    fn instruction_sets_agree_bit_for_bit() {
        let mut sets = vec![Simd::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                sets.push(Simd::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                sets.push(Simd::Avx512);
            }
        }
        let x: Vec<f32> = (0..30_000u32)
            .map(|i| {
                let noise = ((i.wrapping_mul(2_654_435_761) >> 8) as f32 / 16_777_216.0) - 0.5;
                0.3 * (i as f32 * 0.013).sin() + 0.05 * noise
            })
            .collect();
        for cfg in [
            FeatureConfig::default(),
            FeatureConfig {
                n_mfcc: 13,
                cmvn: true,
                pad_mode: PadMode::Constant,
                ..Default::default()
            },
        ] {
            let bits = |simd| -> Vec<u32> {
                let mut m = Mfcc::with_simd(&cfg, simd).unwrap();
                let out = m.compute_vec(&x).unwrap();
                out.iter().map(|v| v.to_bits()).collect()
            };
            let want = bits(Simd::Baseline);
            for &simd in &sets[1..] {
                assert!(bits(simd) == want, "{simd:?} differs from the baseline");
            }
        }
    }

    #[test]
    fn output_buffer_is_checked() {
        let mut m = Mfcc::new(&FeatureConfig::default()).unwrap();
        let mut out = vec![0.0; 10];
        assert!(matches!(
            m.compute(&[0.0; 1000], &mut out),
            Err(DspError::BufferSize { .. })
        ));
        assert_eq!(m.n_frames(144_000), 282);
        assert_eq!(m.compute_vec(&[]).unwrap().len(), 40);
    }
}
