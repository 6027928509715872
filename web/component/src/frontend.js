// What an exported model needs outside its graph, in JavaScript: audioclf.engine.export_runner's trim to the
// sound, framing, windowing, peak scaling and open-set verdict, line for line, and the model call through onnxruntime-web.
//
// `classifyClip` runs a whole clip as `predict` (and classify.py) does; it is what web/test/classify_check.mjs
// checks against export_runner under node. The live view (live.js) cuts the same frames and windows from a
// stream.

export const SILENT_PEAK = 1e-8; // as audioclf.engine.pipeline: below -160 dBFS a clip is left as it is
export const NO_PEAK = -1e30; // a clip peak that floors nothing

/** Start of every window over n units: every hop, one more for a tail (export_runner.window_starts). */
export function windowStarts(n, length, hop) {
  if (n <= length) return [0];
  const count = Math.ceil((n - length) / hop) + 1;
  return Array.from({ length: count }, (_, i) => i * hop);
}

/** Which unit fills each slot of each window: {starts, index[w][slot], kept[w][slot], padded[w]}. */
export function windowIndex(n, length, hop, pad) {
  const starts = windowStarts(n, length, hop);
  const index = [];
  const kept = [];
  const padded = [];
  for (const s of starts) {
    const idx = new Int32Array(length);
    const keep = new Uint8Array(length);
    let inside = true;
    for (let j = 0; j < length; j++) {
      const u = s + j;
      if (u < n) {
        idx[j] = u;
        keep[j] = 1;
      } else {
        inside = false;
        idx[j] = pad === "repeat" ? u % n : 0;
        keep[j] = pad === "constant" ? 0 : 1;
      }
    }
    index.push(idx);
    kept.push(keep);
    padded.push(!inside);
  }
  return { starts, index, kept, padded };
}

/** max |y| */
export function absPeak(y) {
  let p = 0;
  for (let i = 0; i < y.length; i++) {
    const a = Math.abs(y[i]);
    if (a > p) p = a;
  }
  return p;
}

/** The clip scaled to full-scale peak (bundle level 'peak'); a silent clip is left as it is. */
export function peakLevel(y) {
  const peak = absPeak(y);
  if (!(peak > SILENT_PEAK)) return y;
  const out = new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i] / peak;
  return out;
}

/** numpy's percentile (linear interpolation) of an array of numbers. */
function percentile(values, q) {
  const v = Float64Array.from(values).sort();
  const pos = ((v.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, v.length - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/** [start, end) samples of the take's sound (export_runner.trim_bounds; `trim` of labels.json). */
export function trimBounds(y, sr, t) {
  const n = y.length;
  const f = Math.max(1, Math.round(t.frame_s * sr));
  const count = Math.ceil(n / f);
  if (count === 0) return [0, 0];
  const rms = new Float64Array(count);
  for (let j = 0; j < count; j++) {
    let sum = 0;
    for (let i = j * f; i < Math.min(n, (j + 1) * f); i++) sum += y[i] * y[i];
    rms[j] = Math.sqrt(sum / f);
  }
  let top = 0;
  for (const r of rms) if (r > top) top = r;
  if (!(top > 0)) return [0, n];
  const floor = percentile(rms, t.floor_percentile);
  const threshold = Math.min(floor * 10 ** (t.above_floor_db / 20), top * 10 ** (-t.within_peak_db / 20));
  let first = -1;
  let last = -1;
  for (let j = 0; j < count; j++) {
    if (rms[j] > threshold) {
      if (first < 0) first = j;
      last = j;
    }
  }
  if (first < 0) return [0, n];
  const pad = Math.round(t.pad_s * sr);
  return [Math.max(0, first * f - pad), Math.min(n, (last + 1) * f + pad)];
}

/** Frames of nFft samples every hop [n_frames][nFft]; centred as librosa (zero padding). */
export function frameSignal(x, nFft, hop, center) {
  let y = x;
  if (center) {
    const half = Math.floor(nFft / 2);
    y = new Float32Array(x.length + 2 * half);
    y.set(x, half);
  }
  if (y.length < nFft) {
    const z = new Float32Array(nFft);
    z.set(y);
    y = z;
  }
  const n = Math.floor((y.length - nFft) / hop) + 1;
  const frames = [];
  for (let j = 0; j < n; j++) frames.push(y.subarray(j * hop, j * hop + nFft));
  return frames;
}

/** Pack rows of Float32Arrays into one Float32Array. */
export function pack(rows, width) {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(r, i * width));
  return out;
}

/** Cosine distance from a vector to the nearest row of `rows`, in [0, 2] (export_runner._nearest_cosine). */
function nearestCosine(e, rows) {
  const norm = (v) => Math.max(Math.sqrt(v.reduce((s, a) => s + a * a, 0)), 1e-12);
  const en = norm(e);
  let best = -Infinity;
  for (const c of rows) {
    const cn = norm(c);
    let dot = 0;
    for (let i = 0; i < c.length; i++) dot += (e[i] / en) * (c[i] / cn);
    best = Math.max(best, dot);
  }
  return Math.min(Math.max(1 - best, 0), 2);
}

/** Standard deviation of `values` (numpy's std, ddof 0), at least 1e-6: the scale of the ranks' tails. */
function spread(values) {
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) * (v - mean), 0) / values.length;
  return Math.max(Math.sqrt(variance), 1e-6);
}

