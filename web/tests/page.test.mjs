// (a) The demo page loads, shows the backend and the model; (d) ?backend=cpu forces the CPU;
// a forced WebGPU without an adapter fails with a clear message.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SLOW, WEB, foreign, launch, openDemo, recordRequests } from "./lib/browser.mjs";
import { shippedLabels } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";

/** The shipped default model's labels, as the CLI reads them from the artifact. */
const LABELS = shippedLabels("default");
let server;
let browser;

before(async () => {
  server = await serve({ "/": WEB });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.close();
});

test("(a) the page loads the model and shows the backend (auto: CPU when WebGPU has no adapter)", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const urls = recordRequests(context);
  const { page, errors } = await openDemo(context, server.origin);
  assert.equal(await page.getAttribute("body", "data-state"), "ready", await page.textContent("#message"));
  // Without --enable-unsafe-webgpu headless Chromium has navigator.gpu but no adapter.
  assert.equal(await page.getAttribute("#backend", "data-backend"), "cpu");
  assert.match(await page.textContent("#backend"), /CPU/);
  const fallback = await page.textContent("#fallback");
  assert.match(fallback, /WebGPU is not available, fell back to the CPU: .+/);
  const info = await page.textContent("#model-info");
  const trained = await page.getAttribute("#model-info", "data-trained");
  if (trained === "false") assert.match(info, /untrained placeholder/i);
  else assert.doesNotMatch(info, /untrained/);
  assert.equal(await page.textContent("#mic"), "Start microphone");
  assert.equal(await page.isEnabled("#mic"), true);
  assert.deepEqual(await page.locator("#bars .bar .name").allTextContents(), LABELS);
  assert.equal(await page.locator("#progress").isVisible(), false);
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign(urls, server.origin), []);
  await context.close();
});

test("(d) ?backend=cpu forces the CPU, with no fallback reason", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const { page, errors } = await openDemo(context, server.origin, "?backend=cpu");
  assert.equal(await page.getAttribute("body", "data-state"), "ready");
  assert.equal(await page.getAttribute("#backend", "data-backend"), "cpu");
  assert.equal((await page.textContent("#fallback")).trim(), "");
  assert.deepEqual(errors, []);
  await context.close();
});

test("?backend=webgpu without an adapter says so and how to get the CPU", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const { page } = await openDemo(context, server.origin, "?backend=webgpu");
  assert.equal(await page.getAttribute("body", "data-state"), "error");
  const message = await page.textContent("#message");
  assert.match(message, /WebGPU/);
  assert.match(message, /backend=webgpu/);
  await context.close();
});

test("an unknown ?backend= value warns and uses auto", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const { page } = await openDemo(context, server.origin, "?backend=cuda");
  assert.equal(await page.getAttribute("body", "data-state"), "ready");
  assert.match(await page.textContent("#message"), /unknown backend "cuda"/i);
  await context.close();
});

