#!/usr/bin/env python3
"""Time librosa on the clip and parameters `cargo bench -p sermo-dsp --bench mfcc` uses.

    ~/sermo/venv/bin/python bench/librosa_mfcc.py [--runs 200]

Prints the median time per clip of (a) load + features, the paper's code path
(`librosa.load(sr=48000, offset=0.5, duration=3.0)`, zero-pad, `librosa.feature.mfcc`), and
(b) the MFCC alone on the prepared 144000-sample signal. Same parameters as sermo-dsp's defaults:
n_mfcc 40, n_fft 1024, win_length 512, hop 512, Hamming, 128 mels, fmax 24000, reflect padding.
Single-threaded comparisons are fairest: set OMP_NUM_THREADS=1 etc. if numpy uses a threaded BLAS.
"""
import argparse
import statistics
import time
from pathlib import Path

import librosa
import numpy as np

CLIP = Path(__file__).resolve().parent.parent / "tests/fixtures/audio/speech-48000hz-pcm16-mono.wav"
PARAMS = dict(sr=48000, n_mfcc=40, n_fft=1024, win_length=512, hop_length=512,
              window="hamming", center=True, pad_mode="reflect", n_mels=128, fmax=24000)


def load_and_features(path):
    x, _ = librosa.load(path, sr=48000, offset=0.5, duration=3.0)
    signal = np.zeros(144000, dtype=np.float32)
    signal[: len(x)] = x
    return librosa.feature.mfcc(y=signal, **PARAMS)


def median_ms(fn, runs):
    for _ in range(max(3, runs // 10)):
        fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    args = ap.parse_args()
    x, _ = librosa.load(CLIP, sr=48000, offset=0.5, duration=3.0)
    signal = np.zeros(144000, dtype=np.float32)
    signal[: len(x)] = x
    assert load_and_features(CLIP).shape == (40, 282)
    a = median_ms(lambda: load_and_features(CLIP), args.runs)
    b = median_ms(lambda: librosa.feature.mfcc(y=signal, **PARAMS), args.runs)
    print(f"librosa {librosa.__version__}, numpy {np.__version__}, clip {CLIP.name}, {args.runs} runs")
    print(f"load + features: {a:.3f} ms (median)")
    print(f"MFCC alone:      {b:.3f} ms (median)")


if __name__ == "__main__":
    main()
