// 16-bit PCM WAV bytes of mono float samples, and base64 for the way back to Python.

export function wavBytes(samples, sr) {
  const n = samples.length;
  const buf = new ArrayBuffer(44 + 2 * n);
  const v = new DataView(buf);
  const text = (o, s) => { for (let i = 0; i < s.length; i++) v.setUint8(o + i, s.charCodeAt(i)); };
  text(0, "RIFF"); v.setUint32(4, 36 + 2 * n, true); text(8, "WAVE"); text(12, "fmt ");
  v.setUint32(16, 16, true); v.setUint16(20, 1, true); v.setUint16(22, 1, true); v.setUint32(24, sr, true);
  v.setUint32(28, 2 * sr, true); v.setUint16(32, 2, true); v.setUint16(34, 16, true); text(36, "data");
  v.setUint32(40, 2 * n, true);
  for (let i = 0; i < n; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    v.setInt16(44 + 2 * i, Math.round(s < 0 ? s * 32768 : s * 32767), true);
  }
  return new Uint8Array(buf);
}

export function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** A linear-interpolation resampler for a stream, used only when the browser cannot open an AudioContext at
 * the model's rate (Chrome and Firefox can, and resample the microphone themselves). */
export class StreamResampler {
  constructor(from, to) {
    this.step = from / to;
    this.pos = 0; // position of the next output sample in input samples, relative to `prev`
    this.prev = 0;
  }

  push(x) {
    const out = [];
    // input sample -1 is this.prev, samples 0..n-1 are x
    while (this.pos < x.length - 1) {
      const i = Math.floor(this.pos);
      const f = this.pos - i;
      const a = i < 0 ? this.prev : x[i];
      const b = x[i + 1];
      out.push(a + (b - a) * f);
      this.pos += this.step;
    }
    this.pos -= x.length;
    this.prev = x[x.length - 1];
    return Float32Array.from(out);
  }
}
