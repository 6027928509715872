// A stream of samples at the model's rate, cut into the same frames and windows as `predict` cuts a file.
//
// Sample 0 is the first sample heard after Start. A window's frames are the frames `predict` would cut from
// a recording of the stream (centred frames see zeros before sample 0, as librosa's centring does), so the
// live windows at predict's starts see exactly predict's frames. The live hop is predict's hop divided by a
// whole number `m` (labels of the Listen component: `live_hop`), so every m-th live window is one of
// predict's windows; the ones between update the bars at least twice a second.
//
// Level policy (documented in the README): a live stream has no "whole clip" to scale to full-scale peak, so
// each window is scaled by the peak of the last `peakSeconds` (10 s) of samples up to the window's end, and
// its decibel floor (`clip_peak`, top_db below the clip's peak) is the highest window peak of those 10 s.
// A recording whose loudness holds steady for 10 s is thus scaled as `predict` scales it.

// A model whose pipeline trims each take to its sound (labels.json `trim`, the speech backbone's default) hears
// every live window as a clip: the window's samples are trimmed to the word in them, scaled to their own peak
// and classified as `predict` classifies a recording of that window alone (classifyClip). A word anywhere
// inside the window thus reaches the model as the trained, trimmed takes did, whatever its position.

import { NO_PEAK, SILENT_PEAK, classifyClip, judge, meanEmbedding } from "./frontend.js";

/** Live windows of an export spec: {unitSamples, hopUnits, lengthUnits, lastSample(w), ...}. */
export function liveGeometry(spec, liveHop) {
  const fe = spec.frontend;
  if (fe.kind === "waveform") {
    return { kind: "waveform", hop: liveHop, length: spec.window_samples, unitS: 1 / spec.sample_rate };
  }
  if (fe.kind === "frames") {
    return { kind: "frames", hop: liveHop, length: fe.window_frames, unitS: fe.hop / spec.sample_rate };
  }
  return { kind: "blocks", hop: liveHop, length: fe.window_frames, unitS: fe.hop_samples / spec.sample_rate };
}

/** Samples kept in memory: growing array with an absolute index, old samples dropped in halves. */
export class SampleBuffer {
  constructor(capacity) {
    this.data = new Float32Array(capacity);
    this.offset = 0; // absolute index of data[0]
    this.length = 0; // samples held
  }

  get total() {
    return this.offset + this.length;
  }

  push(x) {
    if (this.length + x.length > this.data.length) {
      const drop = Math.max(this.length + x.length - this.data.length, this.data.length >> 1);
      this.data.copyWithin(0, drop, this.length);
      this.offset += drop;
      this.length -= drop;
    }
    this.data.set(x, this.length);
    this.length += x.length;
  }

  /** Samples [start, start + n) as a new array; zeros before sample 0 (or before what is held). */
  slice(start, n) {
    const out = new Float32Array(n);
    const a = Math.max(start, this.offset);
    const b = Math.min(start + n, this.total);
    if (b > a) out.set(this.data.subarray(a - this.offset, b - this.offset), a - start);
    return out;
  }

  /** max |y| over [start, end) of what is held. */
  peak(start, end) {
    const a = Math.max(start, this.offset) - this.offset;
    const b = Math.min(end, this.total) - this.offset;
    let p = 0;
    for (let i = a; i < b; i++) {
      const v = Math.abs(this.data[i]);
      if (v > p) p = v;
    }
    return p;
  }
}

/** The live classifier: push samples, then `next()` runs each window that is complete, in order. */
export class LiveClassifier {
  // `fixedLevel` ({peak, clipPeak}): scale every window by 1/peak and floor it at clipPeak (dB, already scaled)
  // instead of the live policy: a recording's own level, for checking the windows against classify.py.
  constructor(model, spec, { liveHop, peakSeconds = 10, keepSeconds = 30, fixedLevel = null }) {
    this.fixedLevel = fixedLevel;
    this.model = model;
    this.spec = spec;
    this.fe = spec.frontend;
    this.sr = spec.sample_rate;
    this.geo = liveGeometry(spec, liveHop);
    this.peakSamples = Math.round(peakSeconds * this.sr);
    const windowSpan = spec.window_samples + (this.fe.n_fft || 0);
    this.buffer = new SampleBuffer(Math.round((keepSeconds + peakSeconds + 5) * this.sr) + 2 * windowSpan);
    this.next = 0; // index of the next live window
    this.peaks = []; // {end, raw: Float64Array(floors)}: window dB peaks before level scaling
  }

  /** First and one-past-last absolute sample a live window reads. */
  span(w) {
    const fe = this.fe;
    const s = w * this.geo.hop;
    if (this.geo.kind === "waveform") return [s, s + this.geo.length];
    if (this.geo.kind === "frames") {
      const half = Math.floor(fe.n_fft / 2);
      const last = s + fe.window_frames - 1;
      return [s * fe.hop - half, last * fe.hop - half + fe.n_fft];
    }
    const off = fe.center ? Math.floor(fe.n_fft / 2) : 0;
    const first = s * fe.block_hop;
    const last = (s + fe.window_frames - 1) * fe.block_hop + fe.block - 1;
    return [first * fe.hop - off, last * fe.hop - off + fe.n_fft];
  }

