// The demo's timeline chart: emotion over time, read at a glance. Time runs across; each
// analysis window is a column holding its probabilities stacked in label order (the colours of
// the legend, the same as `sermo predict --timeline --chart`), the columns meeting halfway
// between window centres; a window without voice is a grey hatched column.

/** A colour per emotion, by name (as the CLI's chart); other names take colours in order. */
const COLOURS = {
  neutral: "rgb(150,150,150)",
  calm: "rgb(120,190,230)",
  happy: "rgb(240,200,40)",
  sad: "rgb(40,90,200)",
  angry: "rgb(215,40,40)",
  fearful: "rgb(140,70,170)",
  disgust: "rgb(60,150,60)",
  surprised: "rgb(245,130,30)",
};
const SPARE = ["#0f766e", "#be185d", "#a16207", "#4338ca", "#65a30d"];

export function colour(label, index) {
  return COLOURS[label] ?? SPARE[index % SPARE.length];
}

/** The legend: one swatch per label. */
export function legend(element, labels) {
  element.replaceChildren();
  labels.forEach((label, i) => {
    const item = document.createElement("span");
    item.className = "swatch";
    item.style.setProperty("--colour", colour(label, i));
    item.textContent = label;
    element.append(item);
  });
  const silent = document.createElement("span");
  silent.className = "swatch silent";
  silent.textContent = "no voice";
  element.append(silent);
}

/** Where each window's column begins and ends: halfway to its neighbours' centres. */
function columns(windows, from, to) {
  const centres = windows.map((w) => (w.start + w.end) / 2);
  return windows.map((w, i) => [
    i === 0 ? from : (centres[i - 1] + centres[i]) / 2,
    i === windows.length - 1 ? to : (centres[i] + centres[i + 1]) / 2,
  ]);
}

/** A tick step of 1, 2 or 5 × 10^k seconds giving about six ticks over `span`. */
function tickStep(span) {
  const raw = span / 6;
  const power = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
}

/**
 * Draws `windows` ({start, end, voiced, probabilities}) on `canvas` over [from, to] seconds
 * (default: 0 to the last window's end).
 */
export function draw(canvas, windows, labels, from = 0, to = undefined) {
  const ratio = globalThis.devicePixelRatio || 1;
  const width = canvas.clientWidth || 640;
  const height = canvas.clientHeight || 160;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const axis = 20;
  const plot = height - axis;
  const end = to ?? Math.max(0.1, ...windows.map((w) => w.end));
  const x = (t) => ((t - from) / Math.max(end - from, 1e-9)) * width;
  const spans = columns(windows, from, end);
  windows.forEach((w, i) => {
    const [a, b] = spans[i].map(x);
    const w0 = Math.floor(a);
    const w1 = Math.ceil(b);
    if (!w.voiced) {
      g.fillStyle = "rgba(127,127,127,0.25)";
      g.fillRect(w0, 0, w1 - w0, plot);
      g.save();
      g.beginPath();
      g.rect(w0, 0, w1 - w0, plot);
      g.clip();
      g.strokeStyle = "rgba(127,127,127,0.6)";
      g.beginPath();
      for (let s = w0 - plot; s < w1; s += 8) {
        g.moveTo(s, plot);
        g.lineTo(s + plot, 0);
      }
      g.stroke();
      g.restore();
      return;
    }
    let top = 0;
    labels.forEach((label, k) => {
      const h = (w.probabilities[label] ?? 0) * plot;
      g.fillStyle = colour(label, k);
      g.fillRect(w0, top, w1 - w0, h + 0.5);
      top += h;
    });
  });
  g.fillStyle = getComputedStyle(canvas).color || "#666";
  g.font = "12px system-ui, sans-serif";
  g.textBaseline = "top";
  const step = tickStep(end - from);
  for (let t = Math.ceil(from / step) * step; t <= end + 1e-9; t += step) {
    const at = x(t);
    g.fillRect(at, plot, 1, 4);
    const text = `${Number(t.toFixed(2))} s`;
    const w = g.measureText(text).width;
    g.fillText(text, Math.min(Math.max(at - w / 2, 0), width - w), plot + 5);
  }
}
