#!/usr/bin/env node
// Measures the browser package (not a test; nothing is asserted):
// - sizes of the two wasm modules, their JS glue, the package's JS and the default model, raw
//   and gzip -9, summed per path (what a CPU page downloads; what WebGPU adds);
// - time from navigation to the demo page's first result, on the CPU and on WebGPU;
// - per-window latency of the DSP (MFCC alone, and the whole feature path) and of the network;
// - a 60 s recording's timeline at a 0.5 s hop, in the page and with the native CLI on the same
//   file in the same sitting (the CLI's wall time includes its start and model load, measured
//   alone too).
//
//   node web/tests/bench.mjs [--runs 10] [--no-webgpu]
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { WEB, launch, tmpDir } from "./lib/browser.mjs";
import { sermo } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

const args = process.argv.slice(2);
const runs = Number(args[args.indexOf("--runs") + 1]) || 10;
const webgpu = !args.includes("--no-webgpu");

/** What a page on the CPU downloads, and what WebGPU adds (package-relative paths). */
const PATHS = {
  cpu: ["wasm/sermo_cpu_bg.wasm", "wasm/sermo_cpu.js", "index.js", "worker.js", "wasm/default.safetensors"],
  webgpuAdds: ["wasm/sermo_webgpu_bg.wasm", "wasm/sermo_webgpu.js"],
};

function sizes() {
  const rows = [];
  const totals = {};
  for (const [name, files] of Object.entries(PATHS)) {
    totals[name] = { bytes: 0, gzip: 0 };
    for (const f of files) {
      const bytes = readFileSync(path.join(WEB, "package", f));
      const row = { file: f, bytes: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
      rows.push(row);
      totals[name].bytes += row.bytes;
      totals[name].gzip += row.gzip;
    }
  }
  return { rows, totals };
}

/** A 60 s recording's timeline at a 0.5 s hop: in the page (median of `runs`), and natively. */
async function timeline(browser, origin, file, backend) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/tests/harness.html`);
  const web = await page.evaluate(
    async ({ backend, runs }) => {
      const { Classifier } = await import("/package/index.js");
      const c = await Classifier.load({ backend });
      const bytes = await (await fetch("/generated/long.wav")).arrayBuffer();
      const times = [];
      let windows = 0;
      for (let r = 0; r < runs; r++) {
        const s = performance.now();
        const audio = await c.decodeFile(bytes, { name: "long.wav" });
        const t = await c.timeline(audio.samples, audio.sampleRate, { hopSeconds: 0.5 });
        times.push(performance.now() - s);
        windows = t.timeline.length;
      }
      c.dispose();
      return { times, windows };
    },
    { backend, runs: Math.min(runs, 3) },
  );
  await context.close();
  const wall = (args) => {
    const s = performance.now();
    sermo(args);
    return performance.now() - s;
  };
  const nativeTimeline = [0, 1, 2].map(() => wall(["predict", "--timeline", "--hop", "0.5", "--json", file]));
  const nativeOne = [0, 1, 2].map(() => wall(["predict", "--json", file]));
  return {
    backend,
    windows: web.windows,
    pageMs: median(web.times),
    nativeCliMs: median(nativeTimeline),
    nativeCliSingleWindowMs: median(nativeOne),
  };
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
const long = writeWav(path.join(dir, "long.wav"), toneAndNoise({ seconds: 60 }), 48000);
const server = await serve({ "/": WEB, "/generated/": dir });
const report = { sizes: sizes(), firstResult: [], latency: [], timeline: [] };
try {
  const cpuBrowser = await launch();
  try {
    report.firstResult.push(await firstResult(cpuBrowser, server.origin, clip, "cpu"));
    report.latency.push(await latency(cpuBrowser, server.origin, "cpu"));
    report.timeline.push(await timeline(cpuBrowser, server.origin, long, "cpu"));
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
