//! Steps 1–2 of the MFCC chain ([`crate::mfcc`]): the frames of librosa's centred STFT, padded
//! as `numpy.pad` pads, times the periodic Hamming window.

use crate::config::{FeatureConfig, PadMode};

/// `x` rounded to f32 (the window and the filterbank are computed in f64, applied in f32).
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

/// Writes `window · frame t` into the window's part of `frame` (its zero padding is left as
/// is). Inlined into [`crate::Mfcc`]'s per-instruction-set copies.
#[inline(always)]
pub(crate) fn window_frame(
    cfg: &FeatureConfig,
    window: &[f32],
    lead: usize,
    samples: &[f32],
    t: usize,
    frame: &mut [f32],
) {
    let win_len = window.len();
    // Index in `samples` of the first windowed sample of frame t (may be negative).
    let first = (t * cfg.hop_length + lead) as isize - (cfg.n_fft / 2) as isize;
    let dst = &mut frame[lead..lead + win_len];
    let inside = first >= 0 && (first as usize + win_len) <= samples.len();
    if inside {
        let src = &samples[first as usize..first as usize + win_len];
        for ((d, &x), &w) in dst.iter_mut().zip(src).zip(window) {
            *d = x * w;
        }
    } else {
        for (j, (d, &w)) in dst.iter_mut().zip(window).enumerate() {
            *d = padded_sample(samples, first + j as isize, cfg.pad_mode) * w;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
