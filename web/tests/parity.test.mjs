// (c) The page's probabilities equal the native CLI's (`sermo predict --json`) within 1e-3 for
// the same clips and model; the package API's logits too. Runs on the forced CPU path (d).
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES, SLOW, WEB, apiClassify, classifyFile, launch, openDemo, tmpDir } from "./lib/browser.mjs";
import { NATIVE_MODEL, SHIPPED_MODELS, assertSameModel, nativePredict, sermo } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const TOLERANCE = 1e-3;

// 48 kHz clips only: the browser decodes them without resampling, so both sides see the same
// samples (other rates go through the browser's resampler here and rubato natively).
const FIXTURE_CLIPS = [
  "speech-48000hz-pcm16-mono.wav",
  "speech-48000hz-pcm24-mono.wav",
  "speech-48000hz-f32-mono.wav",
  "speech-48000hz-pcm16-mono.flac",
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
  const generated = writeWav(path.join(generatedDir, "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
  // Sound that starts 1.3 s in: a speech-aligned window starts elsewhere than the paper's.
  const late = new Float32Array(48000 * 5);
  late.set(toneAndNoise({ seconds: 3.7, seed: 9 }), Math.round(1.3 * 48000));
  const lateClip = writeWav(path.join(generatedDir, "late-onset-48000hz-pcm16-mono.wav"), late, 48000);
  clips = [...FIXTURE_CLIPS.map((f) => path.join(FIXTURES, f)).filter(existsSync), generated, lateClip];
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

test("(c, d) demo page on ?backend=cpu: probabilities equal native within 1e-3", { timeout: SLOW }, async (t) => {
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
  }
  assert.deepEqual(errors, []);
  await context.close();
});

test("(c) package API on the CPU: logits equal native within 1e-3", { timeout: SLOW }, async (t) => {
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

test("(c) a model with speech-aligned windows and CMVN: package logits equal native within 1e-3", { timeout: SLOW }, async (t) => {
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
