// (h) `npm pack` of web/package is a working package: installed from the tarball into a fresh
// Vite project, built, served and run in Chromium, it classifies a clip and listens to a (fake)
// microphone through its bundled worker and worklet, and its WebGPU module is bundled and loads
// when asked for; its types check.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { SLOW, WEB, foreign, launch, recordRequests, tmpDir } from "./lib/browser.mjs";
import { shippedLabels } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";
const INSTALL_TIMEOUT = 600_000;

/** The shipped default model's labels, as the CLI reads them from the artifact. */
const LABELS = shippedLabels("default");
let dir;
let tarball;
let server;

function run(cmd, args, cwd, timeout = INSTALL_TIMEOUT) {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", timeout, stdio: ["ignore", "pipe", "pipe"] });
}

function walk(root) {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath ?? e.path, e.name)));
}

before(() => {
  dir = tmpDir("package");
});

after(async () => {
  await server?.close();
});

test("(h) npm pack holds the wasm, the JS glue, the worker, the worklet, the types and the model", { timeout: SLOW }, () => {
  const [packed] = JSON.parse(run(NPM, ["pack", "--json", "--pack-destination", dir], path.join(WEB, "package")));
  tarball = path.join(dir, packed.filename);
  const files = packed.files.map((f) => f.path);
  for (const f of [
    "package.json",
    "README.md",
    "index.js",
    "index.d.ts",
    "worker.js",
    "recorder-worklet.js",
    "wasm/sermo_cpu.js",
    "wasm/sermo_cpu_bg.wasm",
    "wasm/sermo_webgpu.js",
    "wasm/sermo_webgpu_bg.wasm",
    "wasm/default.safetensors",
    "wasm/paper.safetensors",
  ]) {
    assert.ok(files.includes(f), `${f} is in the tarball (${files.join(", ")})`);
  }
});

/** The `export interface NAME { … }` block of a declaration file, one trimmed line per line. */
function interfaceBlock(file, name) {
  const text = readFileSync(file, "utf8");
  const start = text.indexOf(`export interface ${name} {`);
  assert.ok(start >= 0, `${file} declares ${name}`);
  const lines = [];
  let depth = 0;
  for (const line of text.slice(start).split("\n")) {
    const trimmed = line.trim();
    if (trimmed) lines.push(trimmed);
    depth += (line.match(/{/g) ?? []).length - (line.match(/}/g) ?? []).length;
    if (depth === 0) break;
  }
  return lines;
}

test("(h) the package's result types are the ones the wasm modules declare (no drift)", () => {
  // The wasm crate declares them beside the Rust types (and a Rust test checks the two agree);
  // index.d.ts carries a copy so users need not read the generated declarations.
  for (const name of ["ClassifyResult", "TimelineWindow", "TimelineResult"]) {
    for (const module of ["cpu", "webgpu"]) {
      assert.deepEqual(
        interfaceBlock(path.join(WEB, "package", "index.d.ts"), name),
        interfaceBlock(path.join(WEB, "package", "wasm", `sermo_${module}.d.ts`), name),
      );
    }
  }
});