/** How many of the sorted `values` are <= x (numpy's searchsorted, side "right"). */
function countAtMost(values, x) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where x falls among the sorted `values`, as a fractional index: numpy's interp(x, values, 0..n-1). */
function interpolatedIndex(values, x) {
  const n = values.length;
  const j = countAtMost(values, x) - 1;
  if (j < 0) return 0;
  if (j >= n - 1) return n - 1;
  return j + (x - values[j]) / (values[j + 1] - values[j]);
}

/** A distance's rank among the sorted references (export_runner.far_rank): (1 + how many were at least this far)
 * / (m + 1), interpolated; beyond the farthest 2 exp(-excess / their std) / (m + 1). */
function farRank(rd, d) {
  const m = rd.length;
  return d > rd[m - 1]
    ? (2 * Math.exp(-(d - rd[m - 1]) / spread(rd))) / (m + 1)
    : (1 + m - interpolatedIndex(rd, d)) / (m + 1);
}

/** The smallest, over a clip's inputs, of the cosine distance from an input's K embeddings laid end to end to the
 * nearest class's mean sequence (export_runner.sequence_distances). `sequences`: a list of {data, dims} outputs. */
export function sequenceDistance(sequences, centroids) {
  let best = Infinity;
  for (const e of sequences) {
    const dims = e.dims;
    const width = e.data.length / dims[0]; // K * dim per input
    for (let b = 0; b < dims[0]; b++) {
      best = Math.min(best, nearestCosine(e.data.subarray(b * width, (b + 1) * width), centroids));
    }
  }
  return best;
}

/** "None of these" as audioclf.engine.openset.OpenSetCalibration.judge (export_runner.judge); `sequences`: the clip's
 * embedding outputs ({data, dims}, each (inputs, K, dim)), for a calibration with sequence centroids. */
