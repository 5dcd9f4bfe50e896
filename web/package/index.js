// sermo — speech emotion recognition in the browser.
//
// The model runs in WebAssembly inside a dedicated Web Worker (worker.js), on WebGPU when the
// browser has it and on the CPU otherwise; this module only talks to that worker, so the page's
// main thread never blocks on DSP or inference. Audio never leaves the page.

/** Seconds between two live results of `listen`, by default. */
export const DEFAULT_HOP_SECONDS = 0.5;

/**
 * The models bundled with the package, by the name `Classifier.load({ model })` takes:
 * "default", trained to cope with unseen voices, microphones and rooms, and "paper", the
 * faithful reproduction of the paper's recipe (see the package README).
 */
export const BUNDLED_MODELS = Object.freeze(["default", "paper"]);

/** The rate the live AudioContext runs at: the model's analysis rate (the browser resamples). */
const LISTEN_SAMPLE_RATE = 48000;

// A minimal module that uses a SIMD instruction (i8x16.splat … from wasm-feature-detect's probe):
// it validates only where WebAssembly SIMD (simd128) is supported.
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253,
  15, 253, 98, 11,
]);

/**
 * What this browser offers sermo. `classify` needs `webAssembly`, `simd` and `worker`;
 * `listen` also needs `audioWorklet` and `getUserMedia`; `webgpu` is optional.
 */
export function support() {
  const g = globalThis;
  const webAssembly = typeof g.WebAssembly === "object" && typeof g.WebAssembly.validate === "function";
  let simd = false;
  if (webAssembly) {
    try {
      simd = g.WebAssembly.validate(SIMD_PROBE);
    } catch {
      simd = false;
    }
  }
  return {
    webAssembly,
    simd,
    worker: typeof g.Worker === "function",
    audioWorklet: typeof g.AudioWorkletNode === "function" && typeof g.AudioContext === "function",
    getUserMedia: !!(g.navigator && g.navigator.mediaDevices && g.navigator.mediaDevices.getUserMedia),
    webgpu: !!(g.navigator && g.navigator.gpu),
  };
}

function notSupported(message) {
  const error = new Error(message);
  error.name = "NotSupportedError";
  return error;
}

/** Rebuilds an error that crossed postMessage as `{name, message}`. */
function revive(e) {
  const error = new Error(e && e.message ? e.message : String(e));
  if (e && e.name) error.name = e.name;
  return error;
}

function asBytes(value) {
  if (value instanceof Uint8Array) return value.slice();
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength));
  }
  return null;
}

function asSamples(samples) {
  if (samples instanceof Float32Array) return samples.slice();
  if (Array.isArray(samples) || ArrayBuffer.isView(samples)) return Float32Array.from(samples);
  throw new TypeError("samples must be a Float32Array (mono, in [-1, 1])");
}

function checkHop(hopSeconds) {
  if (!(hopSeconds > 0 && hopSeconds <= 60)) {
    throw new RangeError(`hopSeconds must be in (0, 60], got ${hopSeconds}`);
  }
}

/** The bytes of a Blob/File, an ArrayBuffer or a typed array. */
async function fileBytes(file) {
  if (typeof Blob !== "undefined" && file instanceof Blob) return new Uint8Array(await file.arrayBuffer());
  const bytes = asBytes(file);
  if (!bytes) throw new TypeError("decodeFile takes a Blob or File, an ArrayBuffer or a typed array");
  return bytes;
}

/**
 * Web Audio's decoder, for the formats sermo's does not read: the browser decodes and resamples
 * to `rate`; channels are mixed to mono by their mean (as librosa and the sermo CLI mix).
 */
async function decodeWithWebAudio(bytes, name, rate) {
  if (typeof OfflineAudioContext !== "function") {
    throw notSupported(`${name} is not WAV or FLAC, and this browser has no Web Audio to decode it`);
  }
  let audio;
  try {
    audio = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes.buffer.slice(0));
  } catch {
    throw new Error(`${name} is not an audio file this browser can decode`);
  }
  const samples = new Float32Array(audio.length);
  for (let c = 0; c < audio.numberOfChannels; c++) {
    const data = audio.getChannelData(c);
    for (let i = 0; i < samples.length; i++) samples[i] += data[i];
  }
  if (audio.numberOfChannels > 1) {
    for (let i = 0; i < samples.length; i++) samples[i] /= audio.numberOfChannels;
  }
  return { samples, sampleRate: audio.sampleRate, seconds: audio.duration, decoder: "web-audio" };
}

