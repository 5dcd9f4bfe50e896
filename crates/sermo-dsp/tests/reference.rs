//! The fast MFCC path against a naive reference kept here: an O(N²) DFT, a dense filterbank
//! written from the textbook Slaney definition, `numpy.pad` by explicit mirroring, and a direct
//! DCT-II sum, all in f64. Covers both pad modes, odd sizes, short signals and `top_db = None`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use sermo_dsp::{FeatureConfig, Mfcc, PadMode};

fn slaney_mel(hz: f64) -> f64 {
    if hz < 1000.0 {
        3.0 * hz / 200.0
    } else {
        15.0 + 27.0 * (hz / 1000.0).ln() / 6.4f64.ln()
    }
}

fn slaney_hz(mel: f64) -> f64 {
    if mel < 15.0 {
        200.0 * mel / 3.0
    } else {
        1000.0 * (6.4f64.ln() * (mel - 15.0) / 27.0).exp()
    }
}

/// `numpy.pad(x, (p, p), mode)` built by repeated mirroring, the way numpy does it.
fn np_pad(x: &[f64], p: usize, mode: PadMode) -> Vec<f64> {
    match mode {
        PadMode::Constant => {
            let mut v = vec![0.0; p];
            v.extend_from_slice(x);
            v.extend(std::iter::repeat_n(0.0, p));
            v
        }
        PadMode::Reflect if x.len() == 1 => vec![x[0]; x.len() + 2 * p],
        PadMode::Reflect => {
            let mut v = x.to_vec();
            let (mut left, mut right) = (p, p);
            while left > 0 || right > 0 {
                let n = v.len();
                let l = left.min(n - 1);
                let r = right.min(n - 1);
                let mut w: Vec<f64> = (1..=l).rev().map(|i| v[i]).collect();
                w.extend_from_slice(&v);
                w.extend((0..r).map(|i| v[n - 2 - i]));
                v = w;
                left -= l;
                right -= r;
            }
            v
        }
    }
}

fn reference_mfcc(x: &[f32], cfg: &FeatureConfig) -> Vec<f64> {
    let sr = f64::from(cfg.sample_rate);
    let (n_fft, hop, win) = (cfg.n_fft, cfg.hop_length, cfg.win_length);
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let padded = np_pad(&x, n_fft / 2, cfg.pad_mode);
    let n_frames = 1 + (padded.len() - n_fft) / hop;

    // Periodic Hamming, centred in n_fft.
    let mut window = vec![0.0; n_fft];
    let lpad = (n_fft - win) / 2;
    for i in 0..win {
        window[lpad + i] = 0.54 - 0.46 * (2.0 * std::f64::consts::PI * i as f64 / win as f64).cos();
    }

    // Dense Slaney filterbank from its definition.
    let n_bins = n_fft / 2 + 1;
    let fmax = cfg.fmax.map_or(sr / 2.0, f64::from);
    let (m0, m1) = (slaney_mel(f64::from(cfg.fmin)), slaney_mel(fmax));
    let edges: Vec<f64> = (0..cfg.n_mels + 2)
        .map(|i| slaney_hz(m0 + (m1 - m0) * i as f64 / (cfg.n_mels + 1) as f64))
        .collect();
    let mut fb = vec![vec![0.0; n_bins]; cfg.n_mels];
    for (m, row) in fb.iter_mut().enumerate() {
        let (lo, c, hi) = (edges[m], edges[m + 1], edges[m + 2]);
        for (k, w) in row.iter_mut().enumerate() {
            let f = k as f64 * sr / n_fft as f64;
            let tri = ((f - lo) / (c - lo)).min((hi - f) / (hi - c)).max(0.0);
            *w = tri * 2.0 / (hi - lo);
        }
    }

    // Power spectrum by direct DFT (a twiddle table keeps the debug build quick), mel, dB.
    let twiddle: Vec<(f64, f64)> = (0..n_fft)
        .map(|j| {
            let a = -2.0 * std::f64::consts::PI * j as f64 / n_fft as f64;
            (a.cos(), a.sin())
        })
        .collect();
    let mut db = vec![vec![0.0; n_frames]; cfg.n_mels];
    for t in 0..n_frames {
        let frame: Vec<f64> = (0..n_fft)
            .map(|i| padded[t * hop + i] * window[i])
            .collect();
        let power: Vec<f64> = (0..n_bins)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (i, &v) in frame.iter().enumerate().skip(lpad).take(win) {
                    let (c, s) = twiddle[k * i % n_fft];
                    re += v * c;
                    im += v * s;
                }
                re * re + im * im
            })
            .collect();
        for (m, row) in fb.iter().enumerate() {
            let p: f64 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            db[m][t] = 10.0 * p.max(f64::from(cfg.amin)).log10()
                - 10.0 * f64::from(cfg.ref_power).max(f64::from(cfg.amin)).log10();
        }
    }
    if let Some(top) = cfg.top_db {
        let max = db
            .iter()
            .flatten()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        for v in db.iter_mut().flatten() {
            *v = v.max(max - f64::from(top));
        }
    }

    // DCT-II, orthonormal.
    let n = cfg.n_mels as f64;
    let mut out = vec![0.0; cfg.n_mfcc * n_frames];
    for k in 0..cfg.n_mfcc {
        let scale = if k == 0 {
            (1.0 / n).sqrt()
        } else {
            (2.0 / n).sqrt()
        };
        for t in 0..n_frames {
            out[k * n_frames + t] = scale
                * (0..cfg.n_mels)
                    .map(|m| {
                        db[m][t]
                            * (std::f64::consts::PI * k as f64 * (2 * m + 1) as f64 / (2.0 * n))
                                .cos()
                    })
                    .sum::<f64>();
        }
    }
    out
}

