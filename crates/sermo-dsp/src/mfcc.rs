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
//! # Allocation
//! [`Mfcc::new`] plans the FFT and builds the window, the sparse filterbank and the DCT matrix
//! once. [`Mfcc::compute`] reuses its scratch buffers: nothing is allocated per frame, and
//! nothing at all once the buffers have grown to the longest input seen.

use std::fmt;
use std::sync::Arc;

use sermo_fft::{Complex, RealToComplex};

use crate::config::{FeatureConfig, PadMode};
use crate::error::DspError;
use crate::mel::MelBank;

/// A reusable MFCC extractor for one [`FeatureConfig`].
///
/// Build it once per thread and call [`Mfcc::compute`] for every clip. It is `Send + Sync`
/// and `Clone` (clones share the FFT plan).
#[derive(Clone)]
pub struct Mfcc {
    cfg: FeatureConfig,
    fft: Arc<dyn RealToComplex<f32>>,
    /// The Hamming window (`win_length` values, without the zero padding).
    window: Vec<f32>,
    /// Where the window starts inside the `n_fft` frame: `(n_fft − win_length) / 2`.
    win_offset: usize,
    mel: MelBank,
    /// DCT-II (orthonormal) matrix, `[n_mfcc, n_mels]` row-major.
    dct: Vec<f64>,
    /// `10·log10(max(amin, ref_power))`, subtracted from every value.
    ref_db: f32,
    // Scratch, reused across frames and calls.
    frame: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
    power: Vec<f32>,
    /// Mel powers then dB, `[n_mels, n_frames]` row-major.
    mel_db: Vec<f32>,
    /// One output row in f64 while the DCT accumulates.
    row: Vec<f64>,
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
        cfg.validate()?;
        let n_fft = cfg.n_fft;
        let fft = sermo_fft::forward_f32(n_fft);
        let n_bins = n_fft / 2 + 1;
        let mel = MelBank::slaney(
            f64::from(cfg.sample_rate),
            n_fft,
            cfg.n_mels,
            f64::from(cfg.fmin),
            cfg.fmax_hz(),
        );
        Ok(Self {
            window: to_f32(&hamming_periodic(cfg.win_length)),
            win_offset: (n_fft - cfg.win_length) / 2,
            dct: dct_ortho_matrix(cfg.n_mfcc, cfg.n_mels),
            ref_db: (10.0 * f64::from(cfg.amin).max(f64::from(cfg.ref_power)).log10()) as f32,
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            fft_scratch: fft.make_scratch_vec(),
            power: vec![0.0; n_bins],
            mel_db: Vec::new(),
            row: Vec::new(),
            mel,
            fft,
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
        let n_mels = self.cfg.n_mels;
        let n_mfcc = self.cfg.n_mfcc;
        let expected = n_mfcc * n_frames;
        if out.len() != expected {
            return Err(DspError::BufferSize {
                what: "MFCC output",
                expected,
                actual: out.len(),
            });
        }
        self.mel_db.resize(n_mels * n_frames, 0.0);

        for t in 0..n_frames {
            self.power_spectrum(samples, t)?;
            for (m, s) in self.mel.apply(&self.power).enumerate() {
                self.mel_db[m * n_frames + t] = s;
            }
        }

        // power_to_db, with top_db relative to the maximum of the whole matrix.
        let amin = self.cfg.amin;
        let mut max = f32::NEG_INFINITY;
        for v in &mut self.mel_db {
            *v = 10.0 * v.max(amin).log10() - self.ref_db;
            max = max.max(*v);
        }
        if let Some(top_db) = self.cfg.top_db {
            let floor = max - top_db;
            for v in &mut self.mel_db {
                *v = v.max(floor);
            }
        }

        // DCT-II over the mel axis, out = D · dB, accumulated in f64 one output row at a
        // time, vectorised over frames (contiguous in both `mel_db` and `out`).
        self.row.resize(n_frames, 0.0);
        for (k, dst) in out.chunks_exact_mut(n_frames).enumerate() {
            self.row.fill(0.0);
            let coeffs = &self.dct[k * n_mels..(k + 1) * n_mels];
            for (&c, src) in coeffs.iter().zip(self.mel_db.chunks_exact(n_frames)) {
                for (acc, &x) in self.row.iter_mut().zip(src) {
                    *acc += c * f64::from(x);
                }
            }
            if self.cfg.cmvn {
                normalise(&mut self.row);
            }
            for (o, &v) in dst.iter_mut().zip(&self.row) {
                *o = v as f32;
            }
        }
        Ok(())
    }

    /// Convenience: [`Mfcc::compute`] into a new `Vec`.
    pub fn compute_vec(&mut self, samples: &[f32]) -> Result<Vec<f32>, DspError> {
        let mut out = vec![0.0; self.cfg.n_mfcc * self.n_frames(samples.len())];
        self.compute(samples, &mut out)?;
        Ok(out)
    }

    /// Fills `self.power` with `|rfft(window · frame t)|²`.
    fn power_spectrum(&mut self, samples: &[f32], t: usize) -> Result<(), DspError> {
        let n_fft = self.cfg.n_fft;
        let win_len = self.window.len();
        let lead = self.win_offset;
        // Index in `samples` of the first windowed sample of frame t (may be negative).
        let first = (t * self.cfg.hop_length + lead) as isize - (n_fft / 2) as isize;
        let frame = &mut self.frame;
        // realfft uses its input as scratch, so the zero padding is rewritten every frame.
        frame[..lead].fill(0.0);
        frame[lead + win_len..].fill(0.0);
        let dst = &mut frame[lead..lead + win_len];
        let inside = first >= 0 && (first as usize + win_len) <= samples.len();
        if inside {
            let src = &samples[first as usize..first as usize + win_len];
            for ((d, &x), &w) in dst.iter_mut().zip(src).zip(&self.window) {
                *d = x * w;
            }
        } else {
            for (j, (d, &w)) in dst.iter_mut().zip(&self.window).enumerate() {
                *d = padded_sample(samples, first + j as isize, self.cfg.pad_mode) * w;
            }
        }
        self.fft
            .process_with_scratch(frame, &mut self.spectrum, &mut self.fft_scratch)
            .map_err(|e| DspError::Fft(e.to_string()))?;
        for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }
        Ok(())
    }
}

