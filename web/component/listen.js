// The Listen component: the microphone classified continuously in the browser, with a scrolling log-mel.
//
// Modes (the `mode` argument from Python, audioclf/ui/listen):
//   classify     the exported ONNX model runs here (onnxruntime-web, single-threaded wasm); the server does
//                no per-window work.
//   server       the model could not be exported: every `chunk_s` seconds the last window of audio goes to
//                Python, which classifies it through the work queue and hands the result back as `results`.
//   spectrogram  only the scrolling log-mel (Explore).
// On Stop the last `keep_s` seconds go back to Python as a WAV (base64), to keep as a clip.

import { LogMel } from "./src/logmel.js";
import { LiveClassifier, SampleBuffer } from "./src/live.js";
import { Model } from "./src/frontend.js";
import { StreamResampler, base64, wavBytes } from "./src/wav.js";

const $ = (id) => document.getElementById(id);
const NONE = "none of these";
const HISTORY_S = 10;
const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6",
  "#9d755d", "#bab0ac", "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2"];

// --- Streamlit's component protocol (what streamlit-component-lib does, without a build step) ---------------
function send(type, data = {}) {
  window.parent.postMessage({ isStreamlitMessage: true, type, ...data }, "*");
}
function setValue(value) {
  send("streamlit:setComponentValue", { value, dataType: "json" });
}
let lastHeight = 0;
function setHeight() {
  const height = document.body.scrollHeight + 8;
  if (height !== lastHeight) send("streamlit:setFrameHeight", { height });
  lastHeight = height;
}

// --- state ---------------------------------------------------------------------------------------------------
const state = {
  args: null,
  running: false,
  paused: false,
  ctx: null,
  stream: null,
  node: null,
  resampler: null,
  classifier: null,
  model: null,
  modelKey: null,
  logmel: null,
  specCols: [], // [{t, db: Float64Array}] newest last
  specFrame: 0, // next display frame index
  display: null, // SampleBuffer for the spectrogram
  kept: null, // SampleBuffer of the last keep_s seconds, for the clip kept on Stop
  total: 0, // samples heard since Start, at the model's rate
  arrivals: [], // [{total, t}]: when each chunk reached the page
  windows: [], // live windows classified (also read by the browser test)
  log: [], // [{t, label, prob}]
  lastLabel: null,
  busy: false,
  skipped: 0,
  classified: 0, // windows classified since the page opened
  stops: 0,
  sentChunks: 0,
  nextChunkAt: 0,
  results: new Map(), // server mode: seq -> result
  sid: Math.random().toString(36).slice(2), // this page's id: the server's answers to another page are not ours
  error: null,
};
window.audioclfListen = state; // for the browser test and for debugging
/** The kept samples (the last keep_s seconds) as base64 WAV, and the absolute index of their first sample. */
state.keptWav = () => ({ offset: state.kept.offset,
  wav: base64(wavBytes(state.kept.slice(state.kept.offset, state.kept.length), rate())) });

