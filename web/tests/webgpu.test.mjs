// (e) The WebGPU path, on headless Chromium's software adapter (SwiftShader, with
// --enable-unsafe-webgpu): an adapter appears, "auto" declines it when it is a software one
// without fetching the WebGPU module, "webgpu" fetches that module and runs on it, and its
// probabilities equal the CPU's within 1e-4.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES, WEB, apiClassify, classifyFile, launch, openDemo, tmpDir } from "./lib/browser.mjs";
import { shippedLabels } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const TOLERANCE = 1e-4;
/** SwiftShader compiles and runs every kernel on the CPU: minutes, not seconds. */
const VERY_SLOW = 600_000;

/** The shipped default model's labels, as the CLI reads them from the artifact. */
const LABELS = shippedLabels("default");
let server;
let browser;
let adapterInfo = null;
let urls;
/** The file behind each URL, for the page's file input. */
let files;

before(async () => {
  const dir = tmpDir("webgpu");
  const clipFile = writeWav(path.join(dir, "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
  files = { "/generated/tone-noise-48000hz-pcm16-mono.wav": clipFile };
  const speech = path.join(FIXTURES, "speech-48000hz-pcm16-mono.wav");
  if (existsSync(speech)) files["/fixtures/speech-48000hz-pcm16-mono.wav"] = speech;
  urls = Object.keys(files);
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

// One WebGPU load only: SwiftShader compiles every kernel on the CPU (this test: about 40 s here),
// so the page that runs on WebGPU is also the one whose results are compared with the CPU's.
test("(e) with --enable-unsafe-webgpu: auto declines the software adapter; ?backend=webgpu uses it and agrees with the CPU within 1e-4", { timeout: VERY_SLOW }, async (t) => {
  t.diagnostic(`browser adapter: ${JSON.stringify(adapterInfo)}`);
  if (!adapterInfo) return t.skip("this Chromium offers no WebGPU adapter even with --enable-unsafe-webgpu");
  const context = await browser.newContext();
  const webgpuModule = () => server.requests.filter((r) => r.url.startsWith("/package/wasm/sermo_webgpu")).map((r) => r.url);
  if (adapterInfo.isFallbackAdapter) {
    // SwiftShader emulates the GPU on the CPU: slower than the CPU backend, so auto skips it.
    const auto = await openDemo(context, server.origin, "?backend=auto");
    assert.equal(await auto.page.getAttribute("#backend", "data-backend"), "cpu");
    const reason = await auto.page.getAttribute("#fallback", "data-reason");
    t.diagnostic(`auto: ${reason}`);
    assert.match(reason, /software adapter/);
    assert.deepEqual(webgpuModule(), [], "auto on a software adapter fetched no part of the WebGPU module");
    await auto.page.close();
  }
  const { page, errors } = await openDemo(context, server.origin, "?backend=webgpu");
  assert.equal(await page.getAttribute("body", "data-state"), "ready", await page.textContent("#message"));
  assert.equal(await page.getAttribute("#backend", "data-backend"), "webgpu");
  const shown = await page.textContent("#backend");
  t.diagnostic(`backend shown: ${shown}`);
  assert.match(shown, /WebGPU \(.+\)/);
  t.diagnostic(`fetched for WebGPU: ${webgpuModule().join(", ")}`);
  assert.ok(webgpuModule().includes("/package/wasm/sermo_webgpu_bg.wasm"), "the WebGPU module was fetched");
  const cpu = await apiClassify(context, server.origin, "cpu", urls);
  assert.equal(cpu.info.backend, "cpu");
  for (const url of urls) {
    const gpu = await classifyFile(page, files[url]);
    const c = cpu.results[url];
    const labels = Object.keys(gpu.probabilities);
    assert.deepEqual(labels, LABELS);
    const dp = Math.max(...labels.map((l) => Math.abs(gpu.probabilities[l] - c.probabilities[l])));
    t.diagnostic(`${url}: max |p_webgpu - p_cpu| = ${dp.toExponential(2)}`);
    assert.ok(dp <= TOLERANCE, `${url}: probabilities differ by ${dp}`);
    assert.equal(gpu.label, c.label);
    assert.equal(gpu.voiced, c.voiced);
  }
  assert.deepEqual(errors, []);
  await context.close();
});
