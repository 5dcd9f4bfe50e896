// sermo's Web Worker: owns the WebAssembly module and the model, so that feature extraction
// and inference never run on the page's thread.
//
// Two WebAssembly modules, the same Rust crate built twice: the CPU module (burn's flex backend;
// small) is always loaded, and the WebGPU module (burn-wgpu) only when WebGPU is to be used:
// asked for by name, or chosen by "auto" after this worker found a hardware adapter. Where the
// WebGPU module fails under "auto", the CPU module takes over and the reason is reported.
//
// Messages in:  {id, type: "load" | "classify" | "timeline" | "decode" | "mfcc" | "stream-start",
//               ...}, {type: "stream-stop"}, {type: "dispose"}.
// Messages out: {id, status, loaded?, total?} while loading; {id, ok: true, result} or
//               {id, ok: false, error: {name, message}} once per call; and for live streams
//               {type: "stream-result" | "stream-level" | "stream-error", streamId, ...}.
import initCpu, * as cpuModule from "./wasm/sermo_cpu.js";

const CACHE_NAME = "sermo-models-v1";
/** Level reports per second while listening. */
const LEVELS_PER_SECOND = 20;

// WebGPU workaround (burn 0.22 / cubecl 0.11 with wgpu 30): cubecl writes `enable subgroups;`
// into the WGSL of kernels that read subgroup built-ins (its matmul among them), but wgpu's
// WebGPU backend has no name for the "subgroups" feature and never asks the device for it, so
// the browser rejects those kernels. Ask for it whenever the adapter offers it; without it the
// WebGPU warm-up fails and "auto" falls back to the CPU.
if (self.GPUAdapter && !self.GPUAdapter.prototype.sermoSubgroups) {
  const requestDevice = self.GPUAdapter.prototype.requestDevice;
  self.GPUAdapter.prototype.requestDevice = function (descriptor = {}) {
    const features = new Set(descriptor.requiredFeatures ?? []);
    if (this.features.has("subgroups")) features.add("subgroups");
    return requestDevice.call(this, { ...descriptor, requiredFeatures: [...features] });
  };
  self.GPUAdapter.prototype.sermoSubgroups = true;
}
// Same cause: cubecl's matmul calls subgroup built-ins where Tint's uniformity analysis
// cannot prove subgroup-uniform control flow, which WGSL makes an error by default. Naga
// (cubecl's native path) does not check this; turn the diagnostic off for those kernels.
if (self.GPUDevice && !self.GPUDevice.prototype.sermoSubgroups) {
  const createShaderModule = self.GPUDevice.prototype.createShaderModule;
  self.GPUDevice.prototype.createShaderModule = function (descriptor) {
    const code = descriptor && descriptor.code;
    if (typeof code === "string" && code.startsWith("enable subgroups;") && !code.includes("subgroup_uniformity")) {
      descriptor = { ...descriptor, code: code.replace("enable subgroups;", "enable subgroups;\ndiagnostic(off, subgroup_uniformity);") };
    }
    return createShaderModule.call(this, descriptor);
  };
  self.GPUDevice.prototype.sermoSubgroups = true;
}

// A Rust panic aborts the module: report it (the hook leaves its message in
// `self.sermoPanic`) so the page learns why, instead of waiting for an answer forever.
function reportCrash(detail) {
  const message = self.sermoPanic || detail || "unknown error";
  post({ type: "crash", error: { name: "WorkerCrash", message: `sermo's WebAssembly module stopped: ${message}` } });
}
self.addEventListener("error", (e) => {
  e.preventDefault(); // the page hears of it once, through the message below, with the reason
  reportCrash(e.message);
});
self.addEventListener("unhandledrejection", (e) => {
  if (e.reason instanceof WebAssembly.RuntimeError) reportCrash(e.reason.message);
});

let classifier = null;
let fallbackReason = null;
let featureConfig = null;
const streams = new Map();

