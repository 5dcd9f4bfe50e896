#!/usr/bin/env node
// Runs every browser test of web/tests, one file at a time (each starts its own Chromium and
// static server on 127.0.0.1), and exits non-zero when any fails.
//
//   node web/tests/run-all.mjs               # all of them; builds the package first if missing
//   node web/tests/run-all.mjs page parity   # only these files
//   node web/tests/run-all.mjs --build       # rebuild the package (web/build.sh) first
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, "..");
const ALL = ["page", "parity", "microphone", "network", "webgpu", "package"];

const args = process.argv.slice(2);
const build = args.includes("--build");
const names = args.filter((a) => !a.startsWith("--"));
const unknown = names.filter((n) => !ALL.includes(n));
if (unknown.length) {
  console.error(`unknown test file(s): ${unknown.join(", ")}; known: ${ALL.join(", ")}`);
  process.exit(2);
}

if (!existsSync(path.join(web, "node_modules/playwright-core"))) {
  console.error("# installing the test dependencies (npm ci in web/)");
  const npm = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: web, stdio: "inherit" });
  if (npm.status !== 0) process.exit(npm.status ?? 1);
}

if (build || !existsSync(path.join(web, "package/wasm/sermo_cpu_bg.wasm"))) {
  console.error("# building the wasm package (web/build.sh)");
  const b = spawnSync("bash", [path.join(web, "build.sh")], { stdio: "inherit" });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const files = (names.length ? names : ALL).map((n) => path.join(here, `${n}.test.mjs`));
const result = spawnSync(process.execPath, ["--test", "--test-concurrency=1", ...files], { stdio: "inherit" });
process.exit(result.status ?? 1);