fn signal(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            let noise = (s as f32 / u32::MAX as f32 - 0.5) * 0.05;
            let t = i as f32 / 48_000.0;
            0.4 * (2.0 * std::f32::consts::PI * 440.0 * t).sin() * (1.0 + (7.0 * t).sin())
                + 0.2 * (2.0 * std::f32::consts::PI * 3150.0 * t).sin()
                + noise
        })
        .collect()
}

fn check(cfg: &FeatureConfig, x: &[f32], bound: f64) {
    let mut mfcc = Mfcc::new(cfg).unwrap();
    let fast = mfcc.compute_vec(x).unwrap();
    let want = reference_mfcc(x, cfg);
    assert_eq!(fast.len(), want.len());
    let want32: Vec<f32> = want.iter().map(|&v| v as f32).collect();
    let err = common::rel_err(&fast, &want32);
    println!("{cfg:?} len {}: {err:.2e}", x.len());
    assert!(
        err < bound,
        "relative error {err:.3e} for {cfg:?}, len {}",
        x.len()
    );
}

#[test]
fn default_config_both_pad_modes() {
    let x = signal(9000, 1);
    for pad_mode in [PadMode::Reflect, PadMode::Constant] {
        let cfg = FeatureConfig {
            pad_mode,
            ..Default::default()
        };
        check(&cfg, &x, 1e-6);
    }
}

#[test]
fn other_sizes_and_options() {
    let x = signal(5003, 2);
    let configs = [
        // Odd window inside a non-power-of-two FFT, short hop.
        FeatureConfig {
            n_fft: 600,
            win_length: 401,
            hop_length: 160,
            n_mels: 40,
            n_mfcc: 13,
            ..Default::default()
        },
        // 16 kHz speech-recognition style, no top_db clip, constant padding, band-limited.
        FeatureConfig {
            sample_rate: 16_000,
            n_fft: 512,
            win_length: 400,
            hop_length: 160,
            n_mels: 64,
            n_mfcc: 20,
            fmin: 20.0,
            fmax: Some(7600.0),
            top_db: None,
            pad_mode: PadMode::Constant,
            ref_power: 0.5,
            ..Default::default()
        },
        FeatureConfig {
            n_fft: 256,
            win_length: 256,
            hop_length: 100,
            n_mels: 32,
            n_mfcc: 32,
            ..Default::default()
        },
    ];
    for cfg in &configs {
        check(cfg, &x, 1e-6);
    }
}

#[test]
fn signals_shorter_than_the_padding() {
    // With reflect padding numpy mirrors repeatedly when the pad exceeds the signal.
    for len in [1, 2, 3, 100, 511, 512, 513, 1500] {
        let x = signal(len, len as u32);
        for pad_mode in [PadMode::Reflect, PadMode::Constant] {
            let cfg = FeatureConfig {
                pad_mode,
                window: false,
                ..Default::default()
            };
            check(&cfg, &x, 1e-6);
        }
    }
}
