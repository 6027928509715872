// node web/test/live_check.mjs EXPORT_DIR IN.f32 LIVE_HOP [LEVEL_JSON]
// Feeds mono float32 samples at the model's rate to web/component/src/live.js's LiveClassifier in chunks of
// 1024 samples, as the AudioWorklet does, runs every window as soon as it is complete, and prints
// [{w, start, end, probs}] as JSON, to compare with export_runner's windows at the same starts. LEVEL_JSON
// ({"peak": p, "clipPeak": [dB...]}) replaces the live level policy by the recording's own level.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import { Model } from "../component/src/frontend.js";
import { LiveClassifier } from "../component/src/live.js";

const [dir, inPath, liveHop, level] = process.argv.slice(2);
const spec = JSON.parse(readFileSync(join(dir, "labels.json"), "utf-8"));
const buf = readFileSync(inPath);
const y = Float32Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4));
ort.env.wasm.numThreads = 1;
const model = await Model.create(ort, new Uint8Array(readFileSync(join(dir, spec.model_file))), spec);
const live = new LiveClassifier(model, spec, { liveHop: Number(liveHop), fixedLevel: level ? JSON.parse(level) : null });
const out = [];
for (let i = 0; i < y.length; i += 1024) {
  live.buffer.push(y.subarray(i, Math.min(i + 1024, y.length)));
  while (live.ready(live.next)) {
    const r = await live.classify(live.next++);
    out.push({ w: r.w, start: r.start, end: r.end, probs: r.probs, unknown: r.unknown,
      sequence_rank: r.verdict.sequence_rank ?? null });
  }
}
console.log(JSON.stringify(out));