function post(message, transfer = []) {
  self.postMessage(message, transfer);
}

function errorOf(e) {
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: "Error", message: String(e) };
}

function status(id, text, extra = {}) {
  post({ id, status: text, ...extra });
}

/** The model's bytes and whether they came from the Cache API. */
async function fetchModel(id, url, useCache) {
  let cache = null;
  if (useCache && self.caches) {
    cache = await self.caches.open(CACHE_NAME).catch(() => null);
  }
  if (cache) {
    const hit = await cache.match(url).catch(() => undefined);
    if (hit) {
      status(id, "model found in the cache");
      return { bytes: new Uint8Array(await hit.arrayBuffer()), cached: true };
    }
  }
  status(id, "downloading the model", { loaded: 0, total: 0 });
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot download the model ${url}: HTTP ${response.status}`);
  const total = Number(response.headers.get("content-length")) || 0;
  let bytes;
  if (response.body && response.body.getReader) {
    const reader = response.body.getReader();
    const chunks = [];
    let loaded = 0;
    let last = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.byteLength;
      const now = performance.now();
      if (now - last > 100) {
        last = now;
        status(id, "downloading the model", { loaded, total });
      }
    }
    bytes = new Uint8Array(loaded);
    let at = 0;
    for (const c of chunks) {
      bytes.set(c, at);
      at += c.byteLength;
    }
    status(id, "downloading the model", { loaded, total: total || loaded });
  } else {
    bytes = new Uint8Array(await response.arrayBuffer());
  }
  if (cache) {
    const headers = { "content-type": "application/octet-stream" };
    await cache.put(url, new Response(bytes.slice(), { headers })).catch(() => {});
  }
  return { bytes, cached: false };
}

/** "vendor architecture" of the browser's adapter, which wgpu cannot see on the web. */
async function adapterName() {
  try {
    const adapter = await self.navigator.gpu.requestAdapter();
    const i = adapter && adapter.info;
    return i ? [i.vendor, i.architecture, i.device].filter(Boolean).join(" ") : "";
  } catch {
    return "";
  }
}

async function info(loadMs) {
  let adapter = classifier.adapter ?? null;
  if (classifier.backend === "webgpu") {
    const name = await adapterName();
    if (name) adapter = `${name}; ${adapter}`;
  }
  return {
    backend: classifier.backend,
    fallbackReason,
    warning: classifier.warning ?? null,
    adapter,
    labels: classifier.labels,
    featureConfig,
    modelInfo: JSON.parse(classifier.modelInfo),
    loadMs,
  };
}

let cpuReady = null;
let webgpuReady = null;

/** The CPU module, instantiated once. */
function cpu() {
  cpuReady ??= initCpu({ module_or_path: new URL("./wasm/sermo_cpu_bg.wasm", import.meta.url) }).then(() => cpuModule);
  return cpuReady;
}

/** The WebGPU module, fetched and instantiated once, only when WebGPU is to be used. */
function webgpu() {
  webgpuReady ??= import("./wasm/sermo_webgpu.js").then(async (m) => {
    await m.default({ module_or_path: new URL("./wasm/sermo_webgpu_bg.wasm", import.meta.url) });
    return m;
  });
  return webgpuReady;
}

/**
 * Why "auto" should not fetch the WebGPU module here, or null when a hardware adapter is there.
 * `requestAdapter()` is asked twice: headless Chromium's has been seen to answer null once.
 */
async function noHardwareAdapter() {
  const gpu = self.navigator && self.navigator.gpu;
  if (!gpu) return "this browser has no WebGPU (navigator.gpu is undefined)";
  let reason = "navigator.gpu.requestAdapter() found no adapter";
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const adapter = await gpu.requestAdapter();
      if (adapter) {
        const software = adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter ?? false;
        return software
          ? "WebGPU has only a software adapter here (the GPU emulated on the CPU), slower than the CPU backend"
          : null;
      }
    } catch (e) {
      reason = `navigator.gpu.requestAdapter() failed: ${e && e.message ? e.message : e}`;
    }
  }
  return `no usable WebGPU adapter: ${reason} (asked twice)`;
}

/** A classifier on the backend asked for, and why "auto" did not use WebGPU (or null). */
async function create(id, bytes, backend) {
  const onStatus = (text) => status(id, text);
  const base = await cpu();
  const preference = base.backendPreference(backend);
  let reason = null;
  if (preference === "auto") reason = await noHardwareAdapter();
  if (preference === "webgpu" || (preference === "auto" && !reason)) {
    status(id, "loading the WebGPU module");
    try {
      const m = await webgpu();
      return { classifier: await m.Classifier.create(bytes, preference, onStatus), fallbackReason: null };
    } catch (e) {
      if (preference !== "auto") throw e;
      reason = e && e.message ? e.message : String(e);
    }
  }
  return { classifier: await base.Classifier.create(bytes, "cpu", onStatus), fallbackReason: reason };
}

async function load({ id, model, backend, cache }) {
  const t0 = performance.now();
  status(id, "loading WebAssembly");
  await cpu();
  const fetched = model.bytes ? { bytes: new Uint8Array(model.bytes), cached: false } : await fetchModel(id, model.url, cache);
  if (classifier) classifier.free();
  let created;
  try {
    created = await create(id, fetched.bytes, backend);
  } catch (e) {
    // The wasm module checks the weights against the SHA-256 the artifact records. A damaged
    // copy in the Cache API is dropped and downloaded again, once; anything else is an error.
    if (!fetched.cached || !String(e && e.message).includes("damaged")) throw e;
    status(id, "the cached model is damaged; downloading it again");
    await (await self.caches.open(CACHE_NAME)).delete(model.url).catch(() => {});
    const fresh = await fetchModel(id, model.url, cache);
    created = await create(id, fresh.bytes, backend);
  }
  classifier = created.classifier;
  fallbackReason = created.fallbackReason;
  featureConfig = JSON.parse(classifier.featureConfig);
  status(id, "ready");
  return info(performance.now() - t0);
}

function loaded() {
  if (!classifier) throw new Error("no model is loaded");
  return classifier;
}

/** Live audio: a rolling window fed by the AudioWorklet's blocks, classified every hop. */
class Stream {
  constructor(streamId, port, sampleRate, hopSeconds) {
    this.streamId = streamId;
    this.port = port;
    this.sampleRate = sampleRate;
    // The model's pipeline skips `offset_s` and keeps `duration_s` (the paper: 0.5 s and 3 s),
    // so keeping offset + duration seconds makes it analyse exactly the latest 3 s. A model
    // with `align: "speech"` starts its window just before the first speech in this buffer
    // instead (the same Rust code decides, natively and here). The numbers are the loaded
    // model's own (stream-start needs a loaded model).
    const cfg = featureConfig;
    const seconds = cfg.window === false ? 3 : cfg.offset_s + cfg.duration_s;
    this.ring = new Float32Array(Math.round(seconds * sampleRate));
    this.write = 0; // next index to write in the ring
    this.heard = 0; // samples received in all
    this.hop = Math.max(128, Math.round(hopSeconds * sampleRate));
    this.sinceHop = 0;
    // Back-pressure, not a lock (the classifier serves overlapping calls): a hop that comes
    // while the previous window is still being classified is skipped, so a slow device drops
    // results instead of falling further and further behind the microphone.
    this.busy = false;
    this.levelEvery = Math.round(sampleRate / LEVELS_PER_SECOND);
    this.levelCount = 0;
    this.levelSum = 0;
    this.levelPeak = 0;
    port.onmessage = (e) => this.push(e.data);
  }

  push(channels) {
    if (!Array.isArray(channels) || channels.length === 0) return;
    const n = channels[0].length;
    const k = channels.length;
    for (let i = 0; i < n; i++) {
      let x = 0;
      for (let c = 0; c < k; c++) x += channels[c][i];
      x /= k;
      this.ring[this.write] = x;
      this.write = (this.write + 1) % this.ring.length;
      this.levelSum += x * x;
      const a = Math.abs(x);
      if (a > this.levelPeak) this.levelPeak = a;
    }
    this.heard += n;
    this.sinceHop += n;
    this.levelCount += n;
    if (this.levelCount >= this.levelEvery) {
      const rms = Math.sqrt(this.levelSum / this.levelCount);
      post({
        type: "stream-level",
        streamId: this.streamId,
        level: { rms, peak: this.levelPeak, db: 20 * Math.log10(Math.max(rms, 1e-9)) },
      });
      this.levelCount = 0;
      this.levelSum = 0;
      this.levelPeak = 0;
    }
    if (this.sinceHop >= this.hop && !this.busy) {
      this.sinceHop = 0;
      this.classify();
    }
  }

  /** The ring, oldest sample first (zeros before the first 3.5 s are heard). */
  window() {
    const out = new Float32Array(this.ring.length);
    out.set(this.ring.subarray(this.write));
    out.set(this.ring.subarray(0, this.write), this.ring.length - this.write);
    return out;
  }

  async classify() {
    this.busy = true;
    const samples = this.window();
    const time = this.heard / this.sampleRate;
    let sum = 0;
    const tail = Math.min(samples.length, Math.round(3 * this.sampleRate));
    for (let i = samples.length - tail; i < samples.length; i++) sum += samples[i] * samples[i];
    const level = 20 * Math.log10(Math.max(Math.sqrt(sum / tail), 1e-9));
    try {
      const result = await loaded().classify(samples, this.sampleRate);
      if (streams.has(this.streamId)) {
        post({ type: "stream-result", streamId: this.streamId, result: { ...result, time, level } });
      }
    } catch (e) {
      post({ type: "stream-error", streamId: this.streamId, error: errorOf(e) });
    } finally {
      this.busy = false;
    }
  }

  close() {
    this.port.onmessage = null;
    this.port.close();
  }
}

const handlers = {
  load,
  async classify({ samples, sampleRate }) {
    const t0 = performance.now();
    const result = await loaded().classify(samples, sampleRate);
    result.timings.workerMs = performance.now() - t0;
    return result;
  },
  async timeline({ samples, sampleRate, hopSeconds }) {
    return loaded().timeline(samples, sampleRate, hopSeconds);
  },
  /** sermo's WAV/FLAC decoder (the CLI's); `undefined` for other formats (the page decodes those). */
  async decode({ bytes, name }) {
    const audio = (await cpu()).decode(new Uint8Array(bytes), name);
    return audio === undefined ? undefined : { ...audio, decoder: "sermo" };
  },
  async mfcc({ samples, sampleRate }) {
    const t0 = performance.now();
    const values = (await cpu()).mfcc(samples, sampleRate, classifier ? classifier.featureConfig : undefined);
    return { values, ms: performance.now() - t0 };
  },
  async "stream-start"({ streamId, port, sampleRate, hopSeconds }) {
    loaded();
    streams.set(streamId, new Stream(streamId, port, sampleRate, hopSeconds));
    return { streamId };
  },
};

self.onmessage = async (event) => {
  const message = event.data;
  if (message.type === "stream-stop") {
    streams.get(message.streamId)?.close();
    streams.delete(message.streamId);
    return;
  }
  if (message.type === "dispose") {
    for (const s of streams.values()) s.close();
    streams.clear();
    classifier?.free();
    classifier = null;
    self.close();
    return;
  }
  const handler = handlers[message.type];
  try {
    if (!handler) throw new Error(`unknown request ${message.type}`);
    const result = await handler(message);
    post({ id: message.id, ok: true, result });
  } catch (e) {
    post({ id: message.id, ok: false, error: errorOf(e) });
  }
};
