// The native side of the parity checks: `sermo predict --json` on the same files and model.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ROOT, WEB } from "./browser.mjs";

/** The shipped models, by the name the CLI (`--model NAME`) and the package take. */
export const SHIPPED_MODELS = ["default", "paper"];
export const NATIVE_MODEL = path.join(ROOT, "models/default.safetensors");

const sha = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Fails when the package carries other models than models/*.safetensors (rebuild). */
export function assertSameModel() {
  for (const name of SHIPPED_MODELS) {
    const native = path.join(ROOT, `models/${name}.safetensors`);
    const packaged = path.join(WEB, `package/wasm/${name}.safetensors`);
    if (sha(native) !== sha(packaged)) {
      throw new Error(
        `${packaged} differs from ${native}: the model changed since the package was built; run \`bash web/build.sh\``,
      );
    }
  }
}

/** Runs the native CLI (`$SERMO_BIN`, else target/release/sermo, else cargo run); its stdout. */
export function sermo(args) {
  const bin = process.env.SERMO_BIN ?? path.join(ROOT, "target/release/sermo");
  const options = { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 << 20 };
  return existsSync(bin)
    ? execFileSync(bin, args, options)
    : execFileSync("cargo", ["run", "--quiet", "--release", "-p", "sermo", "--", ...args], options);
}

/** The labels of a shipped model (`sermo info --json NAME`), in logit order: what the page,
 * the package and the CLI must show, whatever label set the model was trained with. */
export function shippedLabels(name = "default") {
  return JSON.parse(sermo(["info", "--json", name])).labels;
}

/** `sermo predict --json --model MODEL FILES…`, one parsed object per file, by path. */
export function nativePredict(files, model = NATIVE_MODEL) {
  const out = sermo(["predict", "--json", "--model", model, ...files]);
  const results = new Map();
  for (const line of out.split("\n").filter((l) => l.trim().startsWith("{"))) {
    const r = JSON.parse(line);
    results.set(path.resolve(ROOT, r.file), r);
  }
  return results;
}

/** `sermo predict --timeline --json --hop HOP --model MODEL FILE`: `{file, hop, timeline}`. */
export function nativeTimeline(file, hop, model = NATIVE_MODEL) {
  const out = sermo(["predict", "--timeline", "--json", "--hop", String(hop), "--model", model, file]);
  const line = out.split("\n").find((l) => l.trim().startsWith("{"));
  if (!line) throw new Error(`sermo predict --timeline printed no JSON for ${file}: ${out}`);
  return JSON.parse(line);
}