function mmss(t) {
  const s = Math.max(0, Math.floor(t));
  return `${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function showError(msg) {
  state.error = msg;
  $("error").textContent = msg;
  $("error").style.display = msg ? "block" : "none";
  setHeight();
}

function showNote(msg) {
  $("note").textContent = msg || "";
  $("note").style.display = msg ? "block" : "none";
  setHeight();
}

function setStatus(msg) {
  $("status").textContent = msg;
}

// --- bars, timeline, log -------------------------------------------------------------------------------------
function classes() {
  return (state.args && state.args.classes) || [];
}

function buildBars() {
  const box = $("bars");
  box.querySelectorAll(".bar").forEach((b) => b.remove());
  if (state.args.mode === "spectrogram") {
    box.style.display = "none";
    $("heard").style.display = "none";
    $("heard-title").style.display = "none";
    $("timeline").style.display = "none";
    return;
  }
  classes().forEach((c, i) => {
    const row = document.createElement("div");
    row.className = "bar";
    row.dataset.label = c;
    row.innerHTML = `<span class="label"></span><span class="track"><span class="fill"></span></span><span class="prob">0.00</span>`;
    row.querySelector(".label").textContent = c;
    row.querySelector(".fill").style.background = COLORS[i % COLORS.length];
    box.appendChild(row);
  });
}

function showBars(res) {
  const rows = $("bars").querySelectorAll(".bar");
  rows.forEach((row, i) => {
    const p = res.probs[i] || 0;
    row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    row.querySelector(".prob").textContent = p.toFixed(2);
    row.classList.toggle("top", i === res.top);
  });
  $("unknown").textContent = res.unknown ? `${NONE}: ${unknownReason(res)}` : "";
}

function unknownReason(res) {
  const v = res.verdict || {};
  if ((v.distance != null && v.distance > v.distance_threshold)
    || (v.scaled_distance != null && v.scaled_distance > v.scaled_distance_threshold)) {
    return "far from every class seen in training";
  }
  if (v.sequence_distance != null && v.sequence_distance > v.sequence_distance_threshold) {
    return "its course over time, window by window, is unlike every class seen in training";
  }
  if (v.joint != null && !(res.probs[res.top] < v.confidence_threshold)) {
    return "a little unsure and a little far from every class seen in training: together rarer than the known clips";
  }
  return `top probability ${res.probs[res.top].toFixed(2)} is below ${Number(v.confidence_threshold).toFixed(2)}`;
}

function labelOf(res) {
  return res.unknown ? NONE : classes()[res.top];
}

function addLog(res) {
  const label = labelOf(res);
  if (label === state.lastLabel) return;
  state.lastLabel = label;
  const prob = res.probs[res.top];
  state.log.push({ t: res.start, label, prob });
  const line = `${mmss(res.start)}  ${label}  ${prob.toFixed(2)}`;
  const el = $("heard");
  const div = document.createElement("div");
  div.textContent = line;
  el.appendChild(div);
  while (el.childNodes.length > 200) el.removeChild(el.firstChild);
  el.scrollTop = el.scrollHeight;
  setHeight();
}

function addMark(text) {
  const div = document.createElement("div");
  div.textContent = `${mmss(state.total / rate())}  (${text})`;
  $("heard").appendChild(div);
  state.lastLabel = null;
}

function rate() {
  return state.args.sample_rate;
}

// --- spectrogram ---------------------------------------------------------------------------------------------
const LUT = (() => {
  // a perceptual dark-to-bright scale (magma-like), 256 entries
  const stops = [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]];
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = (i / 255) * (stops.length - 1);
    const k = Math.min(Math.floor(x), stops.length - 2);
    const f = x - k;
    for (let c = 0; c < 3; c++) lut[i * 3 + c] = stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f;
  }
  return lut;
})();

function specFeed() {
  // every display frame whose samples have all arrived (centred as librosa: frame j is around sample j*hop)
  const lm = state.logmel;
  const half = Math.floor(lm.nFft / 2);
  while (state.specFrame * lm.hop - half + lm.nFft <= state.display.total) {
    const j = state.specFrame++;
    const frame = state.display.slice(j * lm.hop - half, lm.nFft);
    state.specCols.push({ t: (j * lm.hop) / lm.sr, db: lm.frameDb(frame) });
  }
  const keep = Math.ceil((HISTORY_S * lm.sr) / lm.hop) + 2;
  if (state.specCols.length > keep) state.specCols.splice(0, state.specCols.length - keep);
}

let drawPending = false;
function requestDraw() {
  if (drawPending) return;
  drawPending = true;
  requestAnimationFrame(() => {
    drawPending = false;
    drawSpectrogram();
    drawTimeline();
  });
}

function drawSpectrogram() {
  const lm = state.logmel;
  const canvas = $("spec");
  const g = canvas.getContext("2d");
  const now = state.total / rate();
  const cols = Math.ceil((HISTORY_S * lm.sr) / lm.hop);
  const img = g.createImageData(cols, lm.nMels);
  let peak = -Infinity;
  for (const c of state.specCols) for (const v of c.db) peak = Math.max(peak, v);
  const top = lm.topDb || 80;
  for (const c of state.specCols) {
    const x = Math.round(cols - 1 - (now - c.t) * (lm.sr / lm.hop));
    if (x < 0 || x >= cols) continue;
    for (let m = 0; m < lm.nMels; m++) {
      const v = Math.max(0, Math.min(1, (c.db[m] - (peak - top)) / top));
      const k = Math.round(v * 255) * 3;
      const o = ((lm.nMels - 1 - m) * cols + x) * 4;
      img.data[o] = LUT[k]; img.data[o + 1] = LUT[k + 1]; img.data[o + 2] = LUT[k + 2]; img.data[o + 3] = 255;
    }
  }
  const off = new OffscreenCanvas(cols, lm.nMels);
  off.getContext("2d").putImageData(img, 0, 0);
  g.fillStyle = "#000";
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.imageSmoothingEnabled = false;
  g.drawImage(off, 0, 0, canvas.width, canvas.height);
}

function drawTimeline() {
  if (state.args.mode === "spectrogram") return;
  const canvas = $("timeline");
  const g = canvas.getContext("2d");
  const w = canvas.width;
  const now = state.total / rate();
  g.clearRect(0, 0, w, canvas.height);
  const step = state.args.live_hop_s;
  g.font = "11px sans-serif";
  for (const r of state.windows) {
    if (r.skipped) continue;
    const x0 = w - ((now - r.start) / HISTORY_S) * w;
    const x1 = w - ((now - r.start - step) / HISTORY_S) * w;
    if (x1 < 0) continue;
    g.fillStyle = r.unknown ? "#9e9e9e" : COLORS[r.top % COLORS.length];
    g.fillRect(x0, 0, Math.max(1, x1 - x0), canvas.height);
  }
  // the label at each change, on the same time axis as the spectrogram
  let prev = null;
  g.fillStyle = "#fff";
  for (const r of state.windows) {
    const label = labelOf(r);
    if (label !== prev) {
      const x0 = w - ((now - r.start) / HISTORY_S) * w;
      if (x0 >= 0) g.fillText(label, x0 + 2, 18);
    }
    prev = label;
  }
}

// --- audio capture -------------------------------------------------------------------------------------------
async function openMicrophone() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new UserError("This page cannot reach a microphone: browsers allow it only on https:// pages and on "
      + "localhost. Open the app through https:// (see the README's note on serving a class) or on this computer.");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    });
  } catch (exc) {
    const name = exc && exc.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      throw new UserError("The microphone was blocked. Allow it for this site (the icon in the address bar), "
        + "then press Start again.");
    }
    if (name === "NotFoundError" || name === "OverconstrainedError") {
      throw new UserError("No microphone was found. Plug one in (or pick one in the system's sound settings), "
        + "then press Start again.");
    }
    if (name === "NotReadableError" || name === "AbortError") {
      throw new UserError("The microphone could not be opened: another program may be using it. Close it, "
        + "then press Start again.");
    }
    throw new UserError(`The microphone could not be opened (${name || exc}).`);
  }
}

class UserError extends Error {}

async function loadModel() {
  const a = state.args;
  if (a.mode !== "classify") return;
  if (state.model && state.modelKey === a.model_url) return;
  setStatus("Loading the model in the browser…");
  try {
    const ort = await import("./vendor/ort.wasm.bundle.min.js");
    ort.env.wasm.numThreads = 1; // single-threaded: no SharedArrayBuffer, no cross-origin isolation needed
    ort.env.wasm.wasmPaths = { wasm: new URL("vendor/ort-wasm-simd-threaded.wasm", location.href).href };
    const resp = await fetch(a.model_url);
    if (!resp.ok) throw new Error(`HTTP ${resp.status} for the model file`);
    const bytes = new Uint8Array(await resp.arrayBuffer());
    state.model = await Model.create(ort, bytes, a.spec);
    state.modelKey = a.model_url;
  } catch (exc) {
    state.model = null;
    throw new UserError(`The model could not be loaded in the browser (${exc.message || exc}). `
      + "Classify a recorded clip instead, or reload the page.");
  }
}

async function start() {
  if (state.running) return;
  showError("");
  $("start").disabled = true;
  $("stop").disabled = false;
  state.running = true;
  try {
    await loadModel();
    if (!state.running) return; // Stop pressed while loading
    setStatus("Waiting for the microphone…");
    const stream = await openMicrophone();
    if (!state.running) { stream.getTracks().forEach((t) => t.stop()); return; }
    state.stream = stream;
    const sr = rate();
    let ctx;
    try {
      ctx = new AudioContext({ sampleRate: sr }); // the browser resamples the microphone to the model's rate
    } catch {
      ctx = new AudioContext();
    }
    state.ctx = ctx;
    state.resampler = ctx.sampleRate === sr ? null : new StreamResampler(ctx.sampleRate, sr);
    await ctx.audioWorklet.addModule(new URL("worklet.js", location.href).href);
    const source = ctx.createMediaStreamSource(stream);
    const node = new AudioWorkletNode(ctx, "audioclf-capture", { processorOptions: { chunk: 1024 } });
    node.port.onmessage = (ev) => onAudio(ev.data);
    source.connect(node);
    state.node = node;
    state.source = source;
    resetStream();
    stream.getAudioTracks().forEach((t) => { t.onended = () => fail("The microphone was disconnected."); });
    if (ctx.state === "suspended") await ctx.resume();
    setStatus(statusListening());
  } catch (exc) {
    fail(exc instanceof UserError ? exc.message : `Listening could not start (${exc.message || exc}).`);
  }
}

function statusListening() {
  const m = state.args.mode;
  if (m === "spectrogram") return "Listening…";
  if (m === "server") return "Listening (classified on the server)…";
  return "Listening (classified in this browser)…";
}

function resetStream() {
  const a = state.args;
  const sr = rate();
  const d = a.display;
  state.logmel = new LogMel({ sr, nFft: d.n_fft, hop: d.hop, nMels: d.n_mels, fmin: d.fmin, fmax: d.fmax, topDb: d.top_db });
  state.display = new SampleBuffer(Math.round((HISTORY_S + 2) * sr) + d.n_fft);
  state.kept = new SampleBuffer(Math.round(a.keep_s * sr));
  state.specCols = [];
  state.specFrame = 0;
  state.total = 0;
  state.arrivals = [];
  state.windows = [];
  state.skipped = 0;
  state.nextChunkAt = Math.round(a.chunk_s * sr);
  state.classifier = a.mode === "classify"
    ? new LiveClassifier(state.model, a.spec, { liveHop: a.live_hop, peakSeconds: a.peak_s, keepSeconds: a.keep_s })
    : null;
}

function onAudio(chunk) {
  if (!state.running || state.paused) return;
  const x = state.resampler ? state.resampler.push(chunk) : chunk;
  if (!x.length) return;
  state.total += x.length;
  state.arrivals.push({ total: state.total, t: performance.now() });
  if (state.arrivals.length > 4000) state.arrivals.splice(0, 1000);
  state.display.push(x);
  state.kept.push(x);
  if (state.classifier) state.classifier.buffer.push(x);
  specFeed();
  requestDraw();
  if (state.args.mode === "classify") pump();
  else if (state.args.mode === "server") sendChunk();
}

/** When the sample with absolute index i reached the page (performance.now() ms). */
function arrivalOf(i) {
  for (const a of state.arrivals) if (a.total > i) return a.t;
  return performance.now();
}

async function pump() {
  if (state.busy) return;
  state.busy = true;
  const c = state.classifier;
  try {
    while (state.running && !state.paused && c === state.classifier && c.ready(c.next)) {
      // far behind (a slow computer): jump to the newest complete window, so the bars stay current
      let latest = c.next;
      while (c.ready(latest + 1)) latest++;
      for (; c.next < latest - 2; c.next++) {
        state.windows.push({ w: c.next, start: c.times(c.next)[0], skipped: true });
        state.skipped++;
      }
      const w = c.next++;
      const tReady = arrivalOf(c.span(w)[1] - 1);
      const res = await c.classify(w);
      if (c !== state.classifier) break;
      showBars(res);
      addLog(res);
      res.tReady = tReady;
      res.tShown = performance.now();
      state.classified++;
      state.windows.push(res);
      if (state.windows.length > 2000) state.windows.splice(0, 500);
      requestDraw();
    }
  } catch (exc) {
    fail(`The model failed on a window (${exc.message || exc}).`);
  } finally {
    state.busy = false;
  }
}

// --- server fallback -----------------------------------------------------------------------------------------
function sendChunk() {
  const a = state.args;
  const sr = rate();
  if (state.total < state.nextChunkAt) return;
  const end = state.nextChunkAt;
  state.nextChunkAt += Math.round(a.chunk_s * sr);
  const len = Math.round(a.chunk_len_s * sr);
  const start = Math.max(0, end - len);
  const wav = wavBytes(state.kept.slice(start, end - start), sr);
  const seq = state.sentChunks++;
  setValue({ event: "chunk", sid: state.sid, seq, start: start / sr, wav: base64(wav), stops: state.stops });
}

function onResults(results) {
  for (const r of results || []) {
    if (r.sid !== state.sid || state.results.has(r.seq)) continue;
    state.results.set(r.seq, r);
    if (r.error) { showNote(r.error); continue; }
    const res = { start: r.start, probs: r.probs, top: r.top, unknown: r.unknown, verdict: r.verdict || {} };
    showBars(res);
    addLog(res);
    res.tShown = performance.now();
    state.windows.push(res);
  }
  requestDraw();
}

// --- stop, pause, errors -------------------------------------------------------------------------------------
function release() {
  try { if (state.source) state.source.disconnect(); } catch { /* already gone */ }
  try { if (state.node) state.node.port.onmessage = null; } catch { /* already gone */ }
  if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
  if (state.ctx) state.ctx.close().catch(() => {});
  Object.assign(state, { stream: null, ctx: null, node: null, source: null });
}

function stop() {
  const was = state.running;
  state.running = false;
  state.paused = false;
  release();
  $("start").disabled = false;
  $("stop").disabled = true;
  if (!was) return;
  setStatus("Stopped. Press Start to listen again.");
  if (state.kept && state.kept.length) {
    state.stops++;
    const sr = rate();
    const seconds = state.kept.length / sr;
    const wav = wavBytes(state.kept.slice(state.kept.offset, state.kept.length), sr);
    setValue({ event: "stopped", sid: state.sid, stops: state.stops, seconds, wav: base64(wav), log: state.log,
      windows: state.windows.filter((r) => !r.skipped).length, skipped: state.skipped });
  }
}

function fail(msg) {
  showError(msg);
  state.running = false;
  state.paused = false;
  release();
  $("start").disabled = false;
  $("stop").disabled = true;
  setStatus("Not listening.");
}

document.addEventListener("visibilitychange", () => {
  if (!state.running) return;
  if (document.hidden) {
    state.paused = true;
    if (state.ctx) state.ctx.suspend().catch(() => {});
    setStatus("Paused: this tab is in the background. Come back to it to go on listening.");
    showNote("Listening paused while the tab was in the background; it goes on when you come back.");
    addMark("paused: tab in the background");
  } else if (state.paused) {
    state.paused = false;
    resetStream(); // a gap in the sound: windows start again from here, as a new recording
    if (state.ctx) state.ctx.resume().catch(() => {});
    setStatus(statusListening());
  }
});

$("start").addEventListener("click", () => { start(); });
$("stop").addEventListener("click", () => { stop(); });

// --- render messages from Python -----------------------------------------------------------------------------
window.addEventListener("message", (ev) => {
  const data = ev.data || {};
  if (data.type !== "streamlit:render") return;
  const first = state.args == null;
  const prevModel = state.args && state.args.model_url;
  state.args = data.args;
  if (first || prevModel !== state.args.model_url) {
    if (state.running) stop();
    buildBars();
    const w = $("spec").width;
    $("spec").width = w;
    $("axis-left").textContent = `-${HISTORY_S} s`;
    showNote(state.args.note || "");
    if (state.args.error) {
      showError(state.args.error);
      $("start").disabled = true;
    }
  }
  if (state.args.mode === "server") onResults(state.args.results);
  setHeight();
});

send("streamlit:componentReady", { apiVersion: 1 });
setHeight();