export function judge(openSet, probs, embedding, sequences = null) {
  if (!openSet) return {};
  let top = -Infinity;
  for (const p of probs) top = Math.max(top, p);
  const out = { confidence: top, confidence_threshold: openSet.confidence };
  let unknown = top < openSet.confidence;
  if (openSet.centroids != null && openSet.distance != null && embedding != null) {
    const d = nearestCosine(embedding, openSet.centroids);
    Object.assign(out, { distance: d, distance_threshold: openSet.distance });
    if (openSet.joint == null) {
      unknown = unknown || d > openSet.distance;
    } else {
      // confidence and distance judged together: each a rank among the known clips the model got right
      const rc = openSet.reference_confidences;
      const rd = openSet.reference_distances;
      // counts interpolated between reference values; beyond them 2 exp(-excess / their std) / (n + 1)
      const n = rc.length;
      const cRank = top < rc[0]
        ? (2 * Math.exp(-(rc[0] - top) / spread(rc))) / (n + 1)
        : (1 + interpolatedIndex(rc, top) + 1) / (n + 1);
      const dRank = farRank(rd, d);
      let product = cRank * dRank;
      Object.assign(out, { confidence_rank: cRank, distance_rank: dRank });
      if (openSet.sequence_centroids != null && sequences != null) { // the third rank: window by window
        const s = sequenceDistance(sequences, openSet.sequence_centroids);
        const sRank = farRank(openSet.reference_sequences, s);
        product *= sRank;
        Object.assign(out, {
          sequence_distance: s, sequence_distance_threshold: openSet.sequence_distance, sequence_rank: sRank,
        });
      }
      Object.assign(out, { joint: product, joint_threshold: openSet.joint });
      unknown = product < openSet.joint; // the product decides alone (its edges are the thresholds)
    }
  }
  if (openSet.scaled_distance != null && embedding != null) {
    // each dimension centred and scaled by the training clips, then the nearest scaled centroid
    const z = embedding.map((v, i) => (v - openSet.center[i]) / openSet.scale[i]);
    const d = nearestCosine(z, openSet.scaled_centroids);
    Object.assign(out, { scaled_distance: d, scaled_distance_threshold: openSet.scaled_distance });
    unknown = unknown || d > openSet.scaled_distance;
  }
  out.unknown = unknown;
  return out;
}

/** The exported graph behind one `run(feeds) -> {name: {data, dims}}` call in onnxruntime-web. */
export class Model {
  constructor(ort, session, spec) {
    this.ort = ort;
    this.session = session;
    this.spec = spec;
    this.inputs = session.inputNames;
  }

  static async create(ort, bytesOrUrl, spec) {
    const session = await ort.InferenceSession.create(bytesOrUrl, { executionProviders: ["wasm"] });
    return new Model(ort, session, spec);
  }

  /** feeds: name -> {data: Float32Array, dims: [...]}; returns name -> {data, dims}. */
  async run(feeds) {
    const t = {};
    for (const [k, v] of Object.entries(feeds)) {
      if (this.inputs.includes(k)) t[k] = new this.ort.Tensor("float32", v.data, v.dims);
    }
    const res = await this.session.run(t);
    const out = {};
    for (const [k, v] of Object.entries(res)) out[k] = { data: v.data, dims: v.dims };
    return out;
  }
}

function rowsOf(out, name) {
  const { data, dims } = out[name];
  const width = dims.slice(1).reduce((a, b) => a * b, 1);
  const rows = [];
  for (let i = 0; i < dims[0]; i++) rows.push(Float32Array.from(data.subarray(i * width, (i + 1) * width)));
  return rows;
}

/** The first pass of export_runner._clip_peak: the peak of every decibel channel over all of a clip's units. */
async function clipPeak(model, units, unitShape, group, extra, floors) {
  const n = units.length;
  const rows = Math.ceil(n / group);
  const width = unitShape.reduce((a, b) => a * b, 1);
  const peak = new Float32Array(floors).fill(-Infinity);
  for (let r = 0; r < rows; r++) {
    const data = new Float32Array(group * width);
    for (let j = 0; j < group; j++) data.set(units[(r * group + j) % n], j * width);
    const feeds = { frames: { data, dims: [1, group, ...unitShape] },
      clip_peak: { data: new Float32Array(floors).fill(NO_PEAK), dims: [1, floors] }, ...extra };
    const out = await model.run(feeds);
    for (let f = 0; f < floors; f++) peak[f] = Math.max(peak[f], out.peak.data[f]);
  }
  return peak;
}