function normaliseOptions(optionsOrModel) {
  if (optionsOrModel === undefined || optionsOrModel === null) return {};
  if (typeof optionsOrModel === "string" || optionsOrModel instanceof URL) {
    return { model: optionsOrModel };
  }
  if (optionsOrModel instanceof ArrayBuffer || ArrayBuffer.isView(optionsOrModel)) {
    return { model: optionsOrModel };
  }
  if (typeof optionsOrModel === "object") return { ...optionsOrModel };
  throw new TypeError("Classifier.load takes options, a model URL or the model's bytes");
}

function startWorker(workerUrl) {
  if (workerUrl) return new Worker(workerUrl, { type: "module", name: "sermo" });
  // Written out in full so that bundlers (Vite, webpack 5, Parcel) find and bundle the worker.
  return new Worker(new URL("./worker.js", import.meta.url), { type: "module", name: "sermo" });
}

/**
 * A speech emotion classifier running in a Web Worker.
 *
 * ```js
 * const classifier = await Classifier.load();            // bundled model, WebGPU or CPU
 * const result = await classifier.classify(samples, 48000);
 * const session = await classifier.listen("microphone", (r) => console.log(r.label));
 * session.stop();
 * classifier.dispose();
 * ```
 */
export class Classifier {
  #worker;
  #pending = new Map();
  #streams = new Map();
  #nextId = 1;
  #disposed = false;
  #crashed = null;
  #workletUrl;