  /** Whether window w's last sample has arrived. */
  ready(w) {
    return this.span(w)[1] <= this.buffer.total;
  }

  /** The window's seconds since Start: [start, end) of the span `predict` reports for it. */
  times(w) {
    const start = w * this.geo.hop * this.geo.unitS;
    return [start, start + this.spec.window_samples / this.sr];
  }

  _frames(start, count, scale) {
    const nFft = this.fe.n_fft;
    const data = new Float32Array(count * nFft);
    const span = this.buffer.slice(start, (count - 1) * this.fe.hop + nFft);
    for (let j = 0; j < count; j++) {
      for (let i = 0; i < nFft; i++) data[j * nFft + i] = span[j * this.fe.hop + i] * scale;
    }
    return data;
  }

  _feeds(w, scale) {
    const fe = this.fe;
    const [a] = this.span(w);
    if (this.geo.kind === "waveform") {
      const x = this.buffer.slice(a, this.geo.length);
      for (let i = 0; i < x.length; i++) x[i] *= scale;
      return { audio: { data: x, dims: [1, x.length] } };
    }
    if (this.geo.kind === "frames") {
      return { frames: { data: this._frames(a, fe.window_frames, scale), dims: [1, fe.window_frames, fe.n_fft] } };
    }
    const k = fe.window_frames;
    const per = fe.block * fe.n_fft;
    const data = new Float32Array(k * per);
    for (let j = 0; j < k; j++) {
      const first = (w * this.geo.hop + j) * fe.block_hop;
      const off = fe.center ? Math.floor(fe.n_fft / 2) : 0;
      data.set(this._frames(first * fe.hop - off, fe.block, scale), j * per);
    }
    return { frames: { data, dims: [1, k, fe.block, fe.n_fft] },
      slot_mask: { data: new Float32Array(k).fill(1), dims: [1, k] },
      slot_fill: { data: new Float32Array(1), dims: [1, 1] } };
  }

  /** The samples of window w as a clip of its own: [first sample, count] (models that trim). */
  clipOf(w) {
    return [w * this.geo.hop * Math.round(this.geo.unitS * this.sr), this.spec.window_samples];
  }

  async _classifyAsClip(w) {
    const [a, n] = this.clipOf(w);
    const res = await classifyClip(this.model, this.spec, this.buffer.slice(a, n));
    const probs = Array.from({ length: this.spec.classes.length }, (_, c) =>
      res.probs.reduce((s, row) => s + row[c], 0) / res.probs.length);
    return { probs, embedding: res.embedding, sequences: res.sequences };
  }

  /** Run window w: {w, start, end, probs, top, label index, verdict, embedding}. */
  async classify(w) {
    if (this.spec.trim) {
      const { probs, embedding, sequences } = await this._classifyAsClip(w);
      return this._result(w, probs, embedding, sequences);
    }
    const [, end] = this.span(w);
    const from = Math.max(0, end - this.peakSamples);
    const peak = this.fixedLevel ? this.fixedLevel.peak : this.buffer.peak(from, end);
    const scale = this.spec.level === "peak" && peak > SILENT_PEAK ? 1 / peak : 1;
    const feeds = this._feeds(w, scale);
    const floors = this.fe.floors || 0;
    let out;
    if (floors && this.fixedLevel) {
      feeds.clip_peak = { data: Float32Array.from(this.fixedLevel.clipPeak), dims: [1, floors] };
      out = await this.model.run(feeds);
    } else if (floors) {
      const shift = 20 * Math.log10(scale); // decibels of power move by 20 log10 of the sample scale
      this.peaks = this.peaks.filter((p) => p.end > end - this.peakSamples);
      const prev = new Float64Array(floors).fill(-Infinity);
      for (const p of this.peaks) for (let f = 0; f < floors; f++) prev[f] = Math.max(prev[f], p.raw[f]);
      const clip = Float32Array.from(prev, (v) => (Number.isFinite(v) ? v + shift : NO_PEAK));
      feeds.clip_peak = { data: clip, dims: [1, floors] };
      out = await this.model.run(feeds);
      const own = Float64Array.from(out.peak.data.slice(0, floors), (v) => v - shift);
      if (own.some((v, f) => v > prev[f])) { // louder than the 10 s before: its own peak floors it
        feeds.clip_peak = { data: Float32Array.from(own, (v, f) => Math.max(v, prev[f]) + shift), dims: [1, floors] };
        out = await this.model.run(feeds);
      }
      this.peaks.push({ end, raw: own });
    } else {
      out = await this.model.run(feeds);
    }
    const probs = Array.from(out.probs.data.slice(0, this.spec.classes.length));
    const embedding = out.embedding ? meanEmbedding([out.embedding]) : null;
    return this._result(w, probs, embedding, out.embedding ? [out.embedding] : null);
  }

  _result(w, probs, embedding, sequences = null) {
    const verdict = judge(this.spec.open_set, probs, embedding, sequences);
    let top = 0;
    probs.forEach((p, i) => { if (p > probs[top]) top = i; });
    const [start, stop] = this.times(w);
    return { w, start, end: stop, probs, top, verdict, unknown: Boolean(verdict.unknown) };
  }
}