test("a damaged model is an error; a damaged copy in the Cache API is fetched again", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.origin}/tests/harness.html`);
  const url = "/package/wasm/default.safetensors?damaged-cache";
  const before = server.requests.filter((r) => r.url === url).length;
  const out = await page.evaluate(async (url) => {
    const { Classifier } = await import("/package/index.js");
    const good = new Uint8Array(await (await fetch("/package/wasm/default.safetensors")).arrayBuffer());
    // One flipped bit in the last weight byte: the SHA-256 the artifact records no longer fits.
    const bad = good.slice();
    bad[bad.length - 1] ^= 1;
    let direct = null;
    try {
      (await Classifier.load({ model: bad, backend: "cpu" })).dispose();
    } catch (e) {
      direct = e.message;
    }
    // The same damage to the cached copy of a URL's model: dropped and downloaded again.
    const cache = await caches.open("sermo-models-v1");
    await cache.put(new URL(url, location.href).href, new Response(bad));
    const seen = [];
    const c = await Classifier.load({ model: url, backend: "cpu", onProgress: (p) => seen.push(p.status) });
    const labels = c.labels;
    const warning = c.warning;
    c.dispose();
    await caches.delete("sermo-models-v1");
    return { direct, seen, labels, warning };
  }, url);
  assert.match(out.direct ?? "", /damaged or was altered/, String(out.direct));
  assert.ok(out.seen.includes("the cached model is damaged; downloading it again"), out.seen.join(" | "));
  assert.deepEqual(out.labels, LABELS);
  assert.equal(out.warning, null, "the shipped models record their hash");
  assert.equal(server.requests.filter((r) => r.url === url).length - before, 1, "downloaded once, after the damaged copy");
  await context.close();
});

test("?model=paper loads the faithful model; an unknown ?model= warns and uses the default", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const { page } = await openDemo(context, server.origin, "?backend=cpu&model=paper");
  assert.match(await page.textContent("#model-info"), /^paper-seed0 /);
  const other = await openDemo(context, server.origin, "?backend=cpu&model=robust");
  assert.equal(await other.page.getAttribute("body", "data-state"), "ready");
  assert.match(await other.page.textContent("#message"), /Unknown model "robust"/);
  const fallback = await openDemo(context, server.origin, "?backend=cpu");
  assert.equal(await other.page.textContent("#model-info"), await fallback.page.textContent("#model-info"));
  assert.doesNotMatch(await other.page.textContent("#model-info"), /^paper-seed0 /);
  assert.ok(server.requests.some((r) => r.url === "/package/wasm/paper.safetensors"), "paper.safetensors was requested");
  await context.close();
});

test("load(url) fetches a model once and keeps it in the Cache API; load(bytes) works too", { timeout: SLOW }, async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.origin}/tests/harness.html`);
  const before = server.requests.filter((r) => r.url === "/package/wasm/default.safetensors?as-url").length;
  const out = await page.evaluate(async () => {
    const { Classifier } = await import("/package/index.js");
    const url = "/package/wasm/default.safetensors?as-url";
    const statuses = [];
    for (let i = 0; i < 2; i++) {
      const seen = [];
      const c = await Classifier.load({ model: url, backend: "cpu", onProgress: (p) => seen.push(p.status) });
      statuses.push(seen);
      c.dispose();
    }
    const bytes = await (await fetch("/package/wasm/default.safetensors")).arrayBuffer();
    const c = await Classifier.load(bytes);
    const labels = c.labels;
    c.dispose();
    await caches.delete("sermo-models-v1");
    return { statuses, labels };
  });
  const fetched = server.requests.filter((r) => r.url === "/package/wasm/default.safetensors?as-url").length - before;
  assert.equal(fetched, 1, "the model URL was fetched once for two loads");
  assert.ok(out.statuses[0].includes("downloading the model"), out.statuses[0].join(" | "));
  assert.ok(out.statuses[1].includes("model found in the cache"), out.statuses[1].join(" | "));
  assert.deepEqual(out.labels, LABELS);
  await context.close();
});

test("files: WAV by sermo's decoder, a format it does not read (WebM/Opus) by Web Audio, a damaged WAV a clear error", { timeout: SLOW }, async (t) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.origin}/tests/harness.html`);
  const out = await page.evaluate(async () => {
    const { Classifier } = await import("/package/index.js");
    const c = await Classifier.load({ backend: "cpu" });
    // 1.5 s of a 220 Hz tone, recorded by the browser itself as WebM/Opus.
    const context = new AudioContext({ sampleRate: 48000 });
    const tone = context.createOscillator();
    tone.frequency.value = 220;
    const sink = context.createMediaStreamDestination();
    tone.connect(sink);
    tone.start();
    const recorder = new MediaRecorder(sink.stream);
    const chunks = [];
    recorder.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => (recorder.onstop = resolve));
    recorder.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    recorder.stop();
    await stopped;
    await context.close();
    const webm = new Blob(chunks, { type: recorder.mimeType });
    const other = await c.classifyFile(new File([webm], "tone.webm"));
    // A WAV header whose format chunk claims 0 channels.
    const header = new DataView(new ArrayBuffer(44 + 480));
    const ascii = (at, s) => [...s].forEach((ch, i) => header.setUint8(at + i, ch.charCodeAt(0)));
    ascii(0, "RIFF");
    header.setUint32(4, 36 + 480, true);
    ascii(8, "WAVEfmt ");
    header.setUint32(16, 16, true);
    header.setUint16(20, 1, true);
    header.setUint16(22, 0, true);
    header.setUint32(24, 48000, true);
    header.setUint32(28, 96000, true);
    header.setUint16(32, 2, true);
    header.setUint16(34, 16, true);
    ascii(36, "data");
    header.setUint32(40, 480, true);
    let damaged = null;
    try {
      await c.classifyFile(header.buffer, { name: "broken.wav" });
    } catch (e) {
      damaged = e.message;
    }
    const wav = header.buffer.slice(0);
    new DataView(wav).setUint16(22, 1, true);
    const silent = await c.classifyFile(wav, { name: "silent.wav" });
    c.dispose();
    return { mime: recorder.mimeType, other, damaged, silent };
  });
  t.diagnostic(`${out.mime}: decoder ${out.other.decoder}, ${out.other.sampleRate} Hz, ${out.other.seconds.toFixed(2)} s, label ${out.other.label}`);
  assert.equal(out.other.decoder, "web-audio");
  assert.ok(out.other.seconds > 1, `${out.other.seconds} s decoded`);
  assert.equal(out.other.voiced, true);
  t.diagnostic(`damaged: ${out.damaged}`);
  assert.match(out.damaged ?? "", /^broken\.wav: malformed audio: .*channel/);
  assert.equal(out.silent.decoder, "sermo");
  assert.equal(out.silent.voiced, false);
  await context.close();
});