  /** Use `Classifier.load`. */
  constructor(worker, key, workletUrl) {
    if (key !== Classifier.#key) throw new TypeError("use Classifier.load() to create a Classifier");
    this.#worker = worker;
    this.#workletUrl = workletUrl;
    /** "webgpu" or "cpu". */
    this.backend = null;
    /** Why "auto" did not use WebGPU; null when it did, or when a backend was forced. */
    this.fallbackReason = null;
    /** A warning about the model (an older artifact whose bytes could not be verified), or null. */
    this.warning = null;
    /** The WebGPU adapter's description; null on the CPU. */
    this.adapter = null;
    /** Label names in output order. */
    this.labels = [];
    /** The feature parameters (sample rate, analysis window, MFCC). */
    this.featureConfig = null;
    /** The model's provenance, labels, parameter count and configs. */
    this.modelInfo = null;
    /** Milliseconds `load` took, from the worker's start to the warmed-up model. */
    this.loadMs = null;
    worker.onmessage = (e) => this.#onMessage(e.data);
    worker.onerror = (e) => {
      e.preventDefault?.();
      if (this.#crashed) return; // already reported, with the reason, by the worker
      const error = new Error(`the sermo worker failed: ${e.message || "could not start it"}`);
      error.name = "WorkerCrash";
      this.#crashed = error;
      this.#failAll(error);
    };
    worker.onmessageerror = () => this.#failAll(new Error("a message from the sermo worker could not be read"));
  }

  static #key = Symbol("Classifier");

  /**
   * Starts the worker, loads a model and warms it up with one inference.
   *
   * @param optionsOrModel `{ model, backend, cache, onProgress, workerUrl, workletUrl }`, or just
   *   a model: a bundled model's name ("default", "paper"), a URL (fetched once and kept in the
   *   Cache API) or the bytes of a `.safetensors` artifact. Without a model: "default".
   */
  static async load(optionsOrModel) {
    const options = normaliseOptions(optionsOrModel);
    const s = support();
    if (!s.webAssembly) throw notSupported("this browser has no WebAssembly");
    if (!s.simd) throw notSupported("this browser's WebAssembly lacks SIMD (simd128); sermo needs it");
    if (!s.worker) throw notSupported("this browser has no Web Workers");
    // The backend's name and the sample rate of `classify` are checked by the wasm module,
    // which defines them (one definition, the same errors everywhere).
    const backend = options.backend ?? "auto";

    const message = { backend, cache: options.cache !== false };
    const transfer = [];
    const bytes = asBytes(options.model);
    if (bytes) {
      message.model = { bytes: bytes.buffer };
      transfer.push(bytes.buffer);
    } else if (options.model !== undefined && options.model !== null && !BUNDLED_MODELS.includes(options.model)) {
      const base = globalThis.location ? globalThis.location.href : undefined;
      message.model = { url: new URL(String(options.model), base).href };
    } else {
      // A bundled model, beside this module; never put in the Cache API (it changes with the
      // package, under the same name), left to the HTTP cache.
      const name = options.model ?? "default";
      message.model = { url: new URL(`./wasm/${name}.safetensors`, import.meta.url).href, bundled: true };
      message.cache = false;
    }

    const workletUrl = options.workletUrl ?? new URL("./recorder-worklet.js", import.meta.url).href;
    const start = async (msg, transferList) => {
      const classifier = new Classifier(startWorker(options.workerUrl), Classifier.#key, workletUrl);
      try {
        const info = await classifier.#call("load", msg, transferList, options.onProgress);
        Object.assign(classifier, {
          backend: info.backend,
          fallbackReason: info.fallbackReason ?? null,
          warning: info.warning ?? null,
          adapter: info.adapter ?? null,
          labels: info.labels,
          featureConfig: info.featureConfig,
          modelInfo: info.modelInfo,
          loadMs: info.loadMs,
        });
        return classifier;
      } catch (error) {
        classifier.dispose();
        throw error;
      }
    };
    // Model bytes are transferred to the first worker: keep a copy for a CPU retry.
    const spare = backend === "auto" && message.model.bytes ? message.model.bytes.slice(0) : null;
    try {
      return await start(message, transfer);
    } catch (error) {
      // A WebGPU device that accepts the setup but rejects a kernel aborts the wasm module
      // during the warm-up; "auto" then starts over on the CPU in a fresh worker.
      if (backend !== "auto" || error.name !== "WorkerCrash") throw error;
      options.onProgress?.({ status: "WebGPU failed; starting over on the CPU" });
      const retry = { ...message, backend: "cpu", model: spare ? { bytes: spare } : message.model };
      const classifier = await start(retry, spare ? [spare] : []);
      classifier.fallbackReason = `WebGPU failed during the warm-up: ${error.message}`;
      return classifier;
    }
  }

  /**
   * Classifies mono audio (`samples` in [-1, 1] at `sampleRate` Hz), analysed as the model was
   * trained: resampled to 48 kHz, skip 0.5 s, keep 3 s. The samples are copied, not taken.
   *
   * @returns `{ label, probabilities, probabilitiesArray, logits, voiced, backend, timings }`;
   *   `label` is null when the window holds no voice.
   */
  async classify(samples, sampleRate) {
    const copy = asSamples(samples);
    return this.#call("classify", { samples: copy, sampleRate }, [copy.buffer]);
  }

  /**
   * Emotion over a whole recording: every 3 s analysis window, `hopSeconds` apart (default 0.5),
   * classified — the windows and numbers of `sermo predict --timeline --hop hopSeconds`.
   *
   * @returns `{ hop, timeline: [{ start, end, label, voiced, probabilities, … }], backend, ms }`.
   */
  async timeline(samples, sampleRate, options = {}) {
    const { hopSeconds = DEFAULT_HOP_SECONDS } = options;
    checkHop(hopSeconds);
    const copy = asSamples(samples);
    return this.#call("timeline", { samples: copy, sampleRate, hopSeconds }, [copy.buffer]);
  }

  /**
   * Decodes an audio file to mono samples at the file's own rate: WAV and FLAC with sermo's own
   * decoder (the CLI's, in the worker: the same samples `sermo predict` sees), other formats
   * (MP3, OGG, AAC, … whatever this browser plays) with Web Audio at the model's analysis rate.
   *
   * @param file a `Blob`/`File`, an `ArrayBuffer` or a typed array of the file's bytes.
   * @param options `{ name }`: the name errors use (a File's own name by default).
   * @returns `{ samples, sampleRate, seconds, decoder: "sermo" | "web-audio" }`.
   */
  async decodeFile(file, options = {}) {
    const name = options.name ?? file?.name ?? "audio";
    const bytes = await fileBytes(file);
    // A copy goes to the worker (transferred); `bytes` stays for Web Audio.
    const copy = bytes.slice(0);
    const sermo = await this.#call("decode", { bytes: copy.buffer, name }, [copy.buffer]);
    if (sermo) return sermo;
    const rate = Number(this.featureConfig?.sample_rate) || LISTEN_SAMPLE_RATE;
    return decodeWithWebAudio(bytes, name, rate);
  }

  /**
   * Decodes a file (see `decodeFile`) and classifies it as `sermo predict` does.
   *
   * @returns `classify`'s result plus `decoder` ("sermo" or "web-audio"), `sampleRate` and
   *   `seconds` of the decoded file.
   */
  async classifyFile(file, options = {}) {
    const audio = await this.decodeFile(file, options);
    const result = await this.classify(audio.samples, audio.sampleRate);
    return { ...result, decoder: audio.decoder, sampleRate: audio.sampleRate, seconds: audio.seconds };
  }

  /** The MFCC map of the audio (40 × 282 Float32Array, row-major) and the milliseconds it took. */
  async mfcc(samples, sampleRate) {
    const copy = asSamples(samples);
    return this.#call("mfcc", { samples: copy, sampleRate }, [copy.buffer]);
  }

  /**
   * Classifies live audio: a rolling window of the last 3 s, a result every `hopSeconds`.
   *
   * @param source `"microphone"` (asks for it, with echo cancellation, noise suppression and
   *   automatic gain off) or a `MediaStream` with an audio track.
   * @param onResult called with each result (as `classify`'s, plus `time`: seconds of audio
   *   heard so far, and `level`: the window's RMS in dBFS); unvoiced windows come with
   *   `voiced: false` and `label: null`.
   * @param options `{ hopSeconds = 0.5, onLevel, onError, stopTracks = true }`.
   * @returns `{ stop(), sampleRate, history }`. `stop()` stops the tracks and closes the audio
   *   context; `history` holds every result of the session so far, oldest first (the live
   *   session's timeline: each result's `time` is where its 3 s window ends).
   */
  async listen(source = "microphone", onResult = () => {}, options = {}) {
    this.#alive();
    const { hopSeconds = DEFAULT_HOP_SECONDS, onLevel, onError, stopTracks = true } = options;
    checkHop(hopSeconds);
    if (!support().audioWorklet) {
      throw notSupported("this browser has no AudioWorklet: live audio cannot be analysed");
    }
    let stream;
    if (source === "microphone") {
      if (!support().getUserMedia) {
        throw notSupported("this browser cannot open a microphone (no navigator.mediaDevices.getUserMedia; is the page served over https?)");
      }
      stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
        video: false,
      });
    } else if (typeof MediaStream !== "undefined" && source instanceof MediaStream) {
      stream = source;
    } else {
      throw new TypeError('listen takes "microphone" or a MediaStream');
    }
    if (stream.getAudioTracks().length === 0) throw new TypeError("the stream has no audio track");

    const context = new AudioContext({ sampleRate: LISTEN_SAMPLE_RATE, latencyHint: "interactive" });
    const streamId = this.#nextId++;
    const history = [];
    let input;
    let node;
    const cleanup = async () => {
      this.#streams.delete(streamId);
      try {
        input?.disconnect();
        node?.disconnect();
        node?.port.postMessage("stop");
      } catch {
        // Already disconnected.
      }
      if (stopTracks) stream.getTracks().forEach((t) => t.stop());
      if (context.state !== "closed") await context.close().catch(() => {});
    };
    try {
      await context.audioWorklet.addModule(this.#workletUrl);
      node = new AudioWorkletNode(context, "sermo-recorder", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
      });
      input = context.createMediaStreamSource(stream);
      // The worklet sends its blocks straight to the worker: the page's thread never sees them.
      const channel = new MessageChannel();
      node.port.postMessage({ port: channel.port1 }, [channel.port1]);
      this.#streams.set(streamId, { onResult, onLevel, onError, cleanup, history });
      await this.#call(
        "stream-start",
        { streamId, port: channel.port2, sampleRate: context.sampleRate, hopSeconds },
        [channel.port2],
      );
      input.connect(node);
      node.connect(context.destination); // silent: the worklet writes no output
      await context.resume();
    } catch (error) {
      await cleanup();
      throw error;
    }

    let stopped = false;
    return {
      sampleRate: context.sampleRate,
      history,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        if (!this.#disposed) this.#worker.postMessage({ type: "stream-stop", streamId });
        await cleanup();
      },
    };
  }