/** Window probabilities and times of one clip at the model's rate (export_runner.classify_samples). */
export async function classifyClip(model, spec, y0) {
  const fe = spec.frontend;
  const sr = spec.sample_rate;
  const duration = y0.length / sr;
  let offset = 0;
  let cut = y0;
  if (spec.trim) { // the pipeline's trim to the sound, before the level
    const [a, b] = trimBounds(y0, sr, spec.trim);
    [offset, cut] = [a, y0.subarray(a, b)];
  }
  const y = spec.level === "peak" ? peakLevel(cut) : cut;
  const span = y.length / sr; // what the windows cut: the trimmed clip
  const probs = [];
  const res = { duration, embedding: null, starts: [], ends: [], padded: [] };
  if (fe.kind === "waveform") {
    const length = spec.window_samples;
    const { starts, index, kept, padded } = windowIndex(y.length, length, spec.hop_samples, fe.pad);
    for (let w = 0; w < starts.length; w++) {
      const x = new Float32Array(length);
      for (let j = 0; j < length; j++) x[j] = kept[w][j] ? y[index[w][j]] : 0;
      const out = await model.run({ audio: { data: x, dims: [1, length] } });
      probs.push(rowsOf(out, "probs")[0]);
    }
    res.starts = starts.map((s) => s / sr);
    res.ends = starts.map((s) => Math.min((s + length) / sr, span));
    res.padded = padded;
  } else if (fe.kind === "frames") {
    const frames = frameSignal(y, fe.n_fft, fe.hop, true).slice(0, 1 + Math.floor(y.length / fe.hop));
    const n = frames.length;
    const length = fe.window_frames;
    const { starts, index, kept, padded } = windowIndex(n, length, fe.window_hop, fe.pad);
    let peak = null;
    if (fe.floors) peak = await clipPeak(model, frames, [fe.n_fft], length, {}, fe.floors);
    for (let w = 0; w < starts.length; w++) {
      const data = new Float32Array(length * fe.n_fft);
      for (let j = 0; j < length; j++) if (kept[w][j]) data.set(frames[index[w][j]], j * fe.n_fft);
      const feeds = { frames: { data, dims: [1, length, fe.n_fft] } };
      if (peak) feeds.clip_peak = { data: peak, dims: [1, fe.floors] };
      const out = await model.run(feeds);
      probs.push(rowsOf(out, "probs")[0]);
    }
    res.starts = starts.map((s) => (s * fe.hop) / sr);
    res.ends = starts.map((s) => Math.min(((s + length) * fe.hop) / sr, span));
    res.padded = padded;
  } else {
    await classifyBlocks(model, spec, fe, y, span, res, probs);
  }
  if (offset) { // trimmed: window times in the clip as read
    res.starts = res.starts.map((s) => s + offset / sr);
    res.ends = res.ends.map((e) => e + offset / sr);
  }
  res.probs = probs;
  return res;
}

/** Backbone frames of a signal, as export_runner._blocks cuts them: {frames, blocks (arrays of frame rows)}. */
export function backboneFrames(fe, y) {
  let frames = frameSignal(y, fe.n_fft, fe.hop, fe.center);
  if (fe.center) frames = frames.slice(0, 1 + Math.floor(y.length / fe.hop));
  return frames;
}

