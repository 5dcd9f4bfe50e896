#!/usr/bin/env node
// Measures the browser package (not a test; nothing is asserted):
// - sizes of the wasm, its JS glue and the default model, raw and gzip -9;
// - time from navigation to the demo page's first result, on the CPU and on WebGPU;
// - per-window latency of the DSP (MFCC alone, and the whole feature path) and of the network.
//
//   node web/tests/bench.mjs [--runs 10] [--no-webgpu]
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { WEB, launch, tmpDir } from "./lib/browser.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1]) || 10;
const webgpu = !args.includes("--no-webgpu");

function sizes() {
  const rows = [];
  for (const f of ["sermo_wasm_bg.wasm", "sermo_wasm.js", "default.safetensors"]) {
    const bytes = readFileSync(path.join(WEB, "package/wasm", f));
    rows.push({ file: f, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length });
  }
  return rows;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function firstResult(browser, origin, clip, backend) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/demo/?backend=${backend}`);
  await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: 600_000 });
  const state = await page.getAttribute("body", "data-state");
  if (state !== "ready") {
    await context.close();
    return { backend, state, message: await page.evaluate(() => document.getElementById("message").textContent) };
  }
  await page.setInputFiles("#file", clip);
  await page.waitForFunction(() => document.getElementById("results").dataset.firstResultMs, null, { timeout: 600_000 });
  const out = {
    backend: await page.getAttribute("#backend", "data-backend"),
    readyMs: Number(await page.getAttribute("body", "data-ready-ms")),
    firstResultMs: Number(await page.getAttribute("#results", "data-first-result-ms")),
  };
  await context.close();
  return out;
}

async function latency(browser, origin, backend) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/tests/harness.html`);
  const out = await page.evaluate(
    async ({ backend, runs }) => {
      const { Classifier } = await import("/package/index.js");
      const t0 = performance.now();
      const c = await Classifier.load({ backend });
      const loadMs = performance.now() - t0;
      const rate = 48000;
      const windows = [];
      for (let r = 0; r < runs; r++) {
        const x = new Float32Array(3.5 * rate);
        for (let i = 0; i < x.length; i++) x[i] = 0.3 * Math.sin((2 * Math.PI * (200 + 10 * r) * i) / rate) + 0.01 * Math.sin(i * 12.9898 + r);
        windows.push(x);
      }
      const features = [];
      const inference = [];
      const roundTrip = [];
      const mfcc = [];
      for (const w of windows) {
        const s = performance.now();
        const res = await c.classify(w, rate);
        roundTrip.push(performance.now() - s);
        features.push(res.timings.featuresMs);
        inference.push(res.timings.inferenceMs);
        mfcc.push((await c.mfcc(w, rate)).ms);
      }
      const info = { backend: c.backend, adapter: c.adapter, fallbackReason: c.fallbackReason, workerLoadMs: c.loadMs, loadMs };
      c.dispose();
      return { info, features, inference, roundTrip, mfcc };
    },
    { backend, runs },
  );
  await context.close();
  return {
    ...out.info,
    mfccMs: median(out.mfcc),
    featuresMs: median(out.features),
    inferenceMs: median(out.inference),
    roundTripMs: median(out.roundTrip),
    runs,
  };
}

const dir = tmpDir("bench");
const clip = writeWav(path.join(dir, "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
const server = await serve({ "/": WEB });
const report = { sizes: sizes(), firstResult: [], latency: [] };
try {
  const cpuBrowser = await launch();
  try {
    report.firstResult.push(await firstResult(cpuBrowser, server.origin, clip, "cpu"));
    report.latency.push(await latency(cpuBrowser, server.origin, "cpu"));
  } finally {
    await cpuBrowser.close();
  }
  if (webgpu) {
    const gpuBrowser = await launch(["--enable-unsafe-webgpu"]);
    try {
      report.firstResult.push(await firstResult(gpuBrowser, server.origin, clip, "webgpu"));
      report.latency.push(await latency(gpuBrowser, server.origin, "webgpu"));
    } finally {
      await gpuBrowser.close();
    }
  }
} finally {
  await server.close();
}
console.log(JSON.stringify(report, null, 2));
