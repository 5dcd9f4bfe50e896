// The sermo demo page: microphone and file classification with the npm package, nothing else.
import { BUNDLED_MODELS, Classifier, support } from "../package/index.js";
import * as timeline from "./timeline.js";

const $ = (id) => document.getElementById(id);
const ui = {
  progress: $("progress"),
  status: $("status"),
  message: $("message"),
  backend: $("backend"),
  fallback: $("fallback"),
  modelInfo: $("model-info"),
  mic: $("mic"),
  level: $("level"),
  file: $("file"),
  results: $("results"),
  label: $("label"),
  source: $("source"),
  bars: $("bars"),
  timing: $("timing"),
  timeline: $("timeline"),
  chart: $("chart"),
  legend: $("legend"),
  timelineNote: $("timeline-note"),
};

/** Seconds of the microphone session the live chart shows (the latest). */
const LIVE_CHART_SECONDS = 30;

let classifier = null;
let session = null;
let busy = false;

function setState(state) {
  document.body.dataset.state = state;
}

function showMessage(text, kind = "error") {
  ui.message.hidden = !text;
  ui.message.textContent = text || "";
  ui.message.className = kind;
  ui.message.dataset.kind = kind;
}

/** `?backend=` as given: the wasm module, which defines the names, says whether it knows it. */
function backendFromQuery() {
  return new URLSearchParams(location.search).get("backend") || "auto";
}

function modelFromQuery() {
  const value = new URLSearchParams(location.search).get("model") || "default";
  if (BUNDLED_MODELS.includes(value)) return value;
  showMessage(`Unknown model "${value}" in the address: use ${BUNDLED_MODELS.join(" or ")}. Using default.`, "warning");
  return "default";
}

function describeModel(info) {
  const p = info.provenance || {};
  if (!p.trained) {
    return `Untrained placeholder: its predictions are meaningless (model "${p.name || "unnamed"}")`;
  }
  const test = (p.accuracies || []).find((a) => a.split === "test");
  const accuracy = test ? `, ${(test.accuracy * 100).toFixed(1)} % test accuracy (${test.protocol} protocol)` : "";
  return `${p.name || "trained model"} (${p.data || "unknown data"}${accuracy}; ${info.parameters.toLocaleString("en")} parameters)`;
}

function buildBars(labels) {
  ui.bars.replaceChildren();
  for (const label of labels) {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = label;
    row.innerHTML = `<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value">–</span>`;
    row.querySelector(".name").textContent = label;
    ui.bars.append(row);
  }
}

function show(result, source) {
  const { label, probabilities, voiced } = result;
  ui.results.dataset.result = JSON.stringify({ label, probabilities, voiced });
  ui.results.dataset.backend = result.backend;
  ui.results.dataset.count = String(Number(ui.results.dataset.count || 0) + 1);
  if (!ui.results.dataset.firstResultMs) {
    ui.results.dataset.firstResultMs = String(Math.round(performance.now()));
  }
  ui.label.textContent = voiced ? label : "— (no voice)";
  ui.label.className = voiced ? "" : "silent";
  ui.source.textContent = source;
  for (const row of ui.bars.children) {
    const p = probabilities[row.dataset.label] ?? 0;
    row.querySelector(".fill").style.width = `${(p * 100).toFixed(1)}%`;
    row.querySelector(".value").textContent = `${(p * 100).toFixed(1)} %`;
    row.classList.toggle("top", voiced && row.dataset.label === label);
    row.classList.toggle("dim", !voiced);
  }
  const t = result.timings;
  if (t) {
    ui.timing.textContent = `features ${t.featuresMs.toFixed(0)} ms, network ${t.inferenceMs.toFixed(0)} ms on ${result.backend}`;
  }
}

