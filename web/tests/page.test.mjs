// (a) The demo page loads, shows the backend and the model; (d) ?backend=cpu forces the CPU;
// a forced WebGPU without an adapter fails with a clear message.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { SLOW, WEB, foreign, launch, openDemo, recordRequests } from "./lib/browser.mjs";
import { serve } from "./lib/server.mjs";

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
  assert.equal(await page.locator("#bars .bar").count(), 8);
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
  assert.match(await page.textContent("#message"), /Unknown backend "cuda"/);
  await context.close();
});
