// (b) A fake microphone fed from a WAV gives live results; (f) a denied microphone, and a
// missing one, show their messages.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES, SLOW, WEB, launch, openDemo, tmpDir } from "./lib/browser.mjs";
import { shippedLabels } from "./lib/native.mjs";
import { serve } from "./lib/server.mjs";
import { toneAndNoise, writeWav } from "./lib/wav.mjs";

/** The shipped default model's labels, as the CLI reads them from the artifact. */
const LABELS = shippedLabels("default");
let server;

before(async () => {
  server = await serve({ "/": WEB });
});

after(async () => {
  await server?.close();
});

/** A voiced clip for the fake microphone: the speech fixture, or a generated tone + noise. */
function microphoneClip() {
  const speech = path.join(FIXTURES, "speech-48000hz-pcm16-mono.wav");
  if (existsSync(speech)) return speech;
  return writeWav(path.join(tmpDir("mic"), "tone-noise-48000hz-pcm16-mono.wav"), toneAndNoise(), 48000);
}

test("(b) live results from a fake microphone reach data-result, and stop() stops them", { timeout: SLOW }, async () => {
  const browser = await launch([
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    `--use-file-for-fake-audio-capture=${microphoneClip()}`,
  ]);
  try {
    const context = await browser.newContext();
    await context.grantPermissions(["microphone"], { origin: server.origin });
    const { page, errors } = await openDemo(context, server.origin, "?backend=cpu");
    assert.equal(await page.getAttribute("body", "data-state"), "ready");
    await page.click("#mic");
    await page.waitForFunction(() => document.getElementById("mic").textContent === "Stop microphone", null, { timeout: 30_000 });
    // A voiced live window with a label.
    await page.waitForFunction(
      () => {
        const r = document.getElementById("results").dataset.result;
        return r && JSON.parse(r).voiced === true;
      },
      null,
      { timeout: SLOW },
    );
    const result = JSON.parse(await page.getAttribute("#results", "data-result"));
    assert.equal(typeof result.label, "string");
    assert.deepEqual(Object.keys(result.probabilities), LABELS);
    const sum = Object.values(result.probabilities).reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 1e-4, `probabilities sum to ${sum}`);
    assert.match(await page.textContent("#source"), /microphone/);
    assert.ok(Number(await page.getAttribute("#level", "value")) > -60, "the level meter moved");
    // The session's history is drawn as its timeline, one column per live result.
    assert.equal(await page.isVisible("#chart"), true, "the live timeline is shown");
    assert.ok(Number(await page.getAttribute("#timeline", "data-windows")) >= 1, "the live timeline has windows");
    assert.match(await page.textContent("#timeline-note"), /^Microphone: \d+ windows/);

    await page.click("#mic");
    await page.waitForFunction(() => document.getElementById("mic").textContent === "Start microphone", null, { timeout: 30_000 });
    await page.waitForTimeout(500);
    const count = await page.getAttribute("#results", "data-count");
    await page.waitForTimeout(1500);
    assert.equal(await page.getAttribute("#results", "data-count"), count, "no results after stop");
    assert.equal(await page.isHidden("#message"), true, await page.textContent("#message"));
    assert.deepEqual(errors, []);
    await context.close();
  } finally {
    await browser.close();
  }
});

test("(f) a denied microphone shows the denial message", { timeout: SLOW }, async () => {
  // A device exists, but no permission is granted and no fake UI accepts the prompt.
  const browser = await launch(["--use-fake-device-for-media-stream"]);
  try {
    const context = await browser.newContext();
    const { page } = await openDemo(context, server.origin, "?backend=cpu");
    await page.click("#mic");
    await page.waitForFunction(() => !document.getElementById("message").hidden, null, { timeout: 60_000 });
    assert.match(await page.textContent("#message"), /Microphone access was denied/);
    assert.equal(await page.textContent("#mic"), "Start microphone");
    assert.equal(await page.isEnabled("#mic"), true);
    await context.close();
  } finally {
    await browser.close();
  }
});

test("(f) no microphone at all shows the not-found message", { timeout: SLOW }, async (t) => {
  // Permission granted, but this machine has no audio input and no fake device is asked for.
  const browser = await launch([]);
  try {
    const context = await browser.newContext();
    await context.grantPermissions(["microphone"], { origin: server.origin });
    const { page } = await openDemo(context, server.origin, "?backend=cpu");
    const devices = await page.evaluate(async () =>
      (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput").length,
    );
    if (devices > 0) {
      t.skip("this machine has an audio input");
      return;
    }
    await page.click("#mic");
    await page.waitForFunction(() => !document.getElementById("message").hidden, null, { timeout: 60_000 });
    assert.match(await page.textContent("#message"), /No microphone was found/);
    await context.close();
  } finally {
    await browser.close();
  }
});
