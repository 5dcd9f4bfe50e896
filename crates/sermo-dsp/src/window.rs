//! The paper's fixed analysis window: skip 0.5 s, keep 3 s, zero-pad.

use crate::config::FeatureConfig;

/// Cuts the paper's window out of a clip already at `cfg.sample_rate`.
///
/// Skips `cfg.offset_samples()` samples, keeps at most `cfg.n_samples()`, and zero-pads at the
/// end to exactly `cfg.n_samples()` (144000 by default), as the paper's code does with
/// `librosa.load(offset=0.5, duration=3)` followed by `signal[:len(X)] = X` into zeros.
/// A clip shorter than the offset yields all zeros. With `cfg.window == false` the clip is
/// returned whole and unpadded.
pub fn take_window(samples: &[f32], cfg: &FeatureConfig) -> Vec<f32> {
    if !cfg.window {
        return samples.to_vec();
    }
    let n = cfg.n_samples();
    let start = cfg.offset_samples().min(samples.len());
    let end = start.saturating_add(n).min(samples.len());
    let mut out = Vec::with_capacity(n);
    out.extend_from_slice(&samples[start..end]);
    out.resize(n, 0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths() {
        let cfg = FeatureConfig::default();
        for len in [0, 100, 24_000, 24_001, 100_000, 168_000, 500_000] {
            let x: Vec<f32> = (0..len).map(|i| i as f32).collect();
            let w = take_window(&x, &cfg);
            assert_eq!(w.len(), 144_000, "len {len}");
            if len > 24_000 {
                assert_eq!(w[0], 24_000.0);
                let kept = (len - 24_000).min(144_000);
                assert_eq!(w[kept - 1], (24_000 + kept - 1) as f32);
                assert!(w[kept..].iter().all(|&v| v == 0.0));
            } else {
                assert!(w.iter().all(|&v| v == 0.0));
            }
        }
        let no = FeatureConfig {
            window: false,
            ..Default::default()
        };
        assert_eq!(take_window(&[1.0, 2.0, 3.0], &no), vec![1.0, 2.0, 3.0]);
    }
}
