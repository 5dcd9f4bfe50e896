/** Seconds between two live results of `listen`, by default (0.5). */
export const DEFAULT_HOP_SECONDS: number;

/** What the browser offers sermo. */
export interface Support {
  /** WebAssembly is available (required). */
  webAssembly: boolean;
  /** WebAssembly SIMD (simd128) validates (required). */
  simd: boolean;
  /** Web Workers (required). */
  worker: boolean;
  /** AudioWorklet and AudioContext (required by `listen`). */
  audioWorklet: boolean;
  /** navigator.mediaDevices.getUserMedia (required by `listen("microphone")`). */
  getUserMedia: boolean;
  /** navigator.gpu exists (optional; an adapter may still be missing). */
  webgpu: boolean;
}

/** Checks the browser features sermo uses. */
export function support(): Support;

/**
 * "auto": WebGPU when a hardware adapter is available and works, else the CPU (a software
 * adapter such as SwiftShader is slower than the CPU backend, so "auto" declines it).
 */
export type BackendPreference = "auto" | "webgpu" | "cpu";

/** A loading step, for a progress display. */
export interface Progress {
  /** What is happening ("downloading the model", "starting WebGPU", "ready", …). */
  status: string;
  /** Bytes downloaded so far, while downloading the model. */
  loaded?: number;
  /** Bytes to download (0 when the server does not say), while downloading the model. */
  total?: number;
}

/**
 * The models bundled with the package: "default", trained to cope with unseen voices,
 * microphones and rooms; "paper", the faithful reproduction of the paper's recipe.
 */
export type BundledModel = "default" | "paper";
export const BUNDLED_MODELS: readonly BundledModel[];

export interface LoadOptions {
  /**
   * The model: a bundled model's name, a URL of a sermo `.safetensors` artifact (fetched once,
   * then kept in the Cache API), or its bytes. Default: "default".
   */
  model?: BundledModel | string | URL | ArrayBuffer | ArrayBufferView;
  /** Default: "auto". */
  backend?: BackendPreference;
  /** Keep a model fetched from a URL in the Cache API. Default: true. */
  cache?: boolean;
  /** Called at every loading step. */
  onProgress?: (progress: Progress) => void;
  /** Where worker.js is, when a bundler moved it. Default: beside this module. */
  workerUrl?: string | URL;
  /** Where recorder-worklet.js is, when a bundler moved it. Default: beside this module. */
  workletUrl?: string | URL;
}

// ClassifyResult, TimelineWindow and TimelineResult are declared by the wasm crate
// (crates/sermo-wasm/src/result.rs, RESULT_TS,
// checked there against the Rust type) and copied here word for word, so that TypeScript users
// need not read the generated wasm declarations (they need lib "esnext"); web/tests/package.test.mjs
// fails when the two differ.
/** One classification, as `Classifier.classify` resolves it (`sermo predict --json` gives the same fields but `backend` and `timings`). */
export interface ClassifyResult {
  /** The most probable emotion; null when the window holds no voice. */
  label: string | null;
  /** Whether the analysed window holds voice (a 20 ms frame louder than -50 dBFS). */
  voiced: boolean;
  /** Probability per label. */
  probabilities: Record<string, number>;
  /** Probabilities in label order (`Classifier.labels`). */
  probabilitiesArray: number[];
  /** Raw network outputs in label order. */
  logits: number[];
  /** "webgpu" or "cpu". */
  backend: "webgpu" | "cpu";
  /** Milliseconds spent in the worker on features (resample, window, MFCC) and on the network (scaling included). */
  timings: {
    featuresMs: number;
    inferenceMs: number;
    /** Milliseconds of the whole call inside the worker (`classify` only; added by the package's worker). */
    workerMs?: number;
  };
}

/** One window of a timeline: where it lies in the recording (seconds), then the fields of a classification. */
export interface TimelineWindow {
  start: number;
  end: number;
  label: string | null;
  voiced: boolean;
  probabilities: Record<string, number>;
  probabilitiesArray: number[];
  logits: number[];
}

/** Emotion over a recording, as `Classifier.timeline` resolves it (`sermo predict --timeline --json` gives `hop` and `timeline` too). */
export interface TimelineResult {
  /** Seconds between window starts. */
  hop: number;
  /** Every window, in time order. */
  timeline: TimelineWindow[];
  /** "webgpu" or "cpu". */
  backend: "webgpu" | "cpu";
  /** Milliseconds the whole timeline took in the worker. */
  ms: number;
}

/** A decoded file: mono samples (the mean of its channels) and where they came from. */
export interface DecodedAudio {
  samples: Float32Array;
  /** The file's own rate for WAV and FLAC; the model's analysis rate for Web Audio's formats. */
  sampleRate: number;
  seconds: number;
  /** "sermo": WAV or FLAC with sermo's decoder (the CLI's); "web-audio": another format, decoded by the browser. */
  decoder: "sermo" | "web-audio";
}

/** `classify`'s result for a file, with how it was decoded. */
export interface FileResult extends ClassifyResult {
  decoder: "sermo" | "web-audio";
  sampleRate: number;
  seconds: number;
}

