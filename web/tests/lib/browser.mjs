// Shared set-up of the browser tests: paths, Debian's chromium through playwright-core, the
// flags that keep it on loopback (shared/notes/browser.md), and small helpers.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ROOT = path.resolve(WEB, "..");
export const FIXTURES = path.join(ROOT, "tests/fixtures/audio");
export const TMP = path.join(WEB, "tests/.tmp");
export const CHROMIUM = process.env.SERMO_CHROMIUM ?? "/usr/bin/chromium";

/** Generous: the software WebGPU adapter (SwiftShader) runs kernels on the CPU. */
export const SLOW = 240_000;

/** Flags that keep Chromium quiet and on loopback; never add --enable-features lists here. */
export const BASE_FLAGS = [
  "--no-sandbox",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
  "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
  "--autoplay-policy=no-user-gesture-required",
];

const made = [];
process.on("exit", () => {
  if (process.env.SERMO_KEEP_TMP) return;
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh directory under web/tests/.tmp, removed when the process exits (unless SERMO_KEEP_TMP is set). */
export function tmpDir(name) {
  mkdirSync(TMP, { recursive: true });
  const dir = mkdtempSync(path.join(TMP, `${name}-`));
  made.push(dir);
  return dir;
}

/** Installs Debian's chromium when it is missing (as root, through apt-get). */
export function ensureChromium() {
  if (existsSync(CHROMIUM)) return;
  if (CHROMIUM !== "/usr/bin/chromium") throw new Error(`SERMO_CHROMIUM=${CHROMIUM} does not exist`);
  console.error("# /usr/bin/chromium is missing: apt-get install -y chromium");
  try {
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "chromium"], { stdio: "inherit" });
  }
}

/** Fails early, with the command to run, when the wasm package has not been built. */
export function ensureBuilt() {
  for (const module of ["cpu", "webgpu"]) {
    const wasm = path.join(WEB, `package/wasm/sermo_${module}_bg.wasm`);
    if (!existsSync(wasm)) {
      throw new Error(`${wasm} is missing: build the package first with \`bash web/build.sh\``);
    }
  }
}

export async function launch(extraFlags = [], options = {}) {
  ensureChromium();
  ensureBuilt();
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BASE_FLAGS, ...extraFlags],
    timeout: 120_000,
    ...options,
  });
}

/** Records every request of a context (pages and their workers). */
export function recordRequests(context) {
  const urls = [];
  context.on("request", (r) => urls.push(r.url()));
  return urls;
}

/** The requests that went anywhere but `origin` (data: and blob: URLs are local). */
export function foreign(urls, origin) {
  return urls.filter((u) => !(u.startsWith(`${origin}/`) || u.startsWith("data:") || u.startsWith("blob:")));
}

/** Opens the demo page and waits until it has loaded its model (or failed). */
export async function openDemo(context, origin, query = "") {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await page.goto(`${origin}/demo/${query}`);
  await page.waitForFunction(() => document.body.dataset.state !== "loading", null, { timeout: SLOW });
  return { page, errors };
}

/** Picks a file in the demo's file input and waits for a new result. */
export async function classifyFile(page, file) {
  const before = await page.getAttribute("#results", "data-count");
  await page.setInputFiles("#file", file);
  await page.waitForFunction(
    (b) => {
      const r = document.getElementById("results");
      const m = document.getElementById("message");
      return (r.dataset.count && r.dataset.count !== b) || (!m.hidden && m.textContent);
    },
    before,
    { timeout: SLOW },
  );
  const message = await page.evaluate(() => document.getElementById("message").textContent);
  const result = await page.getAttribute("#results", "data-result");
  if (!result) throw new Error(`no result for ${file}: ${message}`);
  return JSON.parse(result);
}

export function maxAbsDiff(a, b, keys) {
  return Math.max(...keys.map((k) => Math.abs(a[k] - b[k])));
}

/**
 * Loads the package's Classifier in a blank page of the origin and classifies audio files (URLs
 * on the same server) with `classifyFile`, as the demo does. Returns the
 * classifier's facts and one full result (logits included) per URL. `model`: the URL of another
 * artifact to load instead of the package's default.
 */
export async function apiClassify(context, origin, backend, urls, model = undefined) {
  const page = await context.newPage();
  await page.goto(`${origin}/tests/harness.html`);
  const out = await page.evaluate(
    async ({ backend, urls, model }) => {
      const { Classifier } = await import("/package/index.js");
      const t0 = performance.now();
      const classifier = await Classifier.load(model ? { backend, model } : { backend });
      const loadMs = performance.now() - t0;
      const results = {};
      for (const url of urls) {
        const bytes = await (await fetch(url)).arrayBuffer();
        results[url] = await classifier.classifyFile(bytes, { name: url });
      }
      const info = {
        backend: classifier.backend,
        adapter: classifier.adapter,
        fallbackReason: classifier.fallbackReason,
        labels: classifier.labels,
        modelInfo: classifier.modelInfo,
        loadMs,
      };
      classifier.dispose();
      return { info, results };
    },
    { backend, urls, model },
  );
  await page.close();
  return out;
}