async function classifyBlocks(model, spec, fe, y0, duration, res, probs) {
  const sr = spec.sample_rate;
  const need = fe.need_samples;
  let y = y0;
  const short = y.length < need;
  if (short) {
    const z = new Float32Array(need);
    if (fe.pad === "constant") {
      z.set(y, Math.floor((need - y.length) / 2));
    } else {
      for (let i = 0; i < need; i++) z[i] = y[i % y.length];
    }
    y = z;
  }
  if (fe.peak_normalise) {
    const p = y.length ? absPeak(y) : 0;
    const d = p > 0 ? p : 1;
    const z = new Float32Array(y.length);
    for (let i = 0; i < y.length; i++) z[i] = y[i] / d;
    y = z;
  }
  if (fe.min_samples && y.length < fe.min_samples) {
    const z = new Float32Array(fe.min_samples);
    z.set(y, Math.floor((fe.min_samples - y.length) / 2));
    y = z;
  }
  const frames = backboneFrames(fe, y);
  const n = frames.length;
  const block = fe.block;
  const blocks = [];
  if (n < block) {
    const b = new Float32Array(block * fe.n_fft);
    frames.forEach((f, i) => b.set(f, i * fe.n_fft));
    blocks.push(b);
  } else {
    for (let s = 0; s + block <= n; s += fe.block_hop) blocks.push(pack(frames.slice(s, s + block), fe.n_fft));
  }
  const k = fe.window_frames;
  let { starts, index, kept, padded } = windowIndex(blocks.length, k, fe.window_hop, fe.pad);
  if (short) [starts, index, kept, padded] = [starts.slice(0, 1), index.slice(0, 1), kept.slice(0, 1), padded.slice(0, 1)];
  let peak = null;
  if (fe.floors) {
    const rows = Math.ceil(n / block);
    const units = [];
    for (let r = 0; r < rows; r++) {
      const b = new Float32Array(block * fe.n_fft);
      for (let j = 0; j < block; j++) b.set(frames[(r * block + j) % n], j * fe.n_fft);
      units.push(b);
    }
    const every = { slot_mask: { data: new Float32Array(k).fill(1), dims: [1, k] },
      slot_fill: { data: new Float32Array(1), dims: [1, 1] } };
    peak = await clipPeak(model, units, [block, fe.n_fft], k, every, fe.floors);
  }
  const run = async (w, fill) => {
    const data = new Float32Array(k * block * fe.n_fft);
    for (let j = 0; j < k; j++) data.set(blocks[index[w][j]], j * block * fe.n_fft);
    const feeds = { frames: { data, dims: [1, k, block, fe.n_fft] },
      slot_mask: { data: Float32Array.from(kept[w]), dims: [1, k] },
      slot_fill: { data: new Float32Array([fill]), dims: [1, 1] } };
    if (peak) feeds.clip_peak = { data: peak, dims: [1, 1] };
    return model.run(feeds);
  };
  let outs = [];
  for (let w = 0; w < starts.length; w++) outs.push(await run(w, 0));
  if (kept.some((row) => row.some((v) => !v))) { // 'constant': empty slots hold the clip's smallest embedding value
    let fill = Infinity;
    outs.forEach((o, w) => {
      const e = o.embedding;
      const width = e.data.length / k;
      for (let j = 0; j < k; j++) {
        if (!kept[w][j]) continue;
        for (let i = 0; i < width; i++) fill = Math.min(fill, e.data[j * width + i]);
      }
    });
    outs = [];
    for (let w = 0; w < starts.length; w++) outs.push(await run(w, fill));
  }
  for (const o of outs) probs.push(rowsOf(o, "probs")[0]);
  const hopS = fe.hop_samples / sr;
  if (short) {
    Object.assign(res, { starts: [0], ends: [duration], padded: [true] });
  } else {
    res.starts = starts.map((s) => s * hopS);
    res.ends = starts.map((s) => Math.min(s * hopS + fe.window_seconds, duration));
    res.padded = padded;
  }
  res.embedding = meanEmbedding(outs.map((o) => o.embedding));
  res.sequences = outs.map((o) => o.embedding); // each input's K embeddings, for the window-by-window distance
}

/** Mean over every axis but the last of a list of embedding outputs. */
export function meanEmbedding(list) {
  const width = list[0].dims[list[0].dims.length - 1];
  const sum = new Float64Array(width);
  let count = 0;
  for (const e of list) {
    for (let i = 0; i < e.data.length; i++) sum[i % width] += e.data[i];
    count += e.data.length / width;
  }
  return Array.from(sum, (v) => v / count);
}
