// WAV fixtures made by the tests themselves: seeded tone-plus-noise clips, 16-bit PCM.
import { writeFileSync } from "node:fs";

/** Mulberry32: a small seeded generator, so every run writes the same clip. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mono samples: a 220 Hz tone with a vibrato and a 3 Hz amplitude envelope, plus noise. */
export function toneAndNoise({ seconds = 4, sampleRate = 48000, seed = 7 } = {}) {
  const random = rng(seed);
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    phase += (2 * Math.PI * (220 + 20 * Math.sin(2 * Math.PI * 5 * t))) / sampleRate;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    x[i] = 0.3 * envelope * Math.sin(phase) + 0.02 * (random() * 2 - 1);
  }
  return x;
}

/**
 * Writes 16-bit PCM WAV (samples clipped to [-1, 1]): `samples` is one channel's samples, or an
 * array of channels of equal length (interleaved in the file).
 */
export function writeWav(file, samples, sampleRate) {
  const channels = Array.isArray(samples) ? samples : [samples];
  const k = channels.length;
  const frames = channels[0].length;
  const data = Buffer.alloc(frames * k * 2);
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < k; c++) {
      const v = Math.max(-1, Math.min(1, channels[c][i]));
      data.writeInt16LE(Math.round(v < 0 ? v * 32768 : v * 32767), (i * k + c) * 2);
    }
  }
  const header = Buffer.alloc(44);
  header.write("RIFF", 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write("WAVE", 8);
  header.write("fmt ", 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20);
  header.writeUInt16LE(k, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * 2 * k, 28);
  header.writeUInt16LE(2 * k, 32);
  header.writeUInt16LE(16, 34);
  header.write("data", 36);
  header.writeUInt32LE(data.length, 40);
  writeFileSync(file, Buffer.concat([header, data]));
  return file;
}