function micError(error) {
  switch (error && error.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Microphone access was denied. Allow this page to use the microphone (in the browser's site settings) and try again.";
    case "NotFoundError":
    case "OverconstrainedError":
      return "No microphone was found. Connect one and try again.";
    case "NotReadableError":
    case "AbortError":
      return "The microphone could not be opened: another application may be using it.";
    case "NotSupportedError":
      return `Live analysis is not supported here: ${error.message}`;
    default:
      return `The microphone could not be started: ${error && error.message ? error.message : error}`;
  }
}

async function toggleMicrophone() {
  if (busy) return;
  busy = true;
  ui.mic.disabled = true;
  try {
    if (session) {
      await session.stop();
      session = null;
      ui.mic.textContent = "Start microphone";
      ui.level.value = -60;
    } else {
      showMessage("");
      const live = (r) => {
        show(r, `(microphone, ${r.time.toFixed(1)} s)`);
        drawLive();
      };
      session = await classifier.listen("microphone", live, {
        hopSeconds: 0.5,
        onLevel: (level) => {
          ui.level.value = Math.max(-60, Math.min(0, level.db));
        },
        onError: (e) => showMessage(`Live analysis failed: ${e.message}`),
      });
      ui.mic.textContent = "Stop microphone";
    }
  } catch (error) {
    session = null;
    ui.mic.textContent = "Start microphone";
    showMessage(micError(error));
  } finally {
    busy = false;
    ui.mic.disabled = false;
  }
}

/** The timeline chart of `windows`, with what it shows, kept in data attributes for tests. */
function showTimeline(windows, note, from = 0, to = undefined) {
  ui.timeline.hidden = false;
  ui.timelineNote.textContent = note;
  timeline.draw(ui.chart, windows, classifier.labels, from, to);
  ui.timeline.dataset.windows = String(windows.length);
}

/** The microphone session's timeline: its latest LIVE_CHART_SECONDS. */
function drawLive() {
  if (!session) return;
  const duration = Number(classifier.featureConfig.duration_s) || 3;
  const windows = session.history.map((r) => ({ ...r, start: Math.max(0, r.time - duration), end: r.time }));
  const end = windows.length ? windows[windows.length - 1].end : 0;
  const from = Math.max(0, end - LIVE_CHART_SECONDS);
  showTimeline(
    windows.filter((w) => w.end >= from),
    `Microphone: ${windows.length} windows, each column the ${duration} s ending there`,
    from,
    Math.max(end, from + duration),
  );
}

async function classifyFile(file) {
  if (!file) return;
  showMessage("");
  ui.source.textContent = `(decoding ${file.name}…)`;
  try {
    // WAV and FLAC: sermo's own decoder, as the CLI; other formats: the browser's.
    const audio = await classifier.decodeFile(file);
    const decoder = audio.decoder === "sermo" ? "decoded by sermo" : "decoded by the browser";
    ui.source.textContent = `(classifying ${file.name}…)`;
    const result = await classifier.classify(audio.samples, audio.sampleRate);
    ui.results.dataset.decoder = audio.decoder;
    show(result, `(${file.name}, ${audio.seconds.toFixed(1)} s, ${decoder})`);
    const { timeline: windows, hop } = await classifier.timeline(audio.samples, audio.sampleRate, { hopSeconds: 0.5 });
    ui.timeline.dataset.timeline = JSON.stringify(windows.map(({ start, end, label, voiced, probabilities }) => ({ start, end, label, voiced, probabilities })));
    const seconds = Number(classifier.featureConfig.duration_s) || 3;
    showTimeline(windows, `${file.name}: ${windows.length} windows of ${seconds} s, one every ${hop} s`);
  } catch (error) {
    ui.source.textContent = "";
    showMessage(`Could not classify ${file.name}: ${error.message}`);
  }
}

async function main() {
  const s = support();
  if (!s.webAssembly || !s.simd || !s.worker) {
    const missing = [!s.webAssembly && "WebAssembly", s.webAssembly && !s.simd && "WebAssembly SIMD", !s.worker && "Web Workers"]
      .filter(Boolean)
      .join(", ");
    setState("unsupported");
    ui.status.textContent = "Unsupported browser.";
    ui.progress.hidden = true;
    showMessage(`This browser cannot run sermo: it lacks ${missing}. Use a current Chrome, Edge, Firefox or Safari (16.4 or later).`);
    return;
  }

  let backend = backendFromQuery();
  ui.progress.removeAttribute("value");
  const load = () =>
    Classifier.load({
      backend,
      model: modelFromQuery(),
      onProgress: ({ status, loaded, total }) => {
        ui.status.textContent = total ? `${status} (${(loaded / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB)` : `${status}…`;
        if (total) ui.progress.value = loaded / total;
        else ui.progress.removeAttribute("value");
      },
    });
  try {
    try {
      classifier = await load();
    } catch (error) {
      if (!/unknown backend/.test(error.message)) throw error;
      showMessage(`${error.message} (from ?backend= in the address). Using auto.`, "warning");
      backend = "auto";
      classifier = await load();
    }
  } catch (error) {
    setState("error");
    ui.progress.hidden = true;
    ui.status.textContent = "The model could not be loaded.";
    const hint = backend === "webgpu" ? " Remove ?backend=webgpu from the address to use the CPU instead." : "";
    showMessage(`${error.message}${hint}`);
    return;
  }

  ui.progress.value = 1;
  ui.progress.hidden = true;
  ui.status.textContent = `Ready in ${(performance.now() / 1000).toFixed(1)} s.`;
  document.body.dataset.readyMs = String(Math.round(performance.now()));
  ui.backend.textContent = classifier.backend === "webgpu" ? `WebGPU (${classifier.adapter})` : "CPU (WebAssembly SIMD)";
  ui.backend.dataset.backend = classifier.backend;
  if (classifier.fallbackReason) {
    ui.fallback.textContent = `— WebGPU is not available, fell back to the CPU: ${classifier.fallbackReason}`;
    ui.fallback.dataset.reason = classifier.fallbackReason;
  }
  ui.modelInfo.textContent = describeModel(classifier.modelInfo);
  ui.modelInfo.dataset.trained = String(!!classifier.modelInfo.provenance.trained);
  ui.modelInfo.classList.toggle("untrained", !classifier.modelInfo.provenance.trained);
  buildBars(classifier.labels);
  timeline.legend(ui.legend, classifier.labels);

  ui.file.disabled = false;
  ui.file.addEventListener("change", () => classifyFile(ui.file.files[0]));
  document.addEventListener("dragover", (e) => e.preventDefault());
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    classifyFile(e.dataTransfer.files[0]);
  });

  if (!s.audioWorklet || !s.getUserMedia) {
    ui.mic.disabled = true;
    showMessage(
      !s.audioWorklet
        ? "Live analysis needs AudioWorklet, which this browser lacks. You can still classify files."
        : "This browser cannot open a microphone here (getUserMedia needs https or localhost). You can still classify files.",
      "warning",
    );
  } else {
    ui.mic.disabled = false;
    ui.mic.addEventListener("click", toggleMicrophone);
  }
  setState("ready");
}

main();
