// (g) Every request the page makes — the page, its worker, the AudioWorklet module, the model —
// goes to the test server on 127.0.0.1; checked with Playwright's request events and with
// Chromium's own net-log (which also sees the worklet's module load).
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { SLOW, WEB, classifyFile, foreign, launch, openDemo, recordRequests, tmpDir } from "./lib/browser.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

let server;
let dir;

before(async () => {
  server = await serve({ "/": WEB });
  dir = tmpDir("network");
});

after(async () => {
  await server?.close();
});

/**
 * Reads Chromium's net-log: every URL request with its initiator and network error, and every
 * TCP connection's remote address.
 */
function readNetLog(file) {
  const log = JSON.parse(readFileSync(file, "utf8"));
  const sourceType = Object.fromEntries(Object.entries(log.constants.logSourceType).map(([k, v]) => [v, k]));
  const requests = new Map();
  const tcp = new Set();
  for (const e of log.events) {
    const type = sourceType[e.source.type];
    const p = e.params ?? {};
    if (type === "URL_REQUEST") {
      const r = requests.get(e.source.id) ?? { url: null, initiator: null, errors: [] };
      if (p.url && !r.url) r.url = p.url;
      if (p.initiator && !r.initiator) r.initiator = p.initiator;
      if (p.net_error) r.errors.push(p.net_error);
      requests.set(e.source.id, r);
    } else if (type === "TCP_CONNECT_JOB" || type === "SOCKET" || type === "TRANSPORT_CONNECT_JOB") {
      for (const a of [p.address, p.remote_address].filter(Boolean)) tcp.add(a);
    }
  }
  return { requests: [...requests.values()].filter((r) => r.url), tcp: [...tcp] };
}

const ERR_NAME_NOT_RESOLVED = -105;

test("(g) the page, its worker and its worklet request only 127.0.0.1", { timeout: SLOW }, async (t) => {
  const clip = writeWav(path.join(dir, "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
  const netLog = path.join(dir, "net-log.json");
  const browser = await launch([
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${clip}`,
    `--log-net-log=${netLog}`,
    "--net-log-capture-mode=Default",
  ]);
  let urls;
  try {
    const context = await browser.newContext();
    await context.grantPermissions(["microphone"], { origin: server.origin });
    urls = recordRequests(context);
    const { page } = await openDemo(context, server.origin, "?backend=cpu");
    await page.click("#mic");
    await page.waitForFunction(() => document.getElementById("results").dataset.result, null, { timeout: SLOW });
    await page.click("#mic");
    await page.waitForFunction(() => document.getElementById("mic").textContent === "Start microphone");
    await classifyFile(page, clip);
    await context.close();
  } finally {
    await browser.close();
  }

  t.diagnostic(`${urls.length} requests seen by Playwright, ${server.requests.length} answered by the server`);
  assert.deepEqual(foreign(urls, server.origin), []);
  const served = server.requests.map((r) => r.url.split("?")[0]);
  for (const asset of [
    "/demo/",
    "/demo/app.js",
    "/package/index.js",
    "/package/worker.js",
    "/package/wasm/sermo_cpu.js",
    "/package/wasm/sermo_cpu_bg.wasm",
    "/package/wasm/default.safetensors",
    "/package/recorder-worklet.js",
  ]) {
    assert.ok(served.includes(asset), `${asset} was served (got ${served.join(", ")})`);
  }
  // The CPU backend never needs the WebGPU module: not one byte of it is fetched.
  assert.deepEqual(served.filter((u) => u.startsWith("/package/wasm/sermo_webgpu")), [], "the WebGPU module was not fetched");
  assert.ok(existsSync(netLog), "Chromium wrote its net-log");
  const { requests, tcp } = readNetLog(netLog);
  const local = (u) => u.startsWith(`${server.origin}/`);
  // The page's own requests (its navigation, and everything its scripts, worker and worklet load).
  const fromPage = requests.filter((r) => r.initiator === server.origin || local(r.url));
  t.diagnostic(`net-log: ${fromPage.length} requests by the page, ${requests.length - fromPage.length} by the browser itself`);
  assert.deepEqual(fromPage.filter((r) => !local(r.url)).map((r) => r.url), [], "the page requested only 127.0.0.1");
  assert.ok(fromPage.some((r) => r.url.endsWith("/package/recorder-worklet.js")), "the net-log saw the worklet load");
  // Chromium's own background requests (update checks, accounts) die in the resolver rule:
  // none of them left the machine, and no TCP connection went anywhere but loopback.
  for (const r of requests.filter((r) => !fromPage.includes(r))) {
    t.diagnostic(`browser-initiated (not the page): ${r.url.split("?")[0]} -> net error ${r.errors.join(",")}`);
    assert.ok(r.errors.includes(ERR_NAME_NOT_RESOLVED), `${r.url} was not stopped by the resolver rule`);
  }
  assert.deepEqual(tcp.filter((a) => !a.startsWith("127.0.0.1:")), [], "TCP only to loopback");
});
