//! Speed of the feature pipeline on a 3.6 s, 48 kHz, 16-bit fixture clip.
//!
//! `cargo bench -p sermo-dsp --bench mfcc`; compare with `bench/librosa_mfcc.py` (same clip,
//! same parameters) and see `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use sermo_dsp::{FeatureConfig, FeatureExtractor, decode, resample};

fn clip(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/audio")
        .join(name);
    std::fs::read(&path).unwrap()
}

fn bench(c: &mut Criterion) {
    let cfg = FeatureConfig::default();
    let wav = clip("speech-48000hz-pcm16-mono.wav");
    let audio = decode(&wav, "speech.wav").unwrap();
    let mut extractor = FeatureExtractor::new(&cfg).unwrap();
    let wave = extractor.window(&audio).unwrap();
    let mut out = vec![0.0f32; extractor.map_len()];

    // The per-clip cost in a batch: decode, window, MFCC with a reused extractor.
    c.bench_function("decode + features (48 kHz pcm16, reused extractor)", |b| {
        b.iter(|| {
            let audio = decode(black_box(&wav), "speech.wav").unwrap();
            black_box(extractor.extract(&audio).unwrap());
        })
    });
    // A new extractor per clip, which also plans the FFT and builds the filterbank.
    c.bench_function(
        "decode + new FeatureExtractor + extract (48 kHz pcm16)",
        |b| {
            b.iter(|| {
                let audio = decode(black_box(&wav), "speech.wav").unwrap();
                let mut extractor = FeatureExtractor::new(&cfg).unwrap();
                black_box(extractor.extract(&audio).unwrap());
            })
        },
    );
    c.bench_function("MFCC alone (144000 samples → 40 × 282)", |b| {
        b.iter(|| {
            extractor.map_into(black_box(&wave), &mut out).unwrap();
            black_box(&out);
        })
    });
    c.bench_function("decode alone (48 kHz pcm16, 3.6 s)", |b| {
        b.iter(|| black_box(decode(black_box(&wav), "speech.wav").unwrap()))
    });
    let wav44 = decode(&clip("speech-44100hz-pcm16-mono.wav"), "s44.wav").unwrap();
    c.bench_function("resample 44.1 → 48 kHz (3 s window)", |b| {
        b.iter(|| {
            black_box(resample(black_box(&wav44.samples[22_050..154_350]), 44_100, 48_000).unwrap())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
