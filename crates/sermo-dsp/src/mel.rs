//! The Slaney mel scale and filterbank, as librosa computes them (`filters.mel(htk=False,
//! norm="slaney")`, `hz_to_mel`, `mel_to_hz`): step 4 of the MFCC chain ([`crate::mfcc`]).

use crate::frame::to_f32;

/// One mel band's non-zero weights, starting at FFT bin `start`.
#[derive(Clone, Debug)]
struct Band {
    start: usize,
    weights: Vec<f32>,
}

/// The Slaney mel filterbank, stored sparsely (each triangle spans a few bins).
#[derive(Clone, Debug)]
pub(crate) struct MelBank {
    bands: Vec<Band>,
}

impl MelBank {
    /// The band energies of `L` frames at once: `power[bin][lane]` holds bin `bin` of frame
    /// `lane`, and `emit(m, energies)` receives band `m`'s energy in every lane.
    ///
    /// Each lane's sum is the per-frame dot product `Σ w·p` over the band's bins in ascending
    /// order, starting from −0.0 like `Iterator::sum` (bit-identical to summing one frame at a
    /// time); the lanes only let the additions of `L` frames share one SIMD instruction and
    /// one walk over the sparse weights.
    #[inline(always)]
    pub(crate) fn apply_lanes<const L: usize>(
        &self,
        power: &[[f32; L]],
        mut emit: impl FnMut(usize, &[f32; L]),
    ) {
        for (m, band) in self.bands.iter().enumerate() {
            let mut acc = [-0.0f32; L];
            for (&w, p) in band.weights.iter().zip(&power[band.start..]) {
                for (a, &p) in acc.iter_mut().zip(p) {
                    *a += w * p;
                }
            }
            emit(m, &acc);
        }
    }

    /// librosa `filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm="slaney")`,
    /// computed in f64 with librosa's formulas.
    pub(crate) fn slaney(sr: f64, n_fft: usize, n_mels: usize, fmin: f64, fmax: f64) -> Self {
        let dense = mel_filterbank_dense(sr, n_fft, n_mels, fmin, fmax);
        let n_bins = n_fft / 2 + 1;
        let bands = dense
            .chunks_exact(n_bins)
            .map(|row| {
                let first = row.iter().position(|&w| w != 0.0);
                let last = row.iter().rposition(|&w| w != 0.0);
                match (first, last) {
                    (Some(a), Some(b)) => Band {
                        start: a,
                        weights: to_f32(&row[a..=b]),
                    },
                    // An empty filter (too narrow for the FFT resolution): librosa keeps the
                    // row of zeros, so its power is 0 and its dB value is the floor.
                    _ => Band {
                        start: 0,
                        weights: Vec::new(),
                    },
                }
            })
            .collect();
        Self { bands }
    }
}

/// Dense `[n_mels, n_fft/2 + 1]` Slaney filterbank (librosa `filters.mel`, float64).
pub(crate) fn mel_filterbank_dense(
    sr: f64,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
) -> Vec<f64> {
    let n_bins = n_fft / 2 + 1;
    // np.fft.rfftfreq: k · (sr / n_fft)
    let bin_hz = sr / n_fft as f64;
    let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();
    // mel_frequencies(n_mels + 2, fmin, fmax): linspace on the mel scale, back to Hz.
    let mel_f: Vec<f64> = linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
        .into_iter()
        .map(mel_to_hz)
        .collect();
    let mut weights = vec![0.0; n_mels * n_bins];
    for i in 0..n_mels {
        let fdiff_lo = mel_f[i + 1] - mel_f[i];
        let fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (k, &f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            weights[i * n_bins + k] = 0f64.max(lower.min(upper)) * enorm;
        }
    }
    weights
}

/// `numpy.linspace(start, stop, num)` (endpoint included, computed as numpy does).
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    if num == 1 {
        return vec![start];
    }
    let step = (stop - start) / (num - 1) as f64;
    let mut v: Vec<f64> = (0..num).map(|i| i as f64 * step + start).collect();
    if let Some(last) = v.last_mut() {
        *last = stop;
    }
    v
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// librosa `hz_to_mel(htk=False)`: the Slaney (Auditory Toolbox) scale.
pub(crate) fn hz_to_mel(f: f64) -> f64 {
    if f >= MIN_LOG_HZ {
        MIN_LOG_MEL + (f / MIN_LOG_HZ).ln() / logstep()
    } else {
        f / F_SP
    }
}

/// librosa `mel_to_hz(htk=False)`.
pub(crate) fn mel_to_hz(m: f64) -> f64 {
    if m >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep() * (m - MIN_LOG_MEL)).exp()
    } else {
        F_SP * m
    }
}
