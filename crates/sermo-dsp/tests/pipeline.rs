//! Resampling, windowing, the feature extractor end to end, and config serialisation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use sermo_dsp::{
    Audio, AugmentConfig, DspError, FeatureConfig, FeatureExtractor, Mfcc, PadMode, resample,
};

/// The analysis window of `audio` under `cfg`, through the one extractor.
fn waveform(audio: &Audio, cfg: &FeatureConfig) -> Result<Vec<f32>, DspError> {
    FeatureExtractor::new(cfg)?.window(audio)
}

/// The raw map of `audio` under `cfg`, through the one extractor.
fn features(audio: &Audio, cfg: &FeatureConfig) -> Result<Vec<f32>, DspError> {
    Ok(FeatureExtractor::new(cfg)?.extract(audio)?.map)
}

fn sine(freq: f64, rate: u32, n: usize, phase_s: f64) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate) + phase_s;
            (0.5 * (2.0 * std::f64::consts::PI * freq * t).sin()) as f32
        })
        .collect()
}

#[test]
fn same_rate_is_an_untouched_copy() {
    let x = sine(440.0, 48_000, 1000, 0.0);
    assert_eq!(resample(&x, 48_000, 48_000).unwrap(), x);
    assert_eq!(resample(&[], 48_000, 48_000).unwrap(), Vec::<f32>::new());
}

#[test]
fn output_length_is_rounded_ratio() {
    for (from, to, n) in [
        (44_100, 48_000, 44_100),
        (44_100, 48_000, 12_345),
        (16_000, 48_000, 999),
        (8_000, 48_000, 1),
        (96_000, 48_000, 10_001),
        (22_050, 48_000, 7),
        (11_025, 16_000, 5_000),
    ] {
        let y = resample(&vec![0.1; n], from, to).unwrap();
        let want = (n as f64 * f64::from(to) / f64::from(from)).round() as usize;
        assert_eq!(y.len(), want, "{from} → {to}, {n} samples");
    }
    assert!(resample(&[], 44_100, 48_000).unwrap().is_empty());
}

#[test]
fn sine_survives_without_delay() {
    // A 1 kHz tone resampled to 48 kHz must equal the same tone sampled at 48 kHz: right
    // amplitude, and no time shift (the filter's delay is compensated).
    for from in [8_000, 16_000, 22_050, 44_100, 96_000] {
        let n = from as usize; // 1 s
        let y = resample(&sine(1000.0, from, n, 0.0), from, 48_000).unwrap();
        let want = sine(1000.0, 48_000, y.len(), 0.0);
        // Ignore the edges, where the clip starts and stops abruptly.
        let (a, b) = (4800, y.len() - 4800);
        let err = y[a..b]
            .iter()
            .zip(&want[a..b])
            .map(|(p, q)| f64::from(p - q).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-3, "{from} Hz: max error {err}");
    }
}

#[test]
fn resampling_removes_what_the_target_cannot_hold() {
    // 20 kHz at 96 kHz → 16 kHz: far above the new Nyquist (8 kHz), must vanish.
    let y = resample(&sine(20_000.0, 96_000, 96_000, 0.0), 96_000, 16_000).unwrap();
    let rms = (y[1600..14_400]
        .iter()
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        / 12_800.0)
        .sqrt();
    assert!(rms < 1e-4, "alias rms {rms}");
}

#[test]
fn zero_rates_are_errors() {
    assert!(matches!(
        resample(&[0.0; 10], 0, 48_000),
        Err(DspError::Resample { .. })
    ));
    assert!(matches!(
        resample(&[0.0; 10], 48_000, 0),
        Err(DspError::Resample { .. })
    ));
    let bad = Audio::new(vec![0.0; 100], 0);
    assert!(features(&bad, &FeatureConfig::default()).is_err());
}