/** A live result. */
export interface LiveResult extends ClassifyResult {
  /** Seconds of audio heard when the window was taken. */
  time: number;
  /** RMS of the latest 3 s, in dBFS. */
  level: number;
}

/** The input level, about 20 times a second. */
export interface Level {
  /** RMS over the last 50 ms, linear (0–1). */
  rms: number;
  /** Peak absolute sample over the last 50 ms (0–1). */
  peak: number;
  /** `rms` in dBFS. */
  db: number;
}

export interface ListenOptions {
  /** Seconds between results. Default: 0.5. A result is skipped while the previous one is still being computed. */
  hopSeconds?: number;
  /** Called with the input level about 20 times a second. */
  onLevel?: (level: Level) => void;
  /** Called when a window cannot be classified, or the worker fails. */
  onError?: (error: Error) => void;
  /** Stop the stream's tracks on `stop()`. Default: true. */
  stopTracks?: boolean;
}

export interface ListenSession {
  /** Stops the tracks (unless `stopTracks: false`), closes the audio context, ends the results. */
  stop(): Promise<void>;
  /** The audio context's rate (48000 where the browser honours it). */
  sampleRate: number;
  /** Every result of the session so far, oldest first: the live session's timeline. */
  readonly history: LiveResult[];
}

/** Provenance and shape of a model, from its artifact. */
export interface ModelInfo {
  format: string;
  version: number;
  labels: string[];
  /** Trainable parameters. */
  parameters: number;
  model: Record<string, unknown>;
  features: Record<string, unknown>;
  provenance: {
    name: string;
    /** false for an untrained placeholder, whose predictions mean nothing. */
    trained: boolean;
    data: string;
    protocol?: string | null;
    seed?: number | null;
    epochs?: number | null;
    best_epoch?: number | null;
    command?: string | null;
    accuracies: { protocol: string; split: string; accuracy: number; examples: number }[];
    notes?: string | null;
  };
}

/** A speech emotion classifier running in a Web Worker (WebAssembly, on WebGPU or the CPU). */
export class Classifier {
  private constructor();
  /**
   * Starts the worker, loads a model (the bundled one by default) and warms it up with one
   * inference. Rejects with a `NotSupportedError` when the browser lacks WebAssembly SIMD or
   * Web Workers, and when "webgpu" was forced but is not available.
   */
  static load(optionsOrModel?: LoadOptions | string | URL | ArrayBuffer | ArrayBufferView): Promise<Classifier>;
  /** The backend in use. */
  readonly backend: "webgpu" | "cpu";
  /** Why "auto" did not use WebGPU; null otherwise. */
  readonly fallbackReason: string | null;
  /** A warning about the model (an older artifact without a recorded SHA-256, whose bytes could not be verified), or null. */
  readonly warning: string | null;
  /** The WebGPU adapter's description; null on the CPU. */
  readonly adapter: string | null;
  /** Label names in output order. */
  readonly labels: string[];
  /** The model's feature parameters (sample_rate, offset_s, duration_s, n_mfcc, …). */
  readonly featureConfig: Record<string, unknown>;
  readonly modelInfo: ModelInfo;
  /** Milliseconds `load` took in the worker. */
  readonly loadMs: number;
  /**
   * Classifies mono audio in [-1, 1] at `sampleRate` Hz, analysed as in training (48 kHz,
   * skip 0.5 s, keep 3 s). The samples are copied.
   */
  classify(samples: Float32Array | ArrayLike<number>, sampleRate: number): Promise<ClassifyResult>;
  /**
   * Emotion over a whole recording: every analysis window, `hopSeconds` apart (default 0.5),
   * classified — the windows and numbers of `sermo predict --timeline`.
   */
  timeline(
    samples: Float32Array | ArrayLike<number>,
    sampleRate: number,
    options?: { hopSeconds?: number },
  ): Promise<TimelineResult>;
  /**
   * Decodes a file to mono samples: WAV and FLAC with sermo's decoder (in the worker, the same
   * samples as `sermo predict`), other formats with the browser's Web Audio.
   */
  decodeFile(file: Blob | ArrayBuffer | ArrayBufferView, options?: { name?: string }): Promise<DecodedAudio>;
  /** Decodes a file (see `decodeFile`) and classifies it as `sermo predict` does. */
  classifyFile(file: Blob | ArrayBuffer | ArrayBufferView, options?: { name?: string }): Promise<FileResult>;
  /** The MFCC map alone (40 × 282 row-major for the paper) and the milliseconds it took. */
  mfcc(samples: Float32Array | ArrayLike<number>, sampleRate: number): Promise<{ values: Float32Array; ms: number }>;
  /**
   * Classifies live audio from the microphone or a MediaStream: the last 3 s, every
   * `hopSeconds`. Rejects with getUserMedia's errors (`NotAllowedError`: permission denied;
   * `NotFoundError`: no microphone) and `NotSupportedError` without AudioWorklet.
   */
  listen(
    source: "microphone" | MediaStream,
    onResult: (result: LiveResult) => void,
    options?: ListenOptions,
  ): Promise<ListenSession>;
  /** Ends the worker and frees the model; live sessions stop delivering results. */
  dispose(): void;
}

export default Classifier;
