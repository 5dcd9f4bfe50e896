// (c) The page's probabilities equal the native CLI's (`sermo predict --json`) within 1e-4 for
// the same WAV/FLAC files and model — at 48, 44.1, 22.05, 16 and 8 kHz, mono and stereo: the
// page decodes them with sermo's own decoder, as the CLI does — and so do the package API's
// logits; a recording's timeline equals `sermo predict --timeline`. Runs on the forced CPU
// path (d).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES, SLOW, WEB, apiClassify, classifyFile, launch, openDemo, tmpDir } from "./lib/browser.mjs";
import { NATIVE_MODEL, SHIPPED_MODELS, assertSameModel, nativePredict, nativeTimeline, sermo } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const TOLERANCE = 1e-4;

const FIXTURE_CLIPS = [
  "speech-48000hz-pcm16-mono.wav",
  "speech-48000hz-pcm24-mono.wav",
  "speech-48000hz-f32-mono.wav",
  "speech-48000hz-pcm16-mono.flac",
  "speech-44100hz-pcm16-mono.wav",
  "speech-16000hz-pcm16-mono.wav",
  "synth-8000hz-f64-mono.wav",
  "mix-48000hz-pcm16-stereo.wav",
  "nearsilence-48000hz-pcm24-mono.wav",
];

let server;
let browser;
let clips;
let native;
let generatedDir;