#[test]
fn features_are_40_by_282_for_any_input() {
    let cfg = FeatureConfig::default();
    for (rate, seconds) in [
        (48_000, 3.5),
        (48_000, 1.0),
        (48_000, 7.0),
        (44_100, 3.6),
        (16_000, 0.2),
        (8_000, 5.0),
    ] {
        let n = (f64::from(rate) * seconds) as usize;
        let audio = Audio::new(sine(300.0, rate, n, 0.0), rate);
        let w = waveform(&audio, &cfg).unwrap();
        assert_eq!(w.len(), 144_000, "{rate} Hz {seconds} s");
        let x = features(&audio, &cfg).unwrap();
        assert_eq!(x.len(), 40 * 282, "{rate} Hz {seconds} s");
        assert!(x.iter().all(|v| v.is_finite()));
    }
    // Silence and an empty clip are valid too (all frames at the floor).
    for audio in [
        Audio::new(vec![0.0; 48_000 * 4], 48_000),
        Audio::new(vec![], 48_000),
    ] {
        let x = features(&audio, &cfg).unwrap();
        assert_eq!(x.len(), 40 * 282);
        assert!(x.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn window_matches_at_native_and_other_rates() {
    // A clip at 48 kHz is cut at sample 24000.
    let cfg = FeatureConfig::default();
    let x: Vec<f32> = (0..200_000).map(|i| (i % 1000) as f32 / 1000.0).collect();
    let w = waveform(&Audio::new(x.clone(), 48_000), &cfg).unwrap();
    assert_eq!(&w[..], &x[24_000..168_000]);
    // At 24 kHz the window is cut at 12000 and then upsampled: the same tone, the same phase.
    let tone24 = sine(500.0, 24_000, 24_000 * 4, 0.0);
    let w24 = waveform(&Audio::new(tone24, 24_000), &cfg).unwrap();
    let want = sine(500.0, 48_000, 144_000, 0.5);
    let err = w24[2000..142_000]
        .iter()
        .zip(&want[2000..142_000])
        .map(|(p, q)| f64::from(p - q).abs())
        .fold(0.0, f64::max);
    assert!(err < 1e-3, "{err}");
}

#[test]
fn no_window_keeps_the_whole_clip() {
    let cfg = FeatureConfig {
        window: false,
        ..Default::default()
    };
    let audio = Audio::new(sine(300.0, 48_000, 50_000, 0.0), 48_000);
    let w = waveform(&audio, &cfg).unwrap();
    assert_eq!(w, audio.samples);
    let x = features(&audio, &cfg).unwrap();
    let mfcc = Mfcc::new(&cfg).unwrap();
    assert_eq!(x.len(), 40 * mfcc.n_frames(50_000));
    assert_eq!(mfcc.n_frames(50_000), 1 + 50_000 / 512);
}

#[test]
fn mfcc_reuse_gives_identical_results() {
    let cfg = FeatureConfig::default();
    let mut m = Mfcc::new(&cfg).unwrap();
    let a = sine(200.0, 48_000, 144_000, 0.0);
    let b = sine(3000.0, 48_000, 30_000, 0.0);
    let first = m.compute_vec(&a).unwrap();
    let _ = m.compute_vec(&b).unwrap();
    assert_eq!(m.compute_vec(&a).unwrap(), first);
    assert_eq!(m.clone().compute_vec(&a).unwrap(), first);
}

#[test]
fn invalid_config_is_an_error_not_a_panic() {
    let cfg = FeatureConfig {
        n_mfcc: 200,
        ..Default::default()
    };
    assert!(matches!(
        Mfcc::new(&cfg),
        Err(DspError::Config {
            field: "n_mfcc",
            ..
        })
    ));
    let audio = Audio::new(vec![0.0; 1000], 48_000);
    assert!(matches!(
        features(&audio, &cfg),
        Err(DspError::Config { .. })
    ));
}

#[test]
fn feature_config_json_round_trip() {
    let cfg = FeatureConfig {
        pad_mode: PadMode::Constant,
        fmax: Some(8000.0),
        top_db: None,
        window: false,
        ..Default::default()
    };
    let json = serde_json::to_string(&cfg).unwrap();
    assert!(json.contains(r#""pad_mode":"constant""#), "{json}");
    assert_eq!(serde_json::from_str::<FeatureConfig>(&json).unwrap(), cfg);

    // The default serialises with the librosa-style names and values.
    let v = serde_json::to_value(FeatureConfig::default()).unwrap();
    assert_eq!(v["pad_mode"], "reflect");
    assert_eq!(v["n_mfcc"], 40);
    assert_eq!(v["fmax"], serde_json::Value::Null);

    // Partial (older) JSON fills the missing fields with defaults.
    let partial: FeatureConfig = serde_json::from_str(r#"{"n_mfcc": 20}"#).unwrap();
    assert_eq!(
        partial,
        FeatureConfig {
            n_mfcc: 20,
            ..Default::default()
        }
    );
    assert!(serde_json::from_str::<FeatureConfig>(r#"{"pad_mode": "wrap"}"#).is_err());
}

#[test]
fn augment_config_json_round_trip() {
    let a = AugmentConfig::default();
    assert_eq!((a.copies, a.snr_low, a.snr_high), (3, 15, 30));
    let json = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<AugmentConfig>(&json).unwrap(), a);
    let partial: AugmentConfig = serde_json::from_str(r#"{"copies": 1}"#).unwrap();
    assert_eq!(partial.snr_high, 30);
}