  /** Stops every live session, ends the worker and frees the model. */
  dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    try {
      this.#worker.postMessage({ type: "dispose" });
    } catch {
      // The worker is gone already.
    }
    this.#worker.terminate();
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    this.#failAll(new Error("the classifier was disposed"));
    for (const s of streams) s.cleanup?.();
  }

  #alive() {
    if (this.#disposed) throw new Error("the classifier was disposed");
  }

  #call(type, payload, transfer = [], onProgress) {
    this.#alive();
    if (this.#crashed) return Promise.reject(this.#crashed);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      this.#worker.postMessage({ ...payload, type, id }, transfer);
    });
  }

  #failAll(error) {
    for (const { reject } of this.#pending.values()) reject(error);
    this.#pending.clear();
    for (const { onError } of this.#streams.values()) onError?.(error);
  }

  #onMessage(m) {
    if (m.type === "crash") {
      this.#crashed = revive(m.error);
      this.#failAll(this.#crashed);
      return;
    }
    if (m.type === "stream-result" || m.type === "stream-level" || m.type === "stream-error") {
      const s = this.#streams.get(m.streamId);
      if (!s) return;
      if (m.type === "stream-result") {
        s.history.push(m.result);
        s.onResult?.(m.result);
      }
      else if (m.type === "stream-level") s.onLevel?.(m.level);
      else s.onError?.(revive(m.error));
      return;
    }
    const call = this.#pending.get(m.id);
    if (!call) return;
    if (m.status !== undefined) {
      call.onProgress?.({ status: m.status, loaded: m.loaded, total: m.total });
      return;
    }
    this.#pending.delete(m.id);
    if (m.ok) call.resolve(m.result);
    else call.reject(revive(m.error));
  }
}

export default Classifier;