/// The sample at (possibly out-of-range) index `i` of the padded signal, as `numpy.pad` gives:
/// reflect mirrors without repeating the edge (repeatedly, for pads longer than the signal);
/// constant gives 0.
fn padded_sample(x: &[f32], i: isize, mode: PadMode) -> f32 {
    let len = x.len();
    if i >= 0 && (i as usize) < len {
        return x[i as usize];
    }
    match mode {
        PadMode::Constant => 0.0,
        PadMode::Reflect => match len {
            0 => 0.0,
            1 => x[0],
            _ => {
                let period = 2 * (len as isize - 1);
                let m = i.rem_euclid(period) as usize;
                x[if m >= len { period as usize - m } else { m }]
            }
        },
    }
}

pub(crate) fn to_f32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// Periodic ("DFT-even") Hamming window: `0.54 − 0.46·cos(2πn / N)`, n = 0..N.
pub(crate) fn hamming_periodic(n: usize) -> Vec<f64> {
    let len = n as f64;
    (0..n)
        .map(|i| 0.54 - 0.46 * (2.0 * std::f64::consts::PI * i as f64 / len).cos())
        .collect()
}

/// Orthonormal DCT-II matrix `[n_out, n_in]`: row 0 scaled by `sqrt(1/N)`, others `sqrt(2/N)`.
pub(crate) fn dct_ortho_matrix(n_out: usize, n_in: usize) -> Vec<f64> {
    let n = n_in as f64;
    let mut m = Vec::with_capacity(n_out * n_in);
    for k in 0..n_out {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for i in 0..n_in {
            let arg = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
            m.push(scale * arg.cos());
        }
    }
    m
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

    #[test]
    fn reflect_padding_is_numpy_pad() {
        // np.pad([1,2,3], 5, 'reflect') == [2 1 2 3 2 1 2 3 2 1 2 3 2]
        let x = [1.0, 2.0, 3.0];
        let got: Vec<f32> = (-5..8)
            .map(|i| padded_sample(&x, i, PadMode::Reflect))
            .collect();
        let want = [2., 1., 2., 3., 2., 1., 2., 3., 2., 1., 2., 3., 2.];
        assert_eq!(got, want);
        assert_eq!(padded_sample(&[7.0], -3, PadMode::Reflect), 7.0);
        assert_eq!(padded_sample(&x, -1, PadMode::Constant), 0.0);
    }

    #[test]
    fn dct_matrix_is_orthonormal() {
        let n = 16;
        let d = dct_ortho_matrix(n, n);
        for a in 0..n {
            for b in 0..n {
                let dot: f64 = (0..n).map(|i| d[a * n + i] * d[b * n + i]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-12);
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
