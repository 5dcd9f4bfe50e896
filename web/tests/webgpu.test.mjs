// (e) The WebGPU path, on headless Chromium's software adapter (SwiftShader, with
// --enable-unsafe-webgpu): an adapter appears, "auto" declines it when it is a software one,
// "webgpu" runs on it, and its results equal the CPU's within 1e-4.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES, WEB, apiClassify, classifyFile, launch, openDemo, tmpDir } from "./lib/browser.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const TOLERANCE = 1e-4;
/** SwiftShader compiles and runs every kernel on the CPU: minutes, not seconds. */
const VERY_SLOW = 600_000;

let server;
let browser;
let adapterInfo = null;
let urls;
let clipFile;

before(async () => {
  const dir = tmpDir("webgpu");
  clipFile = writeWav(path.join(dir, "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
  urls = ["/generated/tone-noise-48000hz-pcm16-mono.wav"];
  if (existsSync(path.join(FIXTURES, "speech-48000hz-pcm16-mono.wav"))) {
    urls.unshift("/fixtures/speech-48000hz-pcm16-mono.wav");
  }
  server = await serve({ "/": WEB, "/fixtures/": FIXTURES, "/generated/": dir });
  browser = await launch(["--enable-unsafe-webgpu"]);
  // Does the browser itself offer an adapter? (Asked twice: it has answered null once.)
  const page = await browser.newPage();
  await page.goto(`${server.origin}/tests/harness.html`);
  adapterInfo = await page.evaluate(async () => {
    if (!navigator.gpu) return null;
    for (let i = 0; i < 2; i++) {
      const a = await navigator.gpu.requestAdapter();
      if (a) {
        const info = a.info ?? {};
        return { vendor: info.vendor, architecture: info.architecture, isFallbackAdapter: a.isFallbackAdapter ?? info.isFallbackAdapter };
      }
    }
    return null;
  });
  await page.close();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("(e) with --enable-unsafe-webgpu: auto declines the software adapter; ?backend=webgpu uses it", { timeout: VERY_SLOW }, async (t) => {
  t.diagnostic(`browser adapter: ${JSON.stringify(adapterInfo)}`);
  if (!adapterInfo) return t.skip("this Chromium offers no WebGPU adapter even with --enable-unsafe-webgpu");
  const context = await browser.newContext();
  if (adapterInfo.isFallbackAdapter) {
    // SwiftShader emulates the GPU on the CPU: slower than the CPU backend, so auto skips it.
    const auto = await openDemo(context, server.origin, "?backend=auto");
    assert.equal(await auto.page.getAttribute("#backend", "data-backend"), "cpu");
    const reason = await auto.page.getAttribute("#fallback", "data-reason");
    t.diagnostic(`auto: ${reason}`);
    assert.match(reason, /software adapter/);
    await auto.page.close();
  }
  const { page, errors } = await openDemo(context, server.origin, "?backend=webgpu");
  assert.equal(await page.getAttribute("body", "data-state"), "ready", await page.textContent("#message"));
  assert.equal(await page.getAttribute("#backend", "data-backend"), "webgpu");
  const shown = await page.textContent("#backend");
  t.diagnostic(`backend shown: ${shown}`);
  assert.match(shown, /WebGPU \(.+\)/);
  const result = await classifyFile(page, clipFile);
  assert.equal(Object.keys(result.probabilities).length, 8);
  assert.deepEqual(errors, []);
  await context.close();
});

test("(e) WebGPU and CPU agree within 1e-4 (probabilities and logits)", { timeout: VERY_SLOW }, async (t) => {
  if (!adapterInfo) return t.skip("no WebGPU adapter");
  const context = await browser.newContext();
  const gpu = await apiClassify(context, server.origin, "webgpu", urls);
  const cpu = await apiClassify(context, server.origin, "cpu", urls);
  t.diagnostic(`webgpu: ${JSON.stringify(gpu.info)}`);
  assert.equal(gpu.info.backend, "webgpu");
  assert.equal(cpu.info.backend, "cpu");
  for (const url of urls) {
    const g = gpu.results[url];
    const c = cpu.results[url];
    const dp = Math.max(...g.probabilitiesArray.map((p, i) => Math.abs(p - c.probabilitiesArray[i])));
    const dl = Math.max(...g.logits.map((v, i) => Math.abs(v - c.logits[i])));
    t.diagnostic(
      `${url}: max |p_gpu - p_cpu| = ${dp.toExponential(2)}, max |logit diff| = ${dl.toExponential(2)}; ` +
        `inference ${g.timings.inferenceMs.toFixed(0)} ms (webgpu) vs ${c.timings.inferenceMs.toFixed(0)} ms (cpu)`,
    );
    assert.ok(dp <= TOLERANCE, `${url}: probabilities differ by ${dp}`);
    assert.ok(dl <= TOLERANCE * Math.max(1, ...c.logits.map(Math.abs)), `${url}: logits differ by ${dl}`);
    assert.equal(g.label, c.label);
    assert.equal(g.voiced, c.voiced);
  }
  await context.close();
});
