"""Writes a small seed corpus for the decode_features fuzz target: 50 ms clips in every WAV
form sermo decodes, and FLAC. Run by hand (needs numpy and soundfile):

    ~/sermo/venv/bin/python fuzz/make_seeds.py fuzz/corpus/decode_features
"""

import pathlib
import sys

import numpy as np
import soundfile as sf

out = pathlib.Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
t = np.arange(2400) / 48000.0
tone = 0.5 * np.sin(2 * np.pi * 440 * t)
stereo = np.stack([tone, 0.3 * tone], axis=1)
for name, data, rate, fmt, sub in [
    ("pcm16.wav", tone, 48000, "WAV", "PCM_16"),
    ("pcm24.wav", tone, 44100, "WAV", "PCM_24"),
    ("pcm32.wav", tone, 16000, "WAV", "PCM_32"),
    ("u8.wav", tone, 8000, "WAV", "PCM_U8"),
    ("float.wav", tone, 48000, "WAV", "FLOAT"),
    ("double.wav", tone, 22050, "WAV", "DOUBLE"),
    ("stereo.wav", stereo, 48000, "WAV", "PCM_16"),
    ("extensible.wav", stereo, 48000, "WAVEX", "PCM_16"),
    ("flac16.flac", tone, 48000, "FLAC", "PCM_16"),
    ("flac24.flac", stereo, 44100, "FLAC", "PCM_24"),
]:
    sf.write(out / name, data, rate, format=fmt, subtype=sub)
print(f"{len(list(out.iterdir()))} seeds in {out}")