before(async () => {
  assertSameModel();
  generatedDir = tmpDir("parity");
  const generated = [48000, 44100, 22050, 16000, 8000].map((rate) =>
    writeWav(path.join(generatedDir, `tone-noise-${rate}hz-pcm16-mono.wav`), toneAndNoise({ sampleRate: rate }), rate),
  );
  // Stereo whose channels differ: the mono mix (their mean) must be the CLI's.
  const stereo = writeWav(
    path.join(generatedDir, "tone-noise-44100hz-pcm16-stereo.wav"),
    [toneAndNoise({ sampleRate: 44100 }), toneAndNoise({ sampleRate: 44100, seed: 11 }).map((v) => 0.5 * v)],
    44100,
  );
  // Sound that starts 1.3 s in: a speech-aligned window starts elsewhere than the paper's.
  const late = new Float32Array(48000 * 5);
  late.set(toneAndNoise({ seconds: 3.7, seed: 9 }), Math.round(1.3 * 48000));
  const lateClip = writeWav(path.join(generatedDir, "late-onset-48000hz-pcm16-mono.wav"), late, 48000);
  clips = [...FIXTURE_CLIPS.map((f) => path.join(FIXTURES, f)).filter(existsSync), ...generated, stereo, lateClip];
  native = nativePredict(clips, NATIVE_MODEL);
  server = await serve({ "/": WEB, "/fixtures/": FIXTURES, "/generated/": generatedDir });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

function urlOf(clip) {
  return clip.startsWith(generatedDir) ? `/generated/${path.basename(clip)}` : `/fixtures/${path.basename(clip)}`;
}

test("(c, d) demo page on ?backend=cpu: sermo decodes every WAV/FLAC and the probabilities equal native within 1e-4", { timeout: SLOW }, async (t) => {
  const context = await browser.newContext();
  const { page, errors } = await openDemo(context, server.origin, "?backend=cpu");
  assert.equal(await page.getAttribute("#backend", "data-backend"), "cpu");
  for (const clip of clips) {
    const web = await classifyFile(page, clip);
    const cli = native.get(clip);
    assert.ok(cli, `native result for ${clip}`);
    const labels = Object.keys(cli.probabilities);
    const diff = Math.max(...labels.map((l) => Math.abs(web.probabilities[l] - cli.probabilities[l])));
    t.diagnostic(`${path.basename(clip)}: max |p_web - p_native| = ${diff.toExponential(2)}, label ${web.label}`);
    assert.ok(diff <= TOLERANCE, `${clip}: probabilities differ by ${diff}`);
    assert.equal(web.voiced, cli.voiced, `${clip}: voiced`);
    assert.equal(web.label, cli.label, `${clip}: label`);
    assert.equal(await page.getAttribute("#results", "data-decoder"), "sermo", `${clip}: decoded by sermo-dsp`);
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("(c) a recording's timeline on the page equals `sermo predict --timeline` within 1e-4", { timeout: SLOW }, async (t) => {
  // 12.3 s of stereo at 22.05 kHz with 5 s of silence in the middle: 20 windows at a 0.5 s hop
  // (the last one ending at the end), the 3 s windows inside the gap without voice, cut at the
  // file's own rate on both sides.
  const rate = 22050;
  const left = new Float32Array(Math.round(12.3 * rate));
  left.set(toneAndNoise({ seconds: 3, sampleRate: rate, seed: 3 }), 0);
  left.set(toneAndNoise({ seconds: 4.3, sampleRate: rate, seed: 4 }), Math.round(8 * rate));
  const right = left.map((v, i) => 0.6 * v + (i % 7 === 0 ? 1e-4 : 0));
  const clip = writeWav(path.join(generatedDir, "timeline-22050hz-pcm16-stereo.wav"), [left, right], rate);
  const cli = nativeTimeline(clip, 0.5);
  const context = await browser.newContext();
  const { page, errors } = await openDemo(context, server.origin, "?backend=cpu");
  await classifyFile(page, clip);
  await page.waitForFunction(() => document.getElementById("timeline").dataset.timeline, null, { timeout: SLOW });
  const web = JSON.parse(await page.getAttribute("#timeline", "data-timeline"));
  t.diagnostic(`${web.length} windows on the page, ${cli.timeline.length} native; voiced ${web.filter((w) => w.voiced).length}`);
  assert.equal(web.length, cli.timeline.length);
  assert.ok(web.some((w) => !w.voiced) && web.some((w) => w.voiced), "voiced and unvoiced windows");
  let worst = 0;
  web.forEach((w, i) => {
    const n = cli.timeline[i];
    assert.ok(Math.abs(w.start - n.start) < 1e-9 && Math.abs(w.end - n.end) < 1e-9, `window ${i}: ${w.start}-${w.end} vs ${n.start}-${n.end}`);
    assert.equal(w.voiced, n.voiced, `window ${i}: voiced`);
    assert.equal(w.label, n.label, `window ${i}: label`);
    for (const l of Object.keys(n.probabilities)) worst = Math.max(worst, Math.abs(w.probabilities[l] - n.probabilities[l]));
  });
  t.diagnostic(`max |p_web - p_native| over the timeline = ${worst.toExponential(2)}`);
  assert.ok(worst <= TOLERANCE, `timeline probabilities differ by ${worst}`);
  assert.equal(await page.getAttribute("#timeline", "data-windows"), String(web.length), "the chart shows every window");
  assert.deepEqual(errors, []);
  await context.close();
});

test("(c) package API on the CPU: logits equal native within 1e-4", { timeout: SLOW }, async (t) => {
  const context = await browser.newContext();
  const { info, results } = await apiClassify(context, server.origin, "cpu", clips.map(urlOf));
  assert.equal(info.backend, "cpu");
  for (const clip of clips) {
    const web = results[urlOf(clip)];
    const cli = native.get(clip);
    const labels = info.labels; // model order, as both logits arrays are
    const scale = Math.max(1, ...cli.logits.map(Math.abs));
    const diff = Math.max(...web.logits.map((v, i) => Math.abs(v - cli.logits[i])));
    t.diagnostic(`${path.basename(clip)}: max |logit_web - logit_native| = ${diff.toExponential(2)} (scale ${scale.toFixed(2)})`);
    assert.ok(diff <= TOLERANCE * scale, `${clip}: logits differ by ${diff}`);
    assert.deepEqual(web.probabilitiesArray.map((p, i) => [web.probabilities[labels[i]], p]).filter(([a, b]) => a !== b), []);
  }
  await context.close();
});

test("(c) each bundled model by name: package logits equal `sermo predict --model NAME`", { timeout: SLOW }, async (t) => {
  const context = await browser.newContext();
  const infos = {};
  for (const name of SHIPPED_MODELS) {
    const cli = nativePredict(clips, name);
    const { info, results } = await apiClassify(context, server.origin, "cpu", clips.map(urlOf), name);
    infos[name] = info;
    for (const clip of clips) {
      const web = results[urlOf(clip)];
      const expected = cli.get(clip);
      const scale = Math.max(1, ...expected.logits.map(Math.abs));
      const diff = Math.max(...web.logits.map((v, i) => Math.abs(v - expected.logits[i])));
      t.diagnostic(`${name} ${path.basename(clip)}: max |logit_web - logit_native| = ${diff.toExponential(2)}`);
      assert.ok(diff <= TOLERANCE * scale, `${name} ${clip}: logits differ by ${diff}`);
    }
  }
  // Two different models, each trained (the names reach different files).
  assert.notDeepEqual(infos.default.modelInfo.provenance, infos.paper.modelInfo.provenance);
  for (const name of SHIPPED_MODELS) assert.equal(infos[name].modelInfo.provenance.trained, true, name);
  await context.close();
});

test("(c) a model with speech-aligned windows and CMVN: package logits equal native within 1e-4", { timeout: SLOW }, async (t) => {
  // The robust pipeline options live in the artifact's feature config; the browser must apply
  // them exactly as the CLI does. An initialised (untrained) network is enough to compare.
  const model = path.join(generatedDir, "robust-options.safetensors");
  sermo(["init", "--seed", "3", "--align", "speech", "--cmvn", "-o", model]);
  const robustNative = nativePredict(clips, model);
  const plainModel = path.join(generatedDir, "plain-options.safetensors");
  sermo(["init", "--seed", "3", "-o", plainModel]);
  const plainNative = nativePredict(clips, plainModel);
  const context = await browser.newContext();
  const { info, results } = await apiClassify(context, server.origin, "cpu", clips.map(urlOf), "/generated/robust-options.safetensors");
  for (const clip of clips) {
    const web = results[urlOf(clip)];
    const cli = robustNative.get(clip);
    const scale = Math.max(1, ...cli.logits.map(Math.abs));
    const diff = Math.max(...web.logits.map((v, i) => Math.abs(v - cli.logits[i])));
    t.diagnostic(`${path.basename(clip)}: max |logit_web - logit_native| = ${diff.toExponential(2)} (scale ${scale.toFixed(2)})`);
    assert.ok(diff <= TOLERANCE * scale, `${clip}: logits differ by ${diff}`);
    // The options are in force: the same weights with the paper's pipeline give other logits.
    assert.notDeepEqual(cli.logits, plainNative.get(clip).logits, `${clip}: options had no effect`);
  }
  await context.close();
});

test("(c) a 7-label model (calm merged into neutral): the package shows its labels and its logits equal native", { timeout: SLOW }, async (t) => {
  const model = path.join(generatedDir, "seven-labels.safetensors");
  sermo(["init", "--seed", "5", "--labels", "7", "-o", model]);
  const expected = nativePredict(clips, model);
  const context = await browser.newContext();
  const { info, results } = await apiClassify(context, server.origin, "cpu", clips.map(urlOf), "/generated/seven-labels.safetensors");
  assert.deepEqual(info.labels, ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"]);
  for (const clip of clips) {
    const web = results[urlOf(clip)];
    const cli = expected.get(clip);
    assert.deepEqual(Object.keys(web.probabilities), info.labels);
    const diff = Math.max(...web.logits.map((v, i) => Math.abs(v - cli.logits[i])));
    assert.ok(diff <= TOLERANCE * Math.max(1, ...cli.logits.map(Math.abs)), `${clip}: logits differ by ${diff}`);
  }
  t.diagnostic(`labels: ${info.labels.join(", ")}`);
  await context.close();
});