test("(h) installed in a fresh Vite project, built and served, it classifies a clip", { timeout: INSTALL_TIMEOUT * 2 }, async (t) => {
  assert.ok(tarball, "the tarball was packed");
  const app = path.join(dir, "app");
  execFileSync("mkdir", ["-p", app]);
  writeFileSync(
    path.join(app, "package.json"),
    JSON.stringify({ name: "sermo-vite-check", private: true, type: "module", scripts: { build: "vite build" } }, null, 2),
  );
  writeFileSync(
    path.join(app, "index.html"),
    `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>sermo in Vite</title></head>
<body data-state="loading"><script type="module" src="/main.js"></script></body></html>\n`,
  );
  writeFileSync(
    path.join(app, "main.js"),
    `import { Classifier } from "sermo";

// 4 s of a 220 Hz tone with a 3 Hz envelope plus a little deterministic noise, at 48 kHz.
const rate = 48000;
const samples = new Float32Array(4 * rate);
let seed = 7;
for (let i = 0; i < samples.length; i++) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  const t = i / rate;
  samples[i] = 0.3 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t)) * Math.sin(2 * Math.PI * 220 * t) + 0.02 * (seed / 1073741824 - 1);
}
try {
  const classifier = await Classifier.load({ onProgress: (p) => (document.body.dataset.status = p.status) });
  const result = await classifier.classify(samples, rate);
  document.body.dataset.backend = classifier.backend;
  document.body.dataset.result = JSON.stringify(result);
  // Live: the fake microphone of the test browser, through the bundled AudioWorklet.
  // The WebGPU module, bundled separately: this browser has no adapter, so it loads, runs and
  // says so (the CPU module would answer that it has no WebGPU at all).
  try {
    (await Classifier.load({ backend: "webgpu" })).dispose();
    document.body.dataset.webgpu = "loaded";
  } catch (e) {
    document.body.dataset.webgpu = e.message;
  }
  const session = await classifier.listen("microphone", async (live) => {
    if (document.body.dataset.live) return;
    document.body.dataset.live = JSON.stringify(live);
    await session.stop();
    document.body.dataset.state = "done";
  });
} catch (e) {
  document.body.dataset.error = e.message;
  document.body.dataset.state = "error";
}
`,
  );
  writeFileSync(
    path.join(app, "check.ts"),
    `import { Classifier, support, type ClassifyResult, type LiveResult, type TimelineResult, type DecodedAudio } from "sermo";
const s: boolean = support().simd;
const c: Classifier = await Classifier.load({ backend: "cpu", onProgress: (p) => console.log(p.status, p.loaded) });
const r: ClassifyResult = await c.classify(new Float32Array(48000), 48000);
const label: string | null = r.label;
const p: number = r.probabilities["happy"] ?? r.probabilitiesArray[0];
const audio: DecodedAudio = await c.decodeFile(new Blob([]), { name: "clip.wav" });
const t: TimelineResult = await c.timeline(audio.samples, audio.sampleRate, { hopSeconds: 0.5 });
const start: number = t.timeline[0].start;
const decoder: "sermo" | "web-audio" = (await c.classifyFile(new Uint8Array(0))).decoder;
const session = await c.listen("microphone", (x: LiveResult) => console.log(x.label, x.time), { hopSeconds: 0.5 });
const history: readonly LiveResult[] = session.history;
await session.stop();
c.dispose();
console.log(s, label, p, c.backend === "webgpu", c.modelInfo.provenance.trained, start, decoder, history.length);
`,
  );

  let vite = "8";
  try {
    run(NPM, ["install", "--no-audit", "--no-fund", tarball, "vite@8", "typescript@5"], app);
  } catch (e) {
    t.diagnostic(`vite@8 did not install (${String(e.stderr || e.message).split("\n").slice(-3).join(" ")}); trying vite@7`);
    vite = "7";
    run(NPM, ["install", "--no-audit", "--no-fund", tarball, "vite@7", "typescript@5"], app);
  }
  t.diagnostic(`vite@${vite}: ${run(process.execPath, ["node_modules/vite/bin/vite.js", "--version"], app).trim()}`);

  run(
    process.execPath,
    [
      "node_modules/typescript/bin/tsc",
      "--noEmit",
      "--strict",
      "--target", "es2022",
      "--module", "esnext",
      "--moduleResolution", "bundler",
      "--lib", "es2022,dom",
      "check.ts",
    ],
    app,
  );

  run(process.execPath, ["node_modules/vite/bin/vite.js", "build"], app);
  const built = walk(path.join(app, "dist"));
  t.diagnostic(`dist: ${built.join(", ")}`);
  assert.equal(built.filter((f) => f.endsWith(".wasm")).length, 2, "both wasm modules are in the build");
  assert.ok(built.some((f) => f.endsWith(".safetensors")), "the default model is in the build");

  server = await serve({ "/": path.join(app, "dist") });
  const browser = await launch(["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]);
  try {
    const context = await browser.newContext();
    await context.grantPermissions(["microphone"], { origin: server.origin });
    const urls = recordRequests(context);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: SLOW });
    const error = await page.getAttribute("body", "data-error");
    assert.equal(error, null, `the built app failed: ${error}`);
    const result = JSON.parse(await page.getAttribute("body", "data-result"));
    t.diagnostic(`label ${result.label}, voiced ${result.voiced}, backend ${result.backend}`);
    assert.equal(result.probabilitiesArray.length, LABELS.length);
    const sum = result.probabilitiesArray.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    assert.equal(result.voiced, true);
    assert.equal(typeof result.label, "string");
    const webgpu = await page.getAttribute("body", "data-webgpu");
    t.diagnostic(`backend "webgpu" in the built app: ${webgpu}`);
    assert.match(webgpu, /WebGPU was requested: no usable WebGPU adapter/);
    const live = JSON.parse(await page.getAttribute("body", "data-live"));
    t.diagnostic(`live: label ${live.label}, voiced ${live.voiced}, t = ${live.time.toFixed(2)} s`);
    assert.equal(live.probabilitiesArray.length, LABELS.length);
    assert.deepEqual(errors, []);
    assert.deepEqual(foreign(urls, server.origin), []);
    await context.close();
  } finally {
    await browser.close();
  }
});
