// The one log-mel of audioclf's browser side: librosa's melspectrogram + power_to_db, in float64.
//
// Used by the Listen view's scrolling spectrogram and Explore's live spectrogram; checked against librosa
// (tests/web/test_logmel.py runs web/test/logmel_check.mjs under node) within 1e-3 dB.
//
// As librosa 0.11 with audioclf's settings: a periodic Hann window of n_fft samples, frames every `hop`
// centred with n_fft // 2 zeros each side (pad_mode 'constant'), the power spectrum |rfft|^2, the Slaney mel
// filterbank with Slaney area normalisation (librosa.filters.mel's defaults, htk=False, norm='slaney'), and
// 10 log10(max(S, amin)) with ref 1, amin 1e-10, limited to top_db below the peak.

export const AMIN = 1e-10;

/** Periodic Hann window (scipy.signal.get_window('hann', n, fftbins=True)). */
export function hann(n) {
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
  return w;
}

function hzToMel(f) {
  // Slaney's scale: linear below 1 kHz, logarithmic above (librosa.hz_to_mel, htk=False)
  const fSp = 200.0 / 3;
  const minLogHz = 1000.0;
  const minLogMel = minLogHz / fSp;
  const logstep = Math.log(6.4) / 27.0;
  return f >= minLogHz ? minLogMel + Math.log(f / minLogHz) / logstep : f / fSp;
}

function melToHz(m) {
  const fSp = 200.0 / 3;
  const minLogHz = 1000.0;
  const minLogMel = minLogHz / fSp;
  const logstep = Math.log(6.4) / 27.0;
  return m >= minLogMel ? minLogHz * Math.exp(logstep * (m - minLogMel)) : fSp * m;
}

/** librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax) as nMels rows of 1 + nFft/2 weights (float32 like librosa). */
export function melFilterbank(sr, nFft, nMels, fmin = 0, fmax = null) {
  const top = fmax == null ? sr / 2 : fmax;
  const nBins = Math.floor(nFft / 2) + 1;
  const lo = hzToMel(fmin);
  const hi = hzToMel(top);
  const melF = new Float64Array(nMels + 2);
  for (let i = 0; i < nMels + 2; i++) melF[i] = melToHz(lo + ((hi - lo) * i) / (nMels + 1));
  const weights = [];
  for (let m = 0; m < nMels; m++) {
    const row = new Float32Array(nBins);
    const f0 = melF[m];
    const f1 = melF[m + 1];
    const f2 = melF[m + 2];
    const enorm = 2.0 / (f2 - f0);
    for (let k = 0; k < nBins; k++) {
      const f = (k * sr) / nFft;
      const lower = (f - f0) / (f1 - f0);
      const upper = (f2 - f) / (f2 - f1);
      row[k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
    weights.push(row);
  }
  return weights;
}

/** In-place iterative radix-2 FFT of (re, im), length a power of two. */
function fftRadix2(re, im) {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      let t = re[i]; re[i] = re[j]; re[j] = t;
      t = im[i]; im[i] = im[j]; im[j] = t;
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const half = len >> 1;
    for (let k = 0; k < half; k++) {
      const wr = Math.cos(ang * k);
      const wi = Math.sin(ang * k);
      for (let i = k; i < n; i += len) {
        const j = i + half;
        const xr = re[j] * wr - im[j] * wi;
        const xi = re[j] * wi + im[j] * wr;
        re[j] = re[i] - xr; im[j] = im[i] - xi;
        re[i] += xr; im[i] += xi;
      }
    }
  }
}

/** Power spectrum |rfft(frame * window)|^2 of one frame [1 + n/2 values]; any n (radix-2 fast, else a DFT). */
export function powerSpectrum(frame, window, out = null) {
  const n = window.length;
  const nBins = Math.floor(n / 2) + 1;
  const p = out || new Float64Array(nBins);
  if ((n & (n - 1)) === 0) {
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let i = 0; i < n; i++) re[i] = frame[i] * window[i];
    fftRadix2(re, im);
    for (let k = 0; k < nBins; k++) p[k] = re[k] * re[k] + im[k] * im[k];
    return p;
  }
  for (let k = 0; k < nBins; k++) {
    let r = 0;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const a = (2 * Math.PI * ((i * k) % n)) / n;
      const v = frame[i] * window[i];
      r += v * Math.cos(a);
      s -= v * Math.sin(a);
    }
    p[k] = r * r + s * s;
  }
  return p;
}

/** A log-mel front end: mel power or decibels of one frame of n_fft samples. */
export class LogMel {
  constructor({ sr, nFft, hop, nMels, fmin = 0, fmax = null, topDb = 80 }) {
    Object.assign(this, { sr, nFft, hop, nMels, fmin, fmax, topDb });
    this.window = hann(nFft);
    this.bank = melFilterbank(sr, nFft, nMels, fmin, fmax);
    this._power = new Float64Array(Math.floor(nFft / 2) + 1);
  }

  /** Mel power of one frame [nMels]. */
  melPower(frame) {
    const p = powerSpectrum(frame, this.window, this._power);
    const out = new Float64Array(this.nMels);
    for (let m = 0; m < this.nMels; m++) {
      const row = this.bank[m];
      let s = 0;
      for (let k = 0; k < row.length; k++) if (row[k] !== 0) s += row[k] * p[k];
      out[m] = s;
    }
    return out;
  }

  /** Decibels (ref 1, amin 1e-10) of one frame, before any top_db limit [nMels]. */
  frameDb(frame) {
    const mel = this.melPower(frame);
    for (let m = 0; m < mel.length; m++) mel[m] = 10 * Math.log10(Math.max(mel[m], AMIN));
    return mel;
  }

  /** Frames of a whole clip, centred as librosa: 1 + floor(len / hop) frames with n_fft/2 zeros each side. */
  clipFrames(y) {
    const half = Math.floor(this.nFft / 2);
    const n = 1 + Math.floor(y.length / this.hop);
    const frames = [];
    for (let j = 0; j < n; j++) frames.push(sliceZero(y, j * this.hop - half, this.nFft));
    return frames;
  }

  /** librosa.power_to_db(melspectrogram(y), ref=1, amin=1e-10, top_db) as rows of frames [frames][nMels]. */
  clipDb(y) {
    const rows = this.clipFrames(y).map((f) => this.frameDb(f));
    if (this.topDb != null) {
      let peak = -Infinity;
      for (const r of rows) for (const v of r) peak = Math.max(peak, v);
      for (const r of rows) for (let m = 0; m < r.length; m++) r[m] = Math.max(r[m], peak - this.topDb);
    }
    return rows;
  }
}

/** ``length`` samples of ``y`` from ``start`` (may be negative), zeros outside. */
export function sliceZero(y, start, length) {
  const out = new Float32Array(length);
  const a = Math.max(0, start);
  const b = Math.min(y.length, start + length);
  if (b > a) out.set(y.subarray(a, b), a - start);
  return out;
}
